"""Test doubles for speech: scripted, recording every call, and failing loudly when misused or run dry."""
from __future__ import annotations

import numpy as np

from .audio import STT_RATE
from .stt import Segment, Transcript, Word
from .tts import VoiceSettings


class FakeExhausted(AssertionError):
    pass


class FakeSTT:
    """Returns the scripted transcripts in order: a str (one segment spanning the clip) or a Transcript."""

    name = "fake-stt"

    def __init__(self, replies: list[str | Transcript]):
        self.replies = list(replies)
        self.calls: list[dict] = []

    def transcribe(self, audio: np.ndarray, *, word_timestamps: bool = False) -> Transcript:
        audio = np.asarray(audio)
        if audio.ndim != 1 or audio.dtype != np.float32:
            raise AssertionError(f"FakeSTT: expected 16 kHz mono float32, got {audio.dtype} with shape {audio.shape}")
        self.calls.append({"samples": len(audio), "word_timestamps": word_timestamps})
        if not self.replies:
            raise FakeExhausted(f"FakeSTT ran out of transcripts after {len(self.calls) - 1} calls")
        r = self.replies.pop(0)
        dur = len(audio) / STT_RATE
        if isinstance(r, Transcript):
            return r
        if not r:
            return Transcript(text="", segments=[], duration=dur)
        words = r.split()
        step = dur / max(1, len(words))
        return Transcript(text=r, segments=[Segment(0.0, dur, r, [Word(i * step, (i + 1) * step, w) for i, w in enumerate(words)])],
                          duration=dur)


def transcript(*segments: tuple[float, float, str], duration: float | None = None) -> Transcript:
    """A Transcript from (start, end, text) segments, words spread evenly inside each."""
    segs = []
    for a, b, text in segments:
        words = text.split()
        step = (b - a) / max(1, len(words))
        segs.append(Segment(a, b, text, [Word(a + i * step, a + (i + 1) * step, w) for i, w in enumerate(words)]))
    return Transcript(text=" ".join(s[2] for s in segments), segments=segs,
                      duration=duration if duration is not None else (segments[-1][1] if segments else 0.0))


class FakeTTS:
    """Silence of a plausible length (0.06 s a character) at 22,050 Hz; records the text and settings it was given."""

    name = "fake-tts"
    rate = 22050

    def __init__(self, *, fail_on: str | None = None):
        self.calls: list[tuple[str, VoiceSettings | None]] = []
        self.fail_on = fail_on

    def synthesize(self, text: str, settings: VoiceSettings | None = None) -> tuple[int, np.ndarray]:
        if not text.strip():
            raise AssertionError("FakeTTS: asked to speak empty text")
        if self.fail_on and self.fail_on in text:
            raise RuntimeError(f"FakeTTS: scripted failure on {text!r}")
        self.calls.append((text, settings))
        return self.rate, np.zeros(int(0.06 * len(text) * self.rate), dtype=np.int16)


def energy_spans(audio: np.ndarray, *, level: float = 0.02, gap_s: float = 0.3) -> list[tuple[float, float]]:
    """A stand-in VAD for tests on synthetic signals (tones are not speech to Silero): loud stretches, in seconds."""
    a = np.abs(np.asarray(audio, dtype=np.float32))
    hop = STT_RATE // 100
    loud = [i for i in range(0, len(a), hop) if a[i:i + hop].max(initial=0.0) > level]
    spans: list[list[float]] = []
    for i in loud:
        t = i / STT_RATE
        if spans and t - spans[-1][1] <= gap_s:
            spans[-1][1] = t + hop / STT_RATE
        else:
            spans.append([t, t + hop / STT_RATE])
    return [(a_, b_) for a_, b_ in spans]
