"""`trainer seed-demo`: a demo team with realistic histories, so a new install shows a populated dashboard.

The calls are real: each one plays a scripted agent (the agent lines of the labelled calls in
`calibration/`, from poor to excellent) through the real director, with a deterministic customer
standing in for the LLM, and is graded by the real grader. Trainees take their curriculum modules
through the same unlock rules as in the app; a stronger trainee draws better scripts and improves
with practice, a weaker one fails and retries. Only the dates are moved back, to spread the history
over the past three weeks.
"""
from __future__ import annotations

import json
import random
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from .accounts import Accounts, User
from .config import ROOT
from .llm.fake import FakeLLM
from .progress import Assignment
from .store import CallRecord, ScorecardRecord, TurnRecord, now

TEAM_A, TEAM_B = "Team Aurora", "Team Borealis"


@dataclass
class DemoPerson:
    username: str
    name: str
    role: str
    team: str | None = None
    skill: float = 0.5           # 0 poor … 1 excellent: which scripts they draw
    calls: int = 0               # how many calls of history
    learns: float = 0.04         # skill gained per call


PEOPLE = [
    DemoPerson("lena.fischer", "Lena Fischer", "lead"),
    DemoPerson("omar.haddad", "Omar Haddad", "lead"),
    DemoPerson("tariq.ahmed", "Tariq Ahmed", "trainer"),
    DemoPerson("sam.patel", "Sam Patel", "trainee", TEAM_A, skill=0.8, calls=11, learns=0.03),
    DemoPerson("mia.chen", "Mia Chen", "trainee", TEAM_A, skill=0.65, calls=8),
    DemoPerson("jo.okafor", "Jo Okafor", "trainee", TEAM_A, skill=0.45, calls=9, learns=0.02),
    DemoPerson("leo.novak", "Leo Novak", "trainee", TEAM_A, skill=0.25, calls=7, learns=0.02),
    DemoPerson("ava.rossi", "Ava Rossi", "trainee", TEAM_A, skill=0.55, calls=2),
    DemoPerson("noah.kim", "Noah Kim", "trainee", TEAM_B, skill=0.6, calls=5),
    DemoPerson("zoe.ward", "Zoe Ward", "trainee", TEAM_B, skill=0.4, calls=4),
]

COMMENTS = {
    "leo.novak": "Good energy on this one, Leo. Before you say anything about the account, ask for the postcode and date of "
                 "birth — that's a fail in a real QA review. Let's role-play verification on Thursday.",
    "jo.okafor": "You solved it, but you went straight to the fix. Acknowledge how she feels first (\"I can hear how stressful "
                 "this bill is\"), then restate the problem. Try the angry-caller module again with that in mind.",
    "mia.chen": "Lovely restating at the start. Next step: give the reference number and the date out loud before you close.",
}


def scripted_customer(catalog) -> FakeLLM:
    """A deterministic customer: answers with exactly the facts the director's stage direction asks for."""
    values: set[str] = set()
    for p in catalog.personas.values():
        values.update(str(v) for v in p.facts.verification.values())
        values.update([str(p.facts.account_number), p.facts.full_name])

    def respond(prompt: str) -> str:
        directions = re.findall(r"\[([^\]]*)\]", prompt)
        last = directions[-1] if directions else ""
        given = sorted(v for v in values if v and v in last)
        return ("Sure, " + " and ".join(given) + ". " if given else "") + "I just want this sorted out, please."
    return FakeLLM(responder=respond, name="scripted-demo-customer")


def agent_scripts(directory: Path | None = None) -> dict[str, list[tuple[float, list[str]]]]:
    """Per scenario: (human overall label, agent lines) from the labelled calls, lowest label first."""
    out: dict[str, list[tuple[float, list[str]]]] = {}
    for f in sorted((directory or ROOT / "calibration").glob("*.json")):
        data = json.loads(f.read_text(encoding="utf-8"))
        if data.get("flags_expected") or "injection" in f.name:      # a deliberate attack on the grader is no demo history
            continue
        lines = [t["text"] for t in data["turns"] if t["speaker"] == "agent"]
        out.setdefault(data["scenario"], []).append((float(data.get("overall", 50)), lines))
    for v in out.values():
        v.sort(key=lambda x: x[0])
    return out


def _pick(scripts: list[tuple[float, list[str]]], skill: float, rng: random.Random) -> list[str]:
    target = max(0.0, min(1.0, skill + rng.uniform(-0.25, 0.25)))
    i = min(len(scripts) - 1, int(target * len(scripts)))
    return scripts[i][1]


def play(app, user: User, scenario_id: str | None, lines: list[str], *, curriculum_id: str | None = None, module_id: str | None = None) -> str:
    session = app.start_call(None, scenario_id, user=user, curriculum_id=curriculum_id, module_id=module_id)
    for line in lines:
        if session.ended:
            break
        reply = app.say(session.id, line, actor=user)
        if reply.error:
            break
    app.end_call(session.id, actor=user)
    return session.id


