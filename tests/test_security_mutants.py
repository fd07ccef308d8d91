"""Tests written for the mutants that survived the mutation run over the authorization code and the fatal criteria
(tests/mutation/README.md). Each one asserts the behaviour a surviving mutant broke, through the public functions,
with realistic inputs: users loaded afresh for each request, strings that arrive from a form (equal, not identical),
ids past the small-integer cache, names on either side of each other in the alphabet."""
from __future__ import annotations

import inspect
from datetime import timedelta

import pytest
from sqlmodel import select

from trainer.accounts import (SYSTEM, AccountError, LoginSession, NotLoggedIn, PasswordChangeRequired, PermissionDenied, Team,
                              User, hash_password, require_role)
from trainer.config import ROOT
from trainer.studio.studio import Studio

from .people import PW, fast_hash, make_org  # noqa: F401 - fast_hash is a fixture

DANA_ID = "double-billed-dana"


def fresh(s: str) -> str:
    """The same text as a new string object, as a value decoded from a request is (a literal would be the interned
    constant, so `is` would wrongly agree with `==`)."""
    return "".join(list(s))


@pytest.fixture
def org(store, catalog, fast_hash):
    return make_org(store, catalog)


def sessions_of(org, user) -> int:
    with org.app.store.session() as s:
        return len(s.exec(select(LoginSession).where(LoginSession.user_id == user.id)).all())


# ---------------------------------------------------------------------- accounts
def test_an_inactive_or_missing_actor_sees_nobody(org):
    acc = org.app.accounts
    assert acc.can_see_user(org.lead_a, org.ann.id)                  # the lead sees her team ...
    acc.update_user(org.admin, "lea", active=False)
    assert not acc.can_see_user(acc.by_username("lea"), org.ann.id)   # ... not once deactivated
    assert not acc.can_see_user(None, org.ann.id)


def test_a_later_user_does_not_see_an_earlier_ones_calls(org):
    """`actor.id == target` must be equality: the newest trainee has the highest id."""
    acc = org.app.accounts
    assert org.cat.id > org.ann.id
    assert not acc.can_see_user(org.cat, org.ann.id)
    assert not acc.can_see_user(org.trainer, org.ann.id)
    call = org.app.start_call(None, DANA_ID, user=org.ann)
    with pytest.raises(PermissionDenied):
        org.app.view(call.id, org.cat)


def test_a_demoted_lead_stops_seeing_the_team_they_still_head(org):
    """Only the lead role reads a team's calls. A lead demoted to trainee (or trainer) is still the team's lead_id
    until an admin names another, and must see nothing of it meanwhile."""
    acc = org.app.accounts
    for role in ("trainee", "trainer"):
        acc.update_user(org.admin, "lea", role=role)
        demoted = acc.by_username("lea")
        assert acc.team_by_name("A").lead_id == demoted.id
        assert not acc.can_see_user(demoted, org.ann.id), role
    call = org.app.start_call(None, DANA_ID, user=org.ann)
    with pytest.raises(PermissionDenied):
        org.app.view(call.id, acc.by_username("lea"))


@pytest.mark.parametrize("role", ["", "accounting", "supervisor"])
def test_a_role_the_app_does_not_know_grants_nothing(org, role):
    """Fail closed: a user row whose role is none of ROLES (blank, or left by another version of the app) is not an
    admin, not a lead of the team it heads, and may not set anyone's password or list the users."""
    acc = org.app.accounts
    with org.app.store.session() as s:
        s.add(User(id=900, username="odd", display_name="Odd", role=role, password_hash=hash_password(PW)))
        s.commit()
    acc.set_team_lead(org.admin, "A", "lea")
    with org.app.store.session() as s:
        team = s.exec(select(Team).where(Team.name == "A")).first()
        team.lead_id = 900                        # as if it had led team A before its role changed
        s.add(team)
        s.commit()
    odd = acc.by_username("odd")
    for roles in (("trainee",), ("trainee", "trainer", "lead")):
        with pytest.raises(PermissionDenied):
            require_role(odd, *roles)
    assert not acc.can_see_user(odd, org.ann.id) and not acc.can_see_user(odd, org.cat.id)
    with pytest.raises(PermissionDenied):
        acc.set_password(odd, "ann", "taken-over-1")
    with pytest.raises(PermissionDenied):
        acc.users(odd)


