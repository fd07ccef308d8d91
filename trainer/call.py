"""One practice call: the director decides, the actor speaks, the store keeps every turn at once."""
from __future__ import annotations

import atexit
import copy
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Callable

from .actor import Actor, Turn, sanitize_agent_text
from .compute import FOREGROUND, background
from .content import content_hash
from .director import AGENT_ENDED, Direction, Director
from .llm.base import BackendError, LLMBackend
from .moves import AgentMoves
from .persona import Persona
from .scenario import Scenario
from .store import CallRecord, Store, now
from .text import MODEL_NOT_ANSWERING

log = logging.getLogger(__name__)

_warming: set[threading.Thread] = set()      # background prefills still running (joined at exit, see _join_warming)


@atexit.register
def _join_warming(timeout: float = 10.0) -> None:
    """Let a background prefill finish its chunk before the interpreter (and the model) goes away."""
    for t in list(_warming):
        t.join(timeout)



class CallStateError(RuntimeError):
    """A request that does not fit the call's state (it has ended, nothing to retry): the message says what to do."""

@dataclass
class Reply:
    """What happened after one agent turn."""

    text: str | None                        # the customer's line (None if the model could not be reached)
    mood: float
    beat: str
    ended: bool = False
    end_reason: str | None = None
    error: str | None = None                # a message for the trainee when the model is down (plain: no address)
    detail: str | None = None               # what went wrong, for the log and the terminal (may name the server)
    moves: set[str] = field(default_factory=set)
    regenerated: int = 0
    used_fallback: bool = False


