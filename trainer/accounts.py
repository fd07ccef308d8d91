"""Accounts: users with roles, teams, login sessions and login rate limiting.

Roles: trainee (practises, sees only their own calls), trainer (edits content), lead (leads one or
more teams and sees their members' calls), admin (manages users and teams, sees everything).
Passwords are hashed with Argon2id (argon2-cffi). A login returns a random token; only its SHA-256 is
stored, with an expiry, so a stolen database does not hand out live sessions.

Every function that acts for someone takes the acting `User` and checks the role here, on the server:
the UI hides buttons too, but hiding is not the protection.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Field, SQLModel, select

from .store import Store, Trainee, now

ROLES = ("trainee", "trainer", "lead", "admin")
SESSION_TTL = timedelta(hours=12)
MAX_FAILURES = 5                      # failed logins per (username, ip) ...
FAILURE_WINDOW = timedelta(minutes=15)  # ... within this window lock further tries until the oldest ages out
MIN_PASSWORD = 8
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")

_hasher = PasswordHasher()


class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    lead_id: int | None = Field(default=None, index=True)   # a user id; no FK: user.team_id already points this way
    created_at: datetime = Field(default_factory=now)


class User(SQLModel, table=True):
    __tablename__ = "app_user"        # "user" is a reserved word in PostgreSQL
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True)
    display_name: str
    role: str = "trainee"
    team_id: int | None = Field(default=None, foreign_key="team.id", index=True)
    password_hash: str
    active: bool = True
    created_at: datetime = Field(default_factory=now)
    last_login_at: datetime | None = None


class LoginSession(SQLModel, table=True):
    __tablename__ = "login_session"
    token_hash: str = Field(primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(default_factory=now)
    expires_at: datetime
    ip: str = ""


class LoginAttempt(SQLModel, table=True):
    __tablename__ = "login_attempt"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True)
    ip: str = ""
    ok: bool = False
    at: datetime = Field(default_factory=now, index=True)


class AccountError(ValueError):
    """Bad input to an account function; the message says what to do."""


class LoginFailed(AccountError):
    pass


class TooManyAttempts(AccountError):
    def __init__(self, retry_after_s: int):
        self.retry_after_s = retry_after_s
        super().__init__(f"Too many failed logins. Try again in {max(1, retry_after_s // 60)} minute(s), or ask an admin to reset your password.")


class NotLoggedIn(PermissionError):
    pass


class PermissionDenied(PermissionError):
    pass


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str, username: str = "") -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"The password must have at least {MIN_PASSWORD} characters.")
    if username and password.lower() == username.lower():
        raise AccountError("The password must not be the username.")


def require_role(user: User | None, *roles: str) -> User:
    """The acting user, if they hold one of `roles` (admin always does); PermissionDenied otherwise."""
    if user is None:
        raise NotLoggedIn("Please log in.")
    if not user.active:
        raise PermissionDenied("This account is deactivated.")
    if user.role == "admin" or user.role in roles:
        return user
    raise PermissionDenied(f"This needs the {' or '.join(roles)} role; you are signed in as a {user.role}.")


def require_content_editor(user: User | None) -> User:
    """For functions that change personas, scenarios, rubrics or curricula (the Studio): trainers and admins."""
    return require_role(user, "trainer")


class Accounts:
    def __init__(self, store: Store, *, clock=now):
        self.store = store
        self.clock = clock

    # ------------------------------------------------------------------ users
    def _create(self, username: str, password: str, role: str, display_name: str = "", team_id: int | None = None) -> User:
        username = (username or "").strip().lower()
        if not USERNAME_RE.match(username):
            raise AccountError("Usernames are 2–40 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.")
        if role not in ROLES:
            raise AccountError(f"Unknown role '{role}'; use one of: {', '.join(ROLES)}.")
        check_password_rules(password, username)
        with self.store.session() as s:
            if s.exec(select(User).where(User.username == username)).first():
                raise AccountError(f"The username '{username}' is taken.")
            user = User(username=username, display_name=(display_name or username).strip()[:80], role=role, team_id=team_id,
                        password_hash=hash_password(password))
            s.add(user)
            s.commit()
            s.refresh(user)
        self.trainee_record(user)
        return user

    def create_admin(self, username: str, password: str, display_name: str = "") -> User:
        """For the `trainer create-admin` command: whoever can run it already holds the database."""
        return self._create(username, password, "admin", display_name)

    def create_user(self, actor: User, username: str, password: str, role: str = "trainee", *, display_name: str = "",
                    team: str | None = None) -> User:
        require_role(actor, "admin")
        team_id = self.team_by_name(team).id if team else None
        return self._create(username, password, role, display_name, team_id)

    def get(self, user_id: int) -> User:
        with self.store.session() as s:
            user = s.get(User, user_id)
        if user is None:
            raise AccountError(f"No user with id {user_id}.")
        return user

    def by_username(self, username: str) -> User:
        with self.store.session() as s:
            user = s.exec(select(User).where(User.username == (username or "").strip().lower())).first()
        if user is None:
            raise AccountError(f"No user '{username}'.")
        return user

    def users(self, actor: User) -> list[User]:
        require_role(actor, "admin")
        with self.store.session() as s:
            return list(s.exec(select(User).order_by(User.username)))

    def admin_exists(self) -> bool:
        with self.store.session() as s:
            return s.exec(select(User).where(User.role == "admin", User.active == True)).first() is not None  # noqa: E712

    def anyone_signed_in(self) -> bool:
        with self.store.session() as s:
            return s.exec(select(User.id).where(User.last_login_at != None)).first() is not None  # noqa: E711

    def update_user(self, actor: User, username: str, *, role: str | None = None, team: str | None = None,
                    active: bool | None = None, display_name: str | None = None) -> User:
        """Admins change role, team ('' removes from the team), active flag and display name."""
        require_role(actor, "admin")
        target = self.by_username(username)
        with self.store.session() as s:
            user = s.get(User, target.id)
            if role is not None:
                if role not in ROLES:
                    raise AccountError(f"Unknown role '{role}'; use one of: {', '.join(ROLES)}.")
                if user.id == actor.id and role != "admin":
                    raise AccountError("You cannot remove your own admin role; ask another admin.")
                user.role = role
            if team is not None:
                user.team_id = self.team_by_name(team).id if team else None
            if active is not None:
                if user.id == actor.id and not active:
                    raise AccountError("You cannot deactivate yourself.")
                user.active = active
                if not active:
                    self._drop_sessions(s, user.id)
            if display_name:
                user.display_name = display_name.strip()[:80]
            s.add(user)
            s.commit()
            s.refresh(user)
            return user

    def set_password(self, actor: User, username: str, new_password: str) -> None:
        """A user changes their own password; an admin resets anyone's. Existing sessions of that user end."""
        target = self.by_username(username)
        if actor is None or (actor.id != target.id and actor.role != "admin"):
            raise PermissionDenied("Only an admin can change another user's password.")
        check_password_rules(new_password, target.username)
        with self.store.session() as s:
            user = s.get(User, target.id)
            user.password_hash = hash_password(new_password)
            s.add(user)
            self._drop_sessions(s, user.id)
            s.commit()

    def trainee_record(self, user: User) -> Trainee:
        """The Trainee row that holds this user's calls (created on first use; an old typed-in name is linked)."""
        with self.store.session() as s:
            t = s.exec(select(Trainee).where(Trainee.user_id == user.id)).first()
            if t is None:
                t = s.exec(select(Trainee).where(Trainee.name == user.username, Trainee.user_id == None)).first()  # noqa: E711
                if t is None:
                    t = Trainee(name=user.username)
                t.user_id = user.id
                s.add(t)
                s.commit()
                s.refresh(t)
            return t

    # ------------------------------------------------------------------ teams
    def create_team(self, actor: User, name: str, lead: str | None = None) -> Team:
        require_role(actor, "admin")
        name = " ".join((name or "").split())[:60]
        if not name:
            raise AccountError("Enter a team name.")
        lead_id = self._lead_id(lead)
        with self.store.session() as s:
            if s.exec(select(Team).where(Team.name == name)).first():
                raise AccountError(f"A team called '{name}' exists already.")
            team = Team(name=name, lead_id=lead_id)
            s.add(team)
            s.commit()
            s.refresh(team)
            return team

    def set_team_lead(self, actor: User, team: str, lead: str | None) -> Team:
        require_role(actor, "admin")
        t = self.team_by_name(team)
        lead_id = self._lead_id(lead)
        with self.store.session() as s:
            row = s.get(Team, t.id)
            row.lead_id = lead_id
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def _lead_id(self, lead: str | None) -> int | None:
        if not lead:
            return None
        user = self.by_username(lead)
        if user.role not in ("lead", "admin"):
            raise AccountError(f"'{user.username}' is a {user.role}; give them the lead role first.")
        return user.id

    def team_by_name(self, name: str) -> Team:
        with self.store.session() as s:
            team = s.exec(select(Team).where(Team.name == name)).first()
        if team is None:
            raise AccountError(f"No team '{name}'.")
        return team

    def all_teams(self) -> list[Team]:
        with self.store.session() as s:
            return list(s.exec(select(Team).order_by(Team.name)))

    def teams_visible_to(self, actor: User) -> list[Team]:
        """Admins see every team, leads the teams they lead, others their own team."""
        require_role(actor, "trainee", "trainer", "lead")
        with self.store.session() as s:
            if actor.role == "admin":
                return list(s.exec(select(Team).order_by(Team.name)))
            if actor.role == "lead":
                return list(s.exec(select(Team).where(Team.lead_id == actor.id).order_by(Team.name)))
            return [s.get(Team, actor.team_id)] if actor.team_id else []

    def members(self, team_id: int) -> list[User]:
        with self.store.session() as s:
            return list(s.exec(select(User).where(User.team_id == team_id, User.active == True).order_by(User.display_name)))  # noqa: E712

    def visible_trainees(self, actor: User, team_id: int | None = None) -> list[User]:
        """The people whose calls `actor` may see: themselves; a lead their teams' members; an admin everyone."""
        require_role(actor, "trainee", "trainer", "lead")
        teams = self.teams_visible_to(actor) if actor.role in ("lead", "admin") else []
        if team_id is not None:
            teams = [t for t in teams if t.id == team_id]
            if not teams:
                raise PermissionDenied("You do not lead that team.")
        people: dict[int, User] = {}
        for t in teams:
            for u in self.members(t.id):
                people[u.id] = u
        if actor.role == "admin" and team_id is None:
            with self.store.session() as s:
                for u in s.exec(select(User).where(User.role == "trainee", User.active == True)):  # noqa: E712
                    people[u.id] = u
        if team_id is None and actor.role in ("trainee", "trainer"):
            people[actor.id] = actor
        return sorted(people.values(), key=lambda u: u.display_name.lower())

    def can_see_user(self, actor: User, target_user_id: int | None) -> bool:
        if actor is None or not actor.active:
            return False
        if actor.role == "admin" or actor.id == target_user_id:
            return True
        if actor.role == "lead" and target_user_id is not None:
            target = self.get(target_user_id)
            if target.team_id is None:
                return False
            with self.store.session() as s:
                team = s.get(Team, target.team_id)
            return team is not None and team.lead_id == actor.id
        return False

    def owner_of_trainee(self, trainee_id: int) -> int | None:
        with self.store.session() as s:
            t = s.get(Trainee, trainee_id)
        return t.user_id if t else None

    # ------------------------------------------------------------------ login
    def login(self, username: str, password: str, *, ip: str = "") -> str:
        username = (username or "").strip().lower()
        if not username or not password:
            raise LoginFailed("Enter your username and password.")
        t = self.clock()
        with self.store.session() as s:
            since = t - FAILURE_WINDOW
            fails = list(s.exec(select(LoginAttempt).where(LoginAttempt.username == username, LoginAttempt.ip == ip,
                                                           LoginAttempt.ok == False, LoginAttempt.at >= since)  # noqa: E712
                                .order_by(LoginAttempt.at)))
            last_ok = s.exec(select(LoginAttempt).where(LoginAttempt.username == username, LoginAttempt.ip == ip,
                                                        LoginAttempt.ok == True, LoginAttempt.at >= since)  # noqa: E712
                             .order_by(LoginAttempt.at.desc())).first()  # type: ignore[union-attr]
            if last_ok is not None:
                fails = [f for f in fails if _aware(f.at) > _aware(last_ok.at)]
            if len(fails) >= MAX_FAILURES:
                retry = int((_aware(fails[-MAX_FAILURES].at) + FAILURE_WINDOW - t).total_seconds()) + 1
                raise TooManyAttempts(retry)
            user = s.exec(select(User).where(User.username == username)).first()
            ok = False
            if user is not None and user.active:
                try:
                    ok = _hasher.verify(user.password_hash, password)
                except (VerifyMismatchError, VerificationError, InvalidHashError):
                    ok = False
            else:
                _hasher.hash(password)   # same work for unknown users: no timing hint about which names exist
            s.add(LoginAttempt(username=username, ip=ip, ok=ok, at=t))
            if not ok:
                s.commit()
                raise LoginFailed("Wrong username or password.")
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            user.last_login_at = t
            token = secrets.token_urlsafe(32)
            s.add(LoginSession(token_hash=_token_hash(token), user_id=user.id, created_at=t, expires_at=t + SESSION_TTL, ip=ip))
            s.add(user)
            s.commit()
            return token

    def user_for_token(self, token: str | None) -> User:
        if not token:
            raise NotLoggedIn("Please log in.")
        with self.store.session() as s:
            sess = s.get(LoginSession, _token_hash(token))
            if sess is None:
                raise NotLoggedIn("Your session has ended; please log in again.")
            if _aware(sess.expires_at) <= self.clock():
                s.delete(sess)
                s.commit()
                raise NotLoggedIn("Your session expired; please log in again.")
            user = s.get(User, sess.user_id)
        if user is None or not user.active:
            raise NotLoggedIn("This account is not active; ask an admin.")
        return user

    def logout(self, token: str | None) -> None:
        if not token:
            return
        with self.store.session() as s:
            sess = s.get(LoginSession, _token_hash(token))
            if sess is not None:
                s.delete(sess)
                s.commit()

    @staticmethod
    def _drop_sessions(s, user_id: int) -> None:
        for sess in s.exec(select(LoginSession).where(LoginSession.user_id == user_id)):
            s.delete(sess)
