"""Speech-to-text with faster-whisper, and end-of-turn detection with the Silero VAD that ships inside it."""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from ..compute import FOREGROUND
from .audio import STT_RATE
from .models import whisper_model

log = logging.getLogger(__name__)

# Whisper tends to drop hesitations; a prompt written with them keeps "um"/"uh" in the text so filler
# words can be counted. Measured on synthetic speech it does not add fillers that were not spoken.
FILLER_PROMPT = "Um, so, uh, I mean, like, let me just check that for you. Hmm, okay."


@dataclass
class Word:
    start: float
    end: float
    text: str


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)


@dataclass
class Transcript:
    text: str
    segments: list[Segment]
    duration: float                      # seconds of audio given
    seconds: float = 0.0                 # how long transcription took

    @property
    def speech_start(self) -> float | None:
        return self.segments[0].start if self.segments else None

    @property
    def speech_end(self) -> float | None:
        return self.segments[-1].end if self.segments else None


@runtime_checkable
class SpeechToText(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray, *, word_timestamps: bool = False) -> Transcript:
        """audio: 16 kHz mono float32."""
        ...


class WhisperSTT:
    """faster-whisper on CPU, int8, greedy (beam 1): the settings that meet the latency target on 2 cores
    (see docs/benchmarks.md). One model per process, shared, serialised by a lock."""

    def __init__(self, model: str = "tiny.en", *, compute_type: str = "int8", beam_size: int = 1, cpu_threads: int = 0,
                 vad_filter: bool = True, min_silence_ms: int = 500, keep_fillers: bool = True, short_window: bool = False):
        self.model_ref = model or "tiny.en"
        self.name = f"faster-whisper:{self.model_ref if self.model_ref == 'tiny.en' else os.path.basename(self.model_ref)}"
        self.compute_type = compute_type
        self.beam_size = beam_size
        self.cpu_threads = cpu_threads or os.cpu_count() or 2
        self.vad_filter = vad_filter
        self.min_silence_ms = min_silence_ms
        self.keep_fillers = keep_fillers
        self._model = None
        self._lock = threading.Lock()
        self.load_s = 0.0
        # Whisper encodes a 30 s window however short the clip. With short_window (and no word timestamps) only the clip
        # plus half a second (5 s at least) is encoded: phrases are transcribed 2-3x faster, but words are lost more
        # often (WER 12.0 % against 7.6 % in docs/benchmarks.md). The voice loop therefore uses it for the live
        # transcript only and transcribes each turn again with the full window for the stored one (full_window=True).
        # The loop such a pass sometimes falls into is cut (_cut_loop); a garbled or overlong result is redone in full.
        self.short_window = short_window
        self._short = False                 # a short-window pass is running (read by the encode wrapper in load)
        self.full_window_retries = 0

    def load(self):
        if self._model is None:
            folder = whisper_model(self.model_ref)          # verified; never a hub id
            from faster_whisper import WhisperModel
            t0 = time.perf_counter()
            self._model = WhisperModel(str(folder), device="cpu", compute_type=self.compute_type,
                                       cpu_threads=self.cpu_threads, local_files_only=True)
            full_encode = self._model.encode

            def encode(features):
                # faster-whisper pads every segment's features with zero columns to 30 s (3000 frames): keep the clip,
                # half a second more, and 5 s at least (shorter windows lose words)
                if self._short and features.shape[-1] == 3000:
                    used = np.flatnonzero(np.any(features != 0, axis=0))
                    features = features[..., :min(3000, max(500, (int(used[-1]) + 1 if len(used) else 0) + 50))]
                return full_encode(features)
            self._model.encode = encode
            self.load_s = time.perf_counter() - t0
            log.info("loaded whisper %s in %.2fs", folder, self.load_s)
        return self._model

    def transcribe(self, audio: np.ndarray, *, word_timestamps: bool = False, full_window: bool = False) -> Transcript:
        """full_window: encode whisper's whole 30 s window even if this instance uses the short one."""
        audio = np.asarray(audio, dtype=np.float32)
        duration = len(audio) / STT_RATE
        if duration < 0.1:
            return Transcript(text="", segments=[], duration=duration)
        with self._lock, (FOREGROUND if not full_window else nullcontext()):   # a live phrase pauses background prefills
            model = self.load()
            t0 = time.perf_counter()
            short = self.short_window and not word_timestamps and not full_window and duration <= 20
            out = self._run(model, audio, word_timestamps, short=short, max_new_tokens=int(8 * duration) + 12 if short else None)
            if short:
                out = _cut_loop(out)
                text = " ".join(x.text for x in out)
                if len(text.split()) > 4.5 * duration + 3 or _stutters(text):      # too many words for the time, or garbled
                    self.full_window_retries += 1
                    out = self._run(model, audio, word_timestamps, short=False)
            seconds = time.perf_counter() - t0
        return Transcript(text=" ".join(s.text for s in out).strip(), segments=out, duration=duration, seconds=seconds)

    def _run(self, model, audio: np.ndarray, word_timestamps: bool, *, short: bool, max_new_tokens: int | None = None) -> list[Segment]:
        self._short = short
        try:
            segs, _info = model.transcribe(
                audio, language="en", beam_size=self.beam_size, best_of=1, temperature=0.0,
                condition_on_previous_text=False, word_timestamps=word_timestamps,
                initial_prompt=FILLER_PROMPT if self.keep_fillers else None,
                vad_filter=self.vad_filter, vad_parameters={"min_silence_duration_ms": self.min_silence_ms, "speech_pad_ms": 200},
                without_timestamps=not word_timestamps,
                # with timestamps on, tiny.en sometimes adds a "Thank you." in trailing silence: drop words in long silences
                hallucination_silence_threshold=1.0 if word_timestamps else None, max_new_tokens=max_new_tokens)
            out = []
            for s in segs:
                words = [Word(w.start, w.end, w.word.strip()) for w in (s.words or [])]
                if s.text.strip():
                    out.append(Segment(s.start, s.end, s.text.strip(), words))
            return out
        finally:
            self._short = False


