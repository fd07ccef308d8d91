"""Progress: unlock rules, attempts, best/last/medal, certificates, assessment mode, and 'what next'."""
from __future__ import annotations

from datetime import timedelta

import pytest

from trainer import ui_handlers as h
from trainer.accounts import PermissionDenied
from trainer.seed import agent_scripts, play
from trainer.store import now

from .people import fast_hash, make_org, record_call  # noqa: F401  (fast_hash is a fixture)

pytestmark = pytest.mark.usefixtures("fast_hash")
ONB = "onboarding-week-1"


@pytest.fixture
def org(store, catalog):
    return make_org(store, catalog)


def states(org, user, cid=ONB):
    return {m.module.id: m.status for m in org.app.progress.curriculum_progress(user, user, cid).modules}


def test_a_new_trainee_sees_the_first_module_only(org):
    s = states(org, org.ann)
    assert s == {"calm-caller": "available", "billing-basics": "locked", "complaint": "locked", "angry-caller": "locked", "escalation": "locked"}
    cp = org.app.progress.curriculum_progress(org.ann, org.ann, ONB)
    assert cp.modules[1].waiting_for == ["calm-caller"] and cp.percent == 0 and not cp.completed


def test_passing_unlocks_the_next_module_and_a_low_score_does_not(org):
    app, ann = org.app, org.ann
    pass_mark = app.catalog.curricula[ONB].module("calm-caller").pass_score
    record_call(app, ann, "router-walter", pass_mark - 1, curriculum_id=ONB, module_id="calm-caller")
    assert states(org, ann)["billing-basics"] == "locked"
    record_call(app, ann, "router-walter", pass_mark, curriculum_id=ONB, module_id="calm-caller")
    s = states(org, ann)
    assert s["calm-caller"] == "passed" and s["billing-basics"] == "available" and s["complaint"] == "locked"
    m = app.progress.curriculum_progress(ann, ann, ONB).modules[0]
    assert (m.attempts, m.best, m.last) == (2, pass_mark, pass_mark) and m.passed_at is not None and m.medal == "bronze"


def test_a_fatal_error_never_passes_a_module(org):
    record_call(org.app, org.ann, "router-walter", 95, curriculum_id=ONB, module_id="calm-caller", fatal=True)
    m = org.app.progress.curriculum_progress(org.ann, org.ann, ONB).modules[0]
    assert m.status == "available" and m.medal is None


def test_free_practice_does_not_count_towards_a_module(org):
    record_call(org.app, org.ann, "router-walter", 99)
    assert states(org, org.ann)["calm-caller"] == "available"


def test_attempts_run_out_and_a_new_assignment_grants_more(org):
    app, ann = org.app, org.ann
    for mid, sid in (("calm-caller", "router-walter"), ("billing-basics", "double-billed-dana"), ("complaint", "late-fee-lucas")):
        record_call(app, ann, sid, 99, curriculum_id=ONB, module_id=mid)
    angry = app.catalog.curricula[ONB].module("angry-caller")
    for _ in range(angry.max_attempts):
        app.progress.check_can_start(ann, ONB, "angry-caller")
        record_call(app, ann, "estimated-bill-amara", 20, curriculum_id=ONB, module_id="angry-caller", mode="assessment")
    assert states(org, ann)["angry-caller"] == "out_of_attempts"
    with pytest.raises(PermissionDenied, match="No attempts left"):
        app.progress.check_can_start(ann, ONB, "angry-caller")
    with pytest.raises(PermissionDenied, match="No attempts left"):
        h.start_call(app, org.token(ann), None, f"{ONB}/angry-caller")
    app.dashboard.assign(org.lead_a, curriculum_id=ONB, usernames=["ann"])       # assigned again: one more round
    m = next(m for m in app.progress.curriculum_progress(ann, ann, ONB).modules if m.module.id == "angry-caller")
    assert m.status == "available" and m.attempts_left == angry.max_attempts
    app.dashboard.assign(org.lead_a, curriculum_id=ONB, usernames=["ann"], due="2030-01-01")   # not out of attempts: just updated
    m = next(m for m in app.progress.curriculum_progress(ann, ann, ONB).modules if m.module.id == "angry-caller")
    assert m.attempts_left == angry.max_attempts and len(app.progress.assignments_of(ann.id)) == 1


def test_a_locked_module_cannot_be_started_through_the_ui(org):
    with pytest.raises(PermissionDenied, match="locked"):
        h.start_call(org.app, org.token(org.ann), None, f"{ONB}/escalation")
    assert org.app.store.calls() == []


def test_module_choices_offer_only_what_can_be_started(org):
    values = [v for _, v in h.module_choices(org.app, org.token(org.ann))]
    assert values == ["", f"{ONB}/calm-caller", "sales-track/consultative-upsell"]


def test_a_real_module_call_is_graded_against_the_module_pass_mark_and_unlocks(org, catalog):
    """Played through the director and graded by the real grader: the module's own pass mark decides."""
    app, ann = org.app, org.ann
    best_script = agent_scripts()["router-walter"][-1][1]
    call_id = play(app, ann, None, best_script, curriculum_id=ONB, module_id="calm-caller")
    rec = app.store.get_call(call_id)
    card = app.view(call_id, ann).scorecard
    module = catalog.curricula[ONB].module("calm-caller")
    assert rec.mode == module.mode and rec.curriculum_id == ONB and rec.module_id == "calm-caller"
    assert card.pass_score == module.pass_score
    passed = card.overall >= module.pass_score and not card.fatal_errors
    assert states(org, ann)["calm-caller"] == ("passed" if passed else "available")
    assert states(org, ann)["billing-basics"] == ("available" if passed else "locked")


