"""The application's functions, shared by the web UI and the CLI. Dependencies come in through the
constructor (backends, store), so tests pass fakes and the UI passes the configured ones."""
from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from .actor import Turn
from .call import CallSession, CallStateError, Reply
from .catalog import Catalog
from .config import Settings, load_settings
from .content import content_hash
from .grader import Grader, Scorecard
from .llm.base import LLMBackend
from .persona import Persona
from .store import CallRecord, ScorecardRecord, Store

if TYPE_CHECKING:
    from .accounts import SystemPrincipal, User

log = logging.getLogger(__name__)


@dataclass
class CallView:
    record: CallRecord
    turns: list[Turn]
    moods: list[float]
    scorecard: Scorecard | None
    history: list[ScorecardRecord] = field(default_factory=list)   # every scorecard of the call, oldest first


class Frontline:
    def __init__(self, *, settings: Settings | None = None, store: Store | None = None, catalog: Catalog | None = None,
                 customer_backend: LLMBackend | Callable[[], LLMBackend] | None = None,
                 grader_backend: LLMBackend | Callable[[], LLMBackend] | None = None, use_judge: bool | None = None,
                 sleep: Callable[[float], None] | None = None):
        self.settings = settings or load_settings()
        self.store = store or Store(self.settings.db_url)
        # content: seed files overlaid with the studio's published revisions, reloaded when they change
        from .studio.overlay import CatalogCache
        self._fixed_catalog = catalog
        self.catalog_cache = CatalogCache(self.settings.content_dir, self.store)
        self.revisions = self.catalog_cache.revisions
        self._customer = customer_backend
        self._grader = grader_backend
        # The embedded 1.5B model is not trusted as a judge (see docs/grader.md): deterministic by default there.
        if use_judge is None:
            use_judge = {"on": True, "off": False}.get(self.settings.judge, self.settings.grader.backend != "local")
        self.use_judge = use_judge
        self.sleep = sleep
        self.live: dict[str, CallSession] = {}
        self._lock = threading.Lock()
        self.interrupted_on_start = self.store.recover_interrupted()
        from .accounts import Accounts
        from .dashboard import Dashboard
        from .progress import Progress
        self.accounts = Accounts(self.store)
        self.progress = Progress(self.store, self.catalog, self.accounts)
        self.dashboard = Dashboard(self.store, self.catalog, self.accounts, self.progress)

    @property
    def catalog(self) -> Catalog:
        return self._fixed_catalog or self.catalog_cache.get()

    def scenario_of_call(self, record: CallRecord):
        """The exact scenario revision a call was pinned to (falls back to the catalog for older calls)."""
        pinned = json.loads(record.settings_json or "{}").get("revisions", {}).get("scenario")
        if pinned:
            from .content import ContentError
            from .studio.revisions import parse_content
            try:
                return parse_content("scenario", self.revisions.get("scenario", pinned["id"], pinned["revision"]).yaml_text)
            except (LookupError, ContentError):
                log.warning("call %s: pinned scenario revision %s not found; using the catalog", record.id, pinned)
        return self.catalog.scenarios.get(record.scenario_id)

    # backends are built lazily: the app starts without loading a model
    def customer_backend(self) -> LLMBackend:
        if self._customer is None or callable(self._customer) and not hasattr(self._customer, "complete"):
            from .llm import make_backend
            factory = self._customer
            self._customer = factory() if factory else make_backend(self.settings.customer, self.settings)
        return self._customer  # type: ignore[return-value]

    def grader_backend(self) -> LLMBackend | None:
        if not self.use_judge:
            return None
        if self._grader is None or callable(self._grader) and not hasattr(self._grader, "complete"):
            from .llm import make_backend
            factory = self._grader
            self._grader = factory() if factory else make_backend(self.settings.grader, self.settings, slot="grader")
        return self._grader  # type: ignore[return-value]

    # ------------------------------------------------------------------ content
    def scenario_rows(self) -> list[dict]:
        rows = []
        for sid, sc in sorted(self.catalog.scenarios.items(), key=lambda kv: (self.catalog.personas[kv[1].persona].difficulty, kv[0])):
            p = self.catalog.personas[sc.persona]
            rows.append({"id": sid, "title": sc.title, "customer": p.name, "company": p.company.name,
                         "type": p.scenario_type.value.replace("_", " "), "difficulty": p.difficulty, "pass": sc.pass_score})
        return rows

    def persona(self, scenario_id: str) -> Persona:
        return self.catalog.persona_for(self.catalog.scenario(scenario_id))

    # ------------------------------------------------------------------ calls
    def start_call(self, trainee_name: str | None, scenario_id: str | None, *, user: "User | SystemPrincipal",
                   mode: str = "practice", curriculum_id: str | None = None, module_id: str | None = None) -> CallSession:
        """Start a call. With a signed-in `user` (the web app), the call is theirs; a curriculum module sets the scenario
        and mode and must be unlocked for them. With accounts.SYSTEM (the CLI), `trainee_name` names a trainee."""
        from .accounts import NotLoggedIn, is_system, require_role
        if user is None:
            raise NotLoggedIn("Please log in.")
        if mode not in ("practice", "assessment"):
            raise ValueError("mode must be 'practice' or 'assessment'")
        trainee_id = None
        if not is_system(user):
            require_role(user, "trainee", "trainer", "lead")
            trainee_id = self.accounts.trainee_record(user).id
            trainee_name = user.username
            if curriculum_id:
                module = self.progress.check_can_start(user, curriculum_id, module_id or "")
                scenario_id, mode = module.scenario, module.mode
        elif curriculum_id:
            module = self.catalog.curriculum(curriculum_id).module(module_id or "")
            scenario_id, mode = module.scenario, module.mode
        scenario = self.catalog.scenario(scenario_id or "")
        persona = self.catalog.persona_for(scenario)
        backend = self.customer_backend()
        cfg = self.settings.customer
        session = CallSession.start(store=self.store, trainee_name=trainee_name or "", trainee_id=trainee_id, mode=mode,
                                    curriculum_id=curriculum_id or None, module_id=(module_id or None) if curriculum_id else None,
                                    persona=persona, scenario=scenario,
                                    backend=backend, settings={"prompt_style": cfg.prompt_style, "temperature": cfg.temperature,
                                                               "rubric": scenario.rubric,
                                                               "revisions": self.revisions.pin_call(persona, scenario)},
                                    prompt_style=cfg.prompt_style, temperature=cfg.temperature, retries=cfg.retries, sleep=self.sleep)
        with self._lock:
            self.live[session.id] = session
        return session

    def authorize_call(self, actor: "User | None", call_id: str, *, write: bool = False) -> CallRecord:
        """The call, if `actor` may see it (write: continue or end it, which only its owner may). The web app passes the
        signed-in user; the CLI passes accounts.SYSTEM. None (nobody signed in) is refused."""
        from .accounts import NotLoggedIn, PermissionDenied, is_system
        if actor is None:
            raise NotLoggedIn("Please log in.")
        record = self.store.get_call(call_id)
        if is_system(actor):
            return record
        owner = self.accounts.owner_of_trainee(record.trainee_id)
        allowed = (owner == actor.id and actor.active) if write else self.accounts.can_see_user(actor, owner)
        if not allowed:
            raise PermissionDenied("You cannot open this call: it belongs to someone else.")
        return record

    def session(self, call_id: str, actor: "User | SystemPrincipal") -> CallSession:
        self.authorize_call(actor, call_id, write=True)
        with self._lock:
            if call_id in self.live:
                return self.live[call_id]
        record = self.store.get_call(call_id)
        if record.status == "ended":
            raise CallStateError("This call has ended. Start a new one.")
        cfg = self.settings.customer
        session = CallSession.resume(store=self.store, call_id=call_id,
                                     scenario=self.scenario_of_call(record) or self.catalog.scenario(record.scenario_id),
                                     backend=self.customer_backend(), prompt_style=cfg.prompt_style, temperature=cfg.temperature,
                                     retries=cfg.retries, sleep=self.sleep)
        with self._lock:
            self.live[call_id] = session
        return session

    def say(self, call_id: str, text: str, *, on_token: Callable[[str], None] | None = None, actor: "User | SystemPrincipal") -> Reply:
        session = self.session(call_id, actor)
        reply = session.agent_says(text, on_token=on_token)
        self._warm_judge(session)
        return reply

    def _warm_judge(self, session: CallSession) -> None:
        """While the trainee reads and types, a local judge reads the call so far (only when no customer reply is
        being generated), so End & grade does not wait for it to read the whole call."""
        if not self.use_judge:
            return
        grader = self.grader_for(session.scenario.rubric)
        if not grader.can_warm:
            return
        from .compute import FOREGROUND, background
        turns = list(session.transcript)

        def run() -> None:
            try:
                with background():
                    grader.warm(turns, wait_while=lambda: FOREGROUND.busy)
            except Exception as exc:  # noqa: BLE001 - warming is an optimisation; grading still works without it
                log.warning("judge warm-up failed: %s", exc)
        with self._lock:
            self._warmer = getattr(self, "_warmer", None) or ThreadPoolExecutor(max_workers=1, thread_name_prefix="judge-warm")
        self._warmer.submit(run)

    def end_call(self, call_id: str, actor: "User | SystemPrincipal") -> Scorecard:
        session = self.session(call_id, actor)
        session.end()
        with self._lock:
            self.live.pop(call_id, None)
        return self.grade_call(call_id)

    # ------------------------------------------------------------------ grading
    def grader_for(self, rubric_id: str) -> Grader:
        return Grader(self.catalog.rubrics[rubric_id], judge_backend=self.grader_backend(), sleep=self.sleep)

    def grade_call(self, call_id: str) -> Scorecard:
        from .voice.store import metrics_for_call
        record = self.store.get_call(call_id)
        meta = json.loads(record.settings_json or "{}")
        scenario = self.scenario_of_call(record)
        persona = Persona.model_validate_json(record.persona_snapshot) if record.persona_snapshot else None
        turns = [Turn(t.speaker, t.text) for t in self.store.turns(call_id)]
        moods = [record.start_mood] + [t.mood_after for t in self.store.turns(call_id) if t.speaker == "customer" and t.mood_after is not None]
        if meta.get("source") == "recording":
            moods = None                     # a real call: no simulated mood; the grader reads the customer's words
        rubric_id = scenario.rubric if scenario else meta.get("rubric", "default")
        pass_score = None
        if record.curriculum_id and record.curriculum_id in self.catalog.curricula:   # a module's own pass mark
            try:
                pass_score = self.catalog.curricula[record.curriculum_id].module(record.module_id or "").pass_score
            except KeyError:
                pass_score = None
        card = self.grader_for(rubric_id).grade(turns, persona=persona, scenario=scenario, mood=moods, pass_score=pass_score,
                                                speech=metrics_for_call(self.store, call_id))
        card.flags += meta.get("notes", [])
        self.store.save_scorecard(call_id=call_id, rubric_id=card.rubric_id, rubric_hash=card.rubric_hash,
                                  grader_model=card.grader_model, settings_json=json.dumps({"judge": self.use_judge,
                                                            "revisions": json.loads(record.settings_json or "{}").get("revisions")}),
                                  overall=card.overall, passed=card.passed, result_json=card.model_dump_json())
        return card

    def view(self, call_id: str, actor: "User | SystemPrincipal") -> CallView:
        record = self.authorize_call(actor, call_id)
        turns = self.store.turns(call_id)
        cards = self.store.scorecards(call_id)
        moods = [record.start_mood] + [t.mood_after for t in turns if t.speaker == "customer" and t.mood_after is not None]
        card = Scorecard.model_validate_json(cards[-1].result_json) if cards else None
        return CallView(record=record, turns=[Turn(t.speaker, t.text) for t in turns], moods=moods, scorecard=card, history=cards)

    # ------------------------------------------------------------------ re-grading
    def is_stale(self, card: ScorecardRecord) -> bool:
        """The rubric has changed since this scorecard was made."""
        rubric = self.catalog.rubrics.get(card.rubric_id)
        return rubric is not None and content_hash(rubric) != card.rubric_hash

    def stale_calls(self) -> list[str]:
        """Graded calls whose latest scorecard was made with an older version of its rubric."""
        out = []
        for record in self.store.calls(limit=100_000):
            cards = self.store.scorecards(record.id)
            if cards and self.is_stale(cards[-1]):
                out.append(record.id)
        return out

    def regrade(self, call_id: str, actor: "User | SystemPrincipal") -> tuple[ScorecardRecord | None, Scorecard]:
        """Grade a finished call again with the current rubric and grader. The old scorecard is kept beside the new
        one (both stay in the store, each with its rubric hash and grader model); returns (previous, new).
        In the web app only leads, trainers and admins who may see the call can re-grade it."""
        record = self.authorize_call(actor, call_id)
        if actor.role not in ("lead", "trainer", "admin"):
            from .accounts import PermissionDenied
            raise PermissionDenied("Only a team lead, trainer or admin can re-grade a call.")
        if record.status == "active":
            raise CallStateError(f"call {call_id} is still in progress; end it before re-grading")
        previous = self.store.scorecards(call_id)
        return (previous[-1] if previous else None), self.grade_call(call_id)

    def calls_of(self, trainee: "str | User", actor: "User | SystemPrincipal") -> list[CallRecord]:
        """A trainee's calls, newest first. In the web app `trainee` is a User and `actor` the signed-in user,
        who must be that trainee, their team lead or an admin."""
        from .accounts import NotLoggedIn, PermissionDenied, is_system
        if actor is None:
            raise NotLoggedIn("Please log in.")
        if isinstance(trainee, str):
            if is_system(actor):
                return self.store.calls(trainee_id=self.store.trainee(trainee).id)
            trainee = self.accounts.by_username(trainee)
        if not self.accounts.can_see_user(actor, trainee.id):
            raise PermissionDenied("You can only list your own calls (leads: their team's).")
        return self.store.calls(trainee_id=self.accounts.trainee_record(trainee).id)

