"""Draft a complete persona from one sentence with the configured LLM.

The model is asked for YAML following a compact skeleton of the schema; the answer is parsed and
validated; if it fails, the validation errors go back to the model once for a repair. If that fails
too, a template filled from the sentence is returned, clearly labelled. Whatever comes back is a
DRAFT for the editor: this module never saves or publishes anything.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from typing import Callable

import yaml

from ..content import ContentProblem
from ..llm.base import BackendError, LLMBackend, Message, with_retries
from ..persona import Persona
from .forms import validate_text
from .revisions import dump_yaml

log = logging.getLogger(__name__)

MODEL, REPAIRED, TEMPLATE = "model", "model, repaired", "template"

# A compact skeleton: every required field, short values from a domain the starters do not use.
SKELETON = """\
id: broken-boiler-ben
name: Ben Carter
scenario_type: complaint      # one of: complaint, billing, angry_caller, escalation, upsell, cross_sell, follow_up, confused, retention, technical
difficulty: 3                 # 1 easy … 5 hard
company: {name: Homeheat Services, product: Boiler cover, context: Engineers can be booked within 48 hours.}
facts:
  full_name: Ben Carter
  account_number: "HH-30418"
  verification: {postcode: "LS6 2AB", date of birth: "2 May 1979"}
  amounts: {monthly fee: "£18.50"}
  dates: {boiler broke: "Monday"}
  history: [Called on Monday, was promised a call back that never came.]
