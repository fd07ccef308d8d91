"""The lead's dashboard data: team table, trends, most-missed criteria, assignments, coaching comments, and the demo seed."""
from __future__ import annotations

from datetime import timedelta

import pytest

from trainer import ui_dashboard as ud
from trainer import ui_handlers as h
from trainer.accounts import AccountError, PermissionDenied
from trainer.grader import Grader
from trainer.actor import Turn
from trainer.persona import Persona
from trainer.store import now

from .people import fast_hash, make_org, record_call  # noqa: F401  (fast_hash is a fixture)

pytestmark = pytest.mark.usefixtures("fast_hash")
ONB = "onboarding-week-1"


@pytest.fixture
def org(store, catalog):
    return make_org(store, catalog)


def test_team_table_counts_what_each_trainee_did(org):
    app = org.app
    record_call(app, org.ann, "router-walter", 80, curriculum_id=ONB, module_id="calm-caller", dims={"empathy": 60, "resolution": 100})
    record_call(app, org.ann, "double-billed-dana", 40, dims={"empathy": 20, "resolution": 60})
    record_call(app, org.cat, "late-fee-lucas", 90)                       # another team: not in Lea's table
    app.dashboard.assign(org.lead_a, curriculum_id=ONB, team_id=app.accounts.team_by_name("A").id, due=(now() - timedelta(days=1)).date())
    df = app.dashboard.team_table(org.lead_a).set_index("username")
    assert sorted(df.index) == ["ann", "bob"]
    ann, bob = df.loc["ann"], df.loc["bob"]
    assert ann["calls"] == 2 and ann["pass rate %"] == 50 and ann["avg score"] == 60.0
    assert ann["Empathy"] == 40 and ann["Resolution"] == 80
    assert ann["curricula"] == "1/5 modules" and ann["progress %"] == 20 and ann["overdue"] == 1
    assert bob["calls"] == 0 and bob["last activity"] == "never" and bob["overdue"] == 1
    with pytest.raises(PermissionDenied):
        app.dashboard.team_table(org.ann)
    with pytest.raises(PermissionDenied):
        app.dashboard.team_table(org.lead_a, app.accounts.team_by_name("B").id)
    admin_view = app.dashboard.team_table(org.admin)
    assert set(admin_view["username"]) == {"ann", "bob", "cat"}


def test_trends_are_per_call_and_dimension(org):
    app = org.app
    record_call(app, org.bob, "router-walter", 50, dims={"empathy": 30, "resolution": 70})
    record_call(app, org.bob, "router-walter", 70, dims={"empathy": 60, "resolution": 80})
    df = app.dashboard.trainee_trends(org.lead_a, "bob")
    emp = df[df["dimension"] == "Empathy"]                                # labelled as the rubric names it
    assert list(emp["score"]) == [30, 60] and list(emp["call"]) == [1, 2]
    assert list(df[df["dimension"] == "Overall"]["score"]) == [50, 70]
    with pytest.raises(PermissionDenied):
        app.dashboard.trainee_trends(org.lead_b, "bob")
    tok = org.token(org.lead_a)
    assert ud.default_trend_dimensions(app, tok, "bob") == ["Overall", "Empathy", "Resolution"]
    assert set(ud.trends_frame(app, tok, "bob", ["Overall"])["dimension"]) == {"Overall"}


def test_most_missed_criteria_are_ranked_by_share_of_calls(org):
    app = org.app
    record_call(app, org.ann, "router-walter", 50, missed=["apology", "restate_issue"])
    record_call(app, org.bob, "router-walter", 60, missed=["apology"], met=["restate_issue"])
    record_call(app, org.cat, "router-walter", 60, missed=["restate_issue", "apology"])    # team B: not counted for Lea
    df = app.dashboard.missed_criteria(org.lead_a).set_index("criterion")
    assert df.index[0] == "apology" and df.loc["apology", "missed %"] == 100 and df.loc["apology", "calls"] == 2
    assert df.loc["restate_issue", "missed %"] == 50 and df.loc["greeting", "missed %"] == 0


