"""All content a deployment serves: personas, scenarios and rubrics, loaded and cross-checked."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .content import ContentError, ContentProblem
from .persona import Persona, load_personas
from .scenario import Scenario, load_scenarios


@dataclass
class Catalog:
    root: Path
    personas: dict[str, Persona] = field(default_factory=dict)
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    rubrics: dict = field(default_factory=dict)
    curricula: dict = field(default_factory=dict)
    problems: list[ContentProblem] = field(default_factory=list)

    @classmethod
    def load(cls, root: Path, *, overlay: Callable[["Catalog"], None] | None = None) -> "Catalog":
        """Load the seed files; `overlay` may then replace or add items (the studio's published revisions)."""
        from .rubric import load_rubrics
        cat = cls(root=root)
        cat.personas, p1 = load_personas(root / "personas")
        cat.scenarios, p2 = load_scenarios(root / "scenarios")
        cat.rubrics, p3 = load_rubrics(root / "rubrics")
        cat.problems = p1 + p2 + p3
        from .curriculum import load_curricula
        cat.curricula, p4 = load_curricula(root / "curricula")
        cat.problems += p4
        if overlay is not None:
            overlay(cat)
        for sid, sc in list(cat.scenarios.items()):
            if sc.persona not in cat.personas:
                cat.problems.append(ContentProblem(file=str(root / "scenarios" / f"{sid}.yaml"), field="persona",
                                                   message=f"no persona with id '{sc.persona}'",
                                                   fix=f"use one of: {', '.join(sorted(cat.personas)) or '(none loaded)'}"))
                del cat.scenarios[sid]
            elif sc.rubric not in cat.rubrics:
                cat.problems.append(ContentProblem(file=str(root / "scenarios" / f"{sid}.yaml"), field="rubric",
                                                   message=f"no rubric with id '{sc.rubric}'",
                                                   fix=f"use one of: {', '.join(sorted(cat.rubrics)) or '(none loaded)'}"))
                del cat.scenarios[sid]
        for cid, cur in list(cat.curricula.items()):
            for i, m in enumerate(cur.modules):
                if m.scenario not in cat.scenarios:
                    cat.problems.append(ContentProblem(file=str(root / "curricula" / f"{cid}.yaml"), field=f"modules[{i}].scenario",
                                                       message=f"no scenario with id '{m.scenario}'",
                                                       fix=f"use one of: {', '.join(sorted(cat.scenarios)) or '(none loaded)'}"))
                    cat.curricula.pop(cid, None)
        return cat

    def curriculum(self, curriculum_id: str):
        try:
            return self.curricula[curriculum_id]
        except KeyError:
            raise ContentError([ContentProblem(file="curricula/", field="id", message=f"no curriculum '{curriculum_id}'",
                                               fix=f"use one of: {', '.join(sorted(self.curricula)) or '(none loaded)'}")]) from None

    def scenario(self, scenario_id: str) -> Scenario:
        try:
            return self.scenarios[scenario_id]
        except KeyError:
            raise ContentError([ContentProblem(file="scenarios/", field="id", message=f"no scenario '{scenario_id}'",
                                               fix=f"use one of: {', '.join(sorted(self.scenarios))}")]) from None

    def persona_for(self, scenario: Scenario) -> Persona:
        return self.personas[scenario.persona]
