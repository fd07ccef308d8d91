"""Sign-in and account hardening (issue 13, findings 6, 7, 14b, 14c): the client address comes only from a configured
proxy; failures are throttled per account, per address and per pair with a capped backoff instead of a lockout; at most
four password hashes run at once; odd usernames are neither hashed nor stored, and a name that is no user's is stored
only as a keyed hash; old attempts are pruned; the one-time admin password expires and must be changed first; and the
guards on passwords and roles hold."""
from __future__ import annotations

import socket
import threading
from datetime import timedelta
from types import SimpleNamespace

import httpx
import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from trainer import accounts as accounts_module
from trainer import ui_accounts as ua
from trainer import ui_handlers as h
from trainer.accounts import (ACCOUNT_FREE_FAILURES, ADDRESS_FREE_FAILURES, BACKOFF_CAP_S, FAILURE_WINDOW, KNOWN_ADDRESS_TTL,
                              MAX_CONCURRENT_HASHES, ONE_TIME_TTL, PAIR_FREE_FAILURES, SYSTEM, Accounts, LoginAttempt,
                              LoginFailed, NotLoggedIn, PasswordChangeRequired, PermissionDenied, TooManyAttempts, User,
                              require_role)
from trainer.config import Settings, apply_trusted_proxies, load_settings
from trainer.store import now

from .people import PW, make_org

NEW_PW = "a-brand-new-pass-2"


class Clock:
    def __init__(self):
        self.t = now()

    def __call__(self):
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


class CountingHasher:
    """A fast Argon2id that counts its calls and how many run at once. With a `gate`, every call waits inside until the
    gate opens (so a test can hold calls in flight); it gives up after 10 s so a broken guard fails instead of hanging."""

    def __init__(self, gate: threading.Event | None = None):
        self.real = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        self.gate = gate
        self.calls = self.inflight = self.peak = 0
        self.changed = threading.Condition()

    def _run(self, fn, *args):
        with self.changed:
            self.calls += 1
            self.inflight += 1
            self.peak = max(self.peak, self.inflight)
            self.changed.notify_all()
        try:
            if self.gate is not None:
                assert self.gate.wait(10), "the gate never opened"
            return fn(*args)
        finally:
            with self.changed:
                self.inflight -= 1
                self.changed.notify_all()

    def hash(self, password):
        return self._run(self.real.hash, password)

    def verify(self, password_hash, password):
        return self._run(self.real.verify, password_hash, password)

    def check_needs_rehash(self, password_hash):
        return self.real.check_needs_rehash(password_hash)


@pytest.fixture
def hasher(monkeypatch):
    fake = CountingHasher()
    monkeypatch.setattr(accounts_module, "_hasher", fake)
    return fake


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def org(store, catalog, hasher):
    return make_org(store, catalog)


@pytest.fixture
def acc(org, store, clock):
    """Accounts on the org's database with a clock the test moves."""
    return Accounts(store, clock=clock)


def attempts(store) -> list[LoginAttempt]:
    with store.session() as s:
        return list(s.exec(select(LoginAttempt).order_by(LoginAttempt.id)))


def fail(acc, username: str, ip: str, password: str = "wrong-password") -> None:
    with pytest.raises(LoginFailed):
        acc.login(username, password, ip=ip)


def fail_when_allowed(acc, clock: Clock, username: str, ip: str) -> None:
    """A guesser who tries again as soon as the backoff allows."""
    while True:
        try:
            fail(acc, username, ip)
            return
        except TooManyAttempts as exc:
            clock.advance(exc.retry_after_s)


# ---------------------------------------------------------------------- 6: the client address
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client_seen_by_gradios_server(forwarded_allow_ips: str | None, monkeypatch) -> str:
    """Start a real uvicorn server the way Gradio's launch() does (gradio.http_server.start_server), send a request from
    loopback with a forged X-Forwarded-For, and return the client address the app saw."""
    from gradio.http_server import start_server
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    if forwarded_allow_ips is None:
        monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    else:
        monkeypatch.setenv("FORWARDED_ALLOW_IPS", forwarded_allow_ips)

    async def who(request):
        return PlainTextResponse(request.client.host)

    app = Starlette(routes=[Route("/", who)])
    _, port, url, server = start_server(app, server_name="127.0.0.1", server_port=_free_port())
    try:
        return httpx.get(url, headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10).text
    finally:
        server.close()


