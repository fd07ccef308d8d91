"""Accounts and roles: hashing, sessions, rate limiting, admin-only management, and role isolation through the
same functions the UI calls (a trainee cannot load another trainee's call by id)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from trainer import ui_handlers as h
from trainer.accounts import (MAX_FAILURES, SYSTEM, AccountError, Accounts, LoginFailed, PasswordChangeRequired, LoginSession, NotLoggedIn,
                              PermissionDenied, TooManyAttempts, User)
from trainer.store import Store, now

from .people import PW, fast_hash, make_org, record_call  # noqa: F401  (fast_hash is a fixture)

pytestmark = pytest.mark.usefixtures("fast_hash")


@pytest.fixture
def org(store, catalog):
    return make_org(store, catalog)


class Clock:
    def __init__(self):
        self.t = now()

    def __call__(self):
        return self.t


def test_passwords_are_argon2_hashes_and_login_gives_a_session(org):
    user = org.app.accounts.by_username("ann")
    assert user.password_hash.startswith("$argon2id$") and PW not in user.password_hash
    token = org.app.accounts.login("ANN ", PW, ip="10.0.0.1")          # usernames are case- and space-insensitive
    assert org.app.accounts.user_for_token(token).username == "ann"
    with org.app.store.session() as s:
        stored = [x.token_hash for x in s.exec(select(LoginSession))]
    assert token not in stored and len(stored[0]) == 64                 # only the token's hash is kept


def test_wrong_password_and_unknown_user_get_the_same_answer(org):
    with pytest.raises(LoginFailed) as a:
        org.app.accounts.login("ann", "wrong-password")
    with pytest.raises(LoginFailed) as b:
        org.app.accounts.login("nobody", "wrong-password")
    assert str(a.value) == str(b.value) == "Wrong username or password."


def test_login_attempts_are_rate_limited_per_user_and_ip(store, catalog):
    clock = Clock()
    org = make_org(store, catalog)
    acc = Accounts(store, clock=clock)
    for _ in range(MAX_FAILURES):
        with pytest.raises(LoginFailed):
            acc.login("ann", "bad-password", ip="1.1.1.1")
    with pytest.raises(TooManyAttempts) as exc:
        acc.login("ann", PW, ip="1.1.1.1")                                # even the right password waits
    assert 0 < exc.value.retry_after_s <= 15 * 60 + 1
    assert acc.login("ann", PW, ip="2.2.2.2")                              # another address is not locked out
    assert acc.login("bob", PW, ip="1.1.1.1")                              # nor another user
    clock.t += timedelta(minutes=16)
    assert acc.login("ann", PW, ip="1.1.1.1")                              # the window passed
    assert org.app.accounts is not acc


def test_sessions_expire_and_logout_ends_them(store, catalog):
    clock = Clock()
    make_org(store, catalog)
    acc = Accounts(store, clock=clock)
    token = acc.login("ann", PW)
    clock.t += timedelta(hours=11)
    assert acc.user_for_token(token).username == "ann"
    clock.t += timedelta(hours=2)
    with pytest.raises(NotLoggedIn, match="expired"):
        acc.user_for_token(token)
    token = acc.login("ann", PW)
    acc.logout(token)
    with pytest.raises(NotLoggedIn):
        acc.user_for_token(token)
    with pytest.raises(NotLoggedIn):
        acc.user_for_token("")


def test_only_admins_manage_users_and_teams(org):
    acc = org.app.accounts
    for actor in (org.ann, org.lead_a, org.trainer):
        with pytest.raises(PermissionDenied):
            acc.create_user(actor, "eve", PW, "admin")
        with pytest.raises(PermissionDenied):
            acc.create_team(actor, "C")
        with pytest.raises(PermissionDenied):
            acc.update_user(actor, "ann", role="admin")
        with pytest.raises(PermissionDenied):
            acc.users(actor)
    with pytest.raises(PermissionDenied):
        acc.set_password(org.bob, "ann", "new-password-1")
    acc.set_password(org.ann, "ann", "new-password-1")                    # your own password is yours to change
    assert acc.login("ann", "new-password-1")


def test_input_rules(org):
    acc = org.app.accounts
    with pytest.raises(AccountError, match="at least 8"):
        acc.create_user(org.admin, "eve", "short", "trainee")
    with pytest.raises(AccountError, match="Usernames"):
        acc.create_user(org.admin, "Eve Smith!", PW, "trainee")
    with pytest.raises(AccountError, match="taken"):
        acc.create_user(org.admin, "ann", PW, "trainee")
    with pytest.raises(AccountError, match="role"):
        acc.create_user(org.admin, "eve", PW, "boss")
    with pytest.raises(AccountError, match="lead role first"):
        acc.create_team(org.admin, "C", lead="ann")
    with pytest.raises(AccountError, match="own admin role"):
        acc.update_user(org.admin, "root", role="trainee")


def test_deactivating_a_user_ends_their_sessions(org):
    token = org.token(org.ann)
    org.app.accounts.update_user(org.admin, "ann", active=False)
    with pytest.raises(NotLoggedIn):
        org.app.accounts.user_for_token(token)
    with pytest.raises(LoginFailed):
        org.app.accounts.login("ann", PW)


def test_a_typed_in_trainee_name_is_linked_to_the_new_account(store, catalog):
    old = store.trainee("dave")                                           # history from before accounts existed
    org = make_org(store, catalog)
    dave = org.app.accounts.create_user(org.admin, "dave", PW, "trainee")
    assert org.app.accounts.trainee_record(dave).id == old.id


def test_create_admin_command_prints_a_one_time_password(capsys):
    from trainer.cli import main
    assert main(["create-admin", "--username", "boss"]) == 0              # stdin is not a terminal under pytest
    out = capsys.readouterr().out
    password = out.split("One-time password:")[1].split()[0]
    from trainer.config import load_settings
    acc = Accounts(Store(load_settings().db_url))
    token = acc.login("boss", password)
    with pytest.raises(PasswordChangeRequired):                 # a printed password is one-time: replace it first
        acc.user_for_token(token)
    assert acc.user_for_token(token, allow_password_change=True).role == "admin"
    assert main(["create-admin", "--username", "boss", "--password", "another-pass"]) == 2   # taken


# ---------------------------------------------------------------------- role isolation
def test_a_trainee_cannot_open_another_trainees_call_by_id(org):
    app = org.app
    bobs_call = record_call(app, org.bob, "double-billed-dana", 80)
    ann_tok = org.token(org.ann)
    with pytest.raises(PermissionDenied):
        app.view(bobs_call, org.ann)
    with pytest.raises(PermissionDenied):
        h.open_call(app, ann_tok, bobs_call)
    with pytest.raises(PermissionDenied):
        h.past_calls(app, ann_tok, "bob")
    with pytest.raises(PermissionDenied):
        app.calls_of(org.bob, org.ann)
    with pytest.raises(PermissionDenied):
        app.dashboard.comments(org.ann, bobs_call)
    # and Bob himself can
    assert h.open_call(app, org.token(org.bob), bobs_call)[1]
    assert [c.id for c in app.calls_of(org.bob, org.bob)] == [bobs_call]


def test_a_trainee_cannot_talk_into_or_end_another_trainees_live_call(org):
    app = org.app
    bob_tok, ann_tok = org.token(org.bob), org.token(org.ann)
    call_id, history, _, _ = h.start_call(app, bob_tok, "double-billed-dana")
    with pytest.raises(PermissionDenied):
        list(h.stream_turn(app, ann_tok, call_id, "Hello, I'm not Bob", history))
    with pytest.raises(PermissionDenied):
        h.end_and_grade(app, ann_tok, call_id)
    with pytest.raises(PermissionDenied):                                # not even his team lead may speak in it
        app.say(call_id, "hi", actor=org.lead_a)
    assert [t.speaker for t in app.store.turns(call_id)] == []
    list(h.stream_turn(app, bob_tok, call_id, "Thank you for calling Brightwave, Bob speaking.", history))
    assert h.end_and_grade(app, bob_tok, call_id)[0].startswith("## Score")


def test_leads_see_their_team_only_and_admins_see_everyone(org):
    app = org.app
    bobs = record_call(app, org.bob, "double-billed-dana", 80)
    cats = record_call(app, org.cat, "late-fee-lucas", 60)
    assert app.view(bobs, org.lead_a).record.id == bobs
    with pytest.raises(PermissionDenied):
        app.view(cats, org.lead_a)
    with pytest.raises(PermissionDenied):
        h.open_call(app, org.token(org.lead_a), cats)
    with pytest.raises(PermissionDenied):
        app.view(bobs, org.lead_b)
    with pytest.raises(PermissionDenied):
        app.view(bobs, org.trainer)                                      # trainers edit content, not people's calls
    assert app.view(cats, org.admin).record.id == cats
    assert {u.username for u in app.accounts.visible_trainees(org.lead_a)} == {"ann", "bob"}
    with pytest.raises(PermissionDenied):
        app.accounts.visible_trainees(org.lead_a, app.accounts.team_by_name("B").id)


def test_handlers_refuse_without_a_valid_session(org):
    with pytest.raises(NotLoggedIn):
        h.past_calls(org.app, "not-a-token")
    with pytest.raises(NotLoggedIn):
        h.start_call(org.app, None, "double-billed-dana")


def test_no_user_is_refused_and_only_the_explicit_system_principal_is_trusted(org):
    """actor=None used to mean "the trusted CLI", so a session that resolved to nobody (a garbage or revoked token)
    could read, continue and end anyone's call. None is now refused everywhere; the CLI passes accounts.SYSTEM."""
    from trainer import coaching
    app = org.app
    ended = record_call(app, org.bob, "double-billed-dana", 80)
    live = app.start_call(None, "double-billed-dana", user=org.bob).id
    refused = {
        "start_call": lambda: app.start_call("bob", "double-billed-dana", user=None),
        "authorize_call": lambda: app.authorize_call(None, ended),
        "view": lambda: app.view(ended, None),
        "regrade": lambda: app.regrade(ended, None),
        "calls_of": lambda: app.calls_of("bob", None),
        "session": lambda: app.session(live, None),
        "say": lambda: app.say(live, "Hello, Brightwave.", actor=None),
        "end_call": lambda: app.end_call(live, None),
        "call_hints": lambda: coaching.call_hints(app, live, actor=None),
        "call_checklist": lambda: coaching.call_checklist(app, live, actor=None),
    }
    for name, call in refused.items():
        with pytest.raises(NotLoggedIn):
            call()
            pytest.fail(f"{name} let nobody in")
    assert app.store.turns(live) == [] and app.store.get_call(live).status == "active"   # nothing was written
    assert app.view(ended, SYSTEM).record.id == ended                                     # the CLI says who it is
    assert ended in [c.id for c in app.calls_of("bob", SYSTEM)]
    assert app.say(live, "Thank you for calling Brightwave.", actor=SYSTEM).text


