"""Exports: CSV of sessions and scores, and xAPI (Experience API 1.0.3) statements for a learning record store.

Both only contain the calls the acting user may see. xAPI statements use the account form of the
actor (no e-mail addresses are needed), ADL verbs (`passed` / `failed` for graded calls), a scaled
score in [0, 1], ISO 8601 timestamps and durations, and a statement id derived from the call id so a
re-export sends the same statement again instead of a duplicate. CSV text cells that a spreadsheet would
run as a formula (= + - @ first) start with an apostrophe (trainer/text.py: csv_cell).
"""
from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime

from .accounts import Accounts, User, require_role
from .catalog import Catalog
from .progress import Attempt, aware, graded_calls
from .store import Store
from .text import csv_cell

XAPI_VERSION = "1.0.3"
VERBS = {
    "passed": ("http://adlnet.gov/expapi/verbs/passed", "passed"),
    "failed": ("http://adlnet.gov/expapi/verbs/failed", "failed"),
}
ACTIVITY_TYPE_CALL = "http://adlnet.gov/expapi/activities/simulation"
ACTIVITY_TYPE_MODULE = "http://adlnet.gov/expapi/activities/module"
ACTIVITY_TYPE_COURSE = "http://adlnet.gov/expapi/activities/course"
NAMESPACE = uuid.UUID("6f1c3e0a-7a51-4d43-9d0c-2c8f3b1e5a77")   # for deterministic statement ids


def _rows(store: Store, accounts: Accounts, actor: User, team_id: int | None) -> tuple[list[Attempt], dict[int, User]]:
    require_role(actor, "trainee", "trainer", "lead")
    people = accounts.visible_trainees(actor, team_id)
    by_trainee = {accounts.trainee_record(u).id: u for u in people}
    return graded_calls(store, list(by_trainee)), by_trainee


def sessions_csv(store: Store, catalog: Catalog, accounts: Accounts, actor: User, *, team_id: int | None = None) -> str:
    """One row per graded call: who, what, mode, curriculum module, when, outcome, overall and every dimension score."""
    attempts, people = _rows(store, accounts, actor, team_id)
    teams = {t.id: t.name for t in accounts.all_teams()}
    dims: list[str] = []
    for r in catalog.rubrics.values():
        dims += [d for d in r.dimensions if d not in dims]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["call_id", "username", "trainee", "team", "scenario_id", "scenario_title", "mode", "curriculum_id", "module_id",
                "status", "end_reason", "started_at", "ended_at", "duration_s", "overall", "passed", "pass_score", "fatal_errors",
                "final_mood", "rubric_id", "grader_model", *dims])
    for a in attempts:
        c, user = a.call, people[a.call.trainee_id]
        card = json.loads(a.card.result_json)
        by_dim = {d["id"]: d.get("score") for d in card.get("dimensions", [])}
        started, ended = aware(c.started_at), aware(c.ended_at)
        sc = catalog.scenarios.get(c.scenario_id)
        row = [c.id, user.username, user.display_name, teams.get(user.team_id, ""), c.scenario_id, sc.title if sc else "",
               c.mode, c.curriculum_id or "", c.module_id or "", c.status, c.end_reason or "", started.isoformat(),
               ended.isoformat() if ended else "", round((ended - started).total_seconds()) if ended else "",
               a.card.overall, a.card.passed, card.get("pass_score", ""), len(card.get("fatal_errors", [])),
               c.final_mood if c.final_mood is not None else "", a.card.rubric_id, a.card.grader_model,
               *["" if by_dim.get(d) is None else by_dim[d] for d in dims]]
        # every cell through csv_cell: a display name, team or title that starts with = + - @ would run as a formula
        w.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


def _iso(dt: datetime) -> str:
    return aware(dt).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    h, rem = divmod(int(round(seconds)), 3600)
    m, s = divmod(rem, 60)
    return "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "") + f"{s}S"


def xapi_statements(store: Store, catalog: Catalog, accounts: Accounts, actor: User, *, base_url: str = "https://frontline.example",
                    team_id: int | None = None) -> list[dict]:
    """One statement per graded call: actor (account), verb passed/failed, object = the scenario, result with the score."""
    base = base_url.rstrip("/")
    attempts, people = _rows(store, accounts, actor, team_id)
    out = []
    for a in attempts:
        c, user = a.call, people[a.call.trainee_id]
        sc = catalog.scenarios.get(c.scenario_id)
        passed = bool(a.card.passed)
        verb_id, verb_word = VERBS["passed" if passed else "failed"]
        started, ended = aware(c.started_at), aware(c.ended_at or c.updated_at)
        card = json.loads(a.card.result_json)
        stmt: dict = {
            "id": str(uuid.uuid5(NAMESPACE, f"{c.id}:{a.card.id}")),
            "actor": {"objectType": "Agent", "name": user.display_name, "account": {"homePage": base, "name": user.username}},
            "verb": {"id": verb_id, "display": {"en-US": verb_word}},
            "object": {"objectType": "Activity", "id": f"{base}/xapi/scenarios/{c.scenario_id}",
                       "definition": {"type": ACTIVITY_TYPE_CALL, "name": {"en-US": sc.title if sc else c.scenario_id},
                                      "description": {"en-US": f"Simulated customer call ({c.mode} mode)"}}},
            "result": {"score": {"scaled": round(min(100.0, max(0.0, a.card.overall)) / 100, 4), "raw": a.card.overall, "min": 0, "max": 100},
                       "success": passed, "completion": True, "duration": _duration((ended - started).total_seconds()),
                       "extensions": {f"{base}/xapi/ext/dimensions": {d["id"]: d.get("score") for d in card.get("dimensions", [])},
                                      f"{base}/xapi/ext/fatal-errors": [f["id"] for f in card.get("fatal_errors", [])]}},
            "context": {"registration": str(uuid.uuid5(NAMESPACE, c.id)), "platform": "Frontline", "language": "en-US",
                        "extensions": {f"{base}/xapi/ext/mode": c.mode, f"{base}/xapi/ext/call-id": c.id}},
            "timestamp": _iso(ended),
        }
        if c.curriculum_id:
            cur = catalog.curricula.get(c.curriculum_id)
            parent = {"objectType": "Activity", "id": f"{base}/xapi/curricula/{c.curriculum_id}/modules/{c.module_id}",
                      "definition": {"type": ACTIVITY_TYPE_MODULE}}
            grouping = {"objectType": "Activity", "id": f"{base}/xapi/curricula/{c.curriculum_id}",
                        "definition": {"type": ACTIVITY_TYPE_COURSE}}
            if cur is not None:
                grouping["definition"]["name"] = {"en-US": cur.title}
                try:
                    parent["definition"]["name"] = {"en-US": cur.module(c.module_id or "").title}
                except KeyError:
                    pass
            stmt["context"]["contextActivities"] = {"parent": [parent], "grouping": [grouping]}
        out.append(stmt)
    return out


def xapi_json(statements: list[dict]) -> str:
    """The body for POST /statements (an array of statements)."""
    return json.dumps(statements, indent=2, ensure_ascii=False)