def test_an_admin_may_demote_and_deactivate_an_admin_made_before_them(org):
    """The refusals to demote or deactivate yourself compare ids for equality: an older admin has a lower id."""
    acc = org.app.accounts
    second = acc.create_user(org.admin, "second-admin", PW, "admin")
    assert second.id > org.admin.id
    assert acc.update_user(second, "root", role="lead").role == "lead"
    assert acc.update_user(second, "root", active=False).active is False
    with pytest.raises(AccountError, match="deactivate yourself"):
        acc.update_user(second, "second-admin", active=False)


def test_an_admin_keeping_their_role_from_a_form_is_not_refused(org):
    """The role arrives from the Admin tab's dropdown, a new string equal to "admin"."""
    acc = org.app.accounts
    assert acc.update_user(org.admin, "root", role=fresh("admin"), display_name="Root").role == "admin"
    with pytest.raises(AccountError, match="own admin role"):
        acc.update_user(org.admin, "root", role=fresh("lead"))


def test_saving_an_active_user_keeps_their_sessions_and_deactivating_ends_them(org):
    acc = org.app.accounts
    token = org.token(org.ann)
    acc.update_user(org.admin, "ann", active=True, display_name="Ann A.")        # the form saves the flag as it is
    assert acc.user_for_token(token).display_name == "Ann A."
    acc.update_user(org.admin, "ann", active=False)
    assert sessions_of(org, org.ann) == 0


def test_moving_a_user_changes_their_team_and_other_edits_keep_it(org):
    acc = org.app.accounts
    assert acc.update_user(org.admin, "ann", team="B").team_id == acc.team_by_name("B").id
    assert acc.update_user(org.admin, "ann", display_name="Ann B.").team_id == acc.team_by_name("B").id
    assert acc.update_user(org.admin, "ann", team="").team_id is None


def test_the_current_password_check_gets_no_known_address_exemption(org, store):
    """Guesses at an account from many addresses spend its budget; a sign-in from an address the user is known at is
    exempt, but the current-password check of the password form is not, even after an earlier change from the same
    form: an open session is not a way past the budget."""
    from datetime import datetime, timezone
    from trainer.accounts import ACCOUNT_FREE_FAILURES, Accounts, LoginFailed, TooManyAttempts
    t = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    acc = Accounts(store, clock=lambda: t)
    acc.change_own_password(org.ann, PW, "second-pass-1")
    for n in range(ACCOUNT_FREE_FAILURES):
        with pytest.raises(LoginFailed):
            acc.login("ann", "a wrong guess", ip=f"203.0.113.{n}")
    with pytest.raises(TooManyAttempts):
        acc.change_own_password(acc.by_username("ann"), "second-pass-1", "third-pass-1")


def test_an_expired_one_time_password_says_so_in_the_password_form(store, fast_hash):
    """Only a wrong current password is reworded ("Your current password is wrong."); the expiry keeps its own
    message, which says what to do."""
    from datetime import datetime, timezone
    from trainer.accounts import ONE_TIME_TTL, Accounts, LoginFailed
    t = [datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)]
    acc = Accounts(store, clock=lambda: t[0])
    admin = acc.create_admin("first-admin", "printed-once-1", one_time=True)
    with pytest.raises(LoginFailed, match="current password is wrong"):
        acc.change_own_password(admin, "not-the-password", "chosen-pass-1")
    t[0] += ONE_TIME_TTL
    with pytest.raises(LoginFailed, match="one-time password has expired"):
        acc.change_own_password(admin, "printed-once-1", "chosen-pass-1")


