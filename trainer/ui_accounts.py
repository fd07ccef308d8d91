"""Login, logout and the Admin tab: plain handler functions (tested without a browser) and the tab's layout.

Every handler takes the session token kept in the browser and resolves it to a user on the server;
the role checks live in trainer.accounts, so a hidden tab is convenience, not protection."""
from __future__ import annotations

import pandas as pd

from .accounts import ROLES, AccountError, NotLoggedIn, PermissionDenied, User
from .service import Frontline
from .ui_handlers import current_user

TAB_ROLES = {                       # which tabs a role sees
    "practice": ("trainee", "trainer", "lead", "admin"),
    "voice": ("trainee", "trainer", "lead", "admin"),
    "recording": ("trainee", "trainer", "lead", "admin"),
    "progress": ("trainee", "trainer", "lead", "admin"),
    "calls": ("trainee", "trainer", "lead", "admin"),
    "dashboard": ("lead", "admin"),
    "studio": ("trainer", "admin"),
    "admin": ("admin",),
}


def first_run_hint(app: Frontline) -> str:
    if app.accounts.admin_exists():
        if app.accounts.anyone_signed_in():
            return ""
        return ("**First start:** sign in as `admin` with the one-time password printed in the terminal where the app "
                "started. Lost it? Run `.venv/bin/trainer create-admin --username another-admin` in a terminal.")
    return ("**No accounts yet.** Create the first admin in a terminal: `.venv/bin/trainer create-admin` "
            "(or `./frontline.sh app` printed a one-time admin password above), or try the demo team with "
            "`.venv/bin/trainer seed-demo`.")


def login(app: Frontline, username: str, password: str, ip: str = "") -> tuple[str, User]:
    """A session token and its user. A user with a one-time password gets one too: it is good only for changing the
    password (see password_change_required)."""
    token = app.accounts.login(username, password, ip=ip)
    return token, app.accounts.user_for_token(token, allow_password_change=True)


def logout(app: Frontline, token: str | None) -> None:
    app.accounts.logout(token)


def session_user(app: Frontline, token: str | None) -> User | None:
    """The user for a stored token, or None when it is missing or expired (the login form shows)."""
    try:
        return current_user(app, token)
    except NotLoggedIn:
        return None


def password_change_required(app: Frontline, token: str | None) -> bool:
    """True while the session's user still has a one-time password: show only the password form until it changes."""
    try:
        return app.accounts.user_for_token(token, allow_password_change=True).must_change_password
    except NotLoggedIn:
        return False


def visible_tabs(user: User | None) -> dict[str, bool]:
    return {tab: bool(user) and user.role in roles for tab, roles in TAB_ROLES.items()}


def whoami_markdown(app: Frontline, user: User) -> str:
    """The "Signed in as" line. Display and team names are chosen by people, so escaped (trainer/text.py)."""
    from .text import md_escape as esc
    team = ""
    if user.team_id:
        team = next((f" · {esc(t.name)}" for t in app.accounts.all_teams() if t.id == user.team_id), "")
    return f"Signed in as **{esc(user.display_name)}** ({esc(user.role)}{team})"


# ---------------------------------------------------------------------- admin
def users_frame(app: Frontline, token: str | None) -> pd.DataFrame:
    actor = current_user(app, token)
    teams = {t.id: t.name for t in app.accounts.all_teams()}
    rows = [{"username": u.username, "name": u.display_name, "role": u.role, "team": teams.get(u.team_id, ""),
             "active": "yes" if u.active else "no",
             "last login": u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never"}
            for u in app.accounts.users(actor)]
    return pd.DataFrame(rows, columns=["username", "name", "role", "team", "active", "last login"])


def teams_frame(app: Frontline, token: str | None) -> pd.DataFrame:
    actor = current_user(app, token)
    users = {u.id: u.display_name for u in app.accounts.users(actor)}
    rows = [{"team": t.name, "lead": users.get(t.lead_id, "—"), "members": len(app.accounts.members(t.id))}
            for t in app.accounts.all_teams()]
    return pd.DataFrame(rows, columns=["team", "lead", "members"])


def user_row(app: Frontline, token: str | None, username: str) -> dict:
    """A user's current role, team and active flag, to fill the admin's edit form."""
    actor = current_user(app, token)
    user = next(u for u in app.accounts.users(actor) if u.username == username)
    teams = {t.id: t.name for t in app.accounts.all_teams()}
    return {"role": user.role, "team": teams.get(user.team_id, ""), "active": user.active}


def team_names(app: Frontline) -> list[str]:
    return [t.name for t in app.accounts.all_teams()]


def add_user(app: Frontline, token: str | None, username: str, name: str, role: str, team: str | None, password: str) -> str:
    actor = current_user(app, token)
    user = app.accounts.create_user(actor, username, password, role or "trainee", display_name=name, team=team or None)
    return f"Created {user.role} **{user.username}**. Give them their password in person; they can change it under *My password*."


def change_user(app: Frontline, token: str | None, username: str, role: str | None, team: str | None, active: bool | None,
                new_password: str = "") -> str:
    actor = current_user(app, token)
    if not username:
        raise AccountError("Pick a user.")
    user = app.accounts.update_user(actor, username, role=role or None, team=team if team is not None else None, active=active)
    msg = f"Saved **{user.username}**: {user.role}, {'active' if user.active else 'deactivated'}."
    if new_password:
        app.accounts.set_password(actor, username, new_password)
        msg += " Password reset; their sessions were ended."
    return msg


def add_team(app: Frontline, token: str | None, name: str, lead: str | None) -> str:
    actor = current_user(app, token)
    team = app.accounts.create_team(actor, name, lead or None)
    return f"Created team **{team.name}**."


def set_lead(app: Frontline, token: str | None, team: str, lead: str | None) -> str:
    actor = current_user(app, token)
    app.accounts.set_team_lead(actor, team, lead or None)
    return f"**{team}** is now led by {lead or 'nobody'}."


def change_own_password(app: Frontline, token: str | None, current: str, new: str, again: str) -> str:
    # the one handler a session with a one-time password may use: changing it is what that session is for
    user = app.accounts.user_for_token(token, allow_password_change=True)
    if new != again:
        raise AccountError("The new passwords differ.")
    app.accounts.change_own_password(user, current, new)     # checks the current password, under the sign-in limits
    return "Password changed. Every session, this one included, has ended: log in again with the new password."


def usernames(app: Frontline, token: str | None, roles: tuple[str, ...] = ROLES) -> list[str]:
    actor = current_user(app, token)
    return [u.username for u in app.accounts.users(actor) if u.role in roles]


ERRORS = (AccountError, PermissionDenied, NotLoggedIn, ValueError, KeyError)