calling_about: my broken boiler
problem: My boiler stopped working on Monday and nobody has come out to fix it.
goal: {description: An engineer booked with a confirmed date., accepts: [engineer, book, visit], requires_timeline: true, requires_reference: false}
hidden_details:
  - {topic: children at home, asked_by: [home, family, children], detail: I've got two small kids and no hot water.}
mood: 6                       # 0 calm … 10 furious
patience: 5                   # 1 … 10
speech: {style: Blunt and tired; short sentences., example_lines: ["It's been three days now.", "I was promised a call back."]}
brief:
  direction: inbound
  summary: Inbound call. The boiler failed on Monday; a call back was promised and missed.
  crm: {Customer: Ben Carter, Account: HH-30418, Plan: Boiler cover £18.50/month}
"""

SYSTEM = ("You write customer persona files for a call-centre training simulator. Reply with YAML only, no prose, "
          "no code fences. Keep every key of the example and replace every value to fit the customer described. "
          "name and facts.full_name must be the same person. The customer is an ordinary person calling a company.")


@dataclass
class DraftResult:
    yaml_text: str
    source: str                                  # model | model, repaired | template
    persona: Persona | None
    problems: list[ContentProblem] = field(default_factory=list)   # what was wrong with the model's answers
    attempts: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.source == TEMPLATE:
            return ("TEMPLATE — the model could not draft a valid persona, so this is a template filled from your sentence. "
                    "Fill in the company, facts and lines before saving. Not saved yet.")
        return f"DRAFT written by the model ({self.source}). Read and edit it, save it as a draft, try it, then publish. Not saved yet."


def extract_yaml(text: str) -> str:
    """The YAML in a model answer: inside a code fence if there is one, from the first 'id:' line otherwise."""
    fence = re.search(r"```(?:ya?ml)?\s*\n(.*?)(?:```|$)", text, re.S)
    if fence:
        text = fence.group(1)
    m = re.search(r"^id\s*:", text, re.M)
    if m:
        text = text[m.start():]
    return text.strip() + "\n"


def slug(text: str, limit: int = 40) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(s) > limit:
        s = s[:limit + 1].rsplit("-", 1)[0] if "-" in s[:limit + 1] else s[:limit]   # cut at a word boundary
    return s.strip("-") or "new-persona"


def tidy(yaml_text: str) -> tuple[str, list[str]]:
    """Small deterministic fixes a small model often needs (id format, the name/full name rule, ranges)."""
    notes: list[str] = []
    try:
        data = yaml.safe_load(yaml_text)
    except yaml.YAMLError:
        return yaml_text, notes
    if not isinstance(data, dict):
        return yaml_text, notes
    if isinstance(data.get("id"), str) and not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", data["id"]):
        data["id"] = slug(data["id"])
        notes.append("id rewritten in lowercase-with-dashes")
    facts = data.get("facts") if isinstance(data.get("facts"), dict) else None
    if facts is not None and isinstance(data.get("name"), str) and isinstance(facts.get("full_name"), str) and data["name"].split() \
            and facts["full_name"].split() and data["name"].split()[0].lower() != facts["full_name"].split()[0].lower():
        facts["full_name"] = data["name"]
        notes.append("facts.full_name set to the display name")
    for key, lo, hi in (("mood", 0, 10), ("patience", 1, 10), ("difficulty", 1, 5)):
        v = data.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not lo <= v <= hi:
            data[key] = min(hi, max(lo, v))
            notes.append(f"{key} clamped to {lo}–{hi}")
    if not notes:
        return yaml_text, notes
    return dump_yaml(data), notes


def _ask(backend: LLMBackend, messages: list[Message], max_tokens: int, sleep) -> str:
    kwargs = {"attempts": 2}
    if sleep is not None:
        kwargs["sleep"] = sleep
    return with_retries(lambda: "".join(backend.chat(messages, max_tokens=max_tokens, temperature=0.3, stop=["```\n\n"])), **kwargs)


def draft_persona(sentence: str, backend: LLMBackend | None, *, max_tokens: int = 900,
                  on_progress: Callable[[str], None] | None = None,
                  sleep: Callable[[float], None] | None = None) -> DraftResult:
    """A validated persona draft from a one-line description (never saved or published here)."""
    sentence = " ".join((sentence or "").split())[:300]
    if not sentence:
        raise ValueError("describe the customer in a sentence, e.g. 'retired teacher, confused by a new router, polite but slow'")
    problems: list[ContentProblem] = []
    notes: list[str] = []
    attempts = 0
    if backend is not None:
        messages: list[Message] = [{"role": "system", "content": SYSTEM},
                                   {"role": "user", "content": f"Example:\n{SKELETON}\nNow write the persona for this customer: {sentence}"}]
        for round_ in (MODEL, REPAIRED):
            attempts += 1
            if on_progress:
                on_progress("asking the model for a draft…" if round_ == MODEL else "the draft had problems; asking the model to fix them…")
            try:
                answer = _ask(backend, messages, max_tokens, sleep)
            except BackendError as exc:
                notes.append(f"the model could not be reached: {exc}")
                break
            text, fixes = tidy(extract_yaml(answer))
            check = validate_text("persona", text, "drafted persona")
            if check.ok:
                return DraftResult(text, round_, check.model, problems, attempts, notes + fixes)  # type: ignore[arg-type]
            problems += check.problems
            listing = "\n".join(f"- {p.field or '(whole file)'}: {p.message}. Fix: {p.fix}" for p in check.problems[:12])
            messages += [{"role": "assistant", "content": answer},
                         {"role": "user", "content": f"That YAML has these problems:\n{listing}\nReply with the whole corrected YAML only."}]
    if on_progress:
        on_progress("using the template")
    text = template_persona(sentence)
    check = validate_text("persona", text, "template persona")
    return DraftResult(text, TEMPLATE, check.model, problems, attempts, notes)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- template fallback
_TYPES = [("angry_caller", ("angry", "furious", "livid", "shouting", "irate", "rude")),
          ("confused", ("confused", "unsure", "doesn't understand", "does not understand", "new to", "elderly", "slow")),
          ("technical", ("router", "wifi", "wi-fi", "internet", "broadband down", "outage", "signal", "device", "phone not")),
          ("billing", ("bill", "charge", "charged", "payment", "invoice", "fee", "refund")),
          ("retention", ("cancel", "leave", "leaving", "switch", "competitor")),
          ("upsell", ("upgrade", "more data", "faster")),
          ("follow_up", ("follow", "again", "still waiting", "chasing")),
          ("escalation", ("manager", "supervisor", "escalat"))]
_NAMES = ["Alex Morgan", "Sam Reid", "Jordan Ellis", "Chris Patel", "Robin Hughes", "Morgan Lee", "Jamie Brooks", "Taylor Quinn"]


def template_persona(sentence: str) -> str:
    low = sentence.lower()
    stype = next((t for t, words in _TYPES if any(w in low for w in words)), "complaint")
    mood = 7.5 if re.search(r"\b(?:angry|furious|livid|irate|shouting|rude)\b", low) else \
        5.0 if re.search(r"\b(?:annoyed|frustrated|upset|impatient|fed up)\b", low) else \
        2.0 if re.search(r"\b(?:polite|calm|friendly|patient|kind|gentle)\b", low) else 4.0
    patience = 8.0 if re.search(r"\b(?:polite|patient|slow|calm|kind)\b", low) else 3.0 if re.search(r"\b(?:impatient|short|furious)\b", low) else 6.0
    name = _NAMES[int(hashlib.sha256(sentence.encode()).hexdigest(), 16) % len(_NAMES)]
    first = name.split()[0]
    data = {
        "id": slug(sentence, 32),
        "name": name,
        "scenario_type": stype,
        "difficulty": 1 if mood < 3 else 3 if mood < 7 else 4,
        "company": {"name": "Brightwave Telecom", "product": "Home broadband", "context": "TODO: the policies the agent works under."},
        "facts": {"full_name": name, "account_number": "BW-10001", "verification": {"postcode": "AB1 2CD"},
                  "history": [f"TODO: earlier contacts. Described as: {sentence}"]},
        "calling_about": "my account",
        "problem": f"TODO: the problem in {first}'s words. ({sentence})",
        "goal": {"description": "TODO: what outcome satisfies the caller.", "accepts": ["fix", "sort it"],
                 "requires_timeline": True, "requires_reference": False},
        "mood": mood,
        "patience": patience,
        "speech": {"style": sentence[:1].upper() + sentence[1:],
                   "example_lines": ["TODO: a typical first line.", "TODO: what they say when it goes badly."]},
        "brief": {"direction": "inbound", "summary": f"TODO: what the agent knows before the call. Customer: {sentence}.",
                  "crm": {"Customer": name, "Account": "BW-10001"}},
    }
    header = ("# TEMPLATE: the model could not draft a valid persona from this sentence, so this is a template.\n"
              f"# Sentence: {sentence}\n# Replace every TODO before saving.\n")
    return header + dump_yaml(data)