def test_a_new_password_typed_the_same_as_the_current_one_is_refused(org):
    """The two password fields are two strings: equal, not the same object."""
    acc = org.app.accounts
    with pytest.raises(AccountError, match="new password"):
        acc.change_own_password(org.ann, PW, fresh(PW))
    acc.login("ann", PW)                                                          # still the old password
    assert "zz-later-password" > PW
    acc.change_own_password(acc.by_username("ann"), PW, "zz-later-password")      # any other one is taken
    acc.login("ann", "zz-later-password")


def test_a_token_of_an_inactive_account_is_refused_even_if_its_session_is_left(org):
    """Deactivating through Accounts ends the sessions; a row switched off any other way (a script, another process
    mid-request) must still not sign anybody in."""
    token = org.token(org.ann)
    with org.app.store.session() as s:
        row = s.get(User, org.ann.id)
        row.active = False
        s.add(row)
        s.commit()
    assert sessions_of(org, org.ann) == 1
    with pytest.raises(NotLoggedIn, match="not active"):
        org.app.accounts.user_for_token(token)


def test_a_session_ends_at_its_expiry_time(store, fast_hash):
    from datetime import datetime, timezone
    from trainer.accounts import SESSION_TTL, Accounts
    t = [datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)]
    acc = Accounts(store, clock=lambda: t[0])
    acc.create_admin("boss", PW)
    token = acc.login("boss", PW)
    t[0] += SESSION_TTL - timedelta(seconds=1)
    assert acc.user_for_token(token).username == "boss"
    t[0] += timedelta(seconds=1)
    with pytest.raises(NotLoggedIn, match="expired"):
        acc.user_for_token(token)


# ---------------------------------------------------------------------- calls
def big_id_trainee(org, user_id: int = 1000) -> User:
    """A trainee whose id is past CPython's small-integer cache (ids above 256 are every real deployment's)."""
    with org.app.store.session() as s:
        s.add(User(id=user_id, username="zara", display_name="Zara", role="trainee", password_hash=hash_password(PW)))
        s.commit()
    user = org.app.accounts.by_username("zara")
    org.app.accounts.trainee_record(user)
    return user


def test_a_trainee_with_a_large_id_continues_their_own_call(org):
    zara = big_id_trainee(org)
    call = org.app.start_call(None, DANA_ID, user=zara)
    again = org.app.accounts.by_username("zara")                                  # each request loads the user anew
    org.app.say(call.id, "Hello, Brightwave, this is Zara.", actor=again)
    assert org.app.end_call(call.id, org.app.accounts.by_username("zara")).overall >= 0
    with pytest.raises(PermissionDenied):
        org.app.say(call.id, "hello", actor=org.ann)
    assert org.app.view(call.id, org.app.accounts.by_username("zara")).record.id == call.id
    org.app.accounts.change_own_password(org.app.accounts.by_username("zara"), PW, "zaras-new-pass")   # her own password
    org.app.accounts.login("zara", "zaras-new-pass")


def test_an_admin_with_a_large_id_cannot_deactivate_themselves(org):
    with org.app.store.session() as s:
        s.add(User(id=1002, username="ada", display_name="Ada", role="admin", password_hash=hash_password(PW)))
        s.commit()
    acc = org.app.accounts
    with pytest.raises(AccountError, match="deactivate yourself"):
        acc.update_user(acc.by_username("ada"), "ada", active=False)
    with pytest.raises(AccountError, match="own admin role"):
        acc.update_user(acc.by_username("ada"), "ada", role="lead")


