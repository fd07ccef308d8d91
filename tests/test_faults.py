"""Faults with the real openai backend against a fake OpenAI-compatible server on loopback:
down, slow (timeouts), garbage, failing then recovering. A clear message, retries with backoff,
the call continues, nothing is lost."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from trainer.accounts import SYSTEM
from trainer.config import load_settings
from trainer.service import Frontline

from .fake_openai_server import FakeOpenAIServer
from .services import free_port


@pytest.fixture
def server():
    with FakeOpenAIServer() as srv:
        yield srv


def openai_app(store, catalog, base_url: str, *, style: str = "chat", timeout: float = 5.0, retries: int = 3, sleeps=None) -> Frontline:
    settings = load_settings({"FRONTLINE_CUSTOMER_BACKEND": "openai", "FRONTLINE_CUSTOMER_MODEL": "fake-customer",
                              "FRONTLINE_CUSTOMER_BASE_URL": base_url, "FRONTLINE_CUSTOMER_PROMPT_STYLE": style,
                              "FRONTLINE_CUSTOMER_TIMEOUT_S": str(timeout), "FRONTLINE_CUSTOMER_RETRIES": str(retries),
                              "FRONTLINE_CONFIG": "/nonexistent.toml"})
    record = sleeps.append if sleeps is not None else (lambda s: None)
    return Frontline(settings=settings, store=store, catalog=catalog, sleep=record)


@pytest.mark.parametrize("style,endpoint", [("chat", "chat"), ("completion", "completion")])
def test_a_call_through_the_real_openai_client(store, catalog, server, style, endpoint):
    app = openai_app(store, catalog, server.url, style=style)
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    r = app.say(s.id, "Thank you for calling Brightwave, my name is Sam. Can I take your account number?", actor=SYSTEM)
    assert r.text and not r.error and not r.used_fallback
    assert "55-2041" in r.text                       # the fake states the fact the direction asked for
    assert {q["kind"] for q in server.requests} == {endpoint} and all(q["stream"] for q in server.requests)
    assert [t.speaker for t in store.turns(s.id)] == ["agent", "customer"]
    assert app.end_call(s.id, SYSTEM).overall >= 0


def test_server_down_then_back_nothing_lost(store, catalog):
    port = free_port()                                # nothing listens here yet
    sleeps: list[float] = []
    app = openai_app(store, catalog, f"http://127.0.0.1:{port}/v1", sleeps=sleeps)
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    r = app.say(s.id, "Hello, Brightwave, Sam speaking.", actor=SYSTEM)
    assert r.text is None
    assert f"cannot reach the model server at http://127.0.0.1:{port}/v1" in r.detail and "Retry reply" in r.error
    assert "127.0.0.1" not in r.error                     # the trainee is not shown the server's address
    assert sleeps == [0.5, 1.0]                       # backoff between the three tries
    assert [t.text for t in store.turns(s.id)] == ["Hello, Brightwave, Sam speaking."]
    with FakeOpenAIServer(port=port) as srv:          # the model server comes back
        r2 = app.say(s.id, "", actor=SYSTEM)          # what the Retry reply button sends
        assert r2.text and not r2.error and len(srv.requests) == 1
        r3 = app.say(s.id, "I'm sorry about that. Can I take your account number please?", actor=SYSTEM)
        assert r3.text and "55-2041" in r3.text
    assert [t.speaker for t in store.turns(s.id)] == ["agent", "customer", "agent", "customer"]


def test_failing_twice_then_answering_is_absorbed_by_retries(store, catalog, server):
    sleeps: list[float] = []
    app = openai_app(store, catalog, server.url, sleeps=sleeps)
    server.fail_next, server.fail_mode = 2, "down"
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    r = app.say(s.id, "Hello, Brightwave, Sam speaking.", actor=SYSTEM)
    assert r.text and not r.error
    assert [q["mode"] for q in server.requests] == ["down", "down", "ok"] and sleeps == [0.5, 1.0]


def test_real_backoff_waits(store, catalog, server):
    """Without a fake sleep: the retries really wait 0.5 s then 1 s."""
    settings = load_settings({"FRONTLINE_CUSTOMER_BACKEND": "openai", "FRONTLINE_CUSTOMER_MODEL": "fake-customer",
                              "FRONTLINE_CUSTOMER_BASE_URL": server.url, "FRONTLINE_CONFIG": "/nonexistent.toml"})
    app = Frontline(settings=settings, store=store, catalog=catalog)
    server.fail_next, server.fail_mode = 2, "error500"
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    r = app.say(s.id, "Hello, Brightwave, Sam speaking.", actor=SYSTEM)
    gaps = [b["at"] - a["at"] for a, b in zip(server.requests, server.requests[1:])]
    assert r.text and gaps[0] >= 0.45 and gaps[1] >= 0.95, gaps


def test_slow_server_times_out_with_a_clear_message(store, catalog, server):
    server.mode, server.slow_s = "slow", 3.0
    app = openai_app(store, catalog, server.url, timeout=0.4, retries=2)
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    t0 = time.monotonic()
    r = app.say(s.id, "Hello, Brightwave, Sam speaking.", actor=SYSTEM)
    took = time.monotonic() - t0
    assert r.text is None and "cannot reach the model server" in r.detail and "APITimeoutError" in r.detail and "Retry" in r.error
    assert took < 2.5, f"two 0.4 s timeouts took {took:.1f}s"
    server.mode = "ok"
    assert app.say(s.id, "", actor=SYSTEM).text      # retry continues the call
    assert [t.speaker for t in store.turns(s.id)] == ["agent", "customer"]


@pytest.mark.parametrize("style", ["chat", "completion"])
def test_garbage_answers_are_an_error_not_a_crash(store, catalog, server, style):
    server.mode = "garbage"
    app = openai_app(store, catalog, server.url, style=style)
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    r = app.say(s.id, "Hello, Brightwave, Sam speaking.", actor=SYSTEM)
    assert r.text is None and r.error and "model call failed" in r.detail and len(server.requests) == 3
    server.mode = "ok"
    assert app.say(s.id, "", actor=SYSTEM).text
    assert len(store.turns(s.id)) == 2


def test_dropped_connection_is_retried(store, catalog, server):
    server.fail_next, server.fail_mode = 1, "drop"
    app = openai_app(store, catalog, server.url)
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    assert app.say(s.id, "Hello, Brightwave, Sam speaking.", actor=SYSTEM).text
    assert [q["mode"] for q in server.requests] == ["drop", "ok"]


def test_out_of_character_answers_fall_back_to_a_safe_line(store, catalog, server):
    server.mode = "off_character"
    app = openai_app(store, catalog, server.url)
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    r = app.say(s.id, "Hello, Brightwave, Sam speaking.", actor=SYSTEM)
    assert r.used_fallback and r.text and "AI" not in r.text
    turn = store.turns(s.id)[-1]
    assert turn.speaker == "customer" and '"fallback": true' in turn.meta_json and "ai_disclosure" in turn.meta_json


def test_a_bad_key_is_not_retried(store, catalog, server):
    server.mode = "unauthorized"
    app = openai_app(store, catalog, server.url)
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    r = app.say(s.id, "Hello, Brightwave, Sam speaking.", actor=SYSTEM)
    assert "rejected the API key" in r.detail and "API key" not in r.error and len(server.requests) == 1


WRITER = r"""
import sys
from trainer.accounts import SYSTEM
from trainer.config import load_settings
from trainer.service import Frontline
from trainer.store import Store
url, base, who, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
settings = load_settings({"FRONTLINE_CUSTOMER_BACKEND": "openai", "FRONTLINE_CUSTOMER_MODEL": "fake-customer",
                          "FRONTLINE_CUSTOMER_BASE_URL": base, "FRONTLINE_CONFIG": "/nonexistent.toml"})
app = Frontline(settings=settings, store=Store(url), sleep=lambda s: None)
ids = []
for c in range(3):
    s = app.start_call(who, "double-billed-dana", user=SYSTEM)
    for i in range(n):
        r = app.say(s.id, f"Hello {who}, line {i}. Brightwave, how are you?", actor=SYSTEM)
        assert r.text, r.error
    app.end_call(s.id, SYSTEM)
    ids.append(s.id)
print(" ".join(ids))
"""


def test_two_app_processes_write_one_database_at_once(db_url, server):
    """Two processes run calls at the same moment on one database (SQLite WAL, or PostgreSQL)."""
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, db_url, server.url, who, "6"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for who in ("Ana", "Ben")]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-1500:] for o in outs]
    from trainer.store import Store
    store = Store(db_url)
    ids = [cid for out, _ in outs for cid in out.split()]
    assert len(ids) == 6
    for cid in ids:
        turns = store.turns(cid)
        assert [t.idx for t in turns] == list(range(12)) and store.get_call(cid).status == "ended"
        assert len(store.scorecards(cid)) == 1
    assert {t.name for t in store.trainees()} >= {"Ana", "Ben"}
    store.engine.dispose()
