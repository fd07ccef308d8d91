"""Try a draft persona before publishing it.

`Rehearsal` is a call kept in memory (nothing is stored: drafts are not sessions): the director
decides and the actor words the line, exactly as in a real call. `autoplay` runs a draft against two
canned agents, a good one and a rude one, whose lines are written generically and filled with the
persona's details, and returns both transcripts and mood curves. If the triggers work, the good
agent calms an angry caller and the rude one makes them angrier or makes them hang up.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from ..text import md_escape
from ..actor import Actor, Turn, sanitize_agent_text
from ..director import Director
from ..llm.base import BackendError, LLMBackend
from ..persona import Persona

log = logging.getLogger(__name__)


@dataclass
class Line:
    speaker: str                  # agent | customer
    text: str
    mood: float | None = None     # customer lines: mood after the line
    beat: str | None = None
    note: str = ""                # e.g. "director's line (model unavailable)"


@dataclass
class Rehearsal:
    """A practice call against a (draft) persona, in memory. backend=None: the director's own lines, instantly."""

    persona: Persona
    backend: LLMBackend | None = None
    temperature: float = 0.7
    prompt_style: str = "auto"
    sleep: Callable[[float], None] | None = None
    lines: list[Line] = field(default_factory=list)
    ended: bool = False
    end_reason: str | None = None

    def __post_init__(self) -> None:
        self.director = Director(self.persona)
        self.actor = (Actor(self.persona, self.backend, prompt_style=self.prompt_style, temperature=self.temperature,
                            retries=2, sleep=self.sleep) if self.backend is not None else None)

    @property
    def moods(self) -> list[float]:
        return [self.persona.mood] + [ln.mood for ln in self.lines if ln.speaker == "customer" and ln.mood is not None]

    @property
    def transcript(self) -> list[Turn]:
        return [Turn(ln.speaker, ln.text) for ln in self.lines]

    def agent_says(self, text: str) -> Line:
        if self.ended:
            raise ValueError("this rehearsal has ended; start it again")
        text = sanitize_agent_text(text)
        if not text:
            raise ValueError("type what the agent says")
        _, direction = self.director.step(text)
        self.lines.append(Line("agent", text))
        note = ""
        if self.actor is None:
            said = direction.fallback
            note = "director's line"
        else:
            try:
                result = self.actor.speak(self.transcript, direction)
                said, note = result.text, ("director's line (the model's lines broke character)" if result.used_fallback else "")
            except BackendError as exc:          # the model is down: the rehearsal goes on with the director's line
                log.warning("rehearsal: customer model unavailable: %s", exc)
                said, note = direction.fallback, f"director's line (model unavailable: {exc})"
        self.director.record_customer_line(said)
        line = Line("customer", said, mood=round(direction.mood, 2), beat=direction.beat, note=note)
        self.lines.append(line)
        if direction.ends_call:
            self.ended, self.end_reason = True, direction.end_reason
        return line


# ---------------------------------------------------------------------- canned agents
_PRONOUNS = [(r"\bI'm\b", "you're"), (r"\bI've\b", "you've"), (r"\bI\b", "you"), (r"\bmy\b", "your"), (r"\bme\b", "you"),
             (r"\bmine\b", "yours"), (r"\bmyself\b", "yourself")]


def second_person(text: str) -> str:
    for pat, rep in _PRONOUNS:
        text = re.sub(pat, rep, text, flags=re.IGNORECASE)
    return text


def good_agent(p: Persona) -> list[str]:
    """Greets, verifies, acknowledges, apologises, owns it, gives the fix with a timeline and a reference, closes."""
    first = p.first_name
    checks = list(p.facts.verification)[:2] or ["full name"]
    fix = p.goal.accepts[0]
    return [
        f"Thank you for calling {p.company.name}, my name is Sam. How can I help you today?",
        f"I'm so sorry to hear that, {first}, I can see why that's frustrating. Before I look at the account, "
        f"can I take your {' and '.join(checks)}, please?",
        f"Thank you, {first}. So just to confirm, you're calling about {second_person(p.calling_about)}, and you're "
        f"absolutely right to raise it.",
        f"I'll sort this out for you now. I'll arrange the {fix} today, and you'll have it within 3 to 5 working days. "
        f"Your reference number is FL-20417.",
        "Is there anything else I can help you with today?",
        f"Thank you for your patience, {first}. Have a good day, goodbye.",
    ]


