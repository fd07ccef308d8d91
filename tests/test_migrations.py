"""Schema migrations: empty database -> newest, a pre-migration database keeps its data, and the
models never drift from the migrations (a table added without a migration fails here)."""
from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlmodel import Field, SQLModel

from trainer import migrate
from trainer.accounts import SYSTEM
from trainer.store import Store


def _engine(url):
    return create_engine(url)


def test_empty_database_upgrades_to_head(db_url):
    engine = _engine(db_url)
    assert migrate.current(engine) is None
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    assert migrate.BASELINE_TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_models_and_migrations_agree(db_url):
    """If this fails, a table or column changed without a migration: run `trainer db revision -m "..."`."""
    Store("sqlite://").engine.dispose()          # imports every module whose tables the store uses
    engine = _engine(db_url)
    migrate.upgrade(engine)                       # migrations only (no create_all fallback)
    diffs = migrate.differences(engine)
    engine.dispose()
    assert diffs == [], f"models differ from the migrations; write one with `trainer db revision -m \"...\"`: {diffs}"


@pytest.mark.filterwarnings("ignore:This declarative base already contains")
def test_a_table_without_a_migration_is_detected(db_url):
    class QualityProbe(SQLModel, table=True):
        __tablename__ = "quality_probe"
        id: int | None = Field(default=None, primary_key=True)
        note: str = ""
    try:
        engine = _engine(db_url)
        migrate.upgrade(engine)
        diffs = migrate.differences(engine)
        assert any(d[0] == "add_table" and d[1].name == "quality_probe" for d in diffs), diffs
        # the store still opens (work in progress runs), creating the table directly
        store = Store(db_url)
        assert "quality_probe" in inspect(store.engine).get_table_names()
        store.engine.dispose()
        engine.dispose()
    finally:
        SQLModel.metadata.remove(QualityProbe.__table__)


LEGACY_SCHEMA = """
CREATE TABLE trainee (id INTEGER NOT NULL, name VARCHAR NOT NULL, created_at DATETIME NOT NULL, PRIMARY KEY (id));
CREATE UNIQUE INDEX ix_trainee_name ON trainee (name);
CREATE TABLE call (id VARCHAR NOT NULL, trainee_id INTEGER NOT NULL, scenario_id VARCHAR NOT NULL, persona_id VARCHAR NOT NULL,
  persona_hash VARCHAR NOT NULL, persona_snapshot VARCHAR NOT NULL, customer_model VARCHAR NOT NULL, settings_json VARCHAR NOT NULL,
  status VARCHAR NOT NULL, end_reason VARCHAR, owner VARCHAR NOT NULL, start_mood FLOAT NOT NULL, final_mood FLOAT,
  started_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, ended_at DATETIME, PRIMARY KEY (id), FOREIGN KEY(trainee_id) REFERENCES trainee (id));
CREATE INDEX ix_call_scenario_id ON call (scenario_id);
CREATE INDEX ix_call_trainee_id ON call (trainee_id);
CREATE TABLE turn (id INTEGER NOT NULL, call_id VARCHAR NOT NULL, idx INTEGER NOT NULL, speaker VARCHAR NOT NULL, text VARCHAR NOT NULL,
  started_at DATETIME NOT NULL, ended_at DATETIME NOT NULL, mood_after FLOAT, beat VARCHAR, meta_json VARCHAR NOT NULL, PRIMARY KEY (id),
  FOREIGN KEY(call_id) REFERENCES call (id));
CREATE INDEX ix_turn_call_id ON turn (call_id);
CREATE TABLE scorecard (id INTEGER NOT NULL, call_id VARCHAR NOT NULL, rubric_id VARCHAR NOT NULL, rubric_hash VARCHAR NOT NULL,
  grader_model VARCHAR NOT NULL, settings_json VARCHAR NOT NULL, overall FLOAT NOT NULL, passed BOOLEAN NOT NULL, result_json VARCHAR NOT NULL,
  created_at DATETIME NOT NULL, PRIMARY KEY (id), FOREIGN KEY(call_id) REFERENCES call (id));
CREATE INDEX ix_scorecard_call_id ON scorecard (call_id);
INSERT INTO trainee VALUES (1, 'Sam', '2026-11-01 09:00:00.000000');
INSERT INTO call VALUES ('c0ffee', 1, 'double-billed-dana', 'double-billed-dana', 'abc', '{}', 'fake', '{}', 'ended', 'agent_ended',
  'gone:1', 6.0, 4.0, '2026-11-01 09:00:00.000000', '2026-11-01 09:05:00.000000', '2026-11-01 09:05:00.000000');
INSERT INTO turn VALUES (1, 'c0ffee', 0, 'agent', 'Hello, Brightwave, Sam speaking.', '2026-11-01 09:00:01.000000', '2026-11-01 09:00:01.000000', NULL, NULL, '{}');
INSERT INTO turn VALUES (2, 'c0ffee', 1, 'customer', 'I was charged twice.', '2026-11-01 09:00:03.000000', '2026-11-01 09:00:03.000000', 5.5, 'explain', '{}');
INSERT INTO scorecard VALUES (1, 'c0ffee', 'default', 'h', 'deterministic', '{}', 71.0, 1, '{}', '2026-11-01 09:05:01.000000');
"""


