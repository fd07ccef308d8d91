"""The voice tabs' handlers without a browser, and the app building with the voice tabs (no model loaded)."""
from __future__ import annotations

import html

import numpy as np
import pytest

from trainer.accounts import SYSTEM
from trainer.llm.fake import FakeLLM
from trainer.service import Frontline
from trainer.voice import handlers as vh
from trainer.voice.fakes import FakeSTT, FakeTTS, energy_spans, transcript
from trainer.voice.service import VoiceConfig, VoicePractice

from .conftest import in_character_responder
from .test_voice import AGENT, CUSTOMER, mic, write_stereo


@pytest.fixture
def app(store, catalog, dana):
    return Frontline(store=store, catalog=catalog, customer_backend=FakeLLM(responder=in_character_responder(dana)), sleep=lambda s: None)


def test_voice_call_through_handlers(app):
    vp = VoicePractice(app, stt=FakeSTT(["Hello, you're through to Brightwave, Sam speaking."]), tts=FakeTTS(), config=VoiceConfig())
    with pytest.raises(ValueError, match="name"):
        vh.start(vp, " ", "double-billed-dana", actor=SYSTEM)
    cid, hist, status = vh.start(vp, "Sam", "double-billed-dana", actor=SYSTEM)
    with pytest.raises(ValueError, match="Nothing was recorded"):
        list(vh.speak(vp, cid, None, hist, actor=SYSTEM))
    updates = list(vh.speak(vp, cid, mic(), hist, actor=SYSTEM))
    audio_chunks = [a for a, *_ in updates if a is not None]
    assert audio_chunks and all(a[:4] == b"RIFF" for a in audio_chunks)            # streamed as WAV pieces
    _, hist, status, ended = updates[-1]
    assert hist[-2]["role"] == "user" and html.unescape(hist[-2]["content"]) == "Hello, you're through to Brightwave, Sam speaking."
    assert hist[-1]["role"] == "assistant" and "sorted" in hist[-1]["content"] and "Reply started" in status and not ended
    md, replay = vh.end(vp, cid, actor=SYSTEM)
    assert "Speech metrics" in md and "Speech delivery" in md and replay[:4] == b"RIFF"


def test_upload_through_handlers(app, tmp_path):
    f = write_stereo(tmp_path / "call.wav", AGENT, CUSTOMER)
    vp = VoicePractice(app, stt=FakeSTT([transcript(*AGENT), transcript(*CUSTOMER)]), tts=FakeTTS(), vad=energy_spans)
    seen = []
    md, hist, audio = vh.upload(vp, str(f), "Riley", "", "auto", "left", progress=lambda frac, msg: seen.append(msg), actor=SYSTEM)
    assert "Stored against Riley" in md and "Speech metrics" in md and len(hist) == 4 and audio[:4] == b"RIFF"
    assert seen[0] == "decoding audio" and seen[-1] == "done"
    with pytest.raises(ValueError, match="Choose a call recording"):
        vh.upload(vp, None, "Riley", "", "auto", "left", actor=SYSTEM)


def test_app_builds_with_voice_tabs_without_loading_models(app):
    import ui
    demo = ui.build(app)
    labels = {getattr(b, "label", None) for b in demo.blocks.values()}
    assert {"Voice practice", "Grade a recording"} <= labels
    assert not any(getattr(b, "streaming", False) is False and getattr(b, "label", "") == "Customer" for b in demo.blocks.values())


def test_ffmpeg_is_provided_from_pypi(tmp_path, monkeypatch):
    import shutil
    import subprocess
    from trainer.voice.ffmpeg import ensure_ffmpeg
    monkeypatch.setenv("PATH", "/nonexistent")
    exe = ensure_ffmpeg(tmp_path)
    assert exe == str(tmp_path / "bin" / "ffmpeg") and shutil.which("ffmpeg") == exe
    assert "aac" in subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout


