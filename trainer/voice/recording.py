"""Grade a real call recording with the same rubric: WAV/MP3 → timed transcript → grader → stored
against the trainee like a practice call.

Stereo files (the usual contact-center export) carry the agent on one channel and the customer on the
other, so speakers and overlaps are exact. A mono file is split into speakers by pauses (turns
alternate, the agent first): a fallback, flagged on the scorecard.
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Callable

import numpy as np

from ..content import content_hash
from ..grader import Scorecard
from ..store import now
from . import audio as au
from .metrics import SpeechMetrics, Utterance, compute
from .store import VoiceStore
from .stt import SpeechToText, Transcript

log = logging.getLogger(__name__)

SUPPORTED = (".wav", ".mp3", ".m4a", ".ogg", ".flac")
MAX_SECONDS = 60 * 60


@dataclass
class ImportedCall:
    call_id: str
    scorecard: Scorecard
    metrics: SpeechMetrics
    turns: list[tuple[str, str]]                    # (speaker, text)
    layout: str
    notes: list[str] = field(default_factory=list)


def _utterances(t: Transcript, speaker: str, *, gap_s: float = 0.6,
                spans: list[tuple[float, float]] | None = None) -> list[Utterance]:
    """One channel's speech as utterances. Whisper may put several turns in one segment (its VAD glues speech
    chunks together), so segments are re-cut by word timings wherever the speaker paused for gap_s; words
    outside the channel's own VAD speech (whisper's "Thank you." in silence) are dropped."""
    def heard(w) -> bool:
        return spans is None or any(a - 0.3 <= (w.start + w.end) / 2 <= b + 0.3 for a, b in spans)
    out: list[Utterance] = []
    for s in t.segments:
        if not s.words:
            out.append(Utterance(speaker=speaker, start=s.start, end=s.end, text=s.text))
            continue
        run: list = []
        for w in [w for w in s.words if heard(w)]:
            if run and w.start - run[-1].end >= gap_s:
                out.append(_run(run, speaker))
                run = []
            run.append(w)
        if run:
            out.append(_run(run, speaker))
    return out


def _run(words, speaker: str) -> Utterance:
    return Utterance(speaker=speaker, start=words[0].start, end=words[-1].end,
                     text=" ".join(w.text for w in words).strip(), n_words=len(words))


def _channels_alike(a: np.ndarray, b: np.ndarray) -> bool:
    """A mono call saved as two identical channels."""
    n = min(len(a), len(b))
    if n == 0:
        return True
    a, b = a[:n], b[:n]
    return float(np.mean((a - b) ** 2)) < 1e-6 * max(float(np.mean(a ** 2)), 1e-9) + 1e-10


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(a ** 2))) if len(a) else 0.0


def split_mono(t: Transcript, *, turn_gap_s: float = 0.45, first: str = "agent") -> list[Utterance]:
    """Speakers from pauses alone: a new turn starts after a long silence, and turns alternate.

    "Long" is relative to the call: at least turn_gap_s, and at least 60 % of the typical pause among those
    that long. A call whose speakers leave ~1 s between turns is then not split at a 0.5 s pause after a comma,
    while a call with quick turn-taking keeps the 0.45 s floor."""
    words = [w for s in t.segments for w in (s.words or [])]
    if not words:          # no word timings: one segment is one turn
        runs = [(s.start, s.end, s.text) for s in t.segments]
    else:
        gaps = sorted(b.start - a.end for a, b in zip(words, words[1:]) if b.start - a.end >= turn_gap_s)
        threshold = max(turn_gap_s, 0.6 * gaps[len(gaps) // 2]) if gaps else turn_gap_s
        runs, cur = [], [words[0]]
        for w in words[1:]:
            if w.start - cur[-1].end >= threshold:
                runs.append((cur[0].start, cur[-1].end, " ".join(x.text for x in cur)))
                cur = [w]
            else:
                cur.append(w)
        runs.append((cur[0].start, cur[-1].end, " ".join(x.text for x in cur)))
    other = {"agent": "customer", "customer": "agent"}
    out, who = [], first
    for a, b, text in runs:
        out.append(Utterance(speaker=who, start=a, end=b, text=text.strip()))
        who = other[who]
    return out


def to_turns(utts: list[Utterance]) -> list[tuple[str, str, list[Utterance]]]:
    """Consecutive stretches of one speaker (in start order) become one transcript turn."""
    turns: list[tuple[str, str, list[Utterance]]] = []
    for u in sorted(utts, key=lambda u: u.start):
        if not u.text.strip():
            continue
        if turns and turns[-1][0] == u.speaker:
            sp, text, parts = turns[-1]
            turns[-1] = (sp, f"{text} {u.text.strip()}", parts + [u])
        else:
            turns.append((u.speaker, u.text.strip(), [u]))
    return turns


def transcribe_file(path: str | Path, stt: SpeechToText, *, layout: str = "auto", agent_channel: str = "left",
                    progress: Callable[[float, str], None] | None = None,
                    vad: Callable[[np.ndarray], list[tuple[float, float]]] | None = None) -> tuple[list[Utterance], str, list[str]]:
    """Return (utterances, layout used, notes). vad: where each channel has speech (default: the Silero VAD)."""
    if vad is None:
        from .stt import speech_spans
        vad = speech_spans
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED:
        raise ValueError(f"{path.name}: unsupported file type. Fix: upload a WAV or MP3 recording ({', '.join(SUPPORTED)})")
    if layout not in ("auto", "stereo", "mono"):
        raise ValueError(f"layout {layout!r}: use auto, stereo or mono")
    if agent_channel not in ("left", "right"):
        raise ValueError(f"agent channel {agent_channel!r}: use left or right")
    progress = progress or (lambda f, m: None)
    notes: list[str] = []
    channels = au.channel_count(path)
    use_stereo = layout == "stereo" or (layout == "auto" and channels >= 2)
    if use_stereo and channels < 2:
        raise ValueError(f"{path.name} has one channel, so it cannot be split by channel. Fix: choose mono (or auto)")
    progress(0.05, "decoding audio")
    if use_stereo:
        left, right = au.load(path, split_stereo=True)
        if len(left) / au.STT_RATE > MAX_SECONDS:
            raise ValueError(f"{path.name} is longer than {MAX_SECONDS // 60} minutes. Fix: upload one call at a time")
        if _channels_alike(left, right):
            notes.append("both channels carry the same audio, so the call was treated as mono")
            use_stereo = False
            mono = left
        elif min(_rms(left), _rms(right)) < 1e-4:
            notes.append("one channel is silent, so the call was treated as mono")
            use_stereo = False
            mono = left if _rms(left) > _rms(right) else right
    else:
        (mono,) = au.load(path, split_stereo=False)
        if len(mono) / au.STT_RATE > MAX_SECONDS:
            raise ValueError(f"{path.name} is longer than {MAX_SECONDS // 60} minutes. Fix: upload one call at a time")
    if use_stereo:
        agent_audio, cust_audio = (left, right) if agent_channel == "left" else (right, left)
        progress(0.15, "transcribing the agent's channel")
        ta = stt.transcribe(agent_audio, word_timestamps=True)
        progress(0.55, "transcribing the customer's channel")
        tc = stt.transcribe(cust_audio, word_timestamps=True)
        utts = (_utterances(ta, "agent", spans=vad(agent_audio)) + _utterances(tc, "customer", spans=vad(cust_audio)))
        layout_used = "stereo"
    else:
        progress(0.15, "transcribing")
        t = stt.transcribe(mono, word_timestamps=True)
        utts = split_mono(t)
        layout_used = "mono"
        notes.append("mono recording: speakers were told apart by pauses only (turns alternate, agent first); "
                     "check the transcript, and prefer a stereo export with agent and customer on separate channels")
    if not any(u.text.strip() for u in utts):
        raise ValueError(f"{path.name}: no speech was recognised. Fix: check the file plays, and that it is a call recording")
    progress(0.9, "grading")
    return utts, layout_used, notes


def import_recording(app, path: str | Path, *, stt: SpeechToText, trainee: str, scenario_id: str | None = None,
                     layout: str = "auto", agent_channel: str = "left", audio_dir: Path | None = None,
                     progress: Callable[[float, str], None] | None = None, vad=None) -> ImportedCall:
    path = Path(path)
    if not (trainee or "").strip():
        raise ValueError("Enter the trainee's name: the recording is stored against them.")
    scenario = app.catalog.scenario(scenario_id) if scenario_id else None
    persona = app.catalog.persona_for(scenario) if scenario else None
    utts, layout_used, notes = transcribe_file(path, stt, layout=layout, agent_channel=agent_channel, progress=progress, vad=vad)
    turns = to_turns(utts)

    store = app.store
    person = store.trainee(trainee)
    rubric = scenario.rubric if scenario else "default"
    record = store.start_call(trainee_id=person.id, scenario_id=scenario.id if scenario else "recording",
                              persona_id=persona.id if persona else "", persona_hash=content_hash(persona) if persona else "",
                              persona_snapshot=persona.model_dump_json() if persona else "", customer_model="recording",
                              settings_json=json.dumps({"source": "recording", "rubric": rubric, "file": path.name,
                                                        "layout": layout_used, "notes": notes}),
                              start_mood=0.0, final_mood=None)
    vs = VoiceStore(store)
    kept = None
    if audio_dir is not None:
        kept = audio_dir / record.id / f"recording{path.suffix.lower()}"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, kept)
    vs.start(record.id, source="recording", audio_path=str(kept) if kept else None, layout=layout_used,
             meta_json=json.dumps({"file": path.name, "notes": notes}))
    base = now()
    for idx, (speaker, text, parts) in enumerate(turns):
        store.add_turn(record.id, speaker=speaker, text=text, started_at=base + timedelta(seconds=parts[0].start),
                       meta={"source": "recording", "start_s": parts[0].start, "end_s": parts[-1].end})
        for u in parts:
            vs.add(record.id, turn_idx=idx, speaker=speaker, start_s=round(u.start, 3), end_s=round(u.end, 3), text=u.text,
                   n_words=u.n_words)
    store.end_call(record.id, reason="recording")
    card = app.grade_call(record.id)       # the same grader as a practice call; the notes become flags
    metrics = compute(vs.utterances(record.id), source="recording")
    if progress:
        progress(1.0, "done")
    return ImportedCall(call_id=record.id, scorecard=card, metrics=metrics, turns=[(s, t) for s, t, _ in turns],
                        layout=layout_used, notes=notes)
