"""Auto-play: a good agent calms the starter angry callers and a rude one inflames them, with a fake
customer model and with the real embedded model; try-it rehearsals keep going when the model is down."""
from __future__ import annotations

import html

import re

import pytest

from trainer.actor import Guard
from trainer.llm.fake import FakeLLM, down
from trainer.studio.autoplay import Rehearsal, autoplay, good_agent, rude_agent, second_person

ANGRY = ["double-billed-dana", "estimated-bill-amara", "outage-frank", "refund-followup-grace"]


def varied_responder():
    """A deterministic customer: the director's example line if it gave one, else a short line that names the facts asked for."""
    count = {"n": 0}

    def respond(prompt: str) -> str:
        count["n"] += 1
        direction = re.findall(r"\[([^\]]*)\]", prompt)[-1]
        example = re.search(r'For example: "([^"]*)"', direction)
        if example:
            return example.group(1)
        gives = re.search(r"gives (.*?)(?:\.|\(| and says)", direction)
        return (f"It's {gives.group(1)}. " if gives else "") + ["Right.", "Okay.", "Go on then.", "Well?"][count["n"] % 4]
    return respond


def test_angry_starters_have_opposite_mood_trends_with_a_fake_model(catalog):
    angry = [pid for pid, p in catalog.personas.items() if p.mood >= 5]
    assert sorted(angry) == sorted(ANGRY)
    for pid in ANGRY:
        fake = FakeLLM(responder=varied_responder())
        result = autoplay(catalog.personas[pid], fake, sleep=lambda s: None)
        good, rude = result.runs["good agent"], result.runs["rude agent"]
        assert good.moods[-1] < good.moods[0] - 2, (pid, good.moods)
        assert rude.moods[-1] > rude.moods[0] or rude.end_reason == "hung_up", (pid, rude.moods)
        assert max(rude.moods) >= 9.5 and rude.moods[-1] > good.moods[-1] + 5, (pid, rude.moods, good.moods)
        assert good.end_reason == "resolved" and rude.end_reason == "hung_up"
        assert result.works() and "The triggers work" in result.verdict()
        assert len(fake.calls) >= len(good.lines) // 2                # the customer's lines came from the model
        frame = result.frame()
        assert set(frame["agent"]) == {"good agent", "rude agent"} and len(frame) == len(good.moods) + len(rude.moods)
        chat = result.chat("rude agent")
        assert chat[0]["role"] == "user" and html.unescape(chat[0]["content"]) == "Yeah, what is it?"    # shown as text
        assert "mood" in chat[1]["content"]


def test_director_only_autoplay_is_instant_and_deterministic(catalog):
    a = autoplay(catalog.personas["outage-frank"])
    b = autoplay(catalog.personas["outage-frank"])
    assert a.runs["good agent"].moods == b.runs["good agent"].moods and a.works()
    assert all(ln.note == "director's line" for ln in a.runs["good agent"].lines if ln.speaker == "customer")


def test_a_persona_with_broken_triggers_is_flagged(catalog):
    p = catalog.personas["double-billed-dana"].model_copy(deep=True)
    p.triggers.inflame = {k: 0.0 for k in p.triggers.inflame}     # a trainer zeroed every inflaming trigger
    p.mood, p.patience = 3.0, 10.0
    res = autoplay(p)
    assert not res.works()
    v = res.verdict()
    assert "did **not** make this customer angrier" in v and "triggers.inflame" in v and "did **not** calm" not in v
    p.mood = 0.0
    v = autoplay(p).verdict()
    assert "starts calm" in v and "did **not** calm" not in v


def test_canned_agent_lines_use_the_persona(catalog):
    p = catalog.personas["estimated-bill-amara"]
    good = " ".join(good_agent(p))
    assert "Northpeak" in good and "Amara" in good and p.goal.accepts[0] in good
    assert "postcode" in good and "your" in second_person("my bill") and "FL-20417" in good
    rude = " ".join(rude_agent(p))
    assert "Calm down" in rude and "your own fault" in rude and (p.offer.product if p.offer else "premium") in rude


def test_rehearsal_survives_a_model_outage(catalog):
    p = catalog.personas["double-billed-dana"]
    r = Rehearsal(p, FakeLLM([down()] * 10), sleep=lambda s: None)
    line = r.agent_says("Thank you for calling Brightwave, my name is Sam.")
    assert line.text and "model unavailable" in line.note and len(r.lines) == 2
    with pytest.raises(ValueError, match="type what"):
        r.agent_says("   ")


@pytest.mark.slow
def test_angry_starters_have_opposite_mood_trends_on_the_embedded_model(catalog):
    from trainer.config import load_settings
    from trainer.llm import make_backend
    settings = load_settings()
    backend = make_backend(settings.customer, settings)
    for pid in ANGRY:
        persona = catalog.personas[pid]
        result = autoplay(persona, backend)
        good, rude = result.runs["good agent"], result.runs["rude agent"]
        assert good.moods[-1] < good.moods[0], (pid, good.moods)
        assert rude.moods[-1] > rude.moods[0] or rude.end_reason == "hung_up", (pid, rude.moods)
        assert result.works(), result.verdict()
        guard = Guard(persona)
        for run in (good, rude):
            spoken = [ln for ln in run.lines if ln.speaker == "customer"]
            assert all(ln.text for ln in spoken)
            for i, ln in enumerate(run.lines):
                if ln.speaker == "customer" and not ln.note:       # lines the model wrote passed the guard
                    breaks = [b for b in guard.problems(ln.text, run.transcript[:i]) if b.startswith(("ai_", "acting", "code", "prompt"))]
                    assert not breaks, (pid, ln.text, breaks)
