"""Accounts: users with roles, teams, login sessions and sign-in throttling.

Roles: trainee (practises, sees only their own calls), trainer (edits content), lead (leads one or
more teams and sees their members' calls), admin (manages users and teams, sees everything).
Passwords are hashed with Argon2id (argon2-cffi). Each hash takes 64 MiB, so at most
MAX_CONCURRENT_HASHES run at once and a burst of sign-in tries queues instead of exhausting memory.
A login returns a random token; only its SHA-256 is stored, with an expiry, so a stolen database does
not hand out live sessions.

Sign-in throttling slows guessing down without a lockout that a stranger could trigger. Failed tries
in the last FAILURE_WINDOW are counted three ways, and past a free budget each further try must wait
1, 2, 4 … seconds (at most BACKOFF_CAP_S) after the last failure:
- per account, from every address (ACCOUNT_FREE_FAILURES since its last success): guessing from many
  addresses. An address the account signed in from in the last KNOWN_ADDRESS_TTL is exempt from this
  count, so failures elsewhere never slow the real user down where they usually sign in;
- per username and address (PAIR_FREE_FAILURES since the last success there);
- per address, over every username (ADDRESS_FREE_FAILURES, not reset by a success): one password
  sprayed over many accounts.
A try made during a wait is refused before the password is checked, and it is not counted, so no
account waits longer than BACKOFF_CAP_S after the last real try. Names that cannot be usernames are
refused without hashing or storing anything. For a name that is not an existing user's, only a keyed
hash is stored, so a password typed into the username field is not kept. Old rows are pruned at each
sign-in. The client address is the connecting one; X-Forwarded-For is believed only from the proxies
in FRONTLINE_TRUSTED_PROXIES (config.apply_trusted_proxies).

The one-time admin password made at first start (`create_admin(..., one_time=True)`) expires after
ONE_TIME_TTL. Its session is good only for changing it (PasswordChangeRequired elsewhere).

Every function that acts for someone takes the acting `User` and checks the role here, on the server:
the UI hides buttons too, but hiding is not the protection.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import threading
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import and_, delete, or_
from sqlmodel import Field, SQLModel, select

from .text import strip_bidi
from .store import Store, Trainee, now

ROLES = ("trainee", "trainer", "lead", "admin")
SESSION_TTL = timedelta(hours=12)
FAILURE_WINDOW = timedelta(minutes=15)     # failed sign-ins older than this no longer count (and are pruned)
ACCOUNT_FREE_FAILURES = 10                 # per account, from unknown addresses, before the backoff starts
PAIR_FREE_FAILURES = 5                     # per (username, address)
ADDRESS_FREE_FAILURES = 30                 # per address, over every username
BACKOFF_BASE_S = 1.0                       # the first wait past a budget; it doubles with each further failure ...
BACKOFF_CAP_S = 60.0                       # ... up to this, so nobody is kept out longer than a minute
KNOWN_ADDRESS_TTL = timedelta(days=30)     # successful sign-ins are kept this long, to know a user's usual addresses
ONE_TIME_TTL = timedelta(hours=24)         # the printed first-start admin password works this long
MAX_CONCURRENT_HASHES = 4                  # Argon2id takes 64 MiB per hash
MAX_FAILURES = PAIR_FREE_FAILURES          # the old name, still imported by tests/test_accounts.py
MIN_PASSWORD = 8
MAX_USERNAME = 40
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
WRONG_LOGIN = "Wrong username or password."
PASSWORD_CHANGE_IP = "password-change"     # recorded as the address of a current-password check (+ ":<user id>")

_hasher = PasswordHasher()
_HASH_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)
_THROTTLE = threading.Lock()     # makes "check the budget, then count this try" one step for this process's threads


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
    must_change_password: bool = False          # a one-time password: the session may only change it
    password_expires_at: datetime | None = None  # a one-time password stops working at this time


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
    username: str = Field(index=True)        # an existing user's name, or "h:" + a keyed hash of whatever was typed
    ip: str = ""
    ok: bool = False
    at: datetime = Field(default_factory=now, index=True)


class AppSetting(SQLModel, table=True):
    __tablename__ = "app_setting"
    key: str = Field(primary_key=True)
    value: str


class AccountError(ValueError):
    """Bad input to an account function; the message says what to do."""


class LoginFailed(AccountError):
    pass


class TooManyAttempts(AccountError):
    def __init__(self, retry_after_s: int):
        self.retry_after_s = retry_after_s
        super().__init__(f"Too many failed sign-ins. Try again in {retry_after_s} s.")


class NotLoggedIn(PermissionError):
    pass


class PasswordChangeRequired(NotLoggedIn):
    """The session's user still has a one-time password: it may be used only to change it."""