def test_hands_free_turn_ends_by_voice_activity(app):
    from trainer.voice.audio import STT_RATE
    from trainer.voice.stt import EndOfTurn

    def spans(audio, **kw):                     # scripted VAD: speech where the signal is loud
        loud = np.nonzero(np.abs(audio) > 0.05)[0]
        return [(loud[0] / STT_RATE, (loud[-1] + 1) / STT_RATE)] if len(loud) else []
    stt = FakeSTT(["Hello, Brightwave, Sam speaking.", "How can I help?"])   # two phrases: cut at the pause
    vp = VoicePractice(app, stt=stt, tts=FakeTTS(), end_of_turn=lambda: EndOfTurn(silence_ms=500, question_ms=400, window_s=100, spans=spans))
    cid, hist, _ = vh.start(vp, "Sam", "double-billed-dana", actor=SYSTEM)
    rate = 48000
    speech = (0.3 * np.sin(np.arange(rate) * 0.05) * 32767).astype(np.int16)       # 1 s "speech"
    quiet = np.zeros(rate // 10, dtype=np.int16)                                    # 100 ms chunks of silence
    state, ready, chunks = None, None, [speech] + [quiet] * 3 + [speech] + [quiet] * 8
    for c in chunks:
        state, ready = vh.listen(vp, cid, (rate, c), state, actor=SYSTEM)
        if ready:
            break
    ready = ready or state.flush()             # the worker may finish after the last chunk was handed over
    assert ready is not None and ready.transcript.text == "Hello, Brightwave, Sam speaking. How can I help?"
    # the last phrase is a question, so 400 ms of silence ends the turn, not 500
    assert len(stt.calls) == 2 and ready.cue == "question" and 0.35 <= ready.eot_s <= 0.45
    updates = list(vh.answer(vp, cid, ready, hist, actor=SYSTEM))
    _, hist, status, _ = updates[-1]
    assert html.unescape(hist[-2]["content"]) == ready.transcript.text and "sorted" in hist[-1]["content"]


class SlowSTT(FakeSTT):
    """A scripted transcript that takes `delay` seconds, as whisper does on a busy machine."""

    def __init__(self, replies, delay):
        super().__init__(replies)
        self.delay = delay

    def transcribe(self, audio, **kw):
        import time
        time.sleep(self.delay)
        return super().transcribe(audio, **kw)


def test_hands_free_never_blocks_the_microphone_stream_and_loses_no_audio(app):
    """Gradio drops the chunks that arrive while a streaming handler is busy, so feed() must return quickly even
    while a phrase is being transcribed, and every chunk must still reach the turn (in order)."""
    import time
    from trainer.voice.audio import STT_RATE
    from trainer.voice.stt import EndOfTurn

    def spans(audio, **kw):
        loud = np.nonzero(np.abs(audio) > 0.05)[0]
        if not len(loud):
            return []
        out, start, prev = [], loud[0], loud[0]          # split at gaps of 200 ms or more
        for i in loud[1:]:
            if i - prev > STT_RATE // 5:
                out.append((start / STT_RATE, (prev + 1) / STT_RATE))
                start = i
            prev = i
        return out + [(start / STT_RATE, (prev + 1) / STT_RATE)]
    stt = SlowSTT(["Good morning,", "thank you for calling Brightwave Telecom.", ""], delay=0.4)
    vp = VoicePractice(app, stt=stt, tts=FakeTTS(), config=VoiceConfig(speculative_prefill=False),
                       end_of_turn=lambda: EndOfTurn(silence_ms=500, window_s=100, spans=spans))
    cid, hist, _ = vh.start(vp, "Sam", "double-billed-dana", actor=SYSTEM)
    rate = 16000
    tone = lambda n: (0.3 * np.sin(np.arange(n) * 0.05)).astype(np.float32)       # noqa: E731
    quiet = np.zeros(rate // 10, dtype=np.float32)
    chunks = [tone(rate // 10)] * 6 + [quiet] * 3 + [tone(rate // 10)] * 12 + [quiet] * 8   # a pause mid-turn, then the end
    state, ready, slowest = None, None, 0.0
    for c in chunks:
        t0 = time.perf_counter()
        state, got = vh.listen(vp, cid, (rate, c), state, actor=SYSTEM)
        slowest = max(slowest, time.perf_counter() - t0)
        ready = ready or got
    ready = ready or state.flush()
    assert ready is not None and ready.transcript.text == "Good morning, thank you for calling Brightwave Telecom."
    assert len(ready.audio) == sum(len(c) for c in chunks[:-3])     # every chunk up to 500 ms of silence, none dropped
    assert slowest < 0.3 < stt.delay                                  # the handler never waited for a transcription
    assert state.max_lag_s >= 0.3 and ready.stt_wait_s > 0           # the queueing is measured, and counted in the latency


def test_hands_free_worker_errors_reach_the_handler(app):
    from trainer.voice.stt import EndOfTurn
    vp = VoicePractice(app, stt=FakeSTT([]), tts=FakeTTS(),
                       end_of_turn=lambda: EndOfTurn(silence_ms=300, window_s=100, spans=lambda a, **k: [(0.0, 0.5)] if len(a) > 8000 else []))
    cid, _, _ = vh.start(vp, "Sam", "double-billed-dana", actor=SYSTEM)
    state, _ = vh.listen(vp, cid, (16000, np.full(16000, 0.3, dtype=np.float32)), None, actor=SYSTEM)
    with pytest.raises(AssertionError, match="ran out of transcripts"):       # the STT failure surfaces, not swallowed
        for _ in range(20):
            state, _ = vh.listen(vp, cid, (16000, np.zeros(1600, dtype=np.float32)), state, actor=SYSTEM)
        state.flush()


def test_preload_warms_the_models_at_start_and_says_what_failed(app):
    from trainer.voice.service import preload
    stt, tts = FakeSTT([""]), FakeTTS()
    vp = VoicePractice(app, stt=stt, tts=tts)
    vp._needs_warm_up = True                           # as with the real models, which load lazily
    said: list[str] = []
    took = preload(app, vp, say=said.append)
    assert set(took) == {"customer model", "speech models"} and len(stt.calls) == 1 and tts.calls[0][0] == "Hello."
    assert said[-1].startswith("Ready: customer model loaded in")
    vh.start(vp, "Sam", "double-billed-dana", actor=SYSTEM)
    assert len(stt.calls) == 1                         # already warm: starting a call does not warm up again
    broken = VoicePractice(app, stt=FakeSTT([""]), tts=FakeTTS(fail_on="Hello"))
    said.clear()
    took = preload(app, broken, say=said.append)
    assert "speech models" not in took and any("Could not load the speech models" in m and "scripted failure" in m for m in said)


def test_end_call_while_the_customer_speaks_keeps_that_reply_and_its_speech_timings(app):
    """Seen in the browser: End call pressed mid-reply graded the call before the reply's timings were stored."""
    import threading
    gate = threading.Event()

    class SlowVoice(FakeTTS):
        def synthesize(self, text, settings=None):
            gate.wait(10)                               # the reply is still being voiced
            return super().synthesize(text, settings)
    vp = VoicePractice(app, stt=FakeSTT(["Hello, you're through to Brightwave, Sam speaking."]), tts=SlowVoice(), vad=energy_spans)
    cid, hist, _ = vh.start(vp, "Sam", "double-billed-dana", actor=SYSTEM)
    talking = threading.Thread(target=lambda: list(vh.speak(vp, cid, mic(), hist, actor=SYSTEM)))
    talking.start()
    while not any(t.speaker == "agent" for t in app.store.turns(cid)):
        gate.wait(0.01)
    threading.Timer(0.3, gate.set).start()             # the reply finishes while End call waits for it
    md, _ = vh.end(vp, cid, actor=SYSTEM)
    talking.join(10)
    segs = vp.voice_store.segments(cid)
    assert [s.speaker for s in segs] == ["agent", "customer"]
    assert [t.speaker for t in app.store.turns(cid)] == ["agent", "customer"]
    assert "| Talk-time ratio (you) | 49% |" in md              # the customer's reply counted: not n/a, not 100 %


def test_voice_failure_leaves_the_reply_as_text(app):
    vp = VoicePractice(app, stt=FakeSTT(["Hello, Brightwave, Sam speaking."]), tts=FakeTTS(fail_on="sorted"), vad=energy_spans)
    cid, hist, _ = vh.start(vp, "Sam", "double-billed-dana", actor=SYSTEM)
    updates = list(vh.speak(vp, cid, mic(), hist, actor=SYSTEM))
    _, hist, status, _ = updates[-1]
    assert any("voice failed" in st for _, _, st, _ in updates)
    assert hist[-2]["role"] == "user" and html.unescape(hist[-2]["content"]) == "Hello, Brightwave, Sam speaking."
    assert hist[-1]["role"] == "assistant" and "sorted" in hist[-1]["content"]
    assert [t.speaker for t in app.store.turns(cid)] == ["agent", "customer"]       # nothing lost
