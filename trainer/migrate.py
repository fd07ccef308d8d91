"""Schema migrations (Alembic) for the store, on SQLite and PostgreSQL.

`Store` calls `prepare(engine)` when it opens a database:
- an empty database is built by running every migration;
- a database made before migrations existed (by `create_all`, with the baseline schema) is stamped
  at the baseline revision, then upgraded, so nothing in it is lost;
- a database at an older revision is upgraded to the newest.
Two processes opening one database at once take a lock (PostgreSQL advisory lock; a lock file
beside a SQLite database), so the upgrade runs once.

After changing the tables, write a migration with `trainer db revision -m "what changed"`.
"""
from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, inspect

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"                                     # the schema create_all made before migrations existed
BASELINE_TABLES = {"trainee", "call", "turn", "scorecard"}
_PG_LOCK_KEY = 0x46524F4E                             # "FRON": advisory lock id for migrations


def target_metadata():
    from .store import all_tables
    return all_tables()


def _config(connection=None):
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_path_separator", "os")
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    from alembic.script import ScriptDirectory
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextlib.contextmanager
def _lock(engine: Engine, conn) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")   # released at commit
        yield
        return
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        yield
        return
    try:
        import fcntl
    except ImportError:        # not on Unix: no cross-process lock
        yield
        return
    with open(f"{path}.migrate-lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> list[str]:
    """Bring the database to `revision`; returns the tables the models define but no migration creates."""
    from alembic import command
    target_metadata()
    if revision == "head" and current(engine) == head():
        return _unmigrated(engine)
    with engine.begin() as conn, _lock(engine, conn):
        cfg = _config(conn)
        tables = set(inspect(conn).get_table_names())
        if "alembic_version" not in tables and tables & BASELINE_TABLES:
            log.warning("database made before migrations existed: stamping it at the baseline revision %s", BASELINE)
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, revision)
    return _unmigrated(engine)


def _unmigrated(engine: Engine) -> list[str]:
    existing = set(inspect(engine).get_table_names())
    return sorted(t for t in target_metadata().tables if t not in existing)


def prepare(engine: Engine) -> None:
    """What the store runs on open: upgrade to the newest revision; tables without a migration yet are
    still created (so work in progress runs) with a warning, and tests/test_migrations.py fails on them."""
    missing = upgrade(engine)
    if missing:
        log.warning("tables without a migration: %s — created directly; write one with "
                    "`trainer db revision -m \"add %s\"`", ", ".join(missing), missing[0])
        meta = target_metadata()
        meta.create_all(engine, tables=[meta.tables[t] for t in missing])


def differences(engine: Engine) -> list:
    """What autogenerate would put in a new migration: [] when the models and the database agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, target_metadata())


def revision(message: str, *, autogenerate: bool = True) -> Path:
    """Write a new migration file by comparing the models with a scratch database at the newest revision."""
    from alembic import command
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        from .store import Store
        Store("sqlite://").engine.dispose()     # imports every module whose tables the store uses
        with engine.begin() as conn:
            command.upgrade(_config(conn), "head")
        with engine.begin() as conn:
            script = command.revision(_config(conn), message=message, autogenerate=autogenerate)
        engine.dispose()
    script = script[0] if isinstance(script, list) else script
    return Path(script.path)