def test_a_lead_with_a_large_id_sees_their_team(org):
    acc = org.app.accounts
    with org.app.store.session() as s:
        s.add(User(id=1001, username="lars", display_name="Lars", role="lead", password_hash=hash_password(PW)))
        s.commit()
    acc.set_team_lead(org.admin, "A", "lars")
    call = org.app.start_call(None, DANA_ID, user=org.ann)
    assert acc.can_see_user(acc.by_username("lars"), org.ann.id)
    assert org.app.view(call.id, acc.by_username("lars")).record.id == call.id


def test_a_curriculum_module_starts_by_its_id_and_a_locked_one_is_refused(org):
    call = org.app.start_call(None, None, user=org.ann, curriculum_id="onboarding-week-1", module_id="calm-caller")
    record = org.app.store.get_call(call.id)
    assert (record.scenario_id, record.module_id) == ("router-walter", "calm-caller")
    with pytest.raises(PermissionDenied, match="locked"):
        org.app.start_call(None, None, user=org.ann, curriculum_id="onboarding-week-1", module_id="billing-basics")


# ---------------------------------------------------------------------- studio
def test_a_try_out_answers_its_trainer_on_every_request_and_nobody_else(org):
    acc = org.app.accounts
    zoe = acc.create_user(org.admin, "zoe", PW, "trainer")
    studio = Studio(org.app)
    dana = (ROOT / "personas" / f"{DANA_ID}.yaml").read_text(encoding="utf-8")
    rid = studio.start_try(dana, actor=org.trainer, use_model=False)
    assert studio.try_say(rid, "Hello, Brightwave, Tim speaking.", actor=acc.by_username("tim")).text   # a later request
    for other in (zoe, org.admin):                                                # names after and before "tim"
        with pytest.raises(ValueError, match="start a try-out"):
            studio.rehearsal(rid, actor=other)
    rid_zoe = studio.start_try(dana, actor=zoe, use_model=False)
    with pytest.raises(ValueError, match="start a try-out"):
        studio.rehearsal(rid_zoe, actor=org.trainer)


def test_a_trainee_cannot_list_another_users_calls_by_name(org):
    """calls_of takes a name too (the CLI's form): for a signed-in user the name is looked up and checked, and only
    the trusted local process reads a typed-in trainee's calls straight from the store."""
    app = org.app
    bobs = app.start_call(None, DANA_ID, user=org.bob).id
    with pytest.raises(PermissionDenied):
        app.calls_of("bob", org.ann)
    assert [c.id for c in app.calls_of("bob", org.lead_a)] == [bobs]             # his lead may, by name too
    typed = app.start_call("Riley Chen", DANA_ID, user=SYSTEM).id                 # a CLI trainee with no account
    assert [c.id for c in app.calls_of("Riley Chen", SYSTEM)] == [typed]


def test_the_cli_starts_a_curriculum_module_by_its_id(org):
    call = org.app.start_call("Riley Chen", None, user=SYSTEM, curriculum_id="onboarding-week-1", module_id="billing-basics")
    record = org.app.store.get_call(call.id)
    assert (record.scenario_id, record.module_id) == ("double-billed-dana", "billing-basics")


# ---------------------------------------------------------------------- the web boundary (trainer/ui_guard.py)
class FakeAccounts:
    """Token -> principal, as Accounts.user_for_token answers: "good" is a signed-in user, "must-change" one who still
    has a one-time password (refused except where allow_password_change), anything else nobody."""

    def __init__(self):
        self.asked: list[tuple[str | None, bool]] = []

    def user_for_token(self, token, *, allow_password_change=False):
        self.asked.append((token, allow_password_change))
        if token == "good":
            return "a user"
        if token == "must-change":
            if allow_password_change:
                return "a user with a one-time password"
            raise PasswordChangeRequired("Change your one-time password first.")
        raise NotLoggedIn("Please log in.")


class FakeApp:
    def __init__(self):
        self.accounts = FakeAccounts()


