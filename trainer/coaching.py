"""Coaching during a practice call: a live checklist of the call script and hints on request.

The checklist uses the grader's own step matching (trainer.grader.checks), so a step ticked here
is a step the scorecard credits. Hints are read from the director's state (how often the customer
has asked for a date, whether they asked for a supervisor, what the agent's last line did). They
go to the trainee only: nothing here is added to the customer model's context, and hints never
quote the persona's hidden details or the rubric. Assessment calls get neither.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .text import md_escape
from .actor import Turn
from .director import CustomerState, mood_word
from .grader.checks import CallContext, step_hit
from .moves import AgentMoves
from .persona import INFLAMING_TRIGGERS, Persona
from .scenario import Scenario

if TYPE_CHECKING:
    from .service import Frontline

PRACTICE, ASSESSMENT = "practice", "assessment"


class CoachingOff(PermissionError):
    """Coaching was asked for on an assessment call."""


@dataclass
class StepStatus:
    id: str
    label: str
    kind: str
    required: bool
    done: bool
    turn: int | None = None            # 1-based transcript turn where it was covered


def checklist(scenario: Scenario, turns: list[Turn], persona: Persona | None = None) -> list[StepStatus]:
    """Each call-script step, ticked once the agent has covered it (the grader's matching)."""
    ctx = CallContext(turns=list(turns), persona=persona, scenario=scenario)
    out = []
    for step in scenario.call_script:
        hit = step_hit(ctx, step)
        out.append(StepStatus(step.id, step.label, step.kind, step.required, hit is not None, None if hit is None else hit + 1))
    return out


def checklist_markdown(steps: list[StepStatus]) -> str:
    if not steps:
        return ""
    done = sum(1 for s in steps if s.done)
    lines = [f"**Call script** — {done}/{len(steps)} covered", ""]
    for s in steps:
        mark = "☑" if s.done else "☐"
        opt = "" if s.required else " _(optional)_"
        lines.append(f"{mark} {md_escape(s.label)}{opt}<br>")
    return "\n".join(lines)


_WHEN = re.compile(r"\bwhen\b[^?]*\?|\bhow long\b[^?]*\?|\bwhat date\b", re.I)
_TIMES = {1: "once", 2: "twice", 3: "three times"}


def _times(n: int) -> str:
    return _TIMES.get(n, f"{n} times")


def hints(*, persona: Persona, scenario: Scenario, state: CustomerState, turns: list[Turn], beats: list[str | None],
          last_moves: AgentMoves | None = None, ended: bool = False, limit: int = 2) -> list[str]:
    """What the trainee could do next, most useful first. Built from the director's state, never from hidden details."""
    first = persona.first_name
    out: list[str] = []
    steps = checklist(scenario, turns, persona)
    agent_turns = [t for t in turns if t.speaker == "agent"]
    customer_lines = [t.text for t in turns if t.speaker == "customer"]
    if ended:
        return ["The call has ended. Read your scorecard, then retry the scenario."]
    if not agent_turns:
        greet = next((s.label for s in steps if s.kind == "greet"), "Greet the customer with your name and the company")
        return [f"You speak first. {greet}, then let {first} explain."]

    last_beat = next((b for b in reversed(beats) if b), None)
    moves = last_moves.moves if last_moves else set()
    if last_beat == "hang_up":
        return [f"{first} hung up. Patience ran out: acknowledge sooner and avoid lines that blame or dismiss."]
    if state.supervisor_asked and last_beat == "ask_supervisor":
        out.append(f"{first} has asked for a supervisor. Acknowledge it, say what you can do right now, and if they still want "
                   "one, offer a warm transfer and say why.")
    # beats are aligned with the customer's lines; a line counts once, whether the director asked for it or the actor said it
    when_asks = sum(1 for line, b in zip(customer_lines, beats) if b == "ask_timeline" or _WHEN.search(line))
    if persona.goal.requires_timeline and not state.timeline_given and when_asks >= 1 and state.fix_offered:
        asked = "has asked" if when_asks == 1 else f"has now asked {_times(when_asks)}"
        out.append(f"{first} {asked} when it will happen — give a concrete timeline (a date, or a number of working days).")
    if persona.goal.requires_reference and not state.reference_given and "ask_reference" in beats:
        out.append(f"{first} asked for a reference number — give one, and say what it is for.")
    if "repeat_request" in moves and last_moves is not None:
        given = ", ".join(sorted(k.replace("_", " ") for k in last_moves.repeat_asks)) or "that"
        out.append(f"{first} already gave you {given}. Don't ask again: use what they said, or apologise and read it back.")
    inflamed = [m for m in INFLAMING_TRIGGERS if m in moves and m != "repeat_request"]
    if inflamed:
        advice = {"calm_down": "never tell a customer to calm down — name the feeling instead (\"I can hear how frustrating this is\")",
                  "blame": "don't blame the customer — take ownership of putting it right",
                  "jargon": "say it in plain words, without technical terms",
                  "talked_over": "keep turns short and let them finish",
                  "dismissive": "avoid 'nothing I can do' or 'policy' — say what you *can* do",
                  "rude": "keep it professional, whatever the customer says"}.get(inflamed[0], "")
        if advice:
            out.append(f"Your last line made {first} angrier: {advice}.")
    if state.offer_stage == "declined" and persona.offer is not None:
        out.append(f"{first} said no to the {persona.offer.product}. Accept the no and move on — pushing again costs marks and mood.")
    calmed = any(state.calm_uses.get(k) for k in ("acknowledgement", "apology", "empathy"))
    if state.mood >= 6 and not calmed:
        out.append(f"{first} is {mood_word(state.mood)}. Acknowledge how they feel and apologise before solving anything "
                   "(hear, empathise, apologise, take ownership).")
    presses = sum(1 for b in beats if b in ("press", "push_back"))
    if presses >= 2 and not state.fix_offered:
        out.append(f"{first} has pressed {_times(presses)} for a solution — offer the concrete fix now.")
    verify = next((s for s in steps if s.kind == "verify"), None)
    if verify is not None and not verify.done and state.fix_offered:
        out.append(f"You haven't verified {first}'s identity yet. Do it before you discuss the account any further.")
    if state.goal_met:
        for kind, tip in (("summarise", "Summarise what will happen next"), ("anything_else", "Ask if there is anything else"),
                          ("close", "Thank them and close the call")):
            step = next((s for s in steps if s.kind == kind), None)
            if step is not None and not step.done:
                out.append(f"The customer's goal is met. {tip}.")
                break
    nxt = next((s for s in steps if s.required and not s.done), None)
    if nxt is not None and not any(nxt.label in h for h in out):
        out.append(f"Next on your script: {nxt.label}.")
    if not out:
        out.append("You're on track: every step of the script is covered. Close the call when the customer is happy.")
    # hints are for the trainee; make sure none quotes what the customer only says when asked
    secret = [h.detail.lower() for h in persona.hidden_details]
    out = [h for h in out if not any(s and s in h.lower() for s in secret)]
    seen: list[str] = []
    for h in out:
        if h not in seen:
            seen.append(h)
    return seen[:limit]


# ---------------------------------------------------------------------- over the app (the UI and CLI call these)
def call_mode(record: Any) -> str:
    mode = getattr(record, "mode", None)
    if not mode:
        try:
            mode = json.loads(getattr(record, "settings_json", "") or "{}").get("mode")
        except ValueError:
            mode = None
    return mode or PRACTICE


def _require_practice(app: "Frontline", call_id: str) -> None:
    if call_mode(app.store.get_call(call_id)) == ASSESSMENT:
        raise CoachingOff("coaching is switched off on assessment calls")


def call_checklist(app: "Frontline", call_id: str, *, actor) -> list[StepStatus]:
    """The script checklist of a practice call, for the call's own trainee (or accounts.SYSTEM)."""
    app.authorize_call(actor, call_id, write=True)
    _require_practice(app, call_id)
    session = app.session(call_id, actor) if call_id in app.live else None
    record = app.store.get_call(call_id)
    scenario = app.scenario_of_call(record)
    if scenario is None:
        return []
    turns = session.transcript if session else [Turn(t.speaker, t.text) for t in app.store.turns(call_id)]
    persona = session.persona if session else Persona.model_validate_json(record.persona_snapshot)
    return checklist(scenario, turns, persona)


def call_hints(app: "Frontline", call_id: str, *, actor, limit: int = 2) -> list[str]:
    """Hints for a live practice call, from the director's state, for the call's own trainee (or accounts.SYSTEM).
    Raises CoachingOff on assessment calls, NotLoggedIn / PermissionDenied for anyone else."""
    app.authorize_call(actor, call_id, write=True)
    _require_practice(app, call_id)
    record = app.store.get_call(call_id)
    if record.status == "ended":
        return hints(persona=Persona.model_validate_json(record.persona_snapshot), scenario=app.scenario_of_call(record),  # type: ignore[arg-type]
                     state=CustomerState(mood=0, patience=0, peak_mood=0), turns=[], beats=[], ended=True)
    session = app.session(call_id, actor)
    beats = [t.beat for t in app.store.turns(call_id) if t.speaker == "customer"]
    return hints(persona=session.persona, scenario=session.scenario, state=session.director.state, turns=session.transcript,
                 beats=beats, last_moves=session.moves_log[-1] if session.moves_log else None, limit=limit)