def rude_agent(p: Persona) -> list[str]:
    """Blames, says 'calm down', refuses, pushes."""
    push = p.offer.product if p.offer else "the premium plan"
    return [
        "Yeah, what is it?",
        "Calm down. What's your account number?",
        "Well, you should have checked that yourself. That's your own fault, really.",
        "Look, there's nothing I can do about that. It's company policy.",
        f"Whatever. Do you want {push} or not? Everyone's taking it.",
        "Calm down, I told you. You'll have to wait like everyone else.",
        "Anything else? No? Bye.",
    ]


AGENTS: dict[str, Callable[[Persona], list[str]]] = {"good agent": good_agent, "rude agent": rude_agent}


@dataclass
class AutoplayResult:
    persona_id: str
    runs: dict[str, Rehearsal]

    def trend(self, agent: str) -> float:
        moods = self.runs[agent].moods
        return moods[-1] - moods[0]

    def works(self) -> bool:
        good, rude = self.runs["good agent"], self.runs["rude agent"]
        calmed = self.trend("good agent") <= -1 or (good.moods[0] < 1 and good.moods[-1] <= good.moods[0])
        return calmed and (self.trend("rude agent") >= 1 or rude.end_reason == "hung_up") \
            and good.moods[-1] < rude.moods[-1]

    def verdict(self) -> str:
        out = []
        for name, run in self.runs.items():
            m = run.moods
            how = {"resolved": "satisfied, said goodbye", "hung_up": "hung up", "escalated": "transferred",
                   "agent_ended": "call ended"}.get(run.end_reason or "", "still on the line")
            out.append(f"**{name.capitalize()}**: mood {m[0]:.1f} → {m[-1]:.1f} (peak {max(m):.1f}), {how}.")
        if self.works():
            out.append("✓ The triggers work: the good agent calms this customer and the rude one makes them angrier.")
        else:
            if self.runs["good agent"].moods[0] < 1:
                out.append("This customer starts calm, so the good agent has nothing to calm; judge the triggers by the rude agent's curve.")
            elif self.trend("good agent") > -1:
                out.append("⚠ The good agent did **not** calm this customer. Check `triggers.calm` weights and `goal.accepts` "
                           "(the words that mean the fix is offered), and `goal.requires_timeline` / `requires_reference`.")
            rude = self.runs["rude agent"]
            if self.trend("rude agent") < 1 and rude.end_reason != "hung_up":
                out.append("⚠ The rude agent did **not** make this customer angrier. Check `triggers.inflame` weights and `patience`.")
            if self.runs["good agent"].moods[-1] >= rude.moods[-1]:
                out.append("⚠ The call ends no calmer with the good agent than with the rude one.")
        return "\n\n".join(out)

    def frame(self) -> pd.DataFrame:
        # turns as text (a canned call has under 10), so the chart's axis shows whole turns only
        rows = [{"customer turn": str(i), "mood (0 calm – 10 furious)": m, "agent": name}
                for name, run in self.runs.items() for i, m in enumerate(run.moods)]
        return pd.DataFrame(rows)

    def chat(self, agent: str) -> list[dict]:
        """A transcript for gr.Chatbot (agent on the right), with the mood after each customer line."""
        out = []
        for ln in self.runs[agent].lines:
            if ln.speaker == "agent":
                out.append({"role": "user", "content": md_escape(ln.text)})
            else:
                note = "" if ln.note == "director's line" else ln.note
                tag = f"mood {ln.mood:.1f} · {(ln.beat or '').replace('_', ' ')}" + (f" · {note}" if note else "")
                out.append({"role": "assistant", "content": f"{md_escape(ln.text)}\n\n*({md_escape(tag)})*"})
        return out


def autoplay(persona: Persona, backend: LLMBackend | None = None, *, temperature: float = 0.7,
             on_progress: Callable[[str, int, int], None] | None = None,
             sleep: Callable[[float], None] | None = None) -> AutoplayResult:
    """Play the persona against both canned agents. backend=None uses the director's own lines (instant)."""
    runs: dict[str, Rehearsal] = {}
    for name, agent in AGENTS.items():
        run = Rehearsal(persona, backend, temperature=temperature, sleep=sleep)
        lines = agent(persona)
        for i, text in enumerate(lines):
            if run.ended:
                break
            if on_progress:
                on_progress(name, i, len(lines))
            run.agent_says(text)
        runs[name] = run
    return AutoplayResult(persona.id, runs)