class PermissionDenied(PermissionError):
    pass


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    """Argon2id, in one of MAX_CONCURRENT_HASHES slots (a caller past that waits for a free one)."""
    with _HASH_SLOTS:
        return _hasher.hash(password)


def _verify_password(password_hash: str, password: str) -> bool:
    with _HASH_SLOTS:
        try:
            return _hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def _backoff_wait(fail_times: list[datetime], free: int, t: datetime) -> float:
    """Seconds until one more try is allowed, given the counted failures' times (oldest first): none within the free
    budget, then BACKOFF_BASE_S doubled per failure past it, capped, counted from the last failure."""
    over = len(fail_times) - free
    if over < 0:
        return 0.0
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(over, 32))
    return (fail_times[-1] + timedelta(seconds=delay) - t).total_seconds()


def _fails_since_success(rows) -> list[datetime]:
    """The failure times after the last success, from (at, ok) rows oldest first."""
    fails: list[datetime] = []
    for at, ok in rows:
        if ok:
            fails.clear()
        else:
            fails.append(_aware(at))
    return fails


def check_password_rules(password: str, username: str = "") -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"The password must have at least {MIN_PASSWORD} characters.")
    if username and password.lower() == username.lower():
        raise AccountError("The password must not be the username.")


class SystemPrincipal:
    """The trusted local process: the CLI, the seeders and background work that an already-authorised request started.
    Whoever runs them holds the database and the content files already. It is passed explicitly, never implied by a
    missing user: every function that acts for someone raises NotLoggedIn when it gets None."""

    role = "admin"
    active = True
    id = None
    team_id = None

    def __init__(self, name: str = "system"):
        self.username = self.display_name = name

    def __repr__(self) -> str:
        return f"SystemPrincipal({self.username!r})"


SYSTEM = SystemPrincipal()


def is_system(actor) -> bool:
    return isinstance(actor, SystemPrincipal)


def require_role(user: User | None, *roles: str) -> User:
    """The acting user, if they hold one of `roles` (admin always does); PermissionDenied otherwise."""
    if user is None:
        raise NotLoggedIn("Please log in.")
    if is_system(user):
        return user
    if not user.active:
        raise PermissionDenied("This account is deactivated.")
    if user.role == "admin" or user.role in roles:
        return user
    raise PermissionDenied(f"This needs the {' or '.join(roles)} role; you are signed in as a {user.role}.")


