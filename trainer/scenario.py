"""A scenario: a persona, the call script the agent should follow, the rubric and a pass mark."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from .content import Strict, load_dir, load_model

# Built-in step kinds. Each has a detector in trainer.grader.checks that matches by meaning.
STEP_KINDS = (
    "greet",          # own name and company
    "verify",         # ask for identity/security details before account data
    "acknowledge",    # acknowledge the customer's feelings / situation
    "restate",        # paraphrase the issue back
    "clarify",        # ask a clarifying question
    "resolve",        # concrete fix with next steps
    "timeline",       # when it will happen
    "reference",      # give a reference / ticket number
    "needs",          # ask about needs before offering
    "offer",          # relevant offer tied to a need
    "hold",           # ask before putting on hold
    "transfer",       # explain the transfer and warm hand-off
    "summarise",      # summarise what was agreed
    "anything_else",  # ask if there is anything else
    "close",          # thank and close
)


class ScriptStep(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    kind: str
    label: str = Field(min_length=1, description="what the trainee sees in the checklist")
    cues: list[str] = Field(default_factory=list, description="extra phrases that count for this step, besides the built-in ones")
    required: bool = True

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in STEP_KINDS:
            raise ValueError(f"unknown step kind '{v}'; use one of: {', '.join(STEP_KINDS)}")
        return v


class Scenario(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = Field(min_length=1)
    persona: str = Field(min_length=1, description="id of a persona in personas/")
    rubric: str = Field("default", description="id of a rubric in rubrics/")
    pass_score: float = Field(70, ge=0, le=100)
    call_script: list[ScriptStep] = Field(min_length=1)

    @field_validator("call_script")
    @classmethod
    def _unique_steps(cls, v: list[ScriptStep]) -> list[ScriptStep]:
        seen = set()
        for step in v:
            if step.id in seen:
                raise ValueError(f"step id '{step.id}' appears twice; give each step a unique id")
            seen.add(step.id)
        return v


def load_scenario(path: Path) -> Scenario:
    return load_model(path, Scenario)


def load_scenarios(directory: Path):
    return load_dir(directory, Scenario)
