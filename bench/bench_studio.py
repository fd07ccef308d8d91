"""The studio on the embedded model: drafting personas from one sentence (how often the model's YAML
validates first time / after one repair / falls back to the template, and how long it takes), and an
auto-play of the four starter angry callers with the model wording the customer's lines (time, and
whether the good and rude agents' mood curves part as they should).

    .venv/bin/python bench/bench_studio.py            # about 6-10 minutes on 2 cores
    .venv/bin/python bench/bench_studio.py --quick    # 2 sentences, 1 persona
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_avg, median, peak_rss_mib, setup_env, write_json  # noqa: E402

setup_env()

from trainer.catalog import Catalog  # noqa: E402
from trainer.config import ROOT, load_settings  # noqa: E402
from trainer.llm import make_backend  # noqa: E402
from trainer.studio.autoplay import autoplay  # noqa: E402
from trainer.studio.draft import draft_persona  # noqa: E402

SENTENCES = [
    "retired teacher, confused by a new router, polite but slow",
    "furious small-business owner whose card machine payments were taken twice",
    "student who wants to cancel her phone contract because a rival is cheaper",
    "night-shift nurse whose broadband keeps dropping, tired and short-tempered",
    "father of three asking about adding lines to his mobile plan, friendly and chatty",
]
ANGRY = ["double-billed-dana", "estimated-bill-amara", "outage-frank", "refund-followup-grace"]


def main() -> None:
    quick = "--quick" in sys.argv
    settings = load_settings()
    t0 = time.perf_counter()
    backend = make_backend(settings.customer, settings)
    drafts = []
    for sentence in SENTENCES[:2] if quick else SENTENCES:
        t = time.perf_counter()
        r = draft_persona(sentence, backend)
        drafts.append({"sentence": sentence, "source": r.source, "attempts": r.attempts, "seconds": round(time.perf_counter() - t, 1),
                       "problems": [str(p) for p in r.problems][:10], "notes": r.notes, "yaml": r.yaml_text})
        print(f"draft  {r.source:16} {drafts[-1]['seconds']:6.1f}s  {sentence}", flush=True)
        write_json("bench_studio_partial", {"drafts": drafts})          # a run cut short still leaves its figures
    cat = Catalog.load(ROOT)
    plays = []
    for pid in ANGRY[:1] if quick else ANGRY:
        t = time.perf_counter()
        res = autoplay(cat.personas[pid], backend)
        lines = sum(1 for run in res.runs.values() for ln in run.lines if ln.speaker == "customer")
        fallback = sum(1 for run in res.runs.values() for ln in run.lines if ln.speaker == "customer" and ln.note)
        plays.append({"persona": pid, "seconds": round(time.perf_counter() - t, 1), "customer_lines": lines,
                      "director_fallback_lines": fallback, "works": res.works(),
                      "good": res.runs["good agent"].moods, "rude": res.runs["rude agent"].moods,
                      "good_end": res.runs["good agent"].end_reason, "rude_end": res.runs["rude agent"].end_reason})
        print(f"autoplay {pid:24} {plays[-1]['seconds']:6.1f}s works={res.works()} good {res.runs['good agent'].moods[0]}->"
              f"{res.runs['good agent'].moods[-1]} rude ->{res.runs['rude agent'].moods[-1]} fallback lines {fallback}/{lines}", flush=True)
    summary = {
        "drafts": len(drafts),
        "draft_valid_first_try": sum(d["source"] == "model" for d in drafts),
        "draft_valid_after_repair": sum(d["source"] == "model, repaired" for d in drafts),
        "draft_template_fallback": sum(d["source"] == "template" for d in drafts),
        "draft_median_s": median([d["seconds"] for d in drafts]),
        "autoplay_personas": len(plays), "autoplay_works": sum(p["works"] for p in plays),
        "autoplay_median_s": median([p["seconds"] for p in plays]),
        "total_s": round(time.perf_counter() - t0, 1), "peak_rss_mib": round(peak_rss_mib()), "load_avg": load_avg(),
    }
    print(summary)
    (Path(__file__).resolve().parent / "results" / "bench_studio_partial.json").unlink(missing_ok=True)
    write_json("bench_studio" + ("_quick" if quick else ""), {"summary": summary, "drafts": drafts, "autoplay": plays,
                                                               "model": settings.customer.describe()})


if __name__ == "__main__":
    main()