def test_without_a_setting_uvicorn_believes_a_forged_forwarded_for_from_loopback(monkeypatch):
    """The hole: uvicorn's default trusts loopback, so a local client (or a local proxy passing the header through)
    picks its own address per try. This is why apply_trusted_proxies must run before launch."""
    assert _client_seen_by_gradios_server(None, monkeypatch) == "203.0.113.9"


def test_no_proxy_configured_means_the_forwarded_header_is_ignored(monkeypatch):
    value = apply_trusted_proxies(load_settings(), environ={})
    assert _client_seen_by_gradios_server(value, monkeypatch) == "127.0.0.1"


@pytest.mark.parametrize("proxies", [("127.0.0.1",), ("10.0.0.0/8", "127.0.0.0/8")])
def test_a_configured_proxy_is_believed(monkeypatch, proxies):
    value = apply_trusted_proxies(Settings(trusted_proxies=proxies), environ={})
    assert _client_seen_by_gradios_server(value, monkeypatch) == "203.0.113.9"


def test_a_proxy_other_than_the_connecting_address_does_not_make_the_header_believed(monkeypatch):
    value = apply_trusted_proxies(Settings(trusted_proxies=("10.0.0.5",)), environ={})
    assert _client_seen_by_gradios_server(value, monkeypatch) == "127.0.0.1"


def test_apply_trusted_proxies_sets_the_process_environment(monkeypatch):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")                    # an operator's old setting is replaced
    assert apply_trusted_proxies(Settings()) == "none"
    import os
    assert os.environ["FORWARDED_ALLOW_IPS"] == "none"
    env: dict[str, str] = {}
    apply_trusted_proxies(Settings(trusted_proxies=("10.0.0.5", "fd00::/8")), environ=env)
    assert env == {"FORWARDED_ALLOW_IPS": "10.0.0.5,fd00::/8"}


def test_trusted_proxies_come_from_the_environment_or_the_file_and_are_checked(tmp_path):
    assert load_settings({}).trusted_proxies == ()
    assert load_settings({"FRONTLINE_TRUSTED_PROXIES": " 10.0.0.5, 10.1.0.0/16 ,"}).trusted_proxies == ("10.0.0.5", "10.1.0.0/16")
    toml = tmp_path / "frontline.toml"
    toml.write_text('trusted_proxies = ["192.168.1.2", "::1"]\n')
    assert load_settings({"FRONTLINE_CONFIG": str(toml)}).trusted_proxies == ("192.168.1.2", "::1")
    toml.write_text('trusted_proxies = "192.168.1.2"\n')
    assert load_settings({"FRONTLINE_CONFIG": str(toml)}).trusted_proxies == ("192.168.1.2",)
    assert load_settings({"FRONTLINE_CONFIG": str(toml), "FRONTLINE_TRUSTED_PROXIES": ""}).trusted_proxies == ()
    with pytest.raises(ValueError, match="not an IP address"):
        load_settings({"FRONTLINE_TRUSTED_PROXIES": "proxy.example.com"})
    with pytest.raises(ValueError, match="any client"):
        load_settings({"FRONTLINE_TRUSTED_PROXIES": "*"})


# ---------------------------------------------------------------------- 6: throttling without a lockout
def test_guessing_one_account_from_many_addresses_backs_off_exponentially(acc, clock, hasher):
    for i in range(ACCOUNT_FREE_FAILURES):                            # a fresh address per try: once the only limit
        fail(acc, "ann", f"198.51.100.{i}")
    calls = hasher.calls
    with pytest.raises(TooManyAttempts) as exc:
        acc.login("ann", PW, ip="198.51.100.200")                     # even the right password waits
    assert exc.value.retry_after_s == 1 and "Try again in 1 s" in str(exc.value)
    assert hasher.calls == calls                                      # refused before the password was looked at
    waits = []
    for i in range(10):
        clock.advance(exc.value.retry_after_s)
        fail(acc, "ann", f"198.51.101.{i}")
        with pytest.raises(TooManyAttempts) as exc:
            acc.login("ann", "wrong-password", ip=f"198.51.102.{i}")
        waits.append(exc.value.retry_after_s)
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60, 60, 60]            # doubling, capped at a minute
    clock.advance(59)
    with pytest.raises(TooManyAttempts):
        acc.login("ann", PW, ip="198.51.103.1")
    clock.advance(1)
    assert acc.login("ann", PW, ip="198.51.103.1")                    # the real user gets in once the wait is over
    fail(acc, "ann", "198.51.104.1")                                  # ... and the success reset the account's count
    assert acc.login("ann", PW, ip="198.51.104.2")


