"""Grading time for a 20-turn call: the deterministic grader (20 runs, mean) and the LLM judge on the embedded
model (3 runs, each and median), with the judge's status (ok / repaired / invalid / error).

    .venv/bin/python bench/bench_grader.py [--warm]

By default the llama.cpp KV cache is cleared before each judge run, because in the app the judge prompt follows
customer turns and shares no prefix with them (a cold prompt is the realistic case). --warm keeps the cache, so
runs 2 and 3 reuse the identical prompt.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Recorder, load_avg, median, peak_rss_mib, setup_env, write_json  # noqa: E402

setup_env()

from trainer.actor import Turn  # noqa: E402
from trainer.catalog import Catalog  # noqa: E402
from trainer.config import load_settings  # noqa: E402
from trainer.grader import Grader  # noqa: E402
from trainer.llm import make_backend  # noqa: E402

TARGET_S = 10.0
DET_RUNS = 20
JUDGE_RUNS = 3


def pick_call(cat: Catalog) -> tuple[str, dict]:
    """The longest calibration transcript (by characters of text) with 20 turns alternating agent/customer."""
    best = None
    for f in sorted((ROOT / "calibration").glob("*.json")):
        data = json.loads(f.read_text())
        turns = data.get("turns", [])
        if len(turns) != 20 or data.get("scenario") not in cat.scenarios:
            continue
        if [t["speaker"] for t in turns] != ["agent", "customer"] * 10:
            continue
        size = sum(len(t["text"]) for t in turns)
        if best is None or size > best[0]:
            best = (size, f, data)
    if best is None:
        raise SystemExit("no 20-turn calibration transcript found")
    return str(best[1].relative_to(ROOT)), best[2]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warm", action="store_true", help="keep the KV cache between judge runs")
    args = ap.parse_args()

    settings = load_settings()
    cat = Catalog.load(settings.content_dir)
    src, data = pick_call(cat)
    scenario = cat.scenarios[data["scenario"]]
    persona = cat.persona_for(scenario)
    rubric = cat.rubrics[scenario.rubric]
    turns = [Turn(t["speaker"], t["text"]) for t in data["turns"]]
    judged = [c.id for c in rubric.criteria if c.check in ("judge", "both")]
    print(f"call: {src} (scenario {scenario.id}, {len(turns)} turns, {sum(len(t.text) for t in turns)} chars); "
          f"rubric {rubric.id} v{rubric.version}: {len(rubric.criteria)} criteria, judged by the LLM: {', '.join(judged)}")
    print(f"cpus={os.cpu_count()} loadavg at start {load_avg()}")

    # ---------------------------------------------------------------- deterministic
    det = Grader(rubric)
    det_times, det_card = [], None
    for _ in range(DET_RUNS):
        t0 = time.perf_counter()
        det_card = det.grade(turns, persona=persona, scenario=scenario)
        det_times.append(time.perf_counter() - t0)
    assert det_card is not None
    det_mean = statistics.mean(det_times)
    print(f"\ndeterministic grader: {DET_RUNS} runs, mean {det_mean * 1000:.1f} ms (min {min(det_times) * 1000:.1f}, "
          f"max {max(det_times) * 1000:.1f}, first {det_times[0] * 1000:.1f}); overall {det_card.overall} "
          f"(human label {data.get('overall')}), passed={det_card.passed}, judge_status={det_card.judge_status}")

    # ---------------------------------------------------------------- LLM judge on the embedded model
    t0 = time.perf_counter()
    backend = make_backend(settings.grader, settings, slot="grader")
    t_make = time.perf_counter() - t0
    llm = backend.load()
    t_load = time.perf_counter() - t0
    print(f"\njudge backend {backend.name} threads={backend.n_threads} n_ctx={backend.n_ctx}: make_backend {t_make:.2f}s, "
          f"make+load {t_load:.2f}s")
    rec = Recorder(backend)
    judge = Grader(rubric, judge_backend=backend)
    runs, warmed_runs = [], []
    for i in range(1, JUDGE_RUNS + 1):
      for mode in ("cold", "warmed"):
        if not args.warm and hasattr(llm, "reset"):
            llm.reset()            # cold prompt, as after a customer call
        warm_s = warm_tokens = 0
        if mode == "warmed":
            # what the app does during a live call: after each customer reply the judge reads the call so far
            # (here: all but the last line, so the final grade still has a little new text to read)
            t0 = time.perf_counter()
            warm_tokens = judge.warm(turns[:-1])
            warm_s = time.perf_counter() - t0
        mark = rec.mark()
        t0 = time.perf_counter()
        card = judge.grade(turns, persona=persona, scenario=scenario)
        secs = time.perf_counter() - t0
        gens = rec.since(mark)
        crit = {c.id: {"verdict": c.verdict, "source": c.source, "judge_status": c.judge_status, "note": c.note}
                for c in card.criteria if c.id in judged}
        det_verdicts = {c.id: c.verdict for c in det_card.criteria if c.id in judged}
        (runs if mode == "cold" else warmed_runs).append({
                     "run": i, "mode": mode, "seconds": round(secs, 3), "warm_s": round(warm_s, 3), "warm_tokens": warm_tokens,
                     "judge_status": card.judge_status, "overall": card.overall,
                     "passed": card.passed, "criteria": crit, "deterministic_verdicts": det_verdicts,
                     "generations": [{"prompt_tokens": g["stats"].get("prompt_tokens"), "reused_tokens": g["stats"].get("reused_tokens"),
                                      "completion_tokens": g["stats"].get("completion_tokens"),
                                      "first_token_s": round(g["stats"].get("first_token_s", 0.0), 3),
                                      "total_s": round(g["stats"].get("total_s", 0.0), 3), "raw": g["raw"]} for g in gens]})
        gen_txt = "; ".join(f"prompt {g['stats'].get('prompt_tokens')} tok (reused {g['stats'].get('reused_tokens')}), "
                            f"{g['stats'].get('completion_tokens')} tok out, first tok {g['stats'].get('first_token_s', 0):.1f}s"
                            for g in gens)
        pre = f" (after {warm_tokens} tokens read during the call in {warm_s:.1f}s)" if mode == "warmed" else ""
        print(f"judge run {i} {mode}: {secs:.1f}s{pre}  status={card.judge_status}  overall {card.overall}  "
              f"[{len(gens)} generation(s): {gen_txt}]")
        for cid, v in crit.items():
            print(f"    {cid:<22} verdict={v['verdict']:<8} source={v['source']:<13} judge_status={v['judge_status']}"
                  f"  (deterministic alone: {det_verdicts.get(cid)})")

    jt = [r["seconds"] for r in runs]
    statuses = [r["judge_status"] for r in runs]
    summary = {
        "call": src, "scenario": scenario.id, "turns": len(turns), "human_overall": data.get("overall"),
        "deterministic_runs": DET_RUNS, "deterministic_mean_s": round(det_mean, 5), "deterministic_min_s": round(min(det_times), 5),
        "deterministic_max_s": round(max(det_times), 5), "deterministic_overall": det_card.overall,
        "judge_load_s": round(t_load, 3), "judge_runs_s": jt, "judge_median_s": round(median(jt), 3),
        "judge_warmed_runs_s": [r["seconds"] for r in warmed_runs],
        "judge_warmed_median_s": round(median([r["seconds"] for r in warmed_runs]), 3),
        "judge_warm_s": [r["warm_s"] for r in warmed_runs], "judge_warmed_statuses": [r["judge_status"] for r in warmed_runs],
        "judge_statuses": statuses, "judge_overall": [r["overall"] for r in runs], "judge_cache": "warm" if args.warm else "cold (reset before each run)",
        "target_s": TARGET_S, "deterministic_met": det_mean <= TARGET_S, "judge_median_met": median(jt) <= TARGET_S,
        "peak_rss_mib": round(peak_rss_mib()), "cpu_count": os.cpu_count(), "loadavg_end": load_avg(),
    }
    print()
    print(f"deterministic grader: mean {det_mean * 1000:.1f} ms over {DET_RUNS} runs   (target <= {TARGET_S:.0f} s: "
          f"{'MET' if summary['deterministic_met'] else 'NOT MET'})")
    print(f"LLM judge ({summary['judge_cache']}): runs " + ", ".join(f"{s:.1f}s" for s in jt)
          + f"; median {median(jt):.1f}s   (target <= {TARGET_S:.0f} s: {'MET' if summary['judge_median_met'] else 'NOT MET'})")
    wt = summary["judge_warmed_runs_s"]
    print("LLM judge after reading the call during it (as in the app): runs " + ", ".join(f"{s:.1f}s" for s in wt)
          + f"; median {median(wt):.1f}s   (target <= {TARGET_S:.0f} s: {'MET' if median(wt) <= TARGET_S else 'NOT MET'})")
    print(f"judge status per run: {', '.join(statuses)}; overall per run {summary['judge_overall']} vs deterministic "
          f"{det_card.overall} vs human {data.get('overall')}")
    print(f"judge model load {t_load:.2f}s; peak RSS {summary['peak_rss_mib']} MiB; loadavg at end {summary['loadavg_end']}")
    path = write_json("bench_grader", {"summary": summary, "deterministic_times_s": [round(x, 5) for x in det_times],
                                       "judge_runs": runs, "judge_warmed_runs": warmed_runs})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
