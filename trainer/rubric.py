"""The rubric format: weighted criteria grouped in dimensions, as a QA lead writes it in rubrics/*.yaml."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .content import Strict, load_dir, load_model

DIMENSIONS = ("active_listening", "script_adherence", "de_escalation", "empathy", "resolution", "compliance",
              "offer_handling", "closing", "delivery")


class Dimension(Strict):
    label: str = Field(min_length=1)
    weight: float = Field(gt=0, le=100)


class Criterion(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    dimension: str
    weight: float = Field(1.0, gt=0, le=10)
    description: str = Field(min_length=1, description="plain-language description; also the judge's question")
    check: Literal["deterministic", "judge", "both"] = "deterministic"
    detector: str = Field(min_length=1, description="name of the built-in deterministic check (see trainer/grader/checks.py)")
    fatal: bool = False
    coaching: str = Field("", description="'next time, try' advice shown when the criterion is missed")


class Rubric(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    version: int = Field(ge=1)
    title: str = Field(min_length=1)
    dimensions: dict[str, Dimension]
    criteria: list[Criterion] = Field(min_length=1)

    @field_validator("dimensions")
    @classmethod
    def _known_dimensions(cls, v: dict[str, Dimension]) -> dict[str, Dimension]:
        for name in v:
            if name not in DIMENSIONS:
                raise ValueError(f"unknown dimension '{name}'; use one of: {', '.join(DIMENSIONS)}")
        return v

    @model_validator(mode="after")
    def _criteria_consistent(self) -> "Rubric":
        from .grader.checks import DETECTORS
        seen = set()
        for c in self.criteria:
            if c.id in seen:
                raise ValueError(f"criterion id '{c.id}' appears twice; give each criterion a unique id")
            seen.add(c.id)
            if c.dimension not in self.dimensions:
                raise ValueError(f"criterion '{c.id}' names dimension '{c.dimension}', which is not under dimensions:; add it or use one of: {', '.join(self.dimensions)}")
            if c.detector not in DETECTORS:
                raise ValueError(f"criterion '{c.id}' names detector '{c.detector}'; use one of: {', '.join(sorted(DETECTORS))}")
        return self


def load_rubric(path: Path) -> Rubric:
    return load_model(path, Rubric)


def load_rubrics(directory: Path):
    return load_dir(directory, Rubric)