class CallSession:
    def __init__(self, *, store: Store, record: CallRecord, persona: Persona, scenario: Scenario, backend: LLMBackend,
                 prompt_style: str = "auto", temperature: float = 0.7, retries: int = 3,
                 sleep: Callable[[float], None] | None = None):
        self.store = store
        self.record = record
        self.persona = persona
        self.scenario = scenario
        self.director = Director(persona)
        self.actor = Actor(persona, backend, prompt_style=prompt_style, temperature=temperature, retries=retries, sleep=sleep)
        self.transcript: list[Turn] = []
        self.pending: Direction | None = None       # a direction whose line could not be generated yet
        self.moves_log: list[AgentMoves] = []
        self._warm_thread: threading.Thread | None = None
        self.warm_after_reply = True                # read each reply into the cache ahead of the next turn (see warm)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def ended(self) -> bool:
        return self.record.status == "ended"

    @property
    def mood_history(self) -> list[float]:
        return [self.persona.mood] + self.director.state.history

    @classmethod
    def start(cls, *, store: Store, trainee_name: str, persona: Persona, scenario: Scenario, backend: LLMBackend,
              settings: dict | None = None, trainee_id: int | None = None, mode: str = "practice",
              curriculum_id: str | None = None, module_id: str | None = None, **kw) -> "CallSession":
        if trainee_id is None:
            trainee_id = store.trainee(trainee_name).id
        record = store.start_call(trainee_id=trainee_id, scenario_id=scenario.id, persona_id=persona.id,
                                  persona_hash=content_hash(persona), persona_snapshot=persona.model_dump_json(),
                                  customer_model=backend.name, settings_json=json.dumps(settings or {}),
                                  start_mood=persona.mood, final_mood=persona.mood, mode=mode,
                                  curriculum_id=curriculum_id, module_id=module_id)
        return cls(store=store, record=record, persona=persona, scenario=scenario, backend=backend, **kw)

    @classmethod
    def resume(cls, *, store: Store, call_id: str, scenario: Scenario, backend: LLMBackend, **kw) -> "CallSession":
        """Rebuild a call from the store: the director is deterministic, so replaying the turns restores its state."""
        record = store.claim(call_id)
        persona = Persona.model_validate_json(record.persona_snapshot)   # the exact persona the call began with
        session = cls(store=store, record=record, persona=persona, scenario=scenario, backend=backend, **kw)
        for t in store.turns(call_id):
            if t.speaker == "agent":
                moves, session.pending = session.director.step(t.text)
                session.moves_log.append(moves)
            else:
                session.director.record_customer_line(t.text)
                session.pending = None
            session.transcript.append(Turn(t.speaker, t.text))
        return session

    def agent_says(self, text: str, *, on_token: Callable[[str], None] | None = None,
                   on_reset: Callable[[], None] | None = None, interrupted: bool = False) -> Reply:
        if self.ended:
            raise CallStateError("this call has ended; start a new one")
        if self.pending is not None:
            return self.retry_reply(on_token=on_token, on_reset=on_reset)
        text = sanitize_agent_text(text)
        started = now()
        moves, direction = self.director.step(text, interrupted=interrupted)
        self.moves_log.append(moves)
        self.store.add_turn(self.id, speaker="agent", text=text, started_at=started,
                            meta={"moves": sorted(moves.moves), "asked_for": sorted(moves.asked_for)})
        self.transcript.append(Turn("agent", text))
        self.pending = direction
        reply = self._customer_line(direction, on_token, on_reset)
        reply.moves = moves.moves
        return reply

    def retry_reply(self, *, on_token=None, on_reset=None) -> Reply:
        """Generate the customer's reply again after the model was unreachable."""
        if self.pending is None:
            raise CallStateError("there is no reply waiting to be retried")
        return self._customer_line(self.pending, on_token, on_reset)

    def _customer_line(self, direction: Direction, on_token, on_reset) -> Reply:
        started = now()
        try:
            result = self.actor.speak(self.transcript, direction, on_token=on_token, on_reset=on_reset)
        except BackendError as exc:
            log.warning("customer model unavailable: %s", exc)
            return Reply(text=None, mood=direction.mood, beat=direction.beat,
                         error=MODEL_NOT_ANSWERING, detail=str(exc))  # the server's address stays out of the page
        self.pending = None
        self.director.record_customer_line(result.text)
        self.transcript.append(Turn("customer", result.text))
        self.store.add_turn(self.id, speaker="customer", text=result.text, started_at=started, mood_after=direction.mood,
                            beat=direction.beat, meta={"attempts": result.attempts, "fallback": result.used_fallback,
                                                       "rejected": result.problems, "direction": direction.text})
        if direction.ends_call:
            self.record = self.store.end_call(self.id, reason=direction.end_reason or AGENT_ENDED, final_mood=direction.mood)
        elif self.warm_after_reply:
            self.warm()                  # while the trainee listens and answers, read the reply into the model's cache
        return Reply(text=result.text, mood=direction.mood, beat=direction.beat, ended=direction.ends_call,
                     end_reason=direction.end_reason, regenerated=result.attempts - 1, used_fallback=result.used_fallback)

    def warm(self, *, agent_text: str | None = None, with_direction: bool = True, wait: bool = False) -> bool:
        """Evaluate what is already known of the customer's next prompt into the local model's cache, so the next
        reply only evaluates what is new: the header and the call so far and, given `agent_text` (what the trainee
        has said up to a pause), their words and the direction the director would give if the turn ended there
        (worked out on a copy of the director, so nothing changes; with_direction=False: the words only, for a pause
        mid-sentence, where more words are likely to follow). In a background thread unless `wait`; only for
        an in-process model with transcript prompts (remote servers keep their own caches). Returns whether it ran."""
        prefill = getattr(self.actor.backend, "prefill", None)
        if not getattr(self.actor.backend, "supports_prefill", False) or prefill is None or self.actor.style != "completion" or self.ended:
            return False
        try:
            if agent_text and self.pending is None:
                text = sanitize_agent_text(agent_text)
                turns = list(self.transcript) + [Turn("agent", text)]
                if with_direction:
                    _moves, direction = copy.deepcopy(self.director).step(text)
                    prompt = self.actor.completion_prompt(turns, direction)
                else:
                    prompt = self.actor.known_prompt(turns)
            else:
                prompt = self.actor.known_prompt(list(self.transcript))
        except Exception as exc:  # noqa: BLE001 - e.g. a reply being stored meanwhile: skip this head start
            log.warning("no prefill this time: %s", exc)
            return False

        def run() -> None:
            try:
                with background():                      # one background job at a time, after what the trainee waits for
                    # a head start only: never queue behind (or ahead of) a reply, and pause while a phrase is transcribed
                    prefill(prompt, skip_if_busy=True, wait_while=lambda: FOREGROUND.busy)
            except Exception as exc:  # noqa: BLE001 - only a head start; the turn itself reports errors
                log.warning("prefill failed: %s", exc)
            finally:
                _warming.discard(threading.current_thread())
        if wait:
            run()
            return True
        if self._warm_thread is not None and self._warm_thread.is_alive():
            return False                 # one at a time per call: a trainee who keeps talking does not pile them up
        t = threading.Thread(target=run, daemon=True, name=f"warm-{self.id[:8]}")
        _warming.add(t)
        self._warm_thread = t
        t.start()
        return True

    def warmed(self, timeout: float | None = None) -> None:
        """Wait for the background prefill (benchmarks: the seconds a trainee spends listening and answering)."""
        if self._warm_thread is not None:
            self._warm_thread.join(timeout)

    def end(self, reason: str = AGENT_ENDED) -> CallRecord:
        if not self.ended:
            self.record = self.store.end_call(self.id, reason=reason, final_mood=self.director.state.mood)
        return self.record