def test_tabs_follow_roles(org):
    from trainer.ui_accounts import visible_tabs
    assert visible_tabs(org.ann) == {"practice": True, "voice": True, "recording": True, "progress": True, "calls": True,
                                     "dashboard": False, "studio": False, "admin": False}
    assert visible_tabs(org.lead_a)["dashboard"] and not visible_tabs(org.lead_a)["admin"]
    assert visible_tabs(org.trainer)["studio"] and not visible_tabs(org.trainer)["dashboard"]
    assert all(visible_tabs(org.admin).values())
    assert not any(visible_tabs(None).values())


def test_admin_handlers(org):
    from trainer import ui_accounts as ua
    tok = org.token(org.admin)
    assert "Created trainee" in ua.add_user(org.app, tok, "dan", "Dan D", "trainee", "B", PW)
    assert "Saved" in ua.change_user(org.app, tok, "dan", "lead", "", True)
    frame = ua.users_frame(org.app, tok)
    assert frame.set_index("username").loc["dan", "role"] == "lead"
    assert "Created team" in ua.add_team(org.app, tok, "C", "dan")
    assert ua.teams_frame(org.app, tok).set_index("team").loc["C", "lead"] == "Dan D"
    with pytest.raises(PermissionDenied):
        ua.users_frame(org.app, org.token(org.lead_a))
    ann = org.token(org.ann)
    assert "Password changed" in ua.change_own_password(org.app, ann, PW, "brand-new-pass", "brand-new-pass")
    with pytest.raises(NotLoggedIn):
        org.app.accounts.user_for_token(ann)
    assert isinstance(org.app.accounts.by_username("ann"), User)


