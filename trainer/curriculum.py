"""A curriculum: a named track of ordered modules, each a scenario with a pass mark, a mode and prerequisites.

Validated like personas: unknown fields are errors, and every problem names the file, the field and the
fix. Cross-checks against the catalog (does the scenario exist?) happen in `trainer.catalog`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from .content import Strict, load_dir, load_model

MODES = ("practice", "assessment")


class Medals(Strict):
    """Score thresholds (0–100) for medal tiers, judged on a module's best score."""

    bronze: float = Field(50, ge=0, le=100)
    silver: float = Field(75, ge=0, le=100)
    gold: float = Field(90, ge=0, le=100)

    @model_validator(mode="after")
    def _ascending(self) -> "Medals":
        if not self.bronze <= self.silver <= self.gold:
            raise ValueError(f"medal thresholds must rise: bronze {self.bronze} ≤ silver {self.silver} ≤ gold {self.gold}; reorder them")
        return self

    def tier(self, score: float | None) -> str | None:
        if score is None:
            return None
        for name in ("gold", "silver", "bronze"):
            if score >= getattr(self, name):
                return name
        return None


class Module(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = Field(min_length=1)
    scenario: str = Field(min_length=1, description="id of a scenario in scenarios/")
    description: str = ""
    pass_score: float = Field(70, ge=0, le=100)
    max_attempts: int | None = Field(None, ge=1, description="attempts allowed; omit for unlimited")
    prerequisites: list[str] = Field(default_factory=list, description="ids of earlier modules that must be passed first")
    mode: Literal["practice", "assessment"] = "practice"


class Curriculum(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = Field(min_length=1)
    description: str = ""
    audience: str = ""
    medals: Medals = Field(default_factory=Medals)
    modules: list[Module] = Field(min_length=1)

    @model_validator(mode="after")
    def _module_graph(self) -> "Curriculum":
        seen: set[str] = set()
        for i, m in enumerate(self.modules):
            if m.id in seen:
                raise ValueError(f"modules[{i}].id: '{m.id}' appears twice; give each module a unique id")
            for p in m.prerequisites:
                if p == m.id:
                    raise ValueError(f"modules[{i}].prerequisites: module '{m.id}' cannot require itself; remove '{p}'")
                if p not in seen:
                    later = any(x.id == p for x in self.modules)
                    hint = "list modules in the order they are taken (a prerequisite comes before the module)" if later \
                        else f"use one of the earlier module ids: {', '.join(sorted(seen)) or '(none: this is the first module)'}"
                    raise ValueError(f"modules[{i}].prerequisites: '{p}' is not an earlier module; {hint}")
            seen.add(m.id)
        return self

    def module(self, module_id: str) -> Module:
        for m in self.modules:
            if m.id == module_id:
                return m
        raise KeyError(f"curriculum '{self.id}' has no module '{module_id}'")


def load_curriculum(path: Path) -> Curriculum:
    return load_model(path, Curriculum)


def load_curricula(directory: Path):
    if not directory.is_dir():
        return {}, []
    return load_dir(directory, Curriculum)
