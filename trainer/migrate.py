"""Schema migrations (Alembic) for the store, on SQLite and PostgreSQL.

`Store` calls `prepare(engine)` when it opens a database:
- an empty database is built by running every migration;
- a database made before migrations existed (by `create_all`, from any mix of feature branches) is
  adopted: the first two revisions are idempotent (they create only the tables and columns that are
  missing), so nothing in it is lost; every later revision is an ordinary migration;
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
BASELINE = "0001"                                     # the core tables (trainee, call, turn, scorecard)
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


def current_in(conn) -> str | None:
    from alembic.runtime.migration import MigrationContext
    return MigrationContext.configure(conn).get_current_revision()


@contextlib.contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    """Beside a SQLite file: held until the migration's transaction has committed."""
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
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:   # SQLite rebuilds a table to alter it; with foreign keys on, dropping the old copy would fail
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with _file_lock(engine), conn.begin():
                if engine.dialect.name == "postgresql":          # released at commit
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
                if current_in(conn) is None and set(inspect(conn).get_table_names()) & BASELINE_TABLES:
                    log.warning("adopting a database made before migrations existed (its tables and rows are kept)")
                command.upgrade(_config(conn), revision)
        finally:
            if sqlite:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
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