def test_spraying_one_password_over_many_accounts_backs_off_per_address(acc, clock):
    for i in range(ADDRESS_FREE_FAILURES):                            # one try each for many names, from one address
        fail(acc, f"user-{i}", "203.0.113.5")
    with pytest.raises(TooManyAttempts) as exc:
        acc.login("ann", PW, ip="203.0.113.5")
    assert exc.value.retry_after_s == 1
    assert acc.login("ann", PW, ip="203.0.113.6")                     # other addresses are not slowed down
    clock.advance(1)
    assert acc.login("bob", PW, ip="203.0.113.5")                     # a success there does not reset the address count:
    fail(acc, "user-x", "203.0.113.5")
    with pytest.raises(TooManyAttempts) as exc:
        acc.login("user-y", "another-guess", ip="203.0.113.5")
    assert exc.value.retry_after_s == 2                               # it keeps doubling
    clock.advance(FAILURE_WINDOW.total_seconds())
    fail(acc, "user-z", "203.0.113.5")                                # old failures age out of the window


def test_a_stranger_on_the_same_address_delays_the_user_by_a_minute_at_most(acc, clock):
    """The old limit locked (username, address) for 15 minutes after five failures: anyone behind the same NAT could
    lock a colleague out. Now the wait is at most BACKOFF_CAP_S after the stranger's last counted try."""
    for _ in range(PAIR_FREE_FAILURES):
        fail(acc, "ann", "192.0.2.1")
    for _ in range(3):                                                # the stranger keeps guessing as soon as allowed
        with pytest.raises(TooManyAttempts) as exc:
            acc.login("ann", "wrong-password", ip="192.0.2.1")
        clock.advance(exc.value.retry_after_s)
        fail(acc, "ann", "192.0.2.1")
    with pytest.raises(TooManyAttempts) as exc:
        acc.login("ann", PW, ip="192.0.2.1")
    assert exc.value.retry_after_s <= BACKOFF_CAP_S
    clock.advance(exc.value.retry_after_s)
    assert acc.login("ann", PW, ip="192.0.2.1")


def test_hammering_during_a_wait_does_not_extend_it(acc, clock, hasher):
    for _ in range(PAIR_FREE_FAILURES):
        fail(acc, "ann", "192.0.2.1")
    rows, calls = len(attempts(acc.store)), hasher.calls
    for _ in range(50):
        with pytest.raises(TooManyAttempts):
            acc.login("ann", "wrong-password", ip="192.0.2.1")
    assert len(attempts(acc.store)) == rows and hasher.calls == calls   # refused tries are neither checked nor counted
    clock.advance(1)
    assert acc.login("ann", PW, ip="192.0.2.1")


def test_failures_elsewhere_never_slow_the_user_down_at_their_usual_address(acc, clock):
    assert acc.login("ann", PW, ip="10.0.0.7")                        # where Ann signs in
    clock.advance(3600)
    for i in range(ACCOUNT_FREE_FAILURES + 5):
        with pytest.raises((LoginFailed, TooManyAttempts)):
            acc.login("ann", "wrong-password", ip=f"198.51.100.{i}")
    with pytest.raises(TooManyAttempts):
        acc.login("ann", PW, ip="198.51.100.250")                     # a new address waits ...
    assert acc.login("ann", PW, ip="10.0.0.7")                        # ... her usual one does not
    last_there = clock.t
    clock.t = last_there + KNOWN_ADDRESS_TTL - timedelta(seconds=70)  # near the end of the month that address is known:
    for i in range(ACCOUNT_FREE_FAILURES + 6):                        # failures that call for a 60 s wait
        fail_when_allowed(acc, clock, "ann", f"198.51.101.{i}")
    clock.t = last_there + KNOWN_ADDRESS_TTL + timedelta(seconds=1)   # the month is up: the address is forgotten
    with pytest.raises(TooManyAttempts):
        acc.login("ann", PW, ip="10.0.0.7")