def test_assessment_mode_hides_the_mood_meter_and_hints(org):
    app, ann = org.app, org.ann
    for mid, sid in (("calm-caller", "router-walter"), ("billing-basics", "double-billed-dana"), ("complaint", "late-fee-lucas")):
        record_call(app, ann, sid, 99, curriculum_id=ONB, module_id=mid)
    tok = org.token(ann)
    call_id, history, meter, mode = h.start_call(app, tok, None, f"{ONB}/angry-caller")
    assert mode == "assessment" and meter == "" and "counts" in history[0]["content"]
    assert app.store.get_call(call_id).mode == "assessment"
    updates = list(h.stream_turn(app, tok, call_id, "Good morning, Northpeak Energy, Ann speaking.", history))
    assert all(u[1] == "" for u in updates)
    assert "Call flow" not in h.brief_markdown(app, "estimated-bill-amara", "assessment")
    assert "Call flow" in h.brief_markdown(app, "estimated-bill-amara", "practice")
    md, _ = h.end_and_grade(app, tok, call_id)
    assert "Angry" in md or "angry" in md                                   # the module result line leads the scorecard
    practice_id, _, practice_meter, practice_mode = h.start_call(app, tok, "double-billed-dana")
    assert practice_mode == "practice" and "mood" in practice_meter


def test_completing_a_curriculum_issues_one_certificate_with_a_printable_page(org):
    app, ann = org.app, org.ann
    cur = app.catalog.curricula[ONB]
    for i, m in enumerate(cur.modules):
        record_call(app, ann, m.scenario, 80 + 4 * i, curriculum_id=ONB, module_id=m.id)
    cp = app.progress.curriculum_progress(ann, ann, ONB)
    assert cp.completed and cp.certificate is not None
    again = app.progress.curriculum_progress(ann, ann, ONB)
    assert again.certificate.code == cp.certificate.code
    certs = app.progress.certificates(ann, ann)
    assert [c.curriculum_id for c in certs] == [ONB]
    assert certs[0].average_score == pytest.approx(sum(80 + 4 * i for i in range(len(cur.modules))) / len(cur.modules), abs=0.1)
    page = app.progress.certificate_html(ann, cp.certificate.code)
    assert "Ann" in page and cur.title in page and cp.certificate.code in page and "@page" in page
    assert app.progress.certificate_html(org.lead_a, cp.certificate.code)           # her lead may print it
    with pytest.raises(PermissionDenied):
        app.progress.certificate_html(org.bob, cp.certificate.code)
    with pytest.raises(PermissionDenied):
        app.progress.certificate_html(org.lead_b, cp.certificate.code)


def test_what_next_recommends_the_next_module_then_the_weakest_dimension(org):
    app, ann = org.app, org.ann
    recs = app.progress.what_next(ann, ann)
    assert recs[0].kind == "module" and recs[0].module_id == "calm-caller" and len(recs) == 1   # no calls yet: nothing to diagnose
    record_call(app, ann, "router-walter", 80, curriculum_id=ONB, module_id="calm-caller",
                dims={"de_escalation": 20, "empathy": 80, "resolution": 90})
    record_call(app, ann, "double-billed-dana", 60, dims={"de_escalation": 40, "empathy": 70, "resolution": 85})
    recs = app.progress.what_next(ann, ann)
    assert recs[0].module_id == "billing-basics"
    weak = recs[-1]
    assert weak.kind == "scenario" and weak.dimension == "de_escalation" and "average 30" in weak.reason
    kind = app.catalog.personas[app.catalog.scenarios[weak.scenario_id].persona].scenario_type.value
    assert kind in ("angry_caller", "escalation", "complaint")


def test_an_assignment_comes_first_in_what_next_and_shows_overdue(org):
    app, ann = org.app, org.ann
    app.dashboard.assign(org.lead_a, scenario_id="outage-frank", usernames=["ann"], due=(now() - timedelta(days=1)).date())
    recs = app.progress.what_next(ann, ann)
    assert recs[0].kind == "scenario" and recs[0].scenario_id == "outage-frank" and recs[0].due_at is not None
    [row] = app.progress.my_assignments(ann, ann)
    assert row["status"] == "overdue"
    from trainer.ui_dashboard import next_hint_markdown
    hint = next_hint_markdown(app, org.token(ann))
    assert "1 assignment(s) overdue" in hint and "Four days without internet" in hint
    record_call(app, ann, "outage-frank", 90)                                 # passed after it was assigned: done
    assert app.progress.my_assignments(ann, ann)[0]["status"] == "done"


def test_progress_of_someone_else_is_private(org):
    with pytest.raises(PermissionDenied):
        org.app.progress.all_progress(org.bob, org.ann)
    with pytest.raises(PermissionDenied):
        org.app.progress.what_next(org.lead_b, org.ann)
    assert org.app.progress.all_progress(org.lead_a, org.ann)
