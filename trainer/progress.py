"""Progress through curricula: module states, attempts, scores, medals, certificates, and "what next".

A module is *locked* until its prerequisites are passed, then *available*; a graded call linked to the
module whose score reaches the module's pass mark (and has no fatal error) *passes* it. With a maximum
of attempts, a module not passed when they are used up is *out of attempts* until a lead grants more
(by assigning the curriculum again). Passing every module issues a certificate.

What counts as an attempt: in a practice module, a graded call. In an assessment module, every call started on it,
from the moment it starts: active, interrupted, ended without a grade, or graded. Otherwise a trainee could rehearse
the assessment, abandon the runs that go badly, and end and grade only a good one.
"""
from __future__ import annotations

import html
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlmodel import Field, SQLModel, select

from .accounts import Accounts, PermissionDenied, User, require_role
from .catalog import Catalog
from .curriculum import Curriculum, Module
from .store import CallRecord, ScorecardRecord, Store, now

RECENT_CALLS = 10   # "weakest dimension" looks at this many recent graded calls

# Which kinds of call exercise a rubric dimension most (persona scenario_type values).
DIMENSION_PRACTICE = {
    "de_escalation": ("angry_caller", "escalation", "complaint"),
    "empathy": ("complaint", "angry_caller", "follow_up"),
    "active_listening": ("confused", "complaint", "billing"),
    "resolution": ("billing", "follow_up", "technical"),
    "compliance": ("billing", "follow_up", "complaint"),
    "offer_handling": ("upsell", "cross_sell", "retention"),
    "script_adherence": ("billing", "confused", "complaint"),
    "closing": ("confused", "billing", "follow_up"),
}