def test_a_try_in_flight_counts_so_a_burst_gets_no_extra_guesses(acc, monkeypatch):
    for _ in range(PAIR_FREE_FAILURES - 1):
        fail(acc, "ann", "192.0.2.1")
    gate = threading.Event()
    slow = CountingHasher(gate)
    monkeypatch.setattr(accounts_module, "_hasher", slow)
    errors: list[Exception] = []

    def guess():
        try:
            acc.login("ann", "wrong-password", ip="192.0.2.1")
        except Exception as exc:  # noqa: BLE001 - examined below
            errors.append(exc)

    t = threading.Thread(target=guess)
    t.start()
    with slow.changed:
        assert slow.changed.wait_for(lambda: slow.inflight == 1, timeout=10)
    try:
        with pytest.raises(TooManyAttempts):                          # the in-flight guess already used the last free try
            acc.login("ann", "another-guess", ip="192.0.2.1")
    finally:
        gate.set()
        t.join(10)
    assert [type(e) for e in errors] == [LoginFailed]


# ---------------------------------------------------------------------- 7: hashing, username cap, pruning
def run_against_the_gate(slow, gate, threads) -> None:
    """Start the threads; while the hasher holds them at the gate, exactly four hashes may be in flight."""
    for t in threads:
        t.start()
    try:
        with slow.changed:
            assert slow.changed.wait_for(lambda: slow.inflight == MAX_CONCURRENT_HASHES, timeout=10)
            assert not slow.changed.wait_for(lambda: slow.inflight > MAX_CONCURRENT_HASHES, timeout=0.5)
    finally:
        gate.set()
        for t in threads:
            t.join(20)


def test_at_most_four_password_hashes_run_at_once(monkeypatch):
    gate = threading.Event()
    slow = CountingHasher(gate)
    monkeypatch.setattr(accounts_module, "_hasher", slow)
    run_against_the_gate(slow, gate, [threading.Thread(target=accounts_module.hash_password, args=(f"password-{i}",))
                                      for i in range(16)])
    assert slow.calls == 16 and slow.peak == MAX_CONCURRENT_HASHES == 4


def test_sign_ins_share_the_four_hash_slots(acc, monkeypatch):
    """Right passwords (verify), wrong ones, and unknown names (the dummy hash) all wait for a slot."""
    gate = threading.Event()
    slow = CountingHasher(gate)
    monkeypatch.setattr(accounts_module, "_hasher", slow)
    outcomes: list[object] = []

    def try_login(name, password, ip):
        try:
            outcomes.append(bool(acc.login(name, password, ip=ip)))
        except LoginFailed:
            outcomes.append("failed")

    jobs = ([("ann", PW, f"10.1.0.{i}") for i in range(5)] + [("bob", "wrong-password", f"10.2.0.{i}") for i in range(5)]
            + [(f"nobody-{i}", "guess-guess", f"10.3.0.{i}") for i in range(6)])
    run_against_the_gate(slow, gate, [threading.Thread(target=try_login, args=job) for job in jobs])
    assert slow.peak == MAX_CONCURRENT_HASHES and slow.calls == 16
    assert sorted(map(str, outcomes)) == ["True"] * 5 + ["failed"] * 11


@pytest.mark.parametrize("name", ["x" * 1_000_000, "a" * 41, "Eve Smith!", "ann'; --", "-ann"])
def test_names_that_cannot_be_usernames_are_refused_unhashed_and_unstored(acc, hasher, name):
    before, calls = len(attempts(acc.store)), hasher.calls
    with pytest.raises(LoginFailed) as exc:
        acc.login(name, "whatever-password", ip="192.0.2.1")
    assert str(exc.value) == "Wrong username or password."           # the same answer as a wrong password
    assert len(attempts(acc.store)) == before and hasher.calls == calls


def test_the_longest_allowed_username_still_signs_in(acc, org):
    name = "a" * 40
    acc.create_user(org.admin, name, PW)
    assert acc.login(name.upper(), PW)


