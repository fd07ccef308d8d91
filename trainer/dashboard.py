"""The team lead's dashboard, as data: team table, per-trainee trends, most-missed criteria, assignments
and coaching comments. Every function takes the acting user and only returns what that user may see."""
from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, time, timezone

import pandas as pd
from sqlmodel import Field, SQLModel, select

from .accounts import AccountError, Accounts, PermissionDenied, User, require_role
from .catalog import Catalog
from .progress import Assignment, Attempt, Progress, aware, graded_calls
from .store import CallRecord, NotFound, Store, Trainee, now
from .text import strip_bidi

MAX_COMMENT = 2000


class CoachingComment(SQLModel, table=True):
    __tablename__ = "coaching_comment"
    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", index=True)
    author_id: int = Field(foreign_key="app_user.id")
    criterion_id: str | None = None
    text: str
    created_at: datetime = Field(default_factory=now)


def _fmt(dt: datetime | None) -> str:
    return aware(dt).strftime("%Y-%m-%d %H:%M") if dt else ""


class Dashboard:
    def __init__(self, store: Store, catalog: Catalog, accounts: Accounts | None = None, progress: Progress | None = None):
        self.store = store
        self.catalog = catalog
        self.accounts = accounts or Accounts(store)
        self.progress = progress or Progress(store, catalog, self.accounts)

    # ------------------------------------------------------------------ helpers
    def _people(self, actor: User, team_id: int | None) -> list[User]:
        require_role(actor, "lead")
        return [u for u in self.accounts.visible_trainees(actor, team_id) if u.id != actor.id]

    def _trainee_map(self, people: list[User]) -> dict[int, User]:
        """Trainee row id -> user, for the given users."""
        return {self.accounts.trainee_record(u).id: u for u in people}

    def dimension_labels(self) -> dict[str, str]:
        labels: dict[str, str] = {}
        for r in self.catalog.rubrics.values():
            for k, d in r.dimensions.items():
                labels.setdefault(k, d.label)
        return labels

    # ------------------------------------------------------------------ team table
    def team_table(self, actor: User, team_id: int | None = None) -> pd.DataFrame:
        """One row per trainee: assigned-curricula progress, calls, pass rate, average per dimension, last activity, overdue."""
        people = self._people(actor, team_id)
        by_trainee = self._trainee_map(people)
        attempts = graded_calls(self.store, list(by_trainee))
        teams = {t.id: t.name for t in self.accounts.all_teams()}
        labels = self.dimension_labels()
        rows = []
        t_now = now()
        for tid, user in by_trainee.items():
            mine = [a for a in attempts if a.call.trainee_id == tid]
            status = self.progress.assignment_status(user, attempts=mine)
            assigned_curricula = sorted({a.curriculum_id for a, _ in status if a.curriculum_id in self.catalog.curricula})
            passed = total = 0
            for cid in assigned_curricula:
                cp = self.progress.curriculum_progress(actor, user, cid, attempts=mine)
                passed += cp.passed
                total += len(cp.modules)
            row = {"trainee": user.display_name, "username": user.username, "team": teams.get(user.team_id, ""),
                   "curricula": f"{passed}/{total} modules" if total else "none assigned",
                   "progress %": round(100 * passed / total) if total else None,
                   "calls": len(mine),
                   "pass rate %": round(100 * sum(a.card.passed for a in mine) / len(mine)) if mine else None,
                   "avg score": round(sum(a.score for a in mine) / len(mine), 1) if mine else None}
            dims: dict[str, list[float]] = {}
            for a in mine:
                for d in json.loads(a.card.result_json).get("dimensions", []):
                    if d.get("score") is not None:
                        dims.setdefault(d["id"], []).append(d["score"])
            for k, label in labels.items():
                row[label] = round(sum(dims[k]) / len(dims[k])) if dims.get(k) else None
            row["overdue"] = sum(1 for a, done in status if not done and a.due_at and aware(a.due_at) < t_now)
            last = max((aware(c.updated_at) for c in self.store.calls(trainee_id=tid, limit=1)), default=None)
            row["last activity"] = _fmt(last) if last else "never"
            rows.append(row)
        cols = ["trainee", "username", "team", "curricula", "progress %", "calls", "pass rate %", "avg score", *labels.values(),
                "overdue", "last activity"]
        return pd.DataFrame(rows, columns=cols)

    # ------------------------------------------------------------------ per trainee
    def _visible_user(self, actor: User, username: str) -> User:
        user = self.accounts.by_username(username)
        if not self.accounts.can_see_user(actor, user.id):
            raise PermissionDenied("You can only see trainees in the teams you lead.")
        return user

    def trainee_calls(self, actor: User, username: str) -> list[Attempt]:
        user = self._visible_user(actor, username)
        return graded_calls(self.store, [self.accounts.trainee_record(user).id])

    def trainee_trends(self, actor: User, username: str) -> pd.DataFrame:
        """Long format for a line plot: one row per (graded call, dimension), plus the overall score."""
        labels = self.dimension_labels()
        rows = []
        for i, a in enumerate(self.trainee_calls(actor, username), 1):
            when = a.at.strftime("%Y-%m-%d %H:%M")
            rows.append({"call": i, "date": when, "dimension": "Overall", "score": a.score})
            for d in json.loads(a.card.result_json).get("dimensions", []):
                if d.get("score") is not None:
                    rows.append({"call": i, "date": when, "dimension": labels.get(d["id"], d["id"]), "score": d["score"]})
        return pd.DataFrame(rows, columns=["call", "date", "dimension", "score"])

    # ------------------------------------------------------------------ most-missed criteria
    def missed_criteria(self, actor: User, team_id: int | None = None, *, top: int = 12) -> pd.DataFrame:
        people = self._people(actor, team_id)
        attempts = graded_calls(self.store, list(self._trainee_map(people)))
        missed: Counter = Counter()
        applied: Counter = Counter()
        desc: dict[str, tuple[str, str]] = {}
        labels = self.dimension_labels()
        for a in attempts:
            for c in json.loads(a.card.result_json).get("criteria", []):
                if c["verdict"] == "n/a":
                    continue
                applied[c["id"]] += 1
                desc[c["id"]] = (c["description"], labels.get(c["dimension"], c["dimension"]))
                if c["verdict"] == "not_met":
                    missed[c["id"]] += 1
                elif c["verdict"] == "partly":
                    missed[c["id"]] += 0.5
        rows = [{"criterion": cid, "description": desc[cid][0], "dimension": desc[cid][1], "missed %": round(100 * missed[cid] / applied[cid]),
                 "missed in calls": missed[cid], "calls": applied[cid]} for cid in applied]
        rows.sort(key=lambda r: (-r["missed %"], r["criterion"]))
        return pd.DataFrame(rows[:top], columns=["criterion", "description", "dimension", "missed %", "missed in calls", "calls"])

    # ------------------------------------------------------------------ assignments
    def assign(self, actor: User, *, curriculum_id: str | None = None, scenario_id: str | None = None,
               usernames: list[str] | None = None, team_id: int | None = None, due: date | datetime | str | None = None,
               note: str = "") -> list[Assignment]:
        require_role(actor, "lead")
        note = strip_bidi(note)
        if bool(curriculum_id) == bool(scenario_id):
            raise AccountError("Assign either a curriculum or a scenario.")
        if curriculum_id:
            self.catalog.curriculum(curriculum_id)
        if scenario_id:
            self.catalog.scenario(scenario_id)
        if isinstance(due, str):
            try:
                due = date.fromisoformat(due.strip()) if due.strip() else None
            except ValueError:
                raise AccountError(f"'{due}' is not a date; write the due date as YYYY-MM-DD, e.g. 2026-12-01.") from None
        if isinstance(due, date) and not isinstance(due, datetime):
            due = datetime.combine(due, time(23, 59), tzinfo=timezone.utc)
        targets: dict[int, User] = {}
        if team_id is not None:
            for u in self._people(actor, team_id):
                targets[u.id] = u
        for name in usernames or []:
            u = self.accounts.by_username(name)
            if not self.accounts.can_see_user(actor, u.id) or u.id == actor.id:
                raise PermissionDenied(f"'{u.username}' is not in a team you lead.")
            targets[u.id] = u
        if not targets:
            raise AccountError("Pick the trainees or the team to assign to.")
        out = []
        for u in targets.values():
            # Out of attempts in this curriculum: the new assignment grants another round. Otherwise an open assignment
            # of the same thing is updated (new due date / note) rather than listed twice.
            retry = bool(curriculum_id) and any(m.status == "out_of_attempts"
                                                for m in self.progress.curriculum_progress(actor, u, curriculum_id).modules)
            open_same = None if retry else next((a for a, done in self.progress.assignment_status(u) if not done
                                                 and a.curriculum_id == (curriculum_id or None) and a.scenario_id == (scenario_id or None)), None)
            with self.store.session() as s:
                if open_same is not None:
                    a = s.get(Assignment, open_same.id)
                    a.due_at, a.note, a.assigned_by = due, (note or a.note)[:500], actor.id
                else:
                    a = Assignment(user_id=u.id, team_id=team_id, assigned_by=actor.id, curriculum_id=curriculum_id or None,
                                   scenario_id=scenario_id or None, due_at=due, note=(note or "")[:500], grants_retry=retry)
                s.add(a)
                s.commit()
                s.refresh(a)
                out.append(a)
        return out

    def team_assignments(self, actor: User, team_id: int | None = None) -> pd.DataFrame:
        rows = []
        for u in self._people(actor, team_id):
            for r in self.progress.my_assignments(actor, u):
                rows.append({"trainee": u.display_name, **{k: v for k, v in r.items() if k != "id"}})
        rows.sort(key=lambda r: ({"overdue": 0, "open": 1, "done": 2}[r["status"]], r["due"] or "9999"))
        return pd.DataFrame(rows, columns=["trainee", "what", "kind", "due", "status", "note"])

    # ------------------------------------------------------------------ coaching comments
    def _call_for(self, actor: User, call_id: str) -> CallRecord:
        call = self.store.get_call(call_id)
        if not self.accounts.can_see_user(actor, self.accounts.owner_of_trainee(call.trainee_id)):
            raise PermissionDenied("You cannot open this call.")
        return call

    def add_comment(self, actor: User, call_id: str, text: str, *, criterion_id: str | None = None) -> CoachingComment:
        require_role(actor, "lead", "trainer")
        call = self._call_for(actor, call_id)
        owner = self.accounts.owner_of_trainee(call.trainee_id)
        if owner == actor.id:
            raise PermissionDenied("Coaching comments are for someone else's calls.")
        text = strip_bidi(text).strip()          # stored without bidi controls: they would reorder the text around them
        if not text:
            raise AccountError("Write a comment first.")
        with self.store.session() as s:
            c = CoachingComment(call_id=call_id, author_id=actor.id, criterion_id=criterion_id or None, text=text[:MAX_COMMENT])
            s.add(c)
            s.commit()
            s.refresh(c)
            return c

    def comments(self, actor: User, call_id: str) -> list[dict]:
        self._call_for(actor, call_id)
        with self.store.session() as s:
            rows = list(s.exec(select(CoachingComment).where(CoachingComment.call_id == call_id).order_by(CoachingComment.id)))
        names = {}
        out = []
        for c in rows:
            if c.author_id not in names:
                names[c.author_id] = self.accounts.get(c.author_id).display_name
            out.append({"author": names[c.author_id], "text": c.text, "criterion": c.criterion_id, "at": _fmt(c.created_at)})
        return out


def call_owner_user(store: Store, call_id: str) -> int | None:
    with store.session() as s:
        call = s.get(CallRecord, call_id)
        if call is None:
            raise NotFound(f"no call with id {call_id}")
        t = s.get(Trainee, call.trainee_id)
        return t.user_id if t else None
