"""Persistence with SQLModel: SQLite in the data folder by default, PostgreSQL by a database URL.

Every turn is committed the moment it happens, so a crash mid-call loses nothing; a call whose
process died is marked 'interrupted' and stays viewable (and resumable).
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import event, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, create_engine, select


def now() -> datetime:
    return datetime.now(timezone.utc)


OWNER = f"{socket.gethostname()}:{os.getpid()}"


class Trainee(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    created_at: datetime = Field(default_factory=now)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)   # the login (trainer.accounts)


class CallRecord(SQLModel, table=True):
    __tablename__ = "call"
    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True)
    trainee_id: int = Field(foreign_key="trainee.id", index=True)
    scenario_id: str = Field(index=True)
    persona_id: str
    persona_hash: str
    persona_snapshot: str                  # the exact persona used, as JSON
    customer_model: str
    settings_json: str = "{}"
    status: str = "active"                 # active | ended | interrupted
    mode: str = "practice"                 # practice (hints, mood meter) | assessment (hidden, counted)
    curriculum_id: str | None = Field(default=None, index=True)
    module_id: str | None = None
    end_reason: str | None = None          # resolved | hung_up | escalated | agent_ended
    owner: str = OWNER                     # host:pid of the process running the call
    start_mood: float = 0.0
    final_mood: float | None = None
    started_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)
    ended_at: datetime | None = None


class TurnRecord(SQLModel, table=True):
    __tablename__ = "turn"
    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", index=True)
    idx: int
    speaker: str                           # agent | customer
    text: str
    started_at: datetime = Field(default_factory=now)
    ended_at: datetime = Field(default_factory=now)
    mood_after: float | None = None
    beat: str | None = None
    meta_json: str = "{}"


class ScorecardRecord(SQLModel, table=True):
    __tablename__ = "scorecard"
    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", index=True)
    rubric_id: str
    rubric_hash: str
    grader_model: str
    settings_json: str = "{}"
    overall: float
    passed: bool
    result_json: str
    created_at: datetime = Field(default_factory=now)


class NotFound(LookupError):
    pass


def all_tables():
    """Import every module that defines tables, so SQLModel's shared metadata holds the whole schema (for the store
    and for Alembic's autogenerate)."""
    from . import accounts, dashboard, progress  # noqa: F401
    from .studio import revisions  # noqa: F401
    from .voice import store as _voice_tables  # noqa: F401
    return SQLModel.metadata


def _wal(cur) -> None:
    """Switch a SQLite file to WAL. Two processes opening a new file at once can both try; SQLite answers
    the loser "database is locked" at once, without its busy handler, so wait and look again."""
    for attempt in range(100):
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or attempt == 99:
                raise
            time.sleep(0.02 + 0.01 * attempt)


