"""The security flows as a user meets them in a real browser: the first admin's one-time password, and a session that
ends while the page is open."""
from __future__ import annotations

import re

from .conftest import RunningApp, app_env
from .pages import login_as


def test_the_first_admin_must_replace_the_one_time_password(page, tmp_path, fake_llm, shoot):
    home = tmp_path / "home"
    home.mkdir()
    app = RunningApp(home=home, env=app_env(home, fake_llm)).start()
    try:
        printed = re.search(r"password: (\S+)", app.output())
        assert printed, app.output()[-2000:]
        one_time = printed.group(1)
        page.goto(app.url)
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password", exact=True).fill(one_time)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Choose your own password").wait_for()
        assert not page.get_by_role("tab", name="Admin").is_visible()       # nothing else opens first
        shoot(page, "one-time-password")
        page.get_by_label("One-time password").fill(one_time)
        page.get_by_label("New password (8+ characters)").fill("my-own-admin-pass")
        page.get_by_label("New password again").fill("my-own-admin-pass")
        page.get_by_role("button", name="Set my password").click()
        page.get_by_text("Password changed").wait_for()                      # every session ended: sign in again
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password", exact=True).fill("my-own-admin-pass")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Log out").wait_for()
        assert page.get_by_role("tab", name="Admin").is_visible()
        shoot(page, "own-password")
    finally:
        app.stop()


def test_a_session_revoked_elsewhere_is_refused_with_a_message(page, running_app, shoot):
    """The lead's session ends (e.g. an admin deactivated them) while their dashboard is open: the next action is
    refused on the server with a plain message, not served."""
    login_as(page, running_app, "lead")
    from trainer.accounts import LoginSession
    from trainer.store import Store
    from sqlmodel import delete
    store = Store(f"sqlite:///{running_app.home / 'frontline.db'}")
    with store.session() as s:
        s.exec(delete(LoginSession))
        s.commit()
    store.engine.dispose()
    page.get_by_role("tab", name="Dashboard").click()
    page.get_by_text("Your session has ended").first.wait_for()
    shoot(page, "session-ended")