def test_old_login_attempts_are_pruned(acc, clock):
    fail(acc, "ann", "192.0.2.1")
    fail(acc, "nobody", "192.0.2.1")
    assert acc.login("ann", PW, ip="192.0.2.2")
    assert len(attempts(acc.store)) == 3
    clock.advance(FAILURE_WINDOW.total_seconds() + 1)
    assert acc.login("bob", PW, ip="192.0.2.3")                       # any sign-in prunes: failures past the window go,
    assert sorted((a.ip, a.ok) for a in attempts(acc.store)) == [("192.0.2.2", True), ("192.0.2.3", True)]
    clock.advance(KNOWN_ADDRESS_TTL.total_seconds() + 1)              # successes go after the known-address time
    assert acc.login("cat", PW, ip="192.0.2.4")
    assert [(a.username, a.ip) for a in attempts(acc.store)] == [("cat", "192.0.2.4")]


# ---------------------------------------------------------------------- 14b: a password in the username field
def test_a_name_that_is_no_users_is_stored_only_as_a_keyed_hash(acc, store, clock):
    typed = "correct-horse-battery"                                   # a password typed into the username field
    fail(acc, typed, "192.0.2.1")
    fail(acc, "ann", "192.0.2.1")
    stored = [a.username for a in attempts(store)]
    assert stored[1] == "ann"                                         # real usernames are kept as they are
    assert stored[0].startswith("h:") and len(stored[0]) == 66 and typed not in stored[0]
    import hashlib
    assert stored[0] != "h:" + hashlib.sha256(typed.encode()).hexdigest()   # keyed: not a plain hash to look up
    other = Accounts(store, clock=clock)                              # another process: the key is in the database
    for _ in range(PAIR_FREE_FAILURES - 1):
        fail(other, typed.upper(), "192.0.2.1")                       # the same name, however typed, counts together
    assert len({a.username for a in attempts(store)}) == 2
    with pytest.raises(TooManyAttempts):
        acc.login(typed, "x-password", ip="192.0.2.1")


# ---------------------------------------------------------------------- 14c: the one-time admin password
@pytest.fixture
def ui_app(acc):
    """What the ui_accounts handlers need from the app: its accounts (here with the test's clock)."""
    return SimpleNamespace(accounts=acc)


def test_a_one_time_password_signs_in_only_to_change_it(org, acc, ui_app):
    boss = acc.create_admin("boss", "printed-once-pw", "Boss", one_time=True)
    assert boss.must_change_password and boss.password_expires_at is not None
    token, user = ua.login(ui_app, "boss", "printed-once-pw", "10.0.0.1")
    assert user.username == "boss" and ua.password_change_required(ui_app, token)
    with pytest.raises(PasswordChangeRequired, match="My progress → My password"):
        acc.user_for_token(token)
    assert isinstance(PasswordChangeRequired("x"), NotLoggedIn)      # every handler refuses it like a missing session
    with pytest.raises(PasswordChangeRequired):
        h.past_calls(org.app, token)
    assert ua.session_user(org.app, token) is None
    assert acc.user_for_token(token, allow_password_change=True).username == "boss"
    with pytest.raises(LoginFailed, match="current password is wrong"):
        ua.change_own_password(ui_app, token, "not-the-printed-one", NEW_PW, NEW_PW)
    with pytest.raises(ValueError, match="not the current one"):
        ua.change_own_password(ui_app, token, "printed-once-pw", "printed-once-pw", "printed-once-pw")
    assert "Password changed" in ua.change_own_password(ui_app, token, "printed-once-pw", NEW_PW, NEW_PW)
    with pytest.raises(NotLoggedIn):
        acc.user_for_token(token, allow_password_change=True)         # the one-time session ended
    token = acc.login("boss", NEW_PW)
    assert acc.user_for_token(token).role == "admin" and not ua.password_change_required(ui_app, token)
    assert acc.by_username("boss").password_expires_at is None
    fail(acc, "boss", "10.0.0.1", "printed-once-pw")


def test_a_one_time_password_expires(org, acc, clock):
    acc.create_admin("boss", "printed-once-pw", "Boss", one_time=True)
    clock.advance(ONE_TIME_TTL.total_seconds() - 1)
    acc.user_for_token(acc.login("boss", "printed-once-pw"), allow_password_change=True)
    clock.advance(1)
    with pytest.raises(LoginFailed, match="create-admin"):
        acc.login("boss", "printed-once-pw", ip="10.0.0.1")
    with pytest.raises(LoginFailed) as exc:                          # a wrong password learns nothing about it
        acc.login("boss", "wrong-password", ip="10.0.0.1")
    assert str(exc.value) == "Wrong username or password."
    acc.set_password(org.admin, "boss", NEW_PW)                       # another admin may still reset it
    assert acc.user_for_token(acc.login("boss", NEW_PW)).username == "boss"


