"""The real speech models from the packages on the index (slow): piper speaks, faster-whisper hears,
end-of-turn detection on real speech, a real stereo and mono recording graded, and one spoken turn
against the embedded customer model."""
from __future__ import annotations

import re

import numpy as np
import pytest

from trainer.accounts import SYSTEM
from trainer.voice.audio import STT_RATE, resample, wav_bytes
from trainer.voice.models import PIPER_VOICE_SHA256, WHISPER_TINY_SHA256, piper_voice, sha256, whisper_model
from trainer.voice.stt import EndOfTurn, PhraseTranscriber, WhisperSTT
from trainer.voice.tts import PiperTTS, VoiceSettings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tts():
    return PiperTTS()


@pytest.fixture(scope="module")
def stt():
    return WhisperSTT()


def words(s: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", s.lower())


def speak16(tts, text, settings=None) -> np.ndarray:
    sr, pcm = tts.synthesize(text, settings)
    assert sr == 22050 and pcm.dtype == np.int16 and len(pcm) > sr // 2
    return resample(pcm.astype(np.float32) / 32768.0, sr, STT_RATE)


def test_weights_are_the_published_ones():
    assert sha256(piper_voice()) == PIPER_VOICE_SHA256["en_US-joe-medium.onnx"]
    assert sha256(whisper_model() / "model.bin") == WHISPER_TINY_SHA256["model.bin"]


@pytest.mark.parametrize("line,settings", [
    ("Can you confirm your date of birth for me, please?", None),
    ("I'm sorry about the double charge. I will refund it today.", VoiceSettings(speed=1.2, variation=0.3)),
])
def test_round_trip_piper_to_whisper(tts, stt, line, settings):
    heard = stt.transcribe(speak16(tts, line, settings))
    assert "".join(words(heard.text)) == "".join(words(line)), heard.text      # "post code" = "postcode"


def test_fillers_survive_transcription(tts, stt):
    heard = stt.transcribe(speak16(tts, "Um, let me check that for you. Uh, one moment."))
    assert {"um", "uh"} & set(words(heard.text)), heard.text


def test_end_of_turn_on_real_speech_waits_for_the_whole_turn(tts, stt):
    a = speak16(tts, "So just to confirm, you've been charged twice this month, and you'd like the second payment back?",
                VoiceSettings(speed=1.15))
    loud = np.nonzero(np.abs(a) > 0.01)[0]
    end = (loud[-1] + 1) / STT_RATE
    audio = np.concatenate([a, np.zeros(STT_RATE * 2, np.float32)])
    eot, phrases = EndOfTurn(silence_ms=500), PhraseTranscriber(stt)
    fired = None
    for i in range(0, len(audio), STT_RATE // 10):
        fired = eot.feed(audio[i:i + STT_RATE // 10])
        if fired:
            break
        if eot.new_pause is not None:
            phrases.pause(audio, eot.new_pause)
    assert fired is not None and 0.3 <= fired.detected_at - end <= 0.9
    heard = phrases.finish(fired.audio).text
    assert len(set(words(heard)) & set(words("so just to confirm you've been charged twice this month"))) >= 8, heard


def test_short_window_transcription_on_real_speech(tts):
    """FRONTLINE_WHISPER_SHORT_WINDOW: only the clip is encoded; the loop a short window falls into is cut."""
    short = WhisperSTT(short_window=True)
    for line in ("Could I take your account number, please?", "Is there anything else I can help you with today?"):
        heard = short.transcribe(np.concatenate([np.zeros(1600, np.float32), speak16(tts, line, VoiceSettings(speed=1.15))]))
        assert "".join(words(heard.text)) == "".join(words(line)), heard.text


def test_whisper_loops_and_stutters_are_recognised():
    from trainer.voice.stt import Segment, _cut_loop, _stutters
    looped = [Segment(0, 1, "Could I take your account number? Could I take your account number? Could I")]
    assert [x.text for x in _cut_loop(looped)] == ["Could I take your account number?"]
    assert _cut_loop([Segment(0, 1, "Thanks for calling, my name is Sam.")])[0].text == "Thanks for calling, my name is Sam."
    assert _stutters("Good morning. Good morning. Good Good morning.") and not _stutters("Thanks for calling, my name is Sam.")


def _timeline(tts, turns, gap=0.7):
    """(speaker, text) turns → stereo float32 at 16 kHz, agent left, customer right."""
    pieces, t = [], 0.3
    for speaker, text in turns:
        a = speak16(tts, text, None if speaker == "agent" else VoiceSettings(speed=0.9, variation=0.8))
        pieces.append((speaker, t, a))
        t += len(a) / STT_RATE + gap
    out = np.zeros((int((t + 0.5) * STT_RATE), 2), np.float32)
    for speaker, start, a in pieces:
        i = int(start * STT_RATE)
        out[i:i + len(a), 0 if speaker == "agent" else 1] += a
    return out


CALL = [("agent", "Thank you for calling Brightwave, this is Sam."),
        ("customer", "Hi, I was charged twice this month."),
        ("agent", "I'm sorry about that. I will refund the second payment today."),
        ("customer", "Great, thank you very much.")]


def _check_turns(got, call=CALL):
    assert [s for s, _ in got.turns] == [s for s, _ in call]
    for (_, want), (_, heard) in zip(call, got.turns):
        overlap = len(set(words(want)) & set(words(heard))) / len(set(words(want)))
        assert overlap >= 0.7, (want, heard)


def test_real_stereo_recording_graded(tmp_path, tts, stt, store, catalog):
    from trainer.llm.fake import FakeLLM
    from trainer.service import Frontline
    from trainer.voice.service import VoicePractice
    app = Frontline(store=store, catalog=catalog, customer_backend=FakeLLM(["unused"]))
    f = tmp_path / "call.wav"
    f.write_bytes(wav_bytes(_timeline(tts, CALL), STT_RATE))
    got = VoicePractice(app, stt=stt, tts=tts).import_recording(f, trainee="Riley", actor=SYSTEM)
    _check_turns(got)
    m = got.scorecard.speech
    assert m["talk_over"] == [] and m["dead_air"] == [] and 0.3 < m["talk_ratio"] < 0.8
    assert all(0.4 <= x <= 1.3 for x in m["response_latencies_s"])          # the 0.7 s gaps, give or take VAD padding


def test_real_mono_recording_split_by_pauses(tmp_path, tts, stt, store, catalog):
    from trainer.llm.fake import FakeLLM
    from trainer.service import Frontline
    from trainer.voice.service import VoicePractice
    app = Frontline(store=store, catalog=catalog, customer_backend=FakeLLM(["unused"]))
    f = tmp_path / "mono.wav"
    f.write_bytes(wav_bytes(_timeline(tts, CALL, gap=1.0).sum(axis=1), STT_RATE))
    got = VoicePractice(app, stt=stt, tts=tts).import_recording(f, trainee="Riley", actor=SYSTEM)
    assert got.layout == "mono"
    _check_turns(got)


def test_spoken_turn_on_the_embedded_model(store, catalog, tts, stt):
    from trainer.config import load_settings
    from trainer.llm import make_backend
    from trainer.service import Frontline
    from trainer.voice.service import VoicePractice
    settings = load_settings()
    app = Frontline(store=store, catalog=catalog, customer_backend=make_backend(settings.customer, settings))
    vp = VoicePractice(app, stt=stt, tts=tts)
    session = vp.start_call("Sam", "double-billed-dana", actor=SYSTEM)
    said = speak16(tts, "Thank you for calling Brightwave, my name is Sam. How can I help you today?")
    events = list(vp.turn(session.id, STT_RATE, (said * 32767).astype(np.int16), actor=SYSTEM))
    assert events[0].kind == "agent_text" and "my name is sam" in events[0].text.lower()
    assert events[-1].kind == "customer_text", events[-1].text
    audio = [e for e in events if e.kind == "customer_audio"]
    assert audio and all(e.sample_rate == 22050 and len(e.audio) > 0 for e in audio)
    assert events[-1].timings["voice_to_voice_s"] > 0
