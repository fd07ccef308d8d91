"""The UI's handlers, without a browser: start, stream, end, scorecard, past calls; text is escaped."""
from __future__ import annotations

import html

import pytest

from trainer import ui_handlers as h
from trainer.llm.fake import FakeLLM
from trainer.service import Frontline

from .conftest import in_character_responder


@pytest.fixture
def app(store, catalog, dana):
    return Frontline(store=store, catalog=catalog, customer_backend=FakeLLM(responder=in_character_responder(dana)), sleep=lambda s: None)


@pytest.fixture
def tok(app):
    """A signed-in trainee's session token (the UI keeps it in the browser)."""
    app.accounts.create_admin("boss", "admin-pass-1")
    admin = app.accounts.by_username("boss")
    app.accounts.create_user(admin, "sam", "sam-pass-12", "trainee", display_name="Sam")
    return app.accounts.login("sam", "sam-pass-12")


def test_scenarios_and_brief(app):
    choices = h.scenario_choices(app)
    assert len(choices) >= 8 and all("★" in label for label, _ in choices)
    md = html.unescape(h.brief_markdown(app, "double-billed-dana"))     # as the page shows it
    assert "CRM card" in md and "55-2041" in md and "Brightwave" in md


def test_full_call_through_handlers(app, tok):
    call_id, history, meter, mode = h.start_call(app, tok, "double-billed-dana")
    assert mode == "practice"
    assert "greet" in history[0]["content"] and "mood" in meter
    updates = list(h.stream_turn(app, tok, call_id, "Thank you for calling Brightwave, I'm Sam.", history))
    assert len(updates) >= 2                                   # streamed: partial lines before the final one
    history, _, info = updates[-1]
    assert history[-2]["role"] == "user" and html.unescape(history[-2]["content"]) == "Thank you for calling Brightwave, I'm Sam."
    assert history[-1]["role"] == "assistant" and "sorted" in history[-1]["content"] and not info["error"]
    md, frame = h.end_and_grade(app, tok, call_id)
    assert "Score" in md and "Coaching" in md and len(frame) >= 2
    calls = h.past_calls(app, tok)
    assert calls and calls[0][1] == call_id
    hist, card_md, frame2 = h.open_call(app, tok, call_id)
    assert len(hist) == 2 and "Score" in card_md


def test_errors_are_clear(app, tok):
    from trainer.accounts import NotLoggedIn
    with pytest.raises(NotLoggedIn, match="log in"):
        h.start_call(app, "", "double-billed-dana")
    with pytest.raises(ValueError, match="scenario"):
        h.start_call(app, tok, None)
    call_id, history, _, _ = h.start_call(app, tok, "double-billed-dana")
    with pytest.raises(ValueError, match="Type"):
        list(h.stream_turn(app, tok, call_id, "   ", history))


def test_model_down_message_in_the_ui(store, catalog):
    from trainer.llm.fake import down
    app = Frontline(store=store, catalog=catalog, customer_backend=FakeLLM([down()] * 3), sleep=lambda s: None)
    app.accounts.create_admin("boss", "admin-pass-1")
    tok = app.accounts.login("boss", "admin-pass-1")
    call_id, history, _, _ = h.start_call(app, tok, "double-billed-dana")
    history, _, info = list(h.stream_turn(app, tok, call_id, "Hello", history))[-1]
    assert "Retry reply" in info["error"] and history[-1] == {"role": "user", "content": "Hello"}


def test_html_in_agent_text_is_escaped_in_scorecards(app, tok):
    call_id, history, _, _ = h.start_call(app, tok, "double-billed-dana")
    list(h.stream_turn(app, tok, call_id, "<script>alert(1)</script> Thank you for calling Brightwave", history))
    md, _ = h.end_and_grade(app, tok, call_id)
    assert "<script>" not in md


def test_ui_builds(app):
    import ui
    demo = ui.build(app)
    assert demo is not None