class Accounts:
    def __init__(self, store: Store, *, clock=now):
        self.store = store
        self.clock = clock
        self._name_key_secret: bytes | None = None

    # ------------------------------------------------------------------ users
    def _create(self, username: str, password: str, role: str, display_name: str = "", team_id: int | None = None,
                *, one_time: bool = False) -> User:
        username = (username or "").strip().lower()
        if not USERNAME_RE.match(username):
            raise AccountError("Usernames are 2–40 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.")
        if role not in ROLES:
            raise AccountError(f"Unknown role '{role}'; use one of: {', '.join(ROLES)}.")
        check_password_rules(password, username)
        with self.store.session() as s:
            if s.exec(select(User).where(User.username == username)).first():
                raise AccountError(f"The username '{username}' is taken.")
            user = User(username=username, display_name=strip_bidi(display_name or username).strip()[:80], role=role, team_id=team_id,
                        password_hash=hash_password(password), must_change_password=one_time,
                        password_expires_at=self.clock() + ONE_TIME_TTL if one_time else None)
            s.add(user)
            s.commit()
            s.refresh(user)
        self.trainee_record(user)
        return user

    def create_admin(self, username: str, password: str, display_name: str = "", *, one_time: bool = False) -> User:
        """For the `trainer create-admin` command and the first start: whoever can run them already holds the database.
        A `one_time` password (one printed to a terminal) expires after ONE_TIME_TTL and must be changed at first
        sign-in."""
        return self._create(username, password, "admin", display_name, one_time=one_time)

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

    def _stored_secret(self, key: str) -> str:
        """A random secret kept in app_setting, made on first use; every process of one database shares it."""
        with self.store.session() as s:
            row = s.get(AppSetting, key)
            if row is None:
                row = AppSetting(key=key, value=secrets.token_urlsafe(32))
                s.add(row)
                try:
                    s.commit()
                except Exception:  # noqa: BLE001 - another process created it first: use theirs
                    s.rollback()
                    row = s.get(AppSetting, key)
            return row.value

    def _name_key(self, name: str) -> str:
        """What a sign-in try for a name that is no user's is counted under: a keyed hash, so the per-name budget works
        but a password typed into the username field is not stored. The key is secret, so the stored hashes cannot be
        tested against a list of guesses offline."""
        if self._name_key_secret is None:
            self._name_key_secret = self._stored_secret("login_attempt_key").encode("utf-8")
        return "h:" + hmac.new(self._name_key_secret, name.encode("utf-8"), hashlib.sha256).hexdigest()

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
                user.display_name = strip_bidi(display_name).strip()[:80]
            s.add(user)
            s.commit()
            s.refresh(user)
            return user

    def set_password(self, actor: User, username: str, new_password: str) -> None:
        """A user changes their own password; an admin resets anyone's. Existing sessions of that user end, and a
        one-time password's change requirement and expiry go with it. (An admin's reset does not force a change:
        the admin hands the password over in person.) Your own password is changed with `change_own_password`,
        which checks the current one first."""
        require_role(actor, *ROLES)
        target = self.by_username(username)
        if actor.id != target.id and actor.role != "admin":
            raise PermissionDenied("Only an admin can change another user's password.")
        check_password_rules(new_password, target.username)
        password_hash = hash_password(new_password)
        with self.store.session() as s:
            user = s.get(User, target.id)
            user.password_hash = password_hash
            user.must_change_password = False
            user.password_expires_at = None
            s.add(user)
            self._drop_sessions(s, user.id)
            s.commit()

    def change_own_password(self, user: User, current: str, new_password: str) -> None:
        """The signed-in user changes their password. The current one is checked first, under the sign-in limits, so
        an unattended open session is not enough to take the account over."""
        require_role(user, *ROLES)
        if is_system(user):
            raise PermissionDenied("The system principal has no password; use `trainer create-admin` or the Admin tab.")
        if not current:
            raise AccountError("Enter your current password.")
        if new_password == current:
            raise AccountError("Choose a new password, not the current one.")
        check_password_rules(new_password, user.username)     # before the check: a bad new password costs no try
        try:
            self._check_credentials(user.username, current, f"{PASSWORD_CHANGE_IP}:{user.id}", password_change=True)
        except LoginFailed as exc:
            if str(exc) == WRONG_LOGIN:
                raise LoginFailed("Your current password is wrong.") from None
            raise
        self.set_password(user, user.username, new_password)

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
        name = " ".join(strip_bidi(name or "").split())[:60]
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
        if is_system(actor) or actor.role == "admin" or actor.id == target_user_id:
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
        """A new session token for a right username and password (see the module docstring for the limits)."""
        user, t = self._check_credentials(username, password, ip)
        new_hash = hash_password(password) if _hasher.check_needs_rehash(user.password_hash) else None
        token = secrets.token_urlsafe(32)
        with self.store.write_session() as s:
            row = s.get(User, user.id)
            if new_hash:
                row.password_hash = new_hash
            row.last_login_at = t
            s.add(LoginSession(token_hash=_token_hash(token), user_id=row.id, created_at=t, expires_at=t + SESSION_TTL, ip=ip))
            s.add(row)
            s.commit()
        return token

    def _check_credentials(self, username: str, password: str, ip: str, *, password_change: bool = False) -> tuple[User, datetime]:
        """The user, if the password is theirs, it has not expired and no budget is spent; LoginFailed or
        TooManyAttempts otherwise. Every checked try is recorded."""
        name = (username or "").strip().lower()
        if not name or not password:
            raise LoginFailed("Enter your username and password.")
        if len(name) > MAX_USERNAME or not USERNAME_RE.match(name):
            # The pattern is public, so refusing here says nothing about who exists; nothing is hashed or stored.
            raise LoginFailed(WRONG_LOGIN)
        t = self.clock()
        with self.store.session() as s:
            user = s.exec(select(User).where(User.username == name)).first()
        key = user.username if user is not None else self._name_key(name)
        with _THROTTLE, self.store.write_session() as s:
            self._throttle(s, key, ip, t, known_exempt=not password_change)
            # Counted as a failure until the hash says otherwise: concurrent tries see it, so firing many at once
            # does not get more guesses past the budget.
            attempt = LoginAttempt(username=key, ip=ip, ok=False, at=t)
            s.add(attempt)
            self._prune(s, t)
            s.commit()
            attempt_id = attempt.id
        if user is not None and user.active:
            ok = _verify_password(user.password_hash, password)
        else:
            hash_password(password)   # the same work for unknown users: no timing hint about which names exist
            ok = False
        if not ok:
            raise LoginFailed(WRONG_LOGIN)
        if user.password_expires_at is not None and _aware(user.password_expires_at) <= t:
            raise LoginFailed("This one-time password has expired. In a terminal on the server, run "
                              "`.venv/bin/trainer create-admin --username another-admin` to make a new admin.")
        with self.store.write_session() as s:
            row = s.get(LoginAttempt, attempt_id)
            if row is not None:
                row.ok = True
                s.add(row)
                s.commit()
        return user, t

    def _throttle(self, s, key: str, ip: str, t: datetime, *, known_exempt: bool) -> None:
        """TooManyAttempts if any budget (account, username+address, address) says this try must wait."""
        rows = s.exec(select(LoginAttempt.username, LoginAttempt.ip, LoginAttempt.at, LoginAttempt.ok)
                      .where(LoginAttempt.at >= t - FAILURE_WINDOW,
                             or_(LoginAttempt.username == key, and_(LoginAttempt.ip == ip, LoginAttempt.ok == False)))  # noqa: E712
                      .order_by(LoginAttempt.at, LoginAttempt.id)).all()
        pair = _fails_since_success((at, ok) for u, a, at, ok in rows if u == key and a == ip)
        address = [_aware(at) for u, a, at, ok in rows if a == ip and not ok]
        waits = [_backoff_wait(pair, PAIR_FREE_FAILURES, t), _backoff_wait(address, ADDRESS_FREE_FAILURES, t)]
        known = known_exempt and bool(ip) and s.exec(
            select(LoginAttempt.id).where(LoginAttempt.username == key, LoginAttempt.ip == ip, LoginAttempt.ok == True,  # noqa: E712
                                          LoginAttempt.at >= t - KNOWN_ADDRESS_TTL).limit(1)).first() is not None
        if not known:
            account = _fails_since_success((at, ok) for u, a, at, ok in rows if u == key)
            waits.append(_backoff_wait(account, ACCOUNT_FREE_FAILURES, t))
        wait = max(waits)
        if wait > 0:
            raise TooManyAttempts(math.ceil(wait))

    @staticmethod
    def _prune(s, t: datetime) -> None:
        """Failures past the window and successes past KNOWN_ADDRESS_TTL count for nothing: delete them (the `at`
        index keeps this cheap enough for every sign-in)."""
        s.exec(delete(LoginAttempt).where(LoginAttempt.at < t - FAILURE_WINDOW,
                                          or_(LoginAttempt.ok == False, LoginAttempt.at < t - KNOWN_ADDRESS_TTL)))  # noqa: E712

    def user_for_token(self, token: str | None, *, allow_password_change: bool = False) -> User:
        """The signed-in user of a session token; NotLoggedIn if there is none. A user who still has a one-time
        password gets PasswordChangeRequired, except where `allow_password_change` (the password form) says so."""
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
        if user.must_change_password and not allow_password_change:
            raise PasswordChangeRequired("Change your one-time password first: My progress → My password.")
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
