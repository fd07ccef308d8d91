"""Coaching during practice: the checklist agrees with the grader, hints come from the director's state,
hints never reach the customer model or quote hidden details, and assessment calls get none."""
from __future__ import annotations

import json

import gradio as gr
import pytest

from trainer import coaching
from trainer.accounts import SYSTEM
from trainer.actor import Turn
from trainer.llm.fake import FakeLLM
from trainer.service import Frontline
from trainer.ui_studio import build_coaching_panel

from .conftest import in_character_responder


@pytest.fixture
def app(store, catalog, dana):
    return Frontline(store=store, catalog=catalog, customer_backend=FakeLLM(responder=in_character_responder(dana)), sleep=lambda s: None)


def test_checklist_ticks_steps_as_the_grader_counts_them(app, catalog):
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    assert not any(st.done for st in coaching.call_checklist(app, s.id, actor=SYSTEM))
    app.say(s.id, "Thank you for calling Brightwave, my name is Sam. How can I help?", actor=SYSTEM)
    steps = {st.id: st for st in coaching.call_checklist(app, s.id, actor=SYSTEM)}
    assert steps["greet"].done and steps["greet"].turn == 1 and not steps["verify"].done
    app.say(s.id, "I'm so sorry about that, that must be frustrating. Can I take your postcode and date of birth, please?", actor=SYSTEM)
    app.say(s.id, "So just to confirm, you were charged twice. I'll refund the duplicate £42 now; it reaches your card within 3 to 5 working days.", actor=SYSTEM)
    steps = coaching.call_checklist(app, s.id, actor=SYSTEM)
    done = {st.id for st in steps if st.done}
    assert {"greet", "verify", "acknowledge", "restate", "resolve", "timeline"} <= done and "anything_else" not in done
    md = coaching.checklist_markdown(steps)
    assert f"{len(done)}/9 covered" in md and "☑ Greet" in md and "☐ Ask if there is anything else" in md
    card = app.end_call(s.id, SYSTEM)
    note = next(c.note for c in card.criteria if c.note and "steps covered" in c.note)
    required = [st for st in steps if st.required]
    assert note.startswith(f"{sum(st.done for st in required)}/{len(required)} steps covered")


def test_hint_after_two_requests_for_a_date(app):
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    app.say(s.id, "Thank you for calling Brightwave, my name is Sam.", actor=SYSTEM)
    app.say(s.id, "I'm sorry about that. Can I take your postcode and date of birth?", actor=SYSTEM)
    app.say(s.id, "I'll refund the duplicate charge.", actor=SYSTEM)
    app.say(s.id, "Yes, I'll refund it for you.", actor=SYSTEM)
    hints = coaching.call_hints(app, s.id, actor=SYSTEM)
    assert hints[0].startswith("Dana has now asked twice when it will happen") and "concrete timeline" in hints[0]
    app.say(s.id, "It will reach your card within 3 to 5 working days.", actor=SYSTEM)
    assert not any("when it will happen" in h for h in coaching.call_hints(app, s.id, limit=5, actor=SYSTEM))


def test_hints_follow_what_the_agent_did(app):
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    assert coaching.call_hints(app, s.id, actor=SYSTEM) == ["You speak first. Greet with your name and Brightwave, then let Dana explain."]
    app.say(s.id, "Yeah?", actor=SYSTEM)
    app.say(s.id, "Calm down, what's your account number?", actor=SYSTEM)
    hints = coaching.call_hints(app, s.id, limit=5, actor=SYSTEM)
    assert any("never tell a customer to calm down" in h for h in hints)
    assert any(h.startswith("Dana is ") and "apologise" in h for h in hints)


def test_hints_stay_out_of_the_customer_model_and_never_quote_hidden_details(store, catalog, dana):
    fake = FakeLLM(responder=in_character_responder(dana))
    app = Frontline(store=store, catalog=catalog, customer_backend=fake, sleep=lambda s: None)
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    lines = ["Thank you for calling Brightwave, my name is Sam.", "When did this happen, and how do you pay?",
             "I'll refund it.", "I'll refund it, I said."]
    given = []
    for line in lines:
        app.say(s.id, line, actor=SYSTEM)
        given += coaching.call_hints(app, s.id, limit=10, actor=SYSTEM)
    assert given
    secrets = [h.detail for h in dana.hidden_details]
    assert not any(sec in h for h in given for sec in secrets)
    rubric_text = [c.description for c in app.catalog.rubrics["default"].criteria]
    prompts = [c["prompt"] if c["kind"] == "complete" else json.dumps(c["messages"]) for c in fake.calls]
    for p in prompts:
        assert not any(h in p for h in given)                       # hints go to the trainee only
        assert not any(r in p for r in rubric_text)                 # assessment material never reaches the customer


def test_assessment_calls_get_no_coaching(app):
    s = app.start_call("Sam", "double-billed-dana", mode="assessment", user=SYSTEM)
    assert app.store.get_call(s.id).mode == "assessment"
    with pytest.raises(coaching.CoachingOff):
        coaching.call_hints(app, s.id, actor=SYSTEM)
    with pytest.raises(coaching.CoachingOff):
        coaching.call_checklist(app, s.id, actor=SYSTEM)


def test_panel_builds_nothing_in_assessment_mode(app):
    with gr.Blocks() as demo:
        cid, token = gr.State(""), gr.State("")
        before = len(demo.blocks)
        panel = build_coaching_panel(app, cid, mode="assessment")
        assert len(demo.blocks) == before and not panel.active
        panel.attach()                                               # a no-op, never an error
        practice = build_coaching_panel(app, cid, mode="practice", token=token)
        assert practice.active and len(demo.blocks) > before
    assert practice.refresh("", "") == ("", "")


def test_checklist_works_on_any_transcript(catalog):
    sc = catalog.scenarios["double-billed-dana"]
    turns = [Turn("agent", "Good morning, you're through to Sam at Brightwave."), Turn("customer", "Hi."),
             Turn("agent", "Is there anything else I can help with? Thanks for calling, have a good day.")]
    done = {s.id for s in coaching.checklist(sc, turns) if s.done}
    assert done == {"greet", "anything_else", "close"}
