"""Agreement between the grader and human QA labels: Spearman, quadratic-weighted kappa, share within one point."""
from __future__ import annotations

import json
from pathlib import Path

from .actor import Turn

DIMS = ("active_listening", "script_adherence", "de_escalation", "empathy", "resolution", "compliance", "offer_handling", "closing")


def _ranks(xs: list[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pearson(a: list[float], b: list[float]) -> float:
    n = len(a)
    if n < 2:
        return float("nan")
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    va = sum((x - ma) ** 2 for x in a) ** 0.5
    vb = sum((y - mb) ** 2 for y in b) ** 0.5
    return cov / (va * vb) if va and vb else float("nan")


def spearman(a: list[float], b: list[float]) -> float:
    return pearson(_ranks(a), _ranks(b))


def quadratic_kappa(a: list[int], b: list[int], k: int = 5) -> float:
    n = len(a)
    if n == 0:
        return float("nan")
    obs = [[0.0] * k for _ in range(k)]
    for x, y in zip(a, b):
        obs[x - 1][y - 1] += 1
    ha = [sum(row) for row in obs]
    hb = [sum(obs[i][j] for i in range(k)) for j in range(k)]
    num = den = 0.0
    for i in range(k):
        for j in range(k):
            w = (i - j) ** 2 / (k - 1) ** 2
            num += w * obs[i][j]
            den += w * ha[i] * hb[j] / n
    return 1 - num / den if den else float("nan")


def within_one(a: list[int], b: list[int]) -> float:
    return sum(abs(x - y) <= 1 for x, y in zip(a, b)) / len(a) if a else float("nan")


def calibrate(directory: Path, *, judge: bool = False, app=None) -> dict:
    from .catalog import Catalog
    from .config import load_settings
    from .grader import Grader
    settings = load_settings()
    cat = app.catalog if app else Catalog.load(settings.content_dir)
    backend = None
    if judge:
        from .llm import make_backend
        backend = make_backend(settings.grader, settings, slot="grader")
    pairs: dict[str, tuple[list[float], list[int]]] = {d: ([], []) for d in DIMS}
    items = []
    files = sorted(directory.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no labelled transcripts (*.json) in {directory}")
    from tqdm import tqdm
    judge_status: dict[str, int] = {}
    for f in tqdm(files, desc="grading", unit="call", disable=not judge):   # with a judge this takes minutes
        data = json.loads(f.read_text())
        scenario = cat.scenarios.get(data.get("scenario", ""))
        persona = cat.persona_for(scenario) if scenario else None
        turns = [Turn(t["speaker"], t["text"]) for t in data["turns"]]
        grader = Grader(cat.rubrics[scenario.rubric if scenario else "default"], judge_backend=backend)
        card = grader.grade(turns, persona=persona, scenario=scenario)
        judge_status[card.judge_status] = judge_status.get(card.judge_status, 0) + 1
        row = {"id": data.get("id", f.stem), "overall_human": data.get("overall"), "overall_grader": card.overall,
               "fatal_human": bool(data.get("fatal")), "fatal_grader": bool(card.fatal_errors), "dims": {}}
        for d in DIMS:
            human = data["labels"].get(d)
            dim = next((x for x in card.dimensions if x.id == d), None)
            if human is None or dim is None or dim.scale5 is None:
                continue
            pairs[d][0].append(dim.scale5)
            pairs[d][1].append(int(human))
            row["dims"][d] = (round(dim.scale5, 2), human)
        items.append(row)
    report = {"n": len(items), "dimensions": {}, "items": items, "judge_status": judge_status}
    for d, (g, h) in pairs.items():
        g_int = [max(1, min(5, round(x))) for x in g]
        report["dimensions"][d] = {"n": len(g), "spearman": round(spearman(g, h), 3), "qwk": round(quadratic_kappa(g_int, h), 3),
                                   "within_one": round(within_one(g_int, h), 3)}
    fat = [(r["fatal_human"], r["fatal_grader"]) for r in items]
    report["fatal_agreement"] = round(sum(a == b for a, b in fat) / len(fat), 3)
    ov = [(r["overall_grader"], r["overall_human"]) for r in items if r["overall_human"] is not None]
    report["overall_spearman"] = round(spearman([a for a, _ in ov], [b for _, b in ov]), 3) if ov else None
    return report


def format_report(report: dict) -> str:
    lines = [f"{report['n']} labelled calls", f"{'dimension':20} {'n':>3} {'spearman':>9} {'qw-kappa':>9} {'within-1':>9}"]
    for d, m in report["dimensions"].items():
        lines.append(f"{d:20} {m['n']:>3} {m['spearman']:>9.3f} {m['qwk']:>9.3f} {m['within_one']:>9.0%}")
    lines.append(f"fatal-error agreement: {report['fatal_agreement']:.0%}; overall score spearman: {report['overall_spearman']}")
    if set(report.get("judge_status", {})) - {"off"}:
        lines.append("LLM judge: " + ", ".join(f"{k} {v}" for k, v in sorted(report["judge_status"].items())))
    return "\n".join(lines)
