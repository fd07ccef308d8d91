"""Drafting a persona from one sentence: good YAML, broken YAML repaired once, garbage twice (template),
a model that is down; the result is always an unsaved draft."""
from __future__ import annotations

import pytest

from trainer.llm.fake import FakeExhausted, FakeLLM, down
from trainer.service import Frontline
from trainer.studio.draft import MODEL, REPAIRED, TEMPLATE, draft_persona, extract_yaml, template_persona, tidy
from trainer.studio.forms import validate_text
from trainer.accounts import SYSTEM
from trainer.studio.studio import Studio

SENTENCE = "retired teacher, confused by a new router, polite but slow"

GOOD = """\
id: router-rita
name: Rita Hollis
scenario_type: confused
difficulty: 2
company: {name: Brightwave Telecom, product: Home broadband, context: Engineers can be booked for the next free slot.}
facts:
  full_name: Rita Hollis
  account_number: "BW-55120"
  verification: {postcode: "YO1 7HH", date of birth: "9 June 1951"}
  dates: {router arrived: "Tuesday"}
  history: [Taught primary school for thirty years., The new router arrived on Tuesday.]
calling_about: my new router
problem: I've got a new router and I can't make the internet work. I'm not sure which lead goes where.
goal: {description: Simple step-by-step help until the internet works., accepts: [step by step, walk you through, engineer], requires_timeline: false}
mood: 2
patience: 8
speech: {style: Polite and slow; apologises for not understanding., example_lines: ["I'm so sorry, I'm hopeless with these things.", "Which one is the grey lead, dear?"]}
brief:
  direction: inbound
  summary: Inbound call. A replacement router was delivered on Tuesday; it has not connected yet.
  crm: {Customer: Rita Hollis, Account: BW-55120}
"""


def test_good_yaml_is_a_draft_on_the_first_try():
    fake = FakeLLM(["Here is the persona:\n```yaml\n" + GOOD + "```\nHope this helps!"])
    result = draft_persona(SENTENCE, fake)
    assert result.source == MODEL and result.attempts == 1 and result.persona is not None
    assert result.persona.id == "router-rita" and result.persona.mood == 2
    assert "DRAFT" in result.label and "Not saved" in result.label
    prompt = fake.calls[0]["messages"]
    assert fake.calls[0]["kind"] == "chat" and SENTENCE in prompt[-1]["content"] and "scenario_type" in prompt[-1]["content"]
    assert validate_text("persona", result.yaml_text).ok


def test_broken_yaml_is_repaired_once_with_the_errors_fed_back():
    broken = GOOD.replace("mood: 2", "mood: 15").replace("difficulty: 2\n", "")
    fake = FakeLLM([broken, GOOD])
    result = draft_persona(SENTENCE, fake)
    assert result.source == REPAIRED and result.attempts == 2 and result.persona is not None
    repair = fake.calls[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": broken}
    feedback = repair[-1]["content"]
    assert "difficulty: Field required. Fix: add this field" in feedback
    assert {p.field for p in result.problems} == {"difficulty"}          # mood 15 was clamped by tidy, not sent back
    assert "model, repaired" in result.label


def test_garbage_twice_falls_back_to_a_labelled_template():
    fake = FakeLLM(["I'm sorry, I can't help with that.", "def persona(): return {}"])
    result = draft_persona(SENTENCE, fake)
    assert result.source == TEMPLATE and result.attempts == 2 and len(fake.calls) == 2
    assert result.persona is not None and result.persona.scenario_type.value == "confused"
    assert result.persona.mood <= 2 and result.persona.patience >= 8
    assert result.yaml_text.startswith("# TEMPLATE") and "TODO" in result.yaml_text and SENTENCE in result.yaml_text
    assert "TEMPLATE" in result.label and result.problems
    with pytest.raises(FakeExhausted):                                    # exactly two requests were made
        fake.chat([], max_tokens=1, temperature=0, stop=[])


def test_model_down_gives_the_template_and_says_why():
    result = draft_persona("furious small-business owner whose card machine was double charged", FakeLLM([down()] * 4), sleep=lambda s: None)
    assert result.source == TEMPLATE and any("could not be reached" in n for n in result.notes)
    assert result.persona.scenario_type.value == "angry_caller" and result.persona.mood >= 7


def test_empty_sentence_is_refused():
    with pytest.raises(ValueError, match="describe the customer"):
        draft_persona("   ", FakeLLM(["x"]))


def test_small_fixes_are_made_and_noted():
    text, notes = tidy(GOOD.replace("id: router-rita", "id: Router Rita").replace("\nname: Rita Hollis", "\nname: Margaret Hollis"))
    assert "id: router-rita" in text and "full_name: Margaret Hollis" in text and len(notes) == 2
    assert extract_yaml("blah\nid: x\nname: y\n") == "id: x\nname: y\n"


def test_templates_validate_for_many_sentences():
    for s in ["angry caller", "upsell to a family plan", "wants to cancel and switch to a competitor", "x", "😀 émoji caller"]:
        assert validate_text("persona", template_persona(s)).ok, s


def test_the_studio_never_saves_a_draft(store, catalog):
    app = Frontline(store=store, catalog=catalog, customer_backend=FakeLLM([GOOD]), sleep=lambda s: None)
    result = Studio(app).draft(SENTENCE, actor=SYSTEM)
    assert result.source == MODEL
    assert app.revisions.history("persona", "router-rita") == [] and app.revisions.ids("persona") == []


def test_drafts_are_nudged_to_the_sentence():
    fake = FakeLLM([GOOD.replace("mood: 2", "mood: 7").replace("\nname: Rita Hollis", "\nname: Mrs Rita Hollis")
                    .replace("full_name: Rita Hollis", "full_name: Mrs Rita Hollis")])
    result = draft_persona(SENTENCE, fake)                     # "polite": a starting mood of 7 contradicts it
    assert result.source == MODEL and result.persona.mood == 3 and result.persona.name == "Rita Hollis"
    assert any("moved to 3" in n for n in result.notes) and any("title" in n for n in result.notes)
    assert "Invent a new name" in fake.calls[0]["messages"][-1]["content"]
