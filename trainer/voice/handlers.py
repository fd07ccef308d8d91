"""What the voice tab's events do, as plain functions over VoicePractice: tested without a browser."""
from __future__ import annotations

import time
from typing import Callable, Iterator

import numpy as np

from ..accounts import NotLoggedIn, is_system
from ..ui_handlers import END_REASON, chat_text, esc, scorecard_markdown
from .audio import wav_bytes
from .service import HandsFree, ReadyTurn, VoicePractice


def start(vp: VoicePractice, trainee: str, scenario_id: str | None, *, actor) -> tuple[str, list[dict], str]:
    if is_system(actor) and not (trainee or "").strip():
        raise ValueError("Enter your name first.")
    if not scenario_id:
        raise ValueError("Pick a scenario first.")
    session = vp.start_call(trainee, scenario_id, actor=actor)
    p = session.persona
    intro = (f"📞 {'Incoming' if p.brief.direction == 'inbound' else 'Outgoing'} call — {esc(p.name)} is on the line. "
             "Hands-free: press Record once and talk; your turn ends when you stop speaking. "
             "(Push to talk: record, speak, stop.) The customer answers out loud.")
    return session.id, [{"role": "assistant", "content": intro, "metadata": {"title": "Call connected"}}], "Connected. You speak first."


def speak(vp: VoicePractice, call_id: str, recording: tuple[int, np.ndarray] | None, history: list[dict],
          *, arrived_at: float | None = None, actor) -> Iterator[tuple[bytes | None, list[dict], str, bool]]:
    """Push to talk. Yield (customer audio chunk as WAV bytes or None, chat history, status line, call ended)."""
    if not call_id:
        raise ValueError("Start a voice call first.")
    if recording is None:
        raise ValueError("Nothing was recorded: press the microphone, speak, then press stop.")
    rate, data = recording
    if data is None or len(data) == 0:
        raise ValueError("The recording is empty: check the microphone and try again.")
    yield from _reply(vp.turn(call_id, rate, data, arrived_at=arrived_at or time.time(), actor=actor), history)


def listen(vp: VoicePractice, call_id: str, chunk: tuple[int, np.ndarray] | None, state: HandsFree | None, *, actor
           ) -> tuple[HandsFree | None, ReadyTurn | None]:
    """Hands-free: one streamed microphone chunk in; a ReadyTurn out when the VAD says the trainee has finished.
    Only the call's own trainee may stream into it (checked when the stream's state is made for a call)."""
    if actor is None:
        raise NotLoggedIn("Please log in.")
    if not call_id or chunk is None:
        return state, None
    if state is None or state.call_id != call_id:
        vp.app.authorize_call(actor, call_id, write=True)
        state = vp.hands_free(call_id)
    rate, data = chunk
    return state, state.feed(rate, data)


def answer(vp: VoicePractice, call_id: str, ready: ReadyTurn | None, history: list[dict], *, actor
           ) -> Iterator[tuple[bytes | None, list[dict], str, bool]]:
    """Hands-free: the customer's spoken reply to a turn the VAD ended."""
    if not call_id or ready is None:
        return
    yield from _reply(vp.ready_turn(call_id, ready, actor=actor), history)


def retry(vp: VoicePractice, call_id: str, history: list[dict], *, actor) -> Iterator[tuple[bytes | None, list[dict], str, bool]]:
    """The customer's reply again, after the model was unreachable (the trainee's turn is already saved)."""
    if not call_id:
        raise ValueError("Start a voice call first.")
    history = list(history or []) + [{"role": "assistant", "content": "…"}]
    yield from _reply(vp.retry(call_id, actor=actor), history)


def _reply(events, history: list[dict]) -> Iterator[tuple[bytes | None, list[dict], str, bool]]:
    history = list(history or [])
    for ev in events:
        if ev.kind == "agent_text":
            history.append({"role": "user", "content": chat_text(ev.text)})
            history.append({"role": "assistant", "content": "…"})
            yield None, history, "The customer is answering…", False
        elif ev.kind == "customer_audio":
            so_far = history[-1]["content"]
            history[-1] = {"role": "assistant", "content": chat_text(ev.text) if so_far == "…" else f"{so_far} {chat_text(ev.text)}"}
            yield wav_bytes(ev.audio, ev.sample_rate), history, "🔊 Customer speaking…", False
        elif ev.kind == "customer_text":
            if history and history[-1]["role"] == "assistant" and "metadata" not in history[-1]:
                history[-1] = {"role": "assistant", "content": chat_text(ev.text)}
            else:                          # the placeholder went with an error (e.g. no voice): add the line
                history.append({"role": "assistant", "content": chat_text(ev.text)})
            t = ev.timings
            status = (f"Reply started {t['voice_to_voice_s']:.1f} s after you stopped (speech-to-text {t['stt_s']:.1f} s)."
                      if t.get("voice_to_voice_s") is not None else "The customer's reply is shown as text only.")
            ended = bool(ev.reply and ev.reply.ended)
            if ended:
                history.append({"role": "assistant", "content": f"Call ended: {END_REASON.get(ev.reply.end_reason or '', ev.reply.end_reason)}.",
                                "metadata": {"title": "Call ended"}})
                status = "The call has ended. Grading…"
            yield None, history, status, ended
        else:   # error: the call is saved; say what to do
            if history and history[-1].get("content") == "…":
                history.pop()
            yield None, history, f"⚠️ {esc(ev.text)}", False


def end(vp: VoicePractice, call_id: str, *, actor) -> tuple[str, bytes | None]:
    if not call_id:
        raise ValueError("Start a voice call first.")
    card = vp.end_call(call_id, actor=actor)
    return scorecard_markdown(card), vp.call_audio_bytes(call_id, actor=actor)


def upload(vp: VoicePractice, path: str | None, trainee: str, scenario_id: str | None, layout: str, agent_channel: str,
           progress: Callable[[float, str], None] | None = None, *, actor) -> tuple[str, list[dict], bytes | None]:
    if not path:
        raise ValueError("Choose a call recording (WAV or MP3) first.")
    got = vp.import_recording(path, trainee=trainee, scenario_id=scenario_id or None, layout=layout,
                              agent_channel=agent_channel, progress=progress, actor=actor)
    history = [{"role": "user" if s == "agent" else "assistant", "content": chat_text(t)} for s, t in got.turns]
    head = (f"**Stored against {esc((trainee or '').strip() or getattr(actor, 'username', ''))}** as a {got.layout} recording ({len(got.turns)} turns); "
            "it is listed under *My calls*.\n\n")
    return head + scorecard_markdown(got.scorecard), history, vp.call_audio_bytes(got.call_id, actor=actor)
