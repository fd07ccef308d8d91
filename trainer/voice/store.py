"""Voice tables, on SQLModel's shared metadata (created with the rest by trainer.store.Store):
one row per spoken stretch (a practice turn, or a segment of a recording), keyed by call id + turn
index, with its timing on the call's clock, its audio file and its latency breakdown."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel, select

from ..store import Store, now
from .metrics import SpeechMetrics, Utterance, compute


class VoiceCall(SQLModel, table=True):
    __tablename__ = "voice_call"
    call_id: str = Field(foreign_key="call.id", primary_key=True)
    source: str = "practice"                 # practice | recording
    started_at: datetime = Field(default_factory=now)
    clock0: float = 0.0                      # time.time() when the call's clock started (practice)
    audio_path: str | None = None            # the uploaded recording, or the whole practice call mixed down
    layout: str | None = None                # stereo | mono (recordings)
    meta_json: str = "{}"


class VoiceSegment(SQLModel, table=True):
    __tablename__ = "voice_segment"
    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", index=True)
    turn_idx: int                            # TurnRecord.idx this speech belongs to
    speaker: str                             # agent | customer
    start_s: float                           # seconds on the call's clock
    end_s: float
    text: str = ""
    n_words: int | None = None
    audio_path: str | None = None
    timings_json: str = "{}"                 # per-stage latency of the reply (customer turns in practice)


class VoiceStore:
    def __init__(self, store: Store):
        self.store = store

    def start(self, call_id: str, **fields: Any) -> VoiceCall:
        with self.store.session() as s:
            row = s.get(VoiceCall, call_id) or VoiceCall(call_id=call_id)
            for k, v in fields.items():
                setattr(row, k, v)
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def call(self, call_id: str) -> VoiceCall | None:
        with self.store.session() as s:
            return s.get(VoiceCall, call_id)

    def add(self, call_id: str, *, turn_idx: int, speaker: str, start_s: float, end_s: float, text: str = "",
            n_words: int | None = None, audio_path: str | None = None, timings: dict | None = None) -> VoiceSegment:
        with self.store.session() as s:
            row = VoiceSegment(call_id=call_id, turn_idx=turn_idx, speaker=speaker, start_s=start_s, end_s=end_s, text=text,
                               n_words=n_words, audio_path=audio_path, timings_json=json.dumps(timings or {}))
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def segments(self, call_id: str) -> list[VoiceSegment]:
        with self.store.session() as s:
            return list(s.exec(select(VoiceSegment).where(VoiceSegment.call_id == call_id)
                               .order_by(VoiceSegment.start_s, VoiceSegment.id)))

    def utterances(self, call_id: str) -> list[Utterance]:
        return [Utterance(speaker=g.speaker, start=g.start_s, end=g.end_s, text=g.text, turn=g.turn_idx + 1, n_words=g.n_words)
                for g in self.segments(call_id)]

    def metrics(self, call_id: str) -> SpeechMetrics | None:
        segs = self.utterances(call_id)
        if not segs:
            return None
        vc = self.call(call_id)
        return compute(segs, source=vc.source if vc else "practice")


def metrics_for_call(store: Store, call_id: str) -> dict | None:
    """Speech metrics of a call, or None when the call has no audio (a typed chat call)."""
    m = VoiceStore(store).metrics(call_id)
    return m.to_dict() if m else None
