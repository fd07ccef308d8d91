"""The persona format: a simulated customer, as a trainer writes it in personas/*.yaml."""
from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .content import Strict, Text, load_dir, load_model

CALMING_TRIGGERS = ("acknowledgement", "apology", "ownership", "timeline", "restating", "empathy", "using_name")
INFLAMING_TRIGGERS = ("calm_down", "blame", "jargon", "repeat_request", "talked_over", "dismissive", "rude")
ALL_TRIGGERS = CALMING_TRIGGERS + INFLAMING_TRIGGERS

DEFAULT_CALM = {"acknowledgement": 1.0, "apology": 1.0, "ownership": 1.0, "timeline": 1.5, "restating": 1.0,
                "empathy": 0.5, "using_name": 0.25}
DEFAULT_INFLAME = {"calm_down": 2.5, "blame": 2.0, "jargon": 1.0, "repeat_request": 1.5, "talked_over": 1.0,
                   "dismissive": 2.0, "rude": 3.0}


class ScenarioType(str, Enum):
    complaint = "complaint"
    billing = "billing"
    angry_caller = "angry_caller"
    escalation = "escalation"
    upsell = "upsell"
    cross_sell = "cross_sell"
    follow_up = "follow_up"
    confused = "confused"
    retention = "retention"
    technical = "technical"


class Company(Strict):
    name: str = Field(min_length=1)
    product: str = Field(min_length=1, description="what the company sells / the product this call is about")
    context: str = Field("", description="policies the agent works under, in a sentence or two")


class Facts(Strict):
    """What the customer knows for sure. The actor may never contradict these."""

    full_name: str = Field(min_length=1)
    account_number: Text = Field(min_length=1)
    verification: dict[str, Text] = Field(default_factory=dict,
                                         description="security questions → the customer's answers, e.g. postcode: 'BT7 1NN'")
    phone: Text | None = None
    email: str | None = None
    address: str | None = None
    plan: str | None = None
    amounts: dict[str, Text] = Field(default_factory=dict, description="named amounts, e.g. duplicate_charge: '£42.00'")
    dates: dict[str, Text] = Field(default_factory=dict)
    order_ids: dict[str, Text] = Field(default_factory=dict)
    history: list[str] = Field(default_factory=list, description="earlier contacts and events, oldest first")

    def all_values(self) -> list[str]:
        vals = [self.full_name, self.account_number, *self.verification.values(), *self.amounts.values(),
                *self.dates.values(), *self.order_ids.values()]
        vals += [v for v in (self.phone, self.email, self.address, self.plan) if v]
        return vals


class HiddenDetail(Strict):
    """Something the customer only says when the agent asks about it."""

    topic: str = Field(min_length=1)
    asked_by: list[str] = Field(min_length=1, description="words in the agent's question that draw this out, e.g. ['when', 'date']")
    detail: str = Field(min_length=1, description="what the customer says, first person")


class Goal(Strict):
    description: str = Field(min_length=1, description="what outcome satisfies the caller, in plain words")
    accepts: list[str] = Field(min_length=1, description="words that mean the agent is offering the fix, e.g. ['refund', 'credit']")
    requires_timeline: bool = Field(True, description="the caller also needs a concrete date or time frame")
    requires_reference: bool = Field(False, description="the caller also wants a reference/ticket number")