def guarded_page():
    """A page with one event of each kind the guard handles, and the app it resolves tokens with."""
    import gradio as gr

    ran: list[str] = []
    with gr.Blocks() as demo:
        token = gr.State("")
        box, out = gr.Textbox(), gr.Textbox()

        def on_login(name):                      # exempt by name
            ran.append("login")
            return name

        def on_echo(tok, text):                  # takes the token itself
            ran.append("echo")
            return f"{tok}:{text}"

        def on_upper(text):                      # no token: the guard adds it, checks it and drops it
            ran.append("upper")
            return text.upper()

        def on_stream(tok, text):
            ran.append("stream")
            yield text
            yield text + "!"

        def on_stream_plain(text):
            ran.append("stream_plain")
            yield text.lower()

        def on_first_password(tok, text):       # allowed with a one-time password
            ran.append("first_password")
            return "changed"

        def on_refresh():                        # no inputs at all
            ran.append("refresh")
            return "fresh"

        def on_fails(tok, text):
            raise ValueError("Type a <b>reply</b> first.")

        def on_stream_fails(tok, text):
            yield "a first part"
            raise ValueError("The <i>customer</i> hung up.")

        def on_breaks(tok, text):
            raise RuntimeError("'dict' object has no attribute 'encode'")

        box.change(None, js="() => 1")           # a browser-only event, first: no server function, and the rest still guarded
        box.submit(on_login, [box], out)
        box.submit(on_echo, [token, box], out)
        box.submit(on_upper, [box], out)
        box.submit(on_stream, [token, box], out)
        box.submit(on_stream_plain, [box], out)
        box.submit(on_first_password, [token, box], out)
        box.blur(on_refresh, None, out)
        box.submit(on_fails, [token, box], out)
        box.submit(on_breaks, [token, box], out)
        box.submit(on_stream_fails, [token, box], out)
    fns = {bf.name: bf for bf in demo.fns.values() if bf.name}
    return demo, token, FakeApp(), fns, ran


def test_guard_events_wraps_every_event_but_the_exempt_ones():
    from trainer.ui_guard import guard_events
    demo, token, app, fns, ran = guarded_page()
    login_fn = fns["on_login"].fn
    names = guard_events(demo, token, app)
    assert names == ["on_echo", "on_upper", "on_stream", "on_stream_plain", "on_first_password", "on_refresh", "on_fails",
                     "on_breaks", "on_stream_fails"]
    for name in names:
        assert fns[name].api_visibility == "private" and fns[name].inputs[0] is token, name
        assert fns[name].fn.__frontline_guarded__ is True
    assert fns["on_login"].api_visibility == "public" and fns["on_login"].inputs[0] is not token   # runs as it was
    assert fns["on_login"].fn("ann") == "ann" and fns["on_login"].fn is not login_fn and ran == ["login"]
    assert [len(fns[n].inputs) for n in ("on_echo", "on_upper", "on_refresh")] == [2, 2, 1]       # the token added once, where missing
    assert guard_events(demo, token, app) == [] and len(fns["on_upper"].inputs) == 2   # a second call changes nothing


def test_a_guarded_event_runs_only_for_a_signed_in_principal():
    import gradio as gr
    from trainer.ui_guard import guard_events
    demo, token, app, fns, ran = guarded_page()
    guard_events(demo, token, app)
    assert fns["on_echo"].fn("good", "hi") == "good:hi"                          # the handler gets the token
    assert fns["on_upper"].fn("good", "hi") == "HI"                              # ... or not, when it never took it
    assert list(fns["on_stream"].fn("good", "hi")) == ["hi", "hi!"]
    assert list(fns["on_stream_plain"].fn("good", "HI")) == ["hi"]
    assert fns["on_refresh"].fn("good") == "fresh"
    assert ran == ["echo", "upper", "stream", "stream_plain", "refresh"]
    ran.clear()
    with pytest.raises(gr.Error):
        fns["on_refresh"].fn("forged")
    for name in ("on_echo", "on_upper", "on_first_password"):
        for tok, quiet in (("", True), (None, True), ("forged", False)):
            with pytest.raises(gr.Error) as refused:
                fns[name].fn(tok, "hi")
            assert refused.value.visible is not quiet and "log in" in refused.value.message, (name, tok)
            assert refused.value.print_exception is False
    for name in ("on_stream", "on_stream_plain"):
        with pytest.raises(gr.Error):
            next(fns[name].fn("forged", "hi"))
    assert ran == []                                                             # no handler ran for nobody


