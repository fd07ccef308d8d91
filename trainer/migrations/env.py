"""Alembic environment for Frontline's store. It runs on the connection trainer.migrate hands it
(config.attributes["connection"]); there is no alembic.ini: `trainer db ...` drives it."""
from __future__ import annotations

from alembic import context

from trainer.migrate import target_metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `trainer db upgrade` (trainer.migrate), which passes the connection")

context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",   # SQLite cannot ALTER most things: copy-and-move tables
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
