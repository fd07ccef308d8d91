"""Outside programs some tests need: Debian's PostgreSQL server and Chromium.

`./frontline.sh test` installs them with apt-get when it can. When one is still missing, the tests
that need it are skipped with the reason printed, except where FRONTLINE_REQUIRE_SERVICES=1 (set by
.ci/run): there a missing service is a test failure, so CI cannot go green without them.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def required() -> bool:
    return os.environ.get("FRONTLINE_REQUIRE_SERVICES") == "1"


def unavailable(reason: str):
    """Skip (developer machine) or fail (CI) a test whose outside service is missing."""
    if required():
        pytest.fail(f"{reason} (FRONTLINE_REQUIRE_SERVICES=1, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before listening on port {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f}s")


# ---------------------------------------------------------------- Chromium
def chromium_path() -> str | None:
    for candidate in (os.environ.get("FRONTLINE_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


# ---------------------------------------------------------------- PostgreSQL
def postgres_bindir() -> Path | None:
    """Debian's server binaries live in /usr/lib/postgresql/<major>/bin (initdb is not on PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster in a temp folder, listening on 127.0.0.1 only."""

    bindir: Path
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="frontline-pg-")))
    user: str = "frontline"
    _as: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)

    def start(self) -> "PostgresServer":
        # PostgreSQL refuses to run as root: as root, run it as the 'postgres' system user the Debian package creates.
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if not runuser:
                raise RuntimeError("running as root and 'runuser' is missing: cannot start PostgreSQL as a normal user")
            shutil.chown(self.root, "postgres", "postgres")
            self._as = [runuser, "-u", "postgres", "--"]
        self.root.chmod(0o700)
        out = self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust",
                        "-E", "UTF8", "--locale=C", "--no-sync")
        if out.returncode:
            raise RuntimeError(f"initdb failed: {out.stderr.strip() or out.stdout.strip()}")
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off -c synchronous_commit=off "
                f"-c full_page_writes=off -c max_connections=200 -c timezone=UTC")
        out = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-o", opts, "-w",
                        "-t", "60", "start")
        if out.returncode:
            log = (self.root / "log").read_text(errors="replace")[-2000:] if (self.root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {out.stderr.strip() or out.stdout.strip()}\n{log}")
        return self

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database; returns its SQLAlchemy URL."""
        import psycopg
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def start_postgres() -> PostgresServer:
    bindir = postgres_bindir()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL server binaries not found (apt-get install postgresql; ./frontline.sh test does this)")
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise FileNotFoundError("psycopg is not installed (pip install 'psycopg[binary]')") from exc
    return PostgresServer(bindir).start()