def test_first_start_creates_an_admin_and_says_how_to_sign_in(store, catalog, capsys):
    import ui
    from trainer.service import Frontline
    from trainer.ui_accounts import first_run_hint
    app = Frontline(store=store, catalog=catalog, customer_backend=lambda: None)
    assert "create-admin" in first_run_hint(app)                              # nobody can sign in yet: say how
    ui.ensure_first_admin(app)
    out = capsys.readouterr().out
    password = out.split("password: ")[1].split()[0]
    assert "one-time password" in first_run_hint(app)
    app.accounts.login("admin", password)
    assert first_run_hint(app) == ""
    ui.ensure_first_admin(app)                                                # only once
    assert capsys.readouterr().out == ""


def test_the_browser_state_key_is_the_same_in_every_app_process(store, catalog):
    """The token in the browser must read the same in every process and after a restart. Gradio's BrowserState key is
    served to every browser in /config, so it is a fixed public value, not a secret (the token is the credential)."""
    import ui
    from trainer.service import Frontline
    one = ui.build(Frontline(store=store, catalog=catalog, customer_backend=lambda: None))
    two = ui.build(Frontline(store=Store(store.url), catalog=catalog, customer_backend=lambda: None))
    keys = [next(b.secret for b in d.blocks.values() if type(b).__name__ == "BrowserState") for d in (one, two)]
    assert keys[0] == keys[1] == ui.BROWSER_STATE_KEY