def test_passwords_other_than_the_first_start_one_neither_expire_nor_force_a_change(org, acc, clock):
    acc.create_admin("boss", PW, "Boss")
    acc.set_password(org.admin, "ann", NEW_PW)                        # an admin's reset of someone else's password
    clock.advance(ONE_TIME_TTL.total_seconds() * 30)
    for name, pw in (("boss", PW), ("ann", NEW_PW)):
        user = acc.user_for_token(acc.login(name, pw))
        assert not user.must_change_password and user.password_expires_at is None


# ---------------------------------------------------------------------- the guards themselves
def test_changing_your_own_password_needs_the_current_one(org, acc, ui_app):
    token = acc.login("ann", PW)
    with pytest.raises(LoginFailed, match="current password is wrong"):
        ua.change_own_password(ui_app, token, "not-my-password", NEW_PW, NEW_PW)
    with pytest.raises(ValueError, match="current password"):
        ua.change_own_password(ui_app, token, "", NEW_PW, NEW_PW)
    with pytest.raises(ValueError, match="differ"):
        ua.change_own_password(ui_app, token, PW, NEW_PW, NEW_PW + "x")
    assert acc.user_for_token(token).username == "ann"                # nothing changed, the session is still live
    fail(acc, "ann", "10.0.0.1", NEW_PW)
    assert acc.login("ann", PW)
    with pytest.raises(LoginFailed):
        acc.change_own_password(org.ann, "not-my-password", NEW_PW)
    with pytest.raises(PermissionDenied):
        acc.change_own_password(SYSTEM, "", NEW_PW)
    assert "Password changed" in ua.change_own_password(ui_app, token, PW, NEW_PW, NEW_PW)
    fail(acc, "ann", "10.0.0.1", PW)
    assert acc.login("ann", NEW_PW)


def test_guessing_the_current_password_is_throttled_like_a_sign_in(org, acc):
    for _ in range(PAIR_FREE_FAILURES):
        with pytest.raises(LoginFailed):
            acc.change_own_password(org.ann, "not-my-password", NEW_PW)
    with pytest.raises(TooManyAttempts):
        acc.change_own_password(org.ann, PW, NEW_PW)
    assert acc.login("ann", PW, ip="10.0.0.1")                        # a sign-in from an address is not held up by it


def test_only_an_admin_sets_another_users_password(org, acc):
    for actor in (org.bob, org.lead_a, org.trainer):
        with pytest.raises(PermissionDenied):
            acc.set_password(actor, "ann", NEW_PW)
    with pytest.raises(NotLoggedIn):
        acc.set_password(None, "ann", NEW_PW)
    acc.update_user(org.admin, "bob", active=False)
    with pytest.raises(PermissionDenied):
        acc.set_password(acc.get(org.bob.id), "bob", NEW_PW)         # a deactivated user changes nothing, not even their own
    assert acc.login("ann", PW)                                       # every refusal left Ann's password as it was
    acc.set_password(org.admin, "ann", NEW_PW)
    assert acc.login("ann", NEW_PW)
    acc.set_password(SYSTEM, "ann", PW)                               # the CLI acts as an admin
    assert acc.login("ann", PW)


def test_require_role(org, acc):
    with pytest.raises(NotLoggedIn):
        require_role(None, "trainee")
    assert require_role(SYSTEM, "lead") is SYSTEM
    assert require_role(org.ann, "trainee") is org.ann
    assert require_role(org.lead_a, "trainer", "lead") is org.lead_a
    assert require_role(org.admin, "trainer") is org.admin            # admins hold every role
    with pytest.raises(PermissionDenied, match="trainer or lead role; you are signed in as a trainee"):
        require_role(org.ann, "trainer", "lead")
    with pytest.raises(PermissionDenied):
        require_role(org.trainer, "lead")
    acc.update_user(org.admin, "lea", active=False)
    with pytest.raises(PermissionDenied, match="deactivated"):
        require_role(acc.get(org.lead_a.id), "lead")
    acc.update_user(org.admin, "tim", active=False)
    deactivated_admin = acc.update_user(org.admin, "tim", role="admin")
    with pytest.raises(PermissionDenied, match="deactivated"):
        require_role(deactivated_admin, "trainee")
    assert isinstance(deactivated_admin, User)