def test_a_one_time_password_opens_only_the_password_change():
    import gradio as gr
    from trainer.ui_guard import guard_events
    demo, token, app, fns, ran = guarded_page()
    guard_events(demo, token, app)
    assert fns["on_first_password"].fn("must-change", "new") == "changed"
    assert app.accounts.asked[-1] == ("must-change", True)
    with pytest.raises(gr.Error, match="one-time password"):
        fns["on_echo"].fn("must-change", "hi")
    assert app.accounts.asked[-1] == ("must-change", False) and ran == ["first_password"]


def test_errors_leave_the_boundary_as_plain_messages():
    import gradio as gr
    from trainer.ui_guard import UNEXPECTED_MESSAGE, guard_events
    demo, token, app, fns, ran = guarded_page()
    guard_events(demo, token, app)
    with pytest.raises(gr.Error) as expected:
        fns["on_fails"].fn("good", "hi")
    assert expected.value.message == "Type a &lt;b&gt;reply&lt;/b&gt; first." and expected.value.print_exception is False
    with pytest.raises(gr.Error) as unexpected:
        fns["on_breaks"].fn("good", "hi")
    assert unexpected.value.message == UNEXPECTED_MESSAGE and "dict" not in unexpected.value.message
    stream = fns["on_stream_fails"].fn("good", "hi")
    assert next(stream) == "a first part"
    with pytest.raises(gr.Error) as streamed:
        next(stream)
    assert streamed.value.message == "The &lt;i&gt;customer&lt;/i&gt; hung up."


def test_the_token_must_come_first_and_untokened_handlers_stay_plain():
    import gradio as gr
    from trainer.ui_guard import _wrap, guard_events
    with gr.Blocks() as demo:
        token, box = gr.State(""), gr.Textbox()
        box.submit(lambda text, tok: text, [box, token], box)
    with pytest.raises(TypeError, match="first input"):
        guard_events(demo, token, FakeApp())

    def plain(text, n=1):
        return text * n

    def with_progress(text, progress=gr.Progress()):
        return text

    def annotated(text: str) -> str:
        return text

    def resolve(tok, allow_change):
        return "a user"
    wrapped = _wrap(plain, resolve, pass_token=False, allow_change=False)
    assert list(inspect.signature(wrapped).parameters) == ["session_token", "text", "n"]
    assert wrapped.__name__ == "plain" and wrapped("good", "ab", n=2) == "abab"
    for fn in (with_progress, annotated):
        with pytest.raises(TypeError, match="session token"):
            _wrap(fn, resolve, pass_token=False, allow_change=False)
    kept = _wrap(annotated, resolve, pass_token=True, allow_change=False)      # with the token: its signature is kept
    assert kept.__name__ == "annotated" and kept.__wrapped__ is annotated


# ---------------------------------------------------------------------- the fatal criteria (trainer/grader)
def verify_level(text: str, persona=None) -> float | None:
    from trainer.grader.checks import DETECTORS, CallContext
    from trainer.transcripts import parse_transcript
    return DETECTORS["verify_before_disclosure"](CallContext(turns=parse_transcript(text), persona=persona)).level


def dana_with(dana, **facts):
    return dana.model_copy(update={"facts": dana.facts.model_copy(update=facts)})


VERIFY = "Agent: Can I take your postcode and date of birth?\nCustomer: BT7 1NN, 14 March 1986.\n"