class Triggers(Strict):
    """How much each of the agent's moves shifts the mood (points on the 0–10 scale)."""

    calm: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_CALM))
    inflame: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_INFLAME))

    @field_validator("calm")
    @classmethod
    def _known_calm(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_trigger_names(v, CALMING_TRIGGERS, "calm")

    @field_validator("inflame")
    @classmethod
    def _known_inflame(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_trigger_names(v, INFLAMING_TRIGGERS, "inflame")


def _check_trigger_names(v: dict[str, float], allowed: tuple[str, ...], kind: str) -> dict[str, float]:
    for name, weight in v.items():
        if name not in allowed:
            raise ValueError(f"'{name}' is not a {kind} trigger; use one of: {', '.join(allowed)}")
        if not 0 <= weight <= 5:
            raise ValueError(f"weight for '{name}' must be between 0 and 5 mood points")
    return v


class Offer(Strict):
    """A product the agent may offer on this call, and how the customer takes it."""

    product: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1, description="words that mean the agent is offering it")
    openness: int = Field(5, ge=0, le=10, description="0 never buys, 10 keen")
    needs: list[str] = Field(default_factory=list, description="needs the customer has that the offer fits, revealed when asked")
    objections: list[str] = Field(default_factory=list, description="what the customer says against it, in order")
    accepts_if: list[str] = Field(default_factory=list, description="words in the agent's answer that overcome the objection")


class Speech(Strict):
    style: str = Field(min_length=1, description="how the customer talks, in a sentence")
    example_lines: list[str] = Field(min_length=2, max_length=6)


class Voice(Strict):
    """How the customer sounds in voice practice (piper-tts). Every field is optional."""

    speed: float = Field(1.0, ge=0.5, le=2.0, description="speaking rate: 1.0 the voice's own pace, 1.3 hurried, 0.8 slow")
    variation: float = Field(0.667, ge=0.0, le=1.0, description="0 flat and even … 1 lively and uneven (Piper's noise scale)")
    model_path: str | None = Field(None, description="another Piper voice (.onnx with its .onnx.json beside it); "
                                                     "absolute, or relative to the content folder")

    @field_validator("model_path")
    @classmethod
    def _onnx(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not v.endswith(".onnx"):
            raise ValueError("voice.model_path must name a Piper voice file ending in .onnx (with its .onnx.json beside it); "
                             "fix the path, or remove model_path to use the embedded voice")
        p = Path(v).expanduser()
        if p.is_absolute() and not (p.is_file() and Path(f"{p}.json").is_file()):
            raise ValueError(f"voice.model_path {v} (or its .onnx.json) does not exist; copy the voice there, "
                             "or remove model_path to use the embedded voice")
        return v


class Supervisor(Strict):
    demand_at_mood: float | None = Field(9.0, ge=0, le=10, description="mood at which they ask for a manager; null = never")
    accepts_transfer: bool = True


class AgentBrief(Strict):
    """What the agent sees before and during the call: a short brief and a CRM card."""

    summary: str = Field(min_length=1)
    crm: dict[str, Text] = Field(min_length=1)
    direction: Literal["inbound", "outbound"] = "inbound"


class Persona(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="lowercase id, e.g. double-billed-dana")
    name: str = Field(min_length=1, description="display name")
    scenario_type: ScenarioType
    difficulty: int = Field(ge=1, le=5)
    company: Company
    facts: Facts
    calling_about: str = Field("my account", min_length=1, max_length=80,
                               description="what the call is about, as the caller would finish 'I'm calling about …', "
                                           "e.g. 'the double charge on my bill'")
    problem: str = Field(min_length=1, description="why they are calling, first person is fine")
    goal: Goal
    hidden_details: list[HiddenDetail] = Field(default_factory=list)
    mood: float = Field(ge=0, le=10, description="starting mood: 0 calm … 10 furious")
    patience: float = Field(ge=1, le=10, description="how much mishandling they take before hanging up")
    triggers: Triggers = Field(default_factory=Triggers)
    offer: Offer | None = None
    speech: Speech
    voice: Voice | None = None
    supervisor: Supervisor = Field(default_factory=Supervisor)
    brief: AgentBrief

    @model_validator(mode="after")
    def _name_matches(self) -> "Persona":
        if self.facts.full_name.split()[0].lower() != self.name.split()[0].lower():
            raise ValueError("name and facts.full_name must share a first name (the agent sees one, the customer says the other)")
        return self

    @property
    def first_name(self) -> str:
        return self.name.split()[0]

    @property
    def speaker_tag(self) -> str:
        """Transcript tag for the customer's lines, e.g. DANA."""
        return re.sub(r"[^A-Z]", "", self.first_name.upper()) or "CUSTOMER"


def load_persona(path: Path) -> Persona:
    return load_model(path, Persona)


def load_personas(directory: Path):
    return load_dir(directory, Persona)