class Certificate(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    curriculum_id: str = Field(index=True)
    curriculum_title: str
    average_score: float
    medal: str | None = None
    issued_at: datetime = Field(default_factory=now)


class Assignment(SQLModel, table=True):
    """A lead gives a trainee a curriculum or a scenario to do by a date (a team assignment makes one row per member)."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    team_id: int | None = Field(default=None, foreign_key="team.id")
    assigned_by: int = Field(foreign_key="app_user.id")
    curriculum_id: str | None = None
    scenario_id: str | None = None
    due_at: datetime | None = None
    note: str = ""
    grants_retry: bool = False       # made while the trainee was out of attempts in this curriculum: one more round
    created_at: datetime = Field(default_factory=now)


def aware(dt: datetime | None) -> datetime | None:
    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@dataclass
class Attempt:
    call: CallRecord
    card: ScorecardRecord
    fatal: bool

    @property
    def score(self) -> float:
        return self.card.overall

    @property
    def at(self) -> datetime:
        return aware(self.call.ended_at or self.call.started_at)


@dataclass
class ModuleProgress:
    curriculum_id: str
    module: Module
    status: str                      # locked | available | passed | out_of_attempts
    attempts: int = 0
    best: float | None = None
    last: float | None = None
    medal: str | None = None
    passed_at: datetime | None = None
    last_at: datetime | None = None
    waiting_for: list[str] = field(default_factory=list)
    extra_rounds: int = 0            # a lead assigning the curriculum again after attempts ran out grants another round

    @property
    def attempts_left(self) -> int | None:
        if self.module.max_attempts is None:
            return None
        return max(0, self.module.max_attempts * (1 + self.extra_rounds) - self.attempts)


@dataclass
class CurriculumProgress:
    curriculum: Curriculum
    modules: list[ModuleProgress]
    certificate: Certificate | None = None

    @property
    def passed(self) -> int:
        return sum(m.status == "passed" for m in self.modules)

    @property
    def completed(self) -> bool:
        return self.passed == len(self.modules)

    @property
    def percent(self) -> int:
        return round(100 * self.passed / len(self.modules))

    def next_module(self) -> ModuleProgress | None:
        return next((m for m in self.modules if m.status == "available"), None)


@dataclass
class Recommendation:
    kind: str                        # module | scenario
    scenario_id: str
    reason: str
    curriculum_id: str | None = None
    module_id: str | None = None
    dimension: str | None = None
    due_at: datetime | None = None


def graded_calls(store: Store, trainee_ids: list[int]) -> list[Attempt]:
    """Every ended call of these trainees with its latest scorecard, oldest first."""
    if not trainee_ids:
        return []
    with store.session() as s:
        rows = s.exec(select(CallRecord, ScorecardRecord).join(ScorecardRecord, ScorecardRecord.call_id == CallRecord.id)
                      .where(CallRecord.trainee_id.in_(trainee_ids)).order_by(ScorecardRecord.id)).all()  # type: ignore[union-attr]
    latest: dict[str, tuple[CallRecord, ScorecardRecord]] = {}
    for call, card in rows:
        latest[call.id] = (call, card)
    out = [Attempt(call, card, bool(json.loads(card.result_json).get("fatal_errors"))) for call, card in latest.values()]
    out.sort(key=lambda a: a.at)
    return out


def started_calls(store: Store, trainee_ids: list[int]) -> list[CallRecord]:
    """Every call of these trainees made on a curriculum module, whatever its status (graded or not), oldest first."""
    if not trainee_ids:
        return []
    with store.session() as s:
        return list(s.exec(select(CallRecord).where(CallRecord.trainee_id.in_(trainee_ids),  # type: ignore[union-attr]
                                                    CallRecord.curriculum_id.is_not(None))  # type: ignore[union-attr]
                           .order_by(CallRecord.started_at)))


def counted_attempts(module: Module, graded: list[Attempt], started: list[CallRecord]) -> int:
    """How many attempts of `module` these calls (already narrowed to it) use up: each graded call, and in an assessment
    each call started, whether or not it was ever ended or graded (a call started in assessment mode counts even if
    the module has since become practice). A resumed call is one call: it counts once."""
    ids = {a.call.id for a in graded}
    ids |= {c.id for c in started if module.mode == "assessment" or c.mode == "assessment"}
    return len(ids)


def module_passed(attempt: Attempt, module: Module) -> bool:
    return not attempt.fatal and attempt.score >= module.pass_score


class Progress:
    def __init__(self, store: Store, catalog: Catalog, accounts: Accounts | None = None):
        self.store = store
        self.catalog = catalog
        self.accounts = accounts or Accounts(store)

    def _check(self, actor: User, user: User) -> None:
        require_role(actor, "trainee", "trainer", "lead")
        if not self.accounts.can_see_user(actor, user.id):
            raise PermissionDenied("You can only see your own progress (leads: their team's).")

    def trainee_ids(self, user: User) -> list[int]:
        return [self.accounts.trainee_record(user).id]

    # ------------------------------------------------------------------ module states
    def curriculum_progress(self, actor: User, user: User, curriculum_id: str, *, attempts: list[Attempt] | None = None,
                            started: list[CallRecord] | None = None) -> CurriculumProgress:
        """`attempts` (graded calls) and `started` (every module call) may be passed in when they are already loaded;
        either is read from the store for this user when it is not."""
        self._check(actor, user)
        cur = self.catalog.curriculum(curriculum_id)
        if attempts is None:
            attempts = graded_calls(self.store, self.trainee_ids(user))
        if started is None:
            started = started_calls(self.store, self.trainee_ids(user))
        extra = self._extra_rounds(user.id, curriculum_id)
        mods: list[ModuleProgress] = []
        passed: set[str] = set()
        for m in cur.modules:
            mine = [a for a in attempts if a.call.curriculum_id == cur.id and a.call.module_id == m.id]
            begun = [c for c in started if c.curriculum_id == cur.id and c.module_id == m.id]
            mp = ModuleProgress(curriculum_id=cur.id, module=m, status="available", attempts=counted_attempts(m, mine, begun),
                                extra_rounds=extra)
            if mine:
                mp.best = max(a.score for a in mine)
                mp.last = mine[-1].score
                mp.last_at = mine[-1].at
                mp.medal = cur.medals.tier(max((a.score for a in mine if not a.fatal), default=None))
                first_pass = next((a for a in mine if module_passed(a, m)), None)
                if first_pass is not None:
                    mp.status, mp.passed_at = "passed", first_pass.at
                    passed.add(m.id)
            if mp.status != "passed":
                mp.waiting_for = [p for p in m.prerequisites if p not in passed]
                if mp.waiting_for:
                    mp.status = "locked"
                elif mp.attempts_left == 0:
                    mp.status = "out_of_attempts"
            mods.append(mp)
        cp = CurriculumProgress(curriculum=cur, modules=mods)
        if cp.completed:
            cp.certificate = self._issue_certificate(user, cp)
        return cp

    def all_progress(self, actor: User, user: User) -> list[CurriculumProgress]:
        self._check(actor, user)
        attempts = graded_calls(self.store, self.trainee_ids(user))
        started = started_calls(self.store, self.trainee_ids(user))
        return [self.curriculum_progress(actor, user, cid, attempts=attempts, started=started) for cid in sorted(self.catalog.curricula)]

    def check_can_start(self, user: User, curriculum_id: str, module_id: str) -> Module:
        """Raise PermissionDenied unless this user may start this module now. In an assessment, calls already started
        (an active one included) have used their attempts, so a second call beside an open one is counted too."""
        cp = self.curriculum_progress(user, user, curriculum_id)
        mp = next((m for m in cp.modules if m.module.id == module_id), None)
        if mp is None:
            raise PermissionDenied(f"Curriculum '{curriculum_id}' has no module '{module_id}'.")
        if mp.status == "locked":
            names = ", ".join(cp.curriculum.module(p).title for p in mp.waiting_for)
            raise PermissionDenied(f"'{mp.module.title}' is locked: pass {names} first.")
        if mp.status == "out_of_attempts":
            raise PermissionDenied(f"No attempts left on '{mp.module.title}'. Ask your team lead to assign it again.")
        return mp.module

    def _extra_rounds(self, user_id: int, curriculum_id: str) -> int:
        """Each assignment made while the trainee was out of attempts grants one more round of attempts."""
        with self.store.session() as s:
            return len(s.exec(select(Assignment.id).where(Assignment.user_id == user_id, Assignment.curriculum_id == curriculum_id,
                                                          Assignment.grants_retry == True)).all())  # noqa: E712

    # ------------------------------------------------------------------ certificates
    def _issue_certificate(self, user: User, cp: CurriculumProgress) -> Certificate:
        with self.store.session() as s:
            cert = s.exec(select(Certificate).where(Certificate.user_id == user.id, Certificate.curriculum_id == cp.curriculum.id)).first()
            if cert is not None:
                return cert
            avg = round(sum(m.best or 0 for m in cp.modules) / len(cp.modules), 1)
            cert = Certificate(code=secrets.token_hex(6).upper(), user_id=user.id, curriculum_id=cp.curriculum.id,
                               curriculum_title=cp.curriculum.title, average_score=avg, medal=cp.curriculum.medals.tier(avg),
                               issued_at=max(m.passed_at for m in cp.modules if m.passed_at))
            s.add(cert)
            s.commit()
            s.refresh(cert)
            return cert

    def certificates(self, actor: User, user: User) -> list[Certificate]:
        self._check(actor, user)
        self.all_progress(actor, user)           # issues any certificate earned since last time
        with self.store.session() as s:
            return list(s.exec(select(Certificate).where(Certificate.user_id == user.id).order_by(Certificate.issued_at)))

    def certificate_html(self, actor: User, code: str) -> str:
        with self.store.session() as s:
            cert = s.exec(select(Certificate).where(Certificate.code == code)).first()
        if cert is None:
            raise PermissionDenied("No certificate with that code.")
        owner = self.accounts.get(cert.user_id)
        self._check(actor, owner)
        cur = self.catalog.curricula.get(cert.curriculum_id)
        rows = ""
        if cur is not None:
            cp = self.curriculum_progress(actor, owner, cur.id)
            rows = "".join(f"<tr><td>{html.escape(m.module.title)}</td><td>{m.module.mode}</td><td>{m.best:.0f}</td>"
                           f"<td>{(m.medal or '—').title()}</td></tr>" for m in cp.modules)
        medal = (cert.medal or "").title()
        return CERT_TEMPLATE.format(name=html.escape(owner.display_name), title=html.escape(cert.curriculum_title),
                                    date=aware(cert.issued_at).strftime("%d %B %Y"), avg=f"{cert.average_score:.0f}",
                                    medal=f" with a <b>{medal}</b> medal" if medal else "", code=cert.code, rows=rows)

    # ------------------------------------------------------------------ what next
    def weakest_dimension(self, attempts: list[Attempt]) -> tuple[str, float] | None:
        recent = attempts[-RECENT_CALLS:]
        sums: dict[str, list[float]] = {}
        for a in recent:
            for d in json.loads(a.card.result_json).get("dimensions", []):
                if d.get("score") is not None:
                    sums.setdefault(d["id"], []).append(d["score"])
        if not sums:
            return None
        dim, scores = min(sums.items(), key=lambda kv: sum(kv[1]) / len(kv[1]))
        return dim, sum(scores) / len(scores)

    def what_next(self, actor: User, user: User) -> list[Recommendation]:
        self._check(actor, user)
        attempts = graded_calls(self.store, self.trainee_ids(user))
        started = started_calls(self.store, self.trainee_ids(user))
        recs: list[Recommendation] = []
        progress = {cp.curriculum.id: cp for cp in (self.curriculum_progress(actor, user, c, attempts=attempts, started=started)
                                                    for c in sorted(self.catalog.curricula))}
        # 1. open assignments, soonest due first
        for a, done in self.assignment_status(user, attempts=attempts, progress=progress):
            if done:
                continue
            if a.curriculum_id and a.curriculum_id in progress:
                nxt = progress[a.curriculum_id].next_module()
                if nxt:
                    recs.append(Recommendation("module", nxt.module.scenario, f"assigned: {progress[a.curriculum_id].curriculum.title}",
                                               a.curriculum_id, nxt.module.id, due_at=aware(a.due_at)))
            elif a.scenario_id and a.scenario_id in self.catalog.scenarios:
                recs.append(Recommendation("scenario", a.scenario_id, "assigned by your team lead", due_at=aware(a.due_at)))
            if recs:
                break
        # 2. the next module of a curriculum already started (or the first curriculum)
        if not recs:
            started = [cp for cp in progress.values() if 0 < cp.passed < len(cp.modules) or any(m.attempts for m in cp.modules)]
            for cp in started + [cp for cp in progress.values() if cp not in started]:
                nxt = cp.next_module()
                if nxt:
                    recs.append(Recommendation("module", nxt.module.scenario, f"next in {cp.curriculum.title}", cp.curriculum.id, nxt.module.id))
                    break
        # 3. a practice call aimed at the weakest dimension
        weak = self.weakest_dimension(attempts)
        if weak:
            dim, avg = weak
            label = self._dim_label(dim)
            best: dict[str, float] = {}
            for a in attempts:
                best[a.call.scenario_id] = max(best.get(a.call.scenario_id, 0), a.score)
            kinds = DIMENSION_PRACTICE.get(dim, ())
            options = [sid for sid, sc in self.catalog.scenarios.items() if self.catalog.personas[sc.persona].scenario_type.value in kinds]
            options = options or list(self.catalog.scenarios)
            options.sort(key=lambda sid: (kinds.index(self.catalog.personas[self.catalog.scenarios[sid].persona].scenario_type.value)
                                          if self.catalog.personas[self.catalog.scenarios[sid].persona].scenario_type.value in kinds else 99,
                                          best.get(sid, -1) >= 90, best.get(sid, 0)))
            sid = options[0]
            recs.append(Recommendation("scenario", sid, f"Your weakest skill over your last {min(len(attempts), RECENT_CALLS)} calls is "
                                       f"{label} (average {avg:.0f}); '{self.catalog.scenarios[sid].title}' practises it.", dimension=dim))
        return recs

    def _dim_label(self, dim: str) -> str:
        for r in self.catalog.rubrics.values():
            if dim in r.dimensions:
                return r.dimensions[dim].label
        return dim.replace("_", " ")

    # ------------------------------------------------------------------ assignments (read side; leads create them in dashboard)
    def assignments_of(self, user_id: int) -> list[Assignment]:
        with self.store.session() as s:
            rows = list(s.exec(select(Assignment).where(Assignment.user_id == user_id)))
        far = datetime.max.replace(tzinfo=timezone.utc)
        return sorted(rows, key=lambda a: (aware(a.due_at) or far, a.id))

    def assignment_status(self, user: User, *, attempts: list[Attempt] | None = None,
                          progress: dict[str, CurriculumProgress] | None = None) -> list[tuple[Assignment, bool]]:
        """Each assignment of this user with whether it is done: a curriculum completed, or the scenario passed after it was set."""
        if attempts is None:
            attempts = graded_calls(self.store, self.trainee_ids(user))
        out = []
        for a in self.assignments_of(user.id):
            if a.curriculum_id:
                if progress is not None and a.curriculum_id in progress:
                    cp = progress[a.curriculum_id]
                elif a.curriculum_id in self.catalog.curricula:
                    cp = self.curriculum_progress(user, user, a.curriculum_id, attempts=attempts)
                else:
                    cp = None
                done = bool(cp and cp.completed)
            else:
                done = any(x.call.scenario_id == a.scenario_id and x.card.passed and x.at >= aware(a.created_at) for x in attempts)
            out.append((a, done))
        return out

    def my_assignments(self, actor: User, user: User) -> list[dict]:
        self._check(actor, user)
        t = now()
        rows = []
        for a, done in self.assignment_status(user):
            due = aware(a.due_at)
            what = (self.catalog.curricula[a.curriculum_id].title if a.curriculum_id in self.catalog.curricula else a.curriculum_id) \
                if a.curriculum_id else (self.catalog.scenarios[a.scenario_id].title if a.scenario_id in self.catalog.scenarios else a.scenario_id)
            state = "done" if done else "overdue" if due and due < t else "open"
            rows.append({"what": what, "kind": "curriculum" if a.curriculum_id else "scenario", "due": due.strftime("%Y-%m-%d") if due else "",
                         "status": state, "note": a.note, "id": a.id})
        return rows


CERT_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Certificate — {title}</title>
<style>
@page {{ size: A4 landscape; margin: 14mm; }}
body {{ font-family: Georgia, 'DejaVu Serif', serif; color: #1d2733; margin: 0; }}
.frame {{ border: 6px double #2f5d8a; padding: 36px 56px; text-align: center; max-width: 980px; margin: 24px auto; }}
h1 {{ font-size: 38px; letter-spacing: 2px; margin: 8px 0 4px; color: #2f5d8a; }}
.name {{ font-size: 34px; margin: 18px 0 6px; border-bottom: 1px solid #9bb; display: inline-block; padding: 0 24px 4px; }}
.course {{ font-size: 24px; font-style: italic; margin: 6px 0 18px; }}
table {{ margin: 16px auto; border-collapse: collapse; font-family: Arial, 'DejaVu Sans', sans-serif; font-size: 13px; }}
td, th {{ border-bottom: 1px solid #ccd; padding: 4px 14px; text-align: left; }}
.foot {{ display: flex; justify-content: space-between; margin-top: 26px; font-family: Arial, 'DejaVu Sans', sans-serif; font-size: 12px; color: #556; }}
@media print {{ .noprint {{ display: none; }} }}
</style></head>
<body><div class="frame">
<div style="font-family: Arial, sans-serif; letter-spacing: 3px; color: #556">FRONTLINE CONTACT-CENTER TRAINING</div>
<h1>Certificate of Completion</h1>
<div>This certifies that</div>
<div class="name">{name}</div>
<div>has completed every module of</div>
<div class="course">{title}</div>
<div>with an average best score of <b>{avg}/100</b>{medal}.</div>
<table><tr><th>Module</th><th>Mode</th><th>Best score</th><th>Medal</th></tr>{rows}</table>
<div class="foot"><span>Issued {date}</span><span>Certificate code {code}</span></div>
<p class="noprint"><button onclick="window.print()">Print</button></p>
</div></body></html>
"""
