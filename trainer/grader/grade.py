"""Turn a call into a scorecard: criteria → dimension subscores → overall, fatal errors first."""
from __future__ import annotations

import logging
import time
from typing import Literal

from pydantic import BaseModel, Field

from ..actor import Turn
from ..content import content_hash
from ..llm.base import LLMBackend
from ..persona import Persona
from ..rubric import Rubric
from ..scenario import Scenario
from .checks import DETECTORS, CallContext
from .judge import Judge

log = logging.getLogger(__name__)

VERDICT = {1.0: "met", 0.5: "partly", 0.0: "not_met"}


class Evidence(BaseModel):
    turn: int
    quote: str


class CriterionScore(BaseModel):
    id: str
    dimension: str
    description: str
    weight: float
    verdict: Literal["met", "partly", "not_met", "n/a"]
    fatal: bool = False
    evidence: list[Evidence] = Field(default_factory=list)
    note: str = ""
    source: str = "deterministic"      # deterministic | judge | both
    judge_status: str | None = None
    coaching: str = ""


class DimensionScore(BaseModel):
    id: str
    label: str
    score: float | None                # 0–100, None if nothing applied
    scale5: float | None               # the same on a 1–5 scale, for comparing with human QA labels


class Scorecard(BaseModel):
    rubric_id: str
    rubric_version: int
    rubric_hash: str
    grader_model: str
    overall: float
    raw_overall: float                 # before fatal errors
    pass_score: float
    passed: bool
    fatal_errors: list[CriterionScore] = Field(default_factory=list)
    dimensions: list[DimensionScore]
    criteria: list[CriterionScore]
    coaching: list[str] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    judge_status: str = "off"
    seconds: float = 0.0
    speech: dict | None = None         # speech metrics (trainer/voice/metrics.py) when the call had audio

    def dimension(self, name: str) -> DimensionScore:
        return next(d for d in self.dimensions if d.id == name)


def _round_level(x: float) -> float:
    return 1.0 if x >= 0.75 else 0.5 if x >= 0.25 else 0.0


class Grader:
    """Deterministic checks always run; with a judge backend, criteria marked judge/both also ask the LLM."""

    def __init__(self, rubric: Rubric, *, judge_backend: LLMBackend | None = None, sleep=None):
        self.rubric = rubric
        self.judge = Judge(judge_backend, sleep=sleep) if judge_backend is not None else None
        self.model_name = judge_backend.name if judge_backend is not None else "deterministic"

    @property
    def can_warm(self) -> bool:
        return self.judge is not None and getattr(self.judge.backend, "supports_prefill", False)

    def warm(self, turns: list[Turn], *, wait_while=None) -> int:
        """Let a local judge read the call so far while the call is still going on (the prompt starts with the
        transcript), so grading at the end only reads the last lines and the questions. Returns tokens read."""
        if not self.can_warm:
            return 0
        return self.judge.backend.prefill(self.judge.prefix(CallContext(turns=turns)), wait_while=wait_while)

    def grade(self, turns: list[Turn], *, persona: Persona | None = None, scenario: Scenario | None = None,
              mood: list[float] | None = None, pass_score: float | None = None, speech: dict | None = None) -> Scorecard:
        t0 = time.perf_counter()
        ctx = CallContext(turns=turns, persona=persona, scenario=scenario, mood=mood, speech=speech)
        judged = [c for c in self.rubric.criteria if c.check in ("judge", "both")] if self.judge else []
        verdicts, judge_status = self.judge.judge(ctx, judged) if self.judge else ({}, "off")
        scores: list[CriterionScore] = []
        for c in self.rubric.criteria:
            det = DETECTORS[c.detector](ctx)
            level, evidence, source = det.level, [Evidence(turn=t, quote=q) for t, q in det.evidence], "deterministic"
            v = verdicts.get(c.id)
            if v is not None and v.level is not None and level is not None:
                if c.check == "judge":
                    level, source = v.level, "judge"
                else:
                    level, source = _round_level((level + v.level) / 2), "both"
                if v.turn and v.quote and v.level > 0:
                    evidence = [Evidence(turn=v.turn, quote=v.quote)] + evidence[:1]
            scores.append(CriterionScore(id=c.id, dimension=c.dimension, description=c.description, weight=c.weight,
                                         verdict="n/a" if level is None else VERDICT[level], fatal=c.fatal and level == 0.0,
                                         evidence=evidence, note=det.note + (f" (judge: {v.note})" if v and v.note else ""),
                                         source=source, judge_status=v.status if v else None, coaching=c.coaching))
        dims = []
        for name, d in self.rubric.dimensions.items():
            mine = [s for s in scores if s.dimension == name and s.verdict != "n/a"]
            if not mine:
                dims.append(DimensionScore(id=name, label=d.label, score=None, scale5=None))
                continue
            value = sum(s.weight * {"met": 1.0, "partly": 0.5, "not_met": 0.0}[s.verdict] for s in mine) / sum(s.weight for s in mine)
            dims.append(DimensionScore(id=name, label=d.label, score=round(100 * value, 1), scale5=round(1 + 4 * value, 2)))
        applied = [(self.rubric.dimensions[d.id].weight, d.score) for d in dims if d.score is not None]
        raw = round(sum(w * s for w, s in applied) / sum(w for w, _ in applied), 1) if applied else 0.0
        fatal = [s for s in scores if s.fatal]
        threshold = pass_score if pass_score is not None else (scenario.pass_score if scenario else 70.0)
        flags = []
        if ctx.ignored:
            flags.append(f"{len(ctx.ignored)} agent line(s) addressed the grader; they earn no credit")
        return Scorecard(rubric_id=self.rubric.id, rubric_version=self.rubric.version, rubric_hash=content_hash(self.rubric),
                         grader_model=self.model_name, overall=0.0 if fatal else raw, raw_overall=raw, pass_score=threshold,
                         passed=not fatal and raw >= threshold, fatal_errors=fatal, dimensions=dims, criteria=scores,
                         coaching=coaching_points(scores, persona), flags=flags, judge_status=judge_status,
                         seconds=round(time.perf_counter() - t0, 3), speech=speech)


def coaching_points(scores: list[CriterionScore], persona: Persona | None, n: int = 3) -> list[str]:
    """The 2–3 most valuable fixes: fatal errors first, then the heaviest misses, each with an example line."""
    missed = [s for s in scores if s.verdict in ("not_met", "partly") and s.coaching]
    missed.sort(key=lambda s: (not s.fatal, s.verdict == "partly", -s.weight))
    out, seen_dims = [], set()
    for s in missed:
        if s.dimension in seen_dims and len(missed) > n:
            continue
        seen_dims.add(s.dimension)
        out.append(_fill(s.coaching, persona))
        if len(out) == n:
            break
    return out


def _fill(text: str, persona: Persona | None) -> str:
    if persona is None:
        return text.replace("{name}", "the customer").replace("{company}", "our company").replace("{goal}", "sorting this out")
    return (text.replace("{name}", persona.first_name).replace("{company}", persona.company.name)
            .replace("{goal}", persona.goal.description[0].lower() + persona.goal.description[1:].rstrip(".")))