class Store:
    def __init__(self, url: str, *, upgrade: bool = True):
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite:///"):
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True        # a restarted database server does not break the next request
        self.engine = create_engine(url, **kwargs)
        self._write_lock = threading.Lock() if url.startswith("sqlite") else contextlib.nullcontext()
        if url.startswith("sqlite"):
            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn, _record):  # WAL: readers never block the writer; two processes can share the file
                cur = dbapi_conn.cursor()
                _wal(cur)
                # In WAL mode NORMAL fsyncs at checkpoints, not at every commit: a killed app process loses
                # nothing (the WAL is in the OS's cache); only a power cut can drop the last commits.
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()
        all_tables()
        if upgrade:                       # upgrade=False: open as it is (migration tests and tools)
            from .migrate import prepare
            prepare(self.engine)              # Alembic: an empty or older database is upgraded to the newest schema

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    @contextlib.contextmanager
    def write_session(self) -> Iterator[Session]:
        """A session for writing. On SQLite one process's writers queue here, in order, instead of in
        SQLite's busy handler, which sleeps up to 100 ms between tries (bench/bench_load.py: p95 1.2 s → see docs)."""
        with self._write_lock, self.session() as s:
            yield s

    # trainees
    def trainee(self, name: str) -> Trainee:
        name = " ".join(name.split())[:80]
        if not name:
            raise ValueError("enter a trainee name")
        with self.write_session() as s:
            found = s.exec(select(Trainee).where(Trainee.name == name)).first()
            if found:
                return found
            t = Trainee(name=name)
            s.add(t)
            try:
                s.commit()
            except IntegrityError:        # another process added the same name a moment ago
                s.rollback()
                return s.exec(select(Trainee).where(Trainee.name == name)).one()
            s.refresh(t)
            return t

    def trainees(self) -> list[Trainee]:
        with self.session() as s:
            return list(s.exec(select(Trainee).order_by(Trainee.name)))

    # calls
    def start_call(self, **fields: Any) -> CallRecord:
        with self.write_session() as s:
            call = CallRecord(**fields)
            s.add(call)
            s.commit()
            s.refresh(call)
            return call

    def get_call(self, call_id: str) -> CallRecord:
        with self.session() as s:
            call = s.get(CallRecord, call_id)
            if call is None:
                raise NotFound(f"no call with id {call_id}")
            return call

    def add_turn(self, call_id: str, *, speaker: str, text: str, started_at: datetime | None = None,
                 mood_after: float | None = None, beat: str | None = None, meta: dict | None = None) -> TurnRecord:
        with self.write_session() as s:
            call = s.get(CallRecord, call_id)
            if call is None:
                raise NotFound(f"no call with id {call_id}")
            count = s.exec(select(func.count()).select_from(TurnRecord).where(TurnRecord.call_id == call_id)).one()
            turn = TurnRecord(call_id=call_id, idx=count, speaker=speaker, text=text, started_at=started_at or now(),
                              mood_after=mood_after, beat=beat, meta_json=json.dumps(meta or {}, default=str))
            call.updated_at = now()
            if mood_after is not None:
                call.final_mood = mood_after
            s.add(turn)
            s.add(call)
            s.commit()                    # the new id is set at flush; nothing expires (expire_on_commit=False)
            return turn

    def correct_turn_text(self, call_id: str, idx: int, text: str, *, note: dict | None = None) -> None:
        """Replace a turn's text (a better transcription of what the trainee said), keeping the old one in its meta."""
        with self.write_session() as s:
            turn = s.exec(select(TurnRecord).where(TurnRecord.call_id == call_id, TurnRecord.idx == idx)).one_or_none()
            if turn is None:
                raise NotFound(f"call {call_id} has no turn {idx}")
            meta = json.loads(turn.meta_json or "{}")
            meta.setdefault("live_text", turn.text)
            meta.update(note or {})
            turn.text, turn.meta_json = text, json.dumps(meta, default=str)
            s.add(turn)
            s.commit()

    def turns(self, call_id: str) -> list[TurnRecord]:
        with self.session() as s:
            return list(s.exec(select(TurnRecord).where(TurnRecord.call_id == call_id).order_by(TurnRecord.idx)))

    def end_call(self, call_id: str, *, reason: str, final_mood: float | None = None, status: str = "ended") -> CallRecord:
        with self.write_session() as s:
            call = s.get(CallRecord, call_id)
            if call is None:
                raise NotFound(f"no call with id {call_id}")
            call.status, call.end_reason, call.ended_at, call.updated_at = status, reason, now(), now()
            if final_mood is not None:
                call.final_mood = final_mood
            s.add(call)
            s.commit()
            s.refresh(call)
            return call

    def claim(self, call_id: str) -> CallRecord:
        """This process takes over a call (resuming an interrupted one)."""
        with self.write_session() as s:
            call = s.get(CallRecord, call_id)
            if call is None:
                raise NotFound(f"no call with id {call_id}")
            call.owner, call.status, call.updated_at = OWNER, "active", now()
            s.add(call)
            s.commit()
            s.refresh(call)
            return call

    def calls(self, *, trainee_id: int | None = None, trainee_ids: list[int] | None = None, limit: int = 200) -> list[CallRecord]:
        with self.session() as s:
            q = select(CallRecord).order_by(CallRecord.started_at.desc()).limit(limit)  # type: ignore[union-attr]
            if trainee_id is not None:
                q = q.where(CallRecord.trainee_id == trainee_id)
            if trainee_ids is not None:
                q = q.where(CallRecord.trainee_id.in_(trainee_ids or [-1]))  # type: ignore[union-attr]
            return list(s.exec(q))

    def recover_interrupted(self, *, stale_after: timedelta = timedelta(hours=2)) -> list[str]:
        """Mark as interrupted the active calls whose process is gone (same host) or that went quiet."""
        host = socket.gethostname()
        marked = []
        with self.write_session() as s:
            for call in s.exec(select(CallRecord).where(CallRecord.status == "active")):
                owner_host, _, pid = call.owner.rpartition(":")
                dead = owner_host == host and pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid))
                updated = call.updated_at if call.updated_at.tzinfo else call.updated_at.replace(tzinfo=timezone.utc)
                if dead or updated < now() - stale_after:
                    call.status = "interrupted"
                    s.add(call)
                    marked.append(call.id)
            s.commit()
        return marked

    # scorecards
    def save_scorecard(self, **fields: Any) -> ScorecardRecord:
        with self.write_session() as s:
            rec = ScorecardRecord(**fields)
            s.add(rec)
            s.commit()
            s.refresh(rec)
            return rec

    def scorecards(self, call_id: str) -> list[ScorecardRecord]:
        with self.session() as s:
            return list(s.exec(select(ScorecardRecord).where(ScorecardRecord.call_id == call_id).order_by(ScorecardRecord.id)))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
