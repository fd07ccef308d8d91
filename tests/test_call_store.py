"""A call end to end with a fake model: every turn stored at once, nothing lost when the model fails."""
from __future__ import annotations

import os
import subprocess
import sys

from trainer.accounts import SYSTEM
from trainer.config import load_settings
from trainer.llm.fake import FakeLLM, down
from trainer.service import Frontline
from trainer.store import Store

from .conftest import in_character_responder


def _app(store, catalog, backend) -> Frontline:
    return Frontline(store=store, catalog=catalog, customer_backend=backend, sleep=lambda s: None)


def test_a_call_is_stored_turn_by_turn(store, catalog, fake_customer):
    app = _app(store, catalog, fake_customer)
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    r = app.say(s.id, "Thank you for calling Brightwave, my name is Sam.", actor=SYSTEM)
    assert r.text and not r.error
    assert [t.speaker for t in store.turns(s.id)] == ["agent", "customer"]
    app.say(s.id, "I'm so sorry. Can I take your account number?", actor=SYSTEM)
    turns = store.turns(s.id)
    assert "55-2041" in turns[-1].text and turns[-1].mood_after is not None
    rec = store.get_call(s.id)
    assert rec.persona_id == "double-billed-dana" and len(rec.persona_hash) == 16 and rec.customer_model == "fake"
    card = app.end_call(s.id, SYSTEM)
    assert store.get_call(s.id).status == "ended" and store.get_call(s.id).end_reason == "agent_ended"
    assert store.scorecards(s.id)[0].overall == card.overall


def test_model_down_keeps_the_call_and_retry_continues(store, catalog, dana):
    fake = FakeLLM([down(), down(), down(), "I've been charged twice this month."])
    app = _app(store, catalog, fake)
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    r = app.say(s.id, "Hello, Brightwave, Sam speaking.", actor=SYSTEM)
    assert r.text is None and "not responding" in r.error and "saved" in r.error
    assert [t.speaker for t in store.turns(s.id)] == ["agent"]       # the agent's line is kept
    r2 = s.retry_reply()
    assert r2.text == "I've been charged twice this month."
    assert [t.speaker for t in store.turns(s.id)] == ["agent", "customer"]


def test_customer_ends_call_by_hanging_up(store, catalog, dana):
    app = _app(store, catalog, FakeLLM(responder=lambda p: "I've had enough. Goodbye."))
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    for _ in range(12):
        r = app.say(s.id, "Calm down, it's your own fault.", actor=SYSTEM)
        if r.ended:
            break
    assert r.ended and r.end_reason == "hung_up" and store.get_call(s.id).end_reason == "hung_up"


def test_resume_rebuilds_state_from_the_store(store, catalog, dana):
    app = _app(store, catalog, FakeLLM(responder=in_character_responder(dana)))
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    app.say(s.id, "Hello, Brightwave, Sam speaking.", actor=SYSTEM)
    app.say(s.id, "Calm down.", actor=SYSTEM)
    mood = s.director.state.mood
    # a new process: same database, nothing in memory
    app2 = _app(store, catalog, FakeLLM(responder=in_character_responder(dana)))
    s2 = app2.session(s.id, SYSTEM)
    assert s2.director.state.mood == mood and len(s2.transcript) == 4
    r = app2.say(s.id, "I'm sorry. I'll refund the £42 within 5 working days.", actor=SYSTEM)
    assert r.beat == "accept"


def test_killed_process_leaves_an_interrupted_viewable_call(db_url, catalog):
    """A child process starts a call and is killed mid-call; the parent finds it interrupted, transcript intact."""
    code = f"""
import os, signal
from trainer.service import Frontline
from trainer.store import Store
from trainer.llm.fake import FakeLLM
from trainer.accounts import SYSTEM
app = Frontline(store=Store('{db_url}'), customer_backend=FakeLLM(responder=lambda p: 'I was charged twice.'))
s = app.start_call('Sam', 'double-billed-dana', user=SYSTEM)
app.say(s.id, 'Hello, Brightwave, Sam speaking.', actor=SYSTEM)
print(s.id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    assert out.returncode == -9, out.stderr
    call_id = out.stdout.strip()
    store = Store(db_url)
    assert store.get_call(call_id).status == "active"
    assert call_id in store.recover_interrupted()
    assert store.get_call(call_id).status == "interrupted"
    assert [t.text for t in store.turns(call_id)] == ["Hello, Brightwave, Sam speaking.", "I was charged twice."]


def test_sqlite_wal_and_two_writers(tmp_path, catalog, dana):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    a, b = Store(url), Store(url)
    with a.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    app_a = _app(a, catalog, FakeLLM(responder=in_character_responder(dana)))
    app_b = _app(b, catalog, FakeLLM(responder=in_character_responder(dana)))
    sa, sb = app_a.start_call("A", "double-billed-dana", user=SYSTEM), app_b.start_call("B", "double-billed-dana", user=SYSTEM)
    for i in range(3):
        app_a.say(sa.id, f"Hello number {i}, Brightwave.", actor=SYSTEM)
        app_b.say(sb.id, f"Hi there {i}, Brightwave.", actor=SYSTEM)
    assert len(a.turns(sb.id)) == 6 and len(b.turns(sa.id)) == 6


def test_settings_database_url_and_backends(monkeypatch):
    monkeypatch.setenv("FRONTLINE_DATABASE_URL", "postgresql+psycopg://u@localhost/frontline")
    monkeypatch.setenv("FRONTLINE_CUSTOMER_BACKEND", "openai")
    monkeypatch.setenv("FRONTLINE_CUSTOMER_MODEL", "qwen2.5")
    monkeypatch.setenv("FRONTLINE_CUSTOMER_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("FRONTLINE_GRADER_BACKEND", "langchain")
    monkeypatch.setenv("FRONTLINE_GRADER_MODEL", "anthropic:claude")
    s = load_settings()
    assert s.db_url.startswith("postgresql")
    assert s.customer.describe() == "openai:qwen2.5@http://127.0.0.1:8000/v1"
    assert s.grader.backend == "langchain" and s.grader.temperature == 0.0