def _stutters(text: str) -> bool:
    """The other way a short-window pass fails: a word or a pair of words said twice in a row ("Good morning. Good
    morning. Good Good morning."). Rare in real speech, so such a result is transcribed again with the full window."""
    ws = _plain_words(text)
    return any(ws[i] == ws[i + 1] for i in range(len(ws) - 1)) or \
        any(ws[i:i + 2] == ws[i + 2:i + 4] for i in range(len(ws) - 3))


def _cut_loop(segments: list[Segment]) -> list[Segment]:
    """A short-window pass sometimes does not see where the clip ends and says it again ("Could I take your account
    number? Could I take your account…"): keep the words before the first five-word sequence that recurs."""
    out, seen, n = [], set(), 0
    # one entry per whitespace-separated token (empty for a lone "-"), so an index here is a token index below
    norm = [re.sub(r"[^a-z0-9']", "", w.lower()) for s in segments for w in s.text.split()]
    for i in range(len(norm) - 4):
        g = tuple(norm[i:i + 5])
        if g in seen:
            n = i
            break
        seen.add(g)
    else:
        return segments
    for s in segments:
        ws = s.text.split()
        if n <= 0:
            break
        out.append(Segment(s.start, s.end, " ".join(ws[:n]), s.words) if len(ws) > n else s)
        n -= len(ws)
    return out