def test_repeating_what_the_customer_said_before_verifying_is_no_disclosure(dana):
    text = ("Agent: Thank you for calling Brightwave, my name is Sam.\nCustomer: Two charges were taken on 3 November!\n"
            "Agent: I'm sorry that two charges were taken on 3 November.\nCustomer: Yes.\n" + VERIFY)
    assert verify_level(text, dana) == 1.0


def test_disclosing_in_the_line_that_asks_to_verify_is_still_disclosing(dana):
    text = ("Agent: Thank you for calling Brightwave, my name is Sam.\nCustomer: There's a problem with my bill.\n"
            "Agent: I see two charges on 3 November. Can I take your postcode and date of birth?\n"
            "Customer: BT7 1NN, 14 March 1986.\n")
    assert verify_level(text, dana) == 0.0


def test_disclosing_before_verifying_is_fatal_even_when_verified_later_or_echoed(dana):
    """The account's detail came from the agent first: the customer echoing it afterwards, or a verification later in
    the call, does not undo the disclosure."""
    text = ("Agent: Thank you for calling Brightwave, my name is Sam.\nCustomer: There's a problem with my bill.\n"
            "Agent: I can see two charges were taken on 3 November.\nCustomer: Yes, on 3 November.\n" + VERIFY)
    assert verify_level(text, dana) == 0.0
    after = ("Agent: Thank you for calling Brightwave, my name is Sam.\nCustomer: There's a problem with my bill.\n" + VERIFY
             + "Agent: Thank you. I can see two charges were taken on 3 November.\n")
    assert verify_level(after, dana) == 1.0


def test_which_account_details_count_as_private(dana):
    """Values of four characters or more, the email included; a shorter one ("Pro") is a common word, not a secret."""
    never = "Agent: Thank you for calling Brightwave, my name is Sam.\nCustomer: Hi.\nAgent: {line}\nCustomer: Okay.\n"
    assert verify_level(never.format(line="Our Pro plan is popular."), dana_with(dana, plan="Pro")) == 0.5   # never verified
    assert verify_level(never.format(line="You're on Gold, I see."), dana_with(dana, plan="Gold")) == 0.0
    assert verify_level(never.format(line="I have dana@example.com on file."), dana_with(dana, email="dana@example.com")) == 0.0


def test_without_a_persona_a_call_never_verified_is_a_fatal_error(catalog):
    from trainer.grader import Grader
    from trainer.transcripts import parse_transcript
    text = "Agent: Thank you for calling Brightwave, my name is Sam.\nCustomer: My bill is wrong.\nAgent: I'll fix it now.\n"
    assert verify_level(text) == 0.0
    card = Grader(catalog.rubrics["default"]).grade(parse_transcript(text))
    assert "verify_before_disclosure" in [f.id for f in card.fatal_errors] and card.overall == 0 and not card.passed


def test_an_unauthorised_promise_is_a_fatal_error(catalog):
    from trainer.grader import Grader
    from trainer.grader.checks import DETECTORS, CallContext
    from trainer.transcripts import parse_transcript
    from .test_grader import GOOD
    promised = GOOD.replace("That's our mistake.", "That's our mistake, and I promise this will never happen again.")
    turns = parse_transcript(promised)
    assert DETECTORS["no_unauthorised_promise"](CallContext(turns=turns)).level == 0.0
    sc = catalog.scenarios[DANA_ID]
    card = Grader(catalog.rubrics["default"]).grade(turns, persona=catalog.persona_for(sc), scenario=sc)
    assert [f.id for f in card.fatal_errors] == ["no_unauthorised_promise"]
    assert card.overall == 0 and card.raw_overall > 0 and not card.passed


