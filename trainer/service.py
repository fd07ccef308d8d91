"""The application's functions, shared by the web UI and the CLI. Dependencies come in through the
constructor (backends, store), so tests pass fakes and the UI passes the configured ones."""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .actor import Turn
from .call import CallSession, Reply
from .catalog import Catalog
from .config import Settings, load_settings
from .grader import Grader, Scorecard
from .llm.base import LLMBackend
from .persona import Persona
from .store import CallRecord, Store

log = logging.getLogger(__name__)


@dataclass
class CallView:
    record: CallRecord
    turns: list[Turn]
    moods: list[float]
    scorecard: Scorecard | None


class Frontline:
    def __init__(self, *, settings: Settings | None = None, store: Store | None = None, catalog: Catalog | None = None,
                 customer_backend: LLMBackend | Callable[[], LLMBackend] | None = None,
                 grader_backend: LLMBackend | Callable[[], LLMBackend] | None = None, use_judge: bool | None = None,
                 sleep: Callable[[float], None] | None = None):
        self.settings = settings or load_settings()
        self.store = store or Store(self.settings.db_url)
        self.catalog = catalog or Catalog.load(self.settings.content_dir)
        self._customer = customer_backend
        self._grader = grader_backend
        # The embedded 1.5B model is not trusted as a judge (see docs/grader.md): deterministic by default there.
        self.use_judge = use_judge if use_judge is not None else self.settings.grader.backend != "local"
        self.sleep = sleep
        self.live: dict[str, CallSession] = {}
        self._lock = threading.Lock()
        self.interrupted_on_start = self.store.recover_interrupted()

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
            self._grader = factory() if factory else make_backend(self.settings.grader, self.settings)
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
    def start_call(self, trainee_name: str, scenario_id: str) -> CallSession:
        scenario = self.catalog.scenario(scenario_id)
        persona = self.catalog.persona_for(scenario)
        backend = self.customer_backend()
        cfg = self.settings.customer
        session = CallSession.start(store=self.store, trainee_name=trainee_name, persona=persona, scenario=scenario,
                                    backend=backend, settings={"prompt_style": cfg.prompt_style, "temperature": cfg.temperature,
                                                               "rubric": scenario.rubric},
                                    prompt_style=cfg.prompt_style, temperature=cfg.temperature, retries=cfg.retries, sleep=self.sleep)
        with self._lock:
            self.live[session.id] = session
        return session

    def session(self, call_id: str) -> CallSession:
        with self._lock:
            if call_id in self.live:
                return self.live[call_id]
        record = self.store.get_call(call_id)
        if record.status == "ended":
            raise RuntimeError("this call has ended")
        cfg = self.settings.customer
        session = CallSession.resume(store=self.store, call_id=call_id, scenario=self.catalog.scenario(record.scenario_id),
                                     backend=self.customer_backend(), prompt_style=cfg.prompt_style, temperature=cfg.temperature,
                                     retries=cfg.retries, sleep=self.sleep)
        with self._lock:
            self.live[call_id] = session
        return session

    def say(self, call_id: str, text: str, *, on_token: Callable[[str], None] | None = None) -> Reply:
        return self.session(call_id).agent_says(text, on_token=on_token)

    def end_call(self, call_id: str) -> Scorecard:
        session = self.session(call_id)
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
        scenario = self.catalog.scenarios.get(record.scenario_id)
        persona = Persona.model_validate_json(record.persona_snapshot) if record.persona_snapshot else None
        turns = [Turn(t.speaker, t.text) for t in self.store.turns(call_id)]
        moods = [record.start_mood] + [t.mood_after for t in self.store.turns(call_id) if t.speaker == "customer" and t.mood_after is not None]
        if meta.get("source") == "recording":
            moods = None                     # a real call: no simulated mood; the grader reads the customer's words
        rubric_id = scenario.rubric if scenario else meta.get("rubric", "default")
        card = self.grader_for(rubric_id).grade(turns, persona=persona, scenario=scenario, mood=moods,
                                                speech=metrics_for_call(self.store, call_id))
        card.flags += meta.get("notes", [])
        self.store.save_scorecard(call_id=call_id, rubric_id=card.rubric_id, rubric_hash=card.rubric_hash,
                                  grader_model=card.grader_model, settings_json=json.dumps({"judge": self.use_judge}),
                                  overall=card.overall, passed=card.passed, result_json=card.model_dump_json())
        return card

    def view(self, call_id: str) -> CallView:
        record = self.store.get_call(call_id)
        turns = self.store.turns(call_id)
        cards = self.store.scorecards(call_id)
        moods = [record.start_mood] + [t.mood_after for t in turns if t.speaker == "customer" and t.mood_after is not None]
        card = Scorecard.model_validate_json(cards[-1].result_json) if cards else None
        return CallView(record=record, turns=[Turn(t.speaker, t.text) for t in turns], moods=moods, scorecard=card)

    def calls_of(self, trainee_name: str) -> list[CallRecord]:
        trainee = self.store.trainee(trainee_name)
        return self.store.calls(trainee_id=trainee.id)


def default_app(**kw) -> Frontline:
    return Frontline(**kw)


def content_root() -> Path:
    return load_settings().content_dir