def _backdate(app, call_id: str, when, rng: random.Random) -> None:
    """Move a call into the past, with turns spaced as a spoken call would be (12–40 s apart)."""
    with app.store.session() as s:
        call = s.get(CallRecord, call_id)
        t = when
        for turn in s.exec(select(TurnRecord).where(TurnRecord.call_id == call_id).order_by(TurnRecord.idx)):
            turn.started_at = t
            t += timedelta(seconds=rng.uniform(12, 40))
            turn.ended_at = t
            s.add(turn)
        call.started_at, call.ended_at, call.updated_at = when, t + timedelta(seconds=3), t + timedelta(seconds=3)
        for c in s.exec(select(ScorecardRecord).where(ScorecardRecord.call_id == call_id)):
            c.created_at = t + timedelta(seconds=5)
            s.add(c)
        s.add(call)
        s.commit()


def seed_demo(app, *, admin_password: str | None = None, password: str | None = None, seed: int = 7, log=print) -> dict:
    """Create the demo team and play its history. Returns {'admin': (user, password) or None, 'password': str, 'calls': n}."""
    accounts: Accounts = app.accounts
    try:
        accounts.by_username("lena.fischer")
        raise ValueError("The demo team is already there (user lena.fischer exists). Use a fresh FRONTLINE_HOME to seed again.")
    except ValueError as exc:
        if "already there" in str(exc):
            raise
    rng = random.Random(seed)
    result: dict = {"admin": None}
    if not accounts.admin_exists():
        admin_password = admin_password or secrets.token_urlsafe(9)
        accounts.create_admin("admin", admin_password, "Administrator")
        result["admin"] = ("admin", admin_password)
    admin = next(u for u in accounts.users(_system_admin(accounts)) if u.role == "admin")
    password = password or secrets.token_urlsafe(9)
    result["password"] = password
    users: dict[str, User] = {}
    for p in PEOPLE:
        users[p.username] = accounts.create_user(admin, p.username, password, p.role, display_name=p.name)
    accounts.create_team(admin, TEAM_A, lead="lena.fischer")
    accounts.create_team(admin, TEAM_B, lead="omar.haddad")
    for p in PEOPLE:
        if p.team:
            users[p.username] = accounts.update_user(admin, p.username, team=p.team)

    start = now() - timedelta(days=20)
    lena, omar = users["lena.fischer"], users["omar.haddad"]
    team_a, team_b = accounts.team_by_name(TEAM_A), accounts.team_by_name(TEAM_B)
    assigned = [app.dashboard.assign(lena, curriculum_id="onboarding-week-1", team_id=team_a.id, due=(now() - timedelta(days=2)).date(),
                                     note="Finish onboarding before you go live on the phones."),
                app.dashboard.assign(lena, curriculum_id="sales-track", usernames=["sam.patel", "mia.chen"],
                                     due=(now() + timedelta(days=10)).date(), note="Sales track for the upsell pilot."),
                app.dashboard.assign(lena, scenario_id="outage-frank", usernames=["leo.novak", "jo.okafor"],
                                     due=(now() + timedelta(days=1)).date(), note="Practise a supervisor demand before Friday."),
                app.dashboard.assign(omar, curriculum_id="onboarding-week-1", team_id=team_b.id, due=(now() + timedelta(days=5)).date())]
    with app.store.session() as s:                                      # the assignments were made at the start of the history
        for rows in assigned:
            for a in rows:
                row = s.get(Assignment, a.id)
                row.created_at = start - timedelta(hours=1)
                s.add(row)
        s.commit()

    scripts = agent_scripts()
    onboarding = app.catalog.curricula.get("onboarding-week-1")
    sales = app.catalog.curricula.get("sales-track")
    count = 0
    for p in (p for p in PEOPLE if p.role == "trainee"):
        user = users[p.username]
        skill = p.skill
        when = start + timedelta(days=rng.uniform(0, 2), hours=rng.uniform(0, 6))
        gap = 18.0 / max(1, p.calls)
        made: list[str] = []
        for _ in range(p.calls):
            plan = None
            for cur in (onboarding, sales):
                if cur is None or (cur is sales and p.username not in ("sam.patel", "mia.chen")):
                    continue
                nxt = app.progress.curriculum_progress(user, user, cur.id).next_module()
                if nxt is not None:
                    plan = (cur.id, nxt.module.id, nxt.module.scenario)
                    break
            if plan is None or rng.random() < 0.15:                      # now and then, free practice on a weak spot
                recs = app.progress.what_next(user, user)
                sid = next((r.scenario_id for r in recs if r.kind == "scenario"), rng.choice(sorted(app.catalog.scenarios)))
                call_id = play(app, user, sid, _pick(scripts[sid], skill, rng))
            else:
                cid, mid, sid = plan
                call_id = play(app, user, None, _pick(scripts[sid], skill, rng), curriculum_id=cid, module_id=mid)
            _backdate(app, call_id, when, rng)
            made.append(call_id)
            count += 1
            skill = min(1.0, skill + p.learns)
            when += timedelta(days=gap * rng.uniform(0.7, 1.3), hours=rng.uniform(-3, 3))
            when = min(when, now() - timedelta(hours=rng.uniform(1, 20)))
        log(f"  {p.name:10} {len(made)} calls")
        if p.username in COMMENTS and made:
            weakest = min(made, key=lambda c: app.store.scorecards(c)[-1].overall)
            app.dashboard.add_comment(lena, weakest, COMMENTS[p.username])
    result["calls"] = count
    result["users"] = [(p.username, p.role, p.team or "") for p in PEOPLE]
    return result


def _system_admin(accounts: Accounts) -> User:
    with accounts.store.session() as s:
        from .accounts import User as U
        return s.exec(select(U).where(U.role == "admin", U.active == True)).first()  # noqa: E712