def test_a_fatal_criterion_that_does_not_apply_is_no_fatal_error(catalog):
    """A rubric may mark any criterion fatal; on a call where it does not apply (an offer criterion on a call with no
    offer) it is n/a, not a fatal error."""
    from trainer.grader import Grader
    from trainer.transcripts import parse_transcript
    from .test_grader import GOOD
    rubric = catalog.rubrics["default"]
    strict = rubric.model_copy(update={"criteria": [c.model_copy(update={"fatal": True}) if c.detector == "accepts_no" else c
                                                    for c in rubric.criteria]})
    assert any(c.fatal and c.detector == "accepts_no" for c in strict.criteria)
    sc = catalog.scenarios[DANA_ID]
    card = Grader(strict).grade(parse_transcript(GOOD), persona=catalog.persona_for(sc), scenario=sc)
    assert card.fatal_errors == [] and card.passed


def test_a_score_equal_to_the_pass_mark_passes(catalog):
    from trainer.grader import Grader
    from trainer.transcripts import parse_transcript
    from .test_grader import GOOD
    sc = catalog.scenarios[DANA_ID]
    grader, turns, persona = Grader(catalog.rubrics["default"]), parse_transcript(GOOD), catalog.persona_for(sc)
    raw = grader.grade(turns, persona=persona, scenario=sc).raw_overall
    assert grader.grade(turns, persona=persona, scenario=sc, pass_score=raw).passed
    assert not grader.grade(turns, persona=persona, scenario=sc, pass_score=raw + 0.1).passed


def test_abusive_language_is_a_fatal_error_quoting_the_first_abuse(catalog):
    from trainer.grader import Grader
    from trainer.grader.checks import DETECTORS, CallContext
    from trainer.transcripts import parse_transcript
    text = ("Agent: Thank you for calling Brightwave, my name is Sam.\nCustomer: You charged me twice!\n"
            "Agent: Don't be stupid, read your statement.\nCustomer: How dare you.\nAgent: Oh shut up.\nCustomer: Bye.\n")
    turns = parse_transcript(text)
    result = DETECTORS["no_abuse"](CallContext(turns=turns))
    assert result.level == 0.0 and result.evidence[0][0] == 3 and "stupid" in result.evidence[0][1]
    card = Grader(catalog.rubrics["default"]).grade(turns)
    assert "no_abusive_language" in [f.id for f in card.fatal_errors] and card.overall == 0 and not card.passed


def test_the_address_counts_as_private_and_the_note_says_when_nobody_verified(dana):
    from trainer.grader.checks import DETECTORS, CallContext
    from trainer.transcripts import parse_transcript
    persona = dana_with(dana, address="12 Ormeau Road, Belfast")
    early = ("Agent: Thank you for calling Brightwave, my name is Sam.\nCustomer: Hi.\n"
             "Agent: Is this still 12 Ormeau Road, Belfast?\nCustomer: Yes.\n")
    assert verify_level(early, persona) == 0.0
    unverified = "Agent: Thank you for calling Brightwave, my name is Sam.\nCustomer: Hi.\n"
    check = DETECTORS["verify_before_disclosure"]
    assert check(CallContext(turns=parse_transcript(unverified), persona=dana)).note == "identity never verified"
    assert check(CallContext(turns=parse_transcript(unverified + VERIFY), persona=dana)).note == ""
    assert verify_level(unverified + VERIFY) == 1.0                             # no persona: verifying is what counts


def test_a_lead_does_not_see_someone_in_no_team(org):
    acc = org.app.accounts
    loner = acc.create_user(org.admin, "lone", PW, "trainee")
    assert loner.team_id is None
    assert not acc.can_see_user(org.lead_a, loner.id) and not acc.can_see_user(org.lead_a, org.trainer.id)
    assert acc.can_see_user(org.lead_a, org.ann.id)


def test_display_names_keep_80_characters(org):
    acc = org.app.accounts
    assert acc.update_user(org.admin, "ann", display_name="A" * 80).display_name == "A" * 80
    assert acc.update_user(org.admin, "ann", display_name="B" * 81).display_name == "B" * 80