def speech_spans(audio: np.ndarray, *, threshold: float = 0.5, min_silence_ms: int = 300, pad_ms: int = 30,
                 min_speech_ms: int = 120) -> list[tuple[float, float]]:
    """Where someone is speaking, in seconds, by the Silero VAD inside faster-whisper."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps
    if len(audio) < 512:
        return []
    opts = VadOptions(threshold=threshold, min_silence_duration_ms=min_silence_ms, speech_pad_ms=pad_ms,
                      min_speech_duration_ms=min_speech_ms)
    return [(s["start"] / STT_RATE, s["end"] / STT_RATE) for s in get_speech_timestamps(np.asarray(audio, dtype=np.float32), opts)]


@dataclass
class TurnEnd:
    audio: np.ndarray            # the whole utterance (16 kHz), leading silence kept so timings line up
    speech_start: float          # seconds into `audio`
    speech_end: float
    detected_at: float           # seconds of audio received when the end was detected
    vad_s: float                 # compute time of the check that detected it
    cue: str | None = None       # "question" or "hold" when the words changed the silence needed


# Words a speaker trails off on when they mean to go on ("and…", "so, um…"): a pause after one is not the end of the
# turn. The second set also ends finished sentences ("…which card you paid with."), so it only counts without a full stop.
_HOLD_WORDS = frozenset("and but so or because cos um uh erm er hmm".split())
_HOLD_UNLESS_STOPPED = frozenset("the a an to of for with your my our that which who when while if then just also plus like".split())


def turn_cue(text: str) -> str | None:
    """What the words of the phrase before a pause say about the turn: "yield" when it ends in a question (an
    agent who asks something hands the turn over), "hold" when it trails off on a conjunction or a filler, on an
    article or a preposition with no full stop, or on a dash or an ellipsis (they are still thinking), None when the
    words do not say. A trailing comma says nothing: whisper puts one after many finished phrases ("…goodbye,")."""
    t = _bare(text)
    if not t:
        return None
    if t.endswith("?"):
        return "yield"
    if t.endswith(("-", "–", "—", "...", "…")):
        return "hold"
    last = re.findall(r"[a-z']+", t.lower())
    if not last:
        return None
    if last[-1] in _HOLD_WORDS or (last[-1] in _HOLD_UNLESS_STOPPED and not t.endswith((".", "!"))):
        return "hold"
    return None


def ends_sentence(text: str) -> bool:
    """The phrase ends with a full stop, a question or an exclamation mark: the turn may well be over."""
    return _bare(text).endswith((".", "?", "!"))


def _bare(text: str) -> str:
    return text.strip().strip('"\'')


def _plain_words(text: str) -> list[str]:
    """Lower-case words without punctuation ("Morning," → "morning"), for comparing runs of words."""
    return [w for w in (re.sub(r"[^a-z0-9']", "", w.lower()) for w in text.split()) if w]


class EndOfTurn:
    """Streaming end-of-turn detection: feed microphone chunks as they arrive; `feed` returns a TurnEnd once
    the trainee has spoken and then been silent for long enough. Only the last `window_s` seconds are
    re-checked each time, so the cost per chunk stays flat however long the turn is.

    Long enough is `silence_ms`, unless the words of the phrase before the pause say otherwise (`heard`):
    after a question `question_ms` is enough; after a phrase that trails off ("and…", "um,") the turn is
    held for `hold_ms`, so a trainee who stops to think is not cut off."""

    def __init__(self, *, silence_ms: int = 500, threshold: float = 0.5, window_s: float = 3.0, min_speech_ms: int = 60,
                 pause_ms: int = 200, question_ms: int = 450, hold_ms: int = 1200, spans=speech_spans):
        self.silence_s = silence_ms / 1000
        self.pause_s = pause_ms / 1000
        self.question_s = min(question_ms, silence_ms) / 1000
        self.hold_s = max(hold_ms, silence_ms) / 1000
        self.threshold = threshold
        self.window = int(window_s * STT_RATE)
        # short: speech that has only just resumed at the end of the window must count, or a pause mid-sentence
        # would be taken for the end of the turn
        self.min_speech_s = min_speech_ms / 1000
        # gaps shorter than this are inside a span; short enough that a pause (and a question's end) is seen in time
        self.gap_ms = int(min(self.pause_s, self.question_s, self.silence_s / 2) * 1000)
        self._spans = spans
        self.reset()

    def reset(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.n = 0
        self.first_speech: float | None = None
        self.last_speech_end: float | None = None
        self.new_pause: float | None = None         # set by feed(): a short pause just seen (seconds received), once per pause
        self._reported = -1.0
        self._cue: tuple[float, str] | None = None  # (speech end of the phrase it is about, "yield" | "hold")
        self.cue_used: str | None = None            # the cue that set the silence of the turn end (for timings)

    @property
    def received_s(self) -> float:
        return self.n / STT_RATE

    def heard(self, text: str) -> str | None:
        """The words of the phrase before the current pause (transcribed meanwhile); returns their cue."""
        cue = turn_cue(text)
        self._cue = (self.last_speech_end, cue) if cue and self.last_speech_end is not None else None
        return cue

    def needed_silence(self) -> float:
        """How long the silence after the latest speech must last to end the turn."""
        if self._cue and self.last_speech_end is not None and abs(self._cue[0] - self.last_speech_end) < 0.15:
            return self.question_s if self._cue[1] == "yield" else self.hold_s
        return self.silence_s

    def feed(self, chunk: np.ndarray) -> TurnEnd | None:
        chunk = np.asarray(chunk, dtype=np.float32)
        self.chunks.append(chunk)
        self.n += len(chunk)
        t0 = time.perf_counter()
        tail = np.concatenate(self.chunks)[-self.window:] if self.chunks else chunk
        offset = (self.n - len(tail)) / STT_RATE
        spans = [(a + offset, b + offset) for a, b in self._spans(tail, threshold=self.threshold, min_silence_ms=self.gap_ms,
                                                                   pad_ms=0, min_speech_ms=int(self.min_speech_s * 1000))]
        vad_s = time.perf_counter() - t0
        if spans:
            if self.first_speech is None:
                self.first_speech = spans[0][0]
            self.last_speech_end = spans[-1][1]
        self.new_pause = None
        if self.first_speech is None or self.last_speech_end is None:
            return None
        silent_for = self.received_s - self.last_speech_end + 1e-6       # 1e-6: 2.3 − 2.0 is 0.2999… in floating point
        if silent_for >= self.pause_s and self.last_speech_end > self._reported + 0.05:
            self.new_pause = self.received_s
            self._reported = self.last_speech_end
        needed = self.needed_silence()
        if silent_for >= needed:
            audio = np.concatenate(self.chunks)
            cue = None if needed == self.silence_s else ("question" if needed == self.question_s else "hold")
            end = TurnEnd(audio=audio, speech_start=self.first_speech, speech_end=self.last_speech_end,
                          detected_at=self.received_s, vad_s=vad_s, cue=cue)
            self.reset()
            return end
        return None


class PhraseTranscriber:
    """Transcribes a turn phrase by phrase while the trainee is still talking: each time the VAD sees a short
    pause, the audio up to it is transcribed, so when the end of the turn is detected only the last phrase
    (usually already done during the end-of-turn silence) is left. Whisper has no incremental mode; this
    gets the same effect by cutting at pauses, where no word is split."""

    def __init__(self, stt: SpeechToText, *, min_phrase_s: float = 0.6):
        self.stt = stt
        self.min_phrase = int(min_phrase_s * STT_RATE)
        self.done = 0                       # samples already transcribed
        self.texts: list[str] = []
        self.last_text = ""                 # the words of the phrase the latest pause() transcribed
        self.seconds = 0.0                  # compute spent

    def pause(self, audio: np.ndarray, upto_s: float) -> bool:
        """A pause was seen at `upto_s` (seconds into the turn): transcribe the phrase before it. Returns True if it ran."""
        upto = int(upto_s * STT_RATE)
        if upto - self.done < self.min_phrase:
            return False
        t = self.stt.transcribe(np.asarray(audio[self.done:upto], dtype=np.float32))
        self.seconds += t.seconds
        self.last_text = t.text
        if t.text:
            self.texts.append(t.text)
        self.done = upto
        return True

    def finish(self, audio: np.ndarray) -> Transcript:
        rest = np.asarray(audio[self.done:], dtype=np.float32)
        if len(rest) >= int(0.2 * STT_RATE) and len(speech_spans(rest)) > 0:
            t = self.stt.transcribe(rest)
            self.seconds += t.seconds
            if t.text:
                self.texts.append(t.text)
        self.done = len(audio)
        return Transcript(text=" ".join(self.texts).strip(), segments=[], duration=len(audio) / STT_RATE, seconds=self.seconds)