def test_assignments_to_a_team_and_to_people(org):
    app = org.app
    team_a = app.accounts.team_by_name("A").id
    rows = app.dashboard.assign(org.lead_a, scenario_id="outage-frank", team_id=team_a, due="2026-01-05", note="before Friday")
    assert sorted(app.accounts.get(r.user_id).username for r in rows) == ["ann", "bob"]
    with pytest.raises(PermissionDenied):
        app.dashboard.assign(org.lead_a, scenario_id="outage-frank", usernames=["cat"])
    with pytest.raises(PermissionDenied):
        app.dashboard.assign(org.ann, scenario_id="outage-frank", usernames=["bob"])
    with pytest.raises(AccountError):
        app.dashboard.assign(org.lead_a, usernames=["ann"])
    df = app.dashboard.team_assignments(org.lead_a)
    assert set(df["trainee"]) == {"Ann", "Bob"} and set(df["status"]) == {"overdue"} and set(df["due"]) == {"2026-01-05"}
    html = ud.assignments_html(app, org.token(org.bob))
    assert "OVERDUE" in html and "before Friday" in html
    msg = ud.assign(app, org.token(org.lead_a), "curriculum:sales-track", team_a, ["ann"], False, "", "")
    assert msg == "Assigned to 1 trainee(s)."
    app.dashboard.assign(org.lead_a, scenario_id="outage-frank", usernames=["ann"], due="2026-02-01")   # same thing again
    ann_rows = app.dashboard.team_assignments(org.lead_a).query("trainee == 'Ann' and what.str.contains('internet')")
    assert list(ann_rows["due"]) == ["2026-02-01"]                            # updated, not listed twice


def test_coaching_comments_reach_the_trainee(org):
    app = org.app
    call = record_call(app, org.ann, "double-billed-dana", 55)
    app.dashboard.add_comment(org.lead_a, call, "Verify <b>before</b> you read the account back.")
    with pytest.raises(PermissionDenied):
        app.dashboard.add_comment(org.lead_b, call, "not my team")
    with pytest.raises(PermissionDenied):
        app.dashboard.add_comment(org.bob, call, "I'm a trainee")
    with pytest.raises(PermissionDenied):
        app.dashboard.add_comment(org.ann, call, "commenting on myself")
    _, card_md, _ = h.open_call(app, org.token(org.ann), call)
    assert "Coaching comments" in card_md and "Lea Lead" in card_md and "Verify &lt;b&gt;before" in card_md


def test_exports_from_the_dashboard_are_files(org):
    app = org.app
    record_call(app, org.ann, "double-billed-dana", 55)
    tok = org.token(org.lead_a)
    csv_path = ud.export_file(app, tok, "csv", None)
    json_path = ud.export_file(app, tok, "xapi", None)
    assert open(csv_path).read().startswith("call_id,") and open(json_path).read().lstrip().startswith("[")


def test_seed_demo_builds_a_team_whose_scorecards_are_real(store, catalog):
    """Every seeded call was graded by the real grader: grading its stored transcript again gives the same score."""
    from trainer.seed import scripted_customer, seed_demo
    from trainer.service import Frontline
    app = Frontline(store=store, catalog=catalog, customer_backend=scripted_customer(catalog), use_judge=False, sleep=lambda s: None)
    result = seed_demo(app, admin_password="admin-pass-1", password="demo-pass-1", log=lambda *_: None)
    assert result["calls"] >= 40 and result["admin"] == ("admin", "admin-pass-1")
    lena = app.accounts.by_username("lena.fischer")
    table = app.dashboard.team_table(lena)
    assert len(table) == 5 and table["calls"].sum() > 30 and table["pass rate %"].nunique() > 2   # varied histories
    assert (table["overdue"] > 0).any() and app.dashboard.missed_criteria(lena)["missed %"].iloc[0] > 0
    sam = app.accounts.by_username("sam.patel")
    assert app.progress.certificates(sam, sam)                                    # someone finished onboarding
    for call in app.store.calls(limit=6):
        rec = app.store.scorecards(call.id)[-1]
        turns = [Turn(t.speaker, t.text) for t in app.store.turns(call.id)]
        moods = [call.start_mood] + [t.mood_after for t in app.store.turns(call.id) if t.speaker == "customer" and t.mood_after is not None]
        scenario = catalog.scenarios[call.scenario_id]
        regraded = Grader(catalog.rubrics[scenario.rubric]).grade(turns, persona=Persona.model_validate_json(call.persona_snapshot),
                                                                  scenario=scenario, mood=moods, pass_score=rec_pass(catalog, call))
        assert regraded.overall == rec.overall
    with pytest.raises(ValueError, match="already"):
        seed_demo(app, password="demo-pass-1", log=lambda *_: None)


def rec_pass(catalog, call):
    if call.curriculum_id:
        return catalog.curricula[call.curriculum_id].module(call.module_id).pass_score
    return None
