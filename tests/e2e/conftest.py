"""Browser end-to-end fixtures: the real app (`trainer app`) as a subprocess on a free loopback port,
its customer played by the fake OpenAI server, and Debian's Chromium driven by Playwright.

Adding a page is a few lines: `login_as(page, app, "lead")` (users seeded by `seed_users`), click to
it, `shoot(page, "dashboard")`.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from trainer.config import ROOT

from ..fake_openai_server import FakeOpenAIServer
from ..services import CHROMIUM_ARGS, chromium_path, free_port, unavailable, wait_for_port

SHOTS = Path(os.environ.get("FRONTLINE_SCREENSHOTS") or Path(__file__).parent / "screenshots")


USERS = {   # who: (username, password, role, team)
    "admin": ("admin", "admin-pass-e2e", "admin", None),
    "lead": ("lena.lead", "lead-pass-e2e", "lead", "Team A"),
    "trainee": ("sam.patel", "sam-pass-e2e", "trainee", "Team A"),
    "trainee2": ("kim.lee", "kim-pass-e2e", "trainee", "Team A"),
}


def seed_users(db_url: str) -> None:
    """The accounts the browser tests log in as, created through the same functions the Admin tab uses."""
    from trainer.accounts import Accounts
    from trainer.store import Store
    store = Store(db_url)
    acc = Accounts(store)
    admin = acc.create_admin(*USERS["admin"][:2], display_name="Admin")
    acc.create_team(admin, "Team A")
    for who, (username, password, role, team) in USERS.items():
        if who != "admin":
            acc.create_user(admin, username, password, role, display_name=username.replace(".", " ").title(), team=team)
    acc.set_team_lead(admin, "Team A", USERS["lead"][0])
    store.engine.dispose()


@dataclass
class RunningApp:
    """One `trainer app` process; restart() brings it back on the same port and database."""

    home: Path
    env: dict
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    logs: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> "RunningApp":
        log = self.home / f"app-{len(self.logs)}.log"
        self.logs.append(str(log))
        self.proc = subprocess.Popen([sys.executable, "-m", "trainer.cli", "app", "--port", str(self.port)], cwd=ROOT,
                                     env=self.env, stdout=log.open("w"), stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port, timeout=90, proc=self.proc)
        except Exception:
            raise RuntimeError(f"the app did not start: {log.read_text()[-3000:]}") from None
        return self

    def kill(self) -> None:
        """SIGKILL: no clean-up code runs, as when the machine loses power or the OOM killer strikes."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return "\n".join(Path(p).read_text(errors="replace") for p in self.logs if Path(p).exists())


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        unavailable("Chromium not found (apt-get install chromium; ./frontline.sh test does this)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright for Python is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(20_000)
    yield pg
    ctx.close()


@pytest.fixture
def fake_llm():
    with FakeOpenAIServer(delay=0.05) as srv:
        yield srv


def app_env(home: Path, fake: FakeOpenAIServer | None, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FRONTLINE_CUSTOMER_", "FRONTLINE_GRADER_"))}
    env.update({"FRONTLINE_HOME": str(home), "FRONTLINE_CONFIG": str(home / "none.toml"), "PYTHONUNBUFFERED": "1",
                "FRONTLINE_PRELOAD": "0"})         # the speech models load when a test needs them (the voice test turns it on)
    if fake is not None:
        env.update({"FRONTLINE_CUSTOMER_BACKEND": "openai", "FRONTLINE_CUSTOMER_MODEL": "fake-customer",
                    "FRONTLINE_CUSTOMER_BASE_URL": fake.url, "FRONTLINE_CUSTOMER_TIMEOUT_S": "5"})
    env.update(extra)
    return env


@pytest.fixture
def running_app(tmp_path, fake_llm):
    home = tmp_path / "home"
    home.mkdir()
    seed_users(f"sqlite:///{home / 'frontline.db'}")
    app = RunningApp(home=home, env=app_env(home, fake_llm)).start()
    yield app
    app.stop()


@pytest.fixture
def shoot(request):
    """shoot(page, "name") saves tests/e2e/screenshots/<test>-<n>-<name>.png (or under $FRONTLINE_SCREENSHOTS)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    count = [0]

    def _shoot(pg, name: str) -> Path:
        count[0] += 1
        path = SHOTS / f"{request.node.name.replace('[', '-').rstrip(']')}-{count[0]:02d}-{name}.png"
        pg.screenshot(path=str(path), full_page=True)
        return path
    return _shoot
