"""The test set-up's own rules: a missing outside service is a skip on a laptop and a failure in CI."""
from __future__ import annotations

import pytest

from .services import PostgresServer, unavailable


def test_missing_service_skips_by_default(monkeypatch):
    monkeypatch.delenv("FRONTLINE_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no chromium here"):
        unavailable("no chromium here")


def test_missing_service_fails_in_ci(monkeypatch):
    monkeypatch.setenv("FRONTLINE_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="FRONTLINE_REQUIRE_SERVICES=1"):
        unavailable("no chromium here")


def test_the_postgres_server_is_real_and_on_loopback(postgres):
    if not isinstance(postgres, PostgresServer):
        unavailable(f"PostgreSQL not available: {postgres}")
    import psycopg
    with psycopg.connect(f"host=127.0.0.1 port={postgres.port} user={postgres.user} dbname=postgres") as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        listen = conn.execute("SHOW listen_addresses").fetchone()[0]
    assert version[0].isdigit() and listen == "127.0.0.1"
