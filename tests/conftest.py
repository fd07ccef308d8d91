from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from trainer.catalog import Catalog
from trainer.config import ROOT, load_settings
from trainer.llm.fake import FakeLLM
from trainer.persona import Persona
from trainer.store import Store

from .services import PostgresServer, start_postgres, unavailable

REAL_MODELS = Path(os.environ.get("FRONTLINE_MODELS_DIR", str(Path.home() / ".frontline" / "models")))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own data folder; the assembled embedded model is shared (it is 1.1 GB)."""
    monkeypatch.setenv("FRONTLINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FRONTLINE_MODELS_DIR", str(REAL_MODELS))
    monkeypatch.setenv("FRONTLINE_CONFIG", str(tmp_path / "none.toml"))
    for key in list(os.environ):
        if key.startswith(("FRONTLINE_CUSTOMER_", "FRONTLINE_GRADER_")) or key == "FRONTLINE_DATABASE_URL":
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    cat = Catalog.load(ROOT)
    assert not cat.problems, cat.problems
    return cat


@pytest.fixture
def dana(catalog) -> Persona:
    return catalog.personas["double-billed-dana"]


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL server on loopback for the whole session (None if it cannot start)."""
    try:
        server = start_postgres()
    except Exception as exc:  # noqa: BLE001 - reported by the tests that need it
        yield exc
        return
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A fresh empty database: every store test runs on SQLite (WAL) and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    server = request.getfixturevalue("postgres")
    if not isinstance(server, PostgresServer):
        unavailable(f"PostgreSQL not available: {server}")
    return server.new_database()


@pytest.fixture
def store(db_url) -> Store:
    s = Store(db_url)
    yield s
    s.engine.dispose()


def in_character_responder(persona: Persona):
    """A fake customer model: says a plain in-character line that contains every fact the direction asks for."""
    values = {**{k: v for k, v in persona.facts.verification.items()}, "account_number": persona.facts.account_number,
              "full_name": persona.facts.full_name}

    def respond(prompt: str) -> str:
        direction = re.findall(r"\[([^\]]*)\]", prompt)
        last = direction[-1] if direction else ""
        given = [v for v in values.values() if v in last]
        return ("Sure. " + " and ".join(given) + ". " if given else "") + "I just want this sorted out, please."
    return respond


@pytest.fixture
def fake_customer(dana) -> FakeLLM:
    return FakeLLM(responder=in_character_responder(dana))


@pytest.fixture
def settings():
    return load_settings()