def test_a_database_made_before_migrations_keeps_its_data(tmp_path):
    """The schema as create_all wrote it before Alembic (exact DDL of the previous release), with a call in it."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(LEGACY_SCHEMA)
    store = Store(f"sqlite:///{path}")
    assert migrate.current(store.engine) == migrate.head()
    call = store.get_call("c0ffee")
    assert call.status == "ended" and call.final_mood == 4.0
    assert call.started_at == datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
    assert [t.text for t in store.turns("c0ffee")] == ["Hello, Brightwave, Sam speaking.", "I was charged twice."]
    assert store.scorecards("c0ffee")[0].overall == 71.0
    assert store.trainee("Sam").id == 1                    # existing trainee found, not duplicated
    assert migrate.differences(store.engine) == []
    store.engine.dispose()


def _data(engine) -> dict:
    with engine.connect() as c:
        return {t: c.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar() for t in ("trainee", "call", "turn", "scorecard")}


BASELINE_ROWS = [
    "INSERT INTO trainee (id, name, created_at) VALUES (1, 'Sam', '2026-11-01 09:00:00')",
    "INSERT INTO call (id, trainee_id, scenario_id, persona_id, persona_hash, persona_snapshot, customer_model, settings_json, status, "
    "end_reason, owner, start_mood, final_mood, started_at, updated_at, ended_at) VALUES ('c0ffee', 1, 'double-billed-dana', "
    "'double-billed-dana', 'abc', '{}', 'fake', '{}', 'ended', 'agent_ended', 'gone:1', 6.0, 4.0, '2026-11-01 09:00:00', "
    "'2026-11-01 09:05:00', '2026-11-01 09:05:00')",
    "INSERT INTO turn (id, call_id, idx, speaker, text, started_at, ended_at, meta_json) VALUES "
    "(1, 'c0ffee', 0, 'agent', 'Hello, Brightwave, Sam speaking.', '2026-11-01 09:00:01', '2026-11-01 09:00:01', '{}')",
    "INSERT INTO turn (id, call_id, idx, speaker, text, started_at, ended_at, mood_after, beat, meta_json) VALUES "
    "(2, 'c0ffee', 1, 'customer', 'I was charged twice.', '2026-11-01 09:00:03', '2026-11-01 09:00:03', 5.5, 'explain', '{}')",
    "INSERT INTO scorecard (id, call_id, rubric_id, rubric_hash, grader_model, settings_json, overall, passed, result_json, created_at) "
    "VALUES (1, 'c0ffee', 'default', 'h', 'deterministic', '{}', 71.0, TRUE, '{}', '2026-11-01 09:05:01')",
]


def _revisions() -> list[str]:
    from alembic.script import ScriptDirectory
    return [r.revision for r in reversed(list(ScriptDirectory.from_config(migrate._config()).walk_revisions()))]


@pytest.mark.parametrize("start", _revisions()[:-1] or [migrate.BASELINE])
def test_every_older_revision_upgrades_with_data_kept(db_url, start):
    """A database at each older revision, with a graded call in it, upgrades to head and keeps every row.
    (So a new NOT NULL column needs a server default: old rows must get a value.)"""
    engine = _engine(db_url)
    migrate.upgrade(engine, start)
    with engine.begin() as c:
        for sql in BASELINE_ROWS:
            c.execute(text(sql))
    before = _data(engine)
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    assert _data(engine) == before == {"trainee": 1, "call": 1, "turn": 2, "scorecard": 1}
    engine.dispose()
    store = Store(db_url)
    assert [t.text for t in store.turns("c0ffee")] == ["Hello, Brightwave, Sam speaking.", "I was charged twice."]
    assert store.get_call("c0ffee").final_mood == 4.0 and store.scorecards("c0ffee")[0].passed
    store.engine.dispose()


def test_trainer_db_revision_writes_a_migration_for_a_new_table(tmp_path, monkeypatch):
    """The one command other engineers run after adding a table."""
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, scripts)
    monkeypatch.setattr(migrate, "MIGRATIONS", scripts)
    previous_head = migrate.head()

    class QualityProbe2(SQLModel, table=True):
        __tablename__ = "quality_probe2"
        id: int | None = Field(default=None, primary_key=True)
        label: str = Field(index=True)
    try:
        from trainer.cli import main
        assert main(["db", "revision", "-m", "add quality probe"]) == 0
        new = [p for p in (scripts / "versions").glob("*add_quality_probe.py")]
        assert len(new) == 1
        body = new[0].read_text()
        assert "create_table('quality_probe2'" in body and f"down_revision: Union[str, Sequence[str], None] = '{previous_head}'" in body
        # and the new head builds the table from an empty database, agreeing with the models
        engine = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        migrate.upgrade(engine)
        assert migrate.differences(engine) == []
        engine.dispose()
    finally:
        SQLModel.metadata.remove(QualityProbe2.__table__)


def test_cli_db_check_reports_an_unmigrated_database(tmp_path, monkeypatch, capsys):
    from trainer.cli import main
    monkeypatch.setenv("FRONTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    assert main(["db", "check"]) == 1
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "check"]) == 0
    assert f"at revision {migrate.head()}" in capsys.readouterr().out


@pytest.mark.parametrize("n", [2])
def test_two_processes_opening_a_new_database_at_once(db_url, n):
    """Both app processes start together on an empty database: the upgrade runs once, neither fails."""
    import subprocess
    import sys
    code = "import sys; from trainer.store import Store; from trainer import migrate; s = Store(sys.argv[1]); print(migrate.current(s.engine))"
    procs = [subprocess.Popen([sys.executable, "-c", code, db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(n)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-800:] for o in outs]
    assert all(o[0].strip() == migrate.head() for o in outs)


def test_a_database_made_by_create_all_with_every_table_is_adopted(db_url, catalog):
    """Before Alembic, main built every table with create_all (and added columns by hand): such a database
    is adopted: the idempotent first revisions find everything already there."""
    from trainer.llm.fake import FakeLLM
    from trainer.service import Frontline
    Store("sqlite://").engine.dispose()
    old = Store(db_url, upgrade=False)
    SQLModel.metadata.create_all(old.engine)                       # exactly what the pre-Alembic store did
    app = Frontline(store=old, catalog=catalog, customer_backend=FakeLLM(responder=lambda p: "I was charged twice."), sleep=lambda s: None)
    s = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    app.say(s.id, "Hello, Brightwave, Sam speaking.", actor=SYSTEM)
    app.end_call(s.id, SYSTEM)
    before = _data(old.engine)
    old.engine.dispose()
    store = Store(db_url)                                           # opening it adopts it
    assert migrate.current(store.engine) == migrate.head()
    assert _data(store.engine) == before and migrate.differences(store.engine) == []
    assert [t.text for t in store.turns(s.id)] == ["Hello, Brightwave, Sam speaking.", "I was charged twice."]
    store.engine.dispose()
