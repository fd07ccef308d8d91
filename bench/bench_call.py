"""A scripted 10-turn call on the embedded model: time to first customer token and full reply per
turn (p50/p95), model load time, peak memory, and how much of each prompt was reused from cache."""
from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("FRONTLINE_HOME", tempfile.mkdtemp(prefix="frontline-bench-"))
os.environ.setdefault("FRONTLINE_MODELS_DIR", str(Path.home() / ".frontline" / "models"))

from trainer.service import Frontline  # noqa: E402

LINES = [
    "Thank you for calling Brightwave, my name is Sam. How can I help you today?",
    "I'm sorry to hear that. Could I take your account number, please?",
    "Thanks. For security, can I have your postcode and date of birth?",
    "I completely understand how annoying that is, being charged twice.",
    "So just to confirm, you were charged £42 twice for your broadband this month?",
    "When did you first notice the second payment?",
    "Which card do you pay with?",
    "Let me check that for you. I can see both payments on the account.",
    "That must have been a shock on your statement this morning.",
    "I'll refund the duplicate £42 now; you'll see it within 3 to 5 working days.",
]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> int:
    app = Frontline()
    backend = app.customer_backend()
    t0 = time.perf_counter()
    backend.load()
    load_s = time.perf_counter() - t0
    session = app.start_call("bench", "double-billed-dana")
    rows = []
    for line in LINES:
        first: list[float] = []
        start = time.perf_counter()
        reply = session.agent_says(line, on_token=lambda _t: first or first.append(time.perf_counter() - start))
        total = time.perf_counter() - start
        st = backend.last_stats
        rows.append({"agent": line, "customer": reply.text, "beat": reply.beat, "first_token_s": round(first[0] if first else total, 3),
                     "full_reply_s": round(total, 3), "prompt_tokens": st.prompt_tokens, "reused_tokens": st.reused_tokens,
                     "regenerated": reply.regenerated, "fallback": reply.used_fallback})
        if reply.ended:
            break
    print(f"{'turn':>4} {'first tok':>9} {'reply':>6} {'prompt':>6} {'reused':>6}  customer line")
    for i, r in enumerate(rows, 1):
        print(f"{i:>4} {r['first_token_s']:>8.2f}s {r['full_reply_s']:>5.2f}s {r['prompt_tokens']:>6} {r['reused_tokens']:>6}  {r['customer']}")
    ft = [r["first_token_s"] for r in rows]
    fr = [r["full_reply_s"] for r in rows]
    later = rows[1:]
    reuse = statistics.mean(r["reused_tokens"] / r["prompt_tokens"] for r in later) if later else 0.0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = {"turns": len(rows), "first_token_p50": statistics.median(ft), "first_token_p95": pct(ft, 0.95),
               "full_reply_p50": statistics.median(fr), "full_reply_p95": pct(fr, 0.95),
               "first_token_p50_after_turn1": statistics.median(ft[1:]) if len(ft) > 1 else None,
               "model_load_s": round(load_s, 2), "peak_rss_mib": round(peak_mib), "prompt_reused_after_turn1": round(reuse, 3),
               "cpu_threads": backend.n_threads}
    print(f"\nfirst token p50 {summary['first_token_p50']:.2f}s  p95 {summary['first_token_p95']:.2f}s   (target p50 <= 0.8 s)")
    print(f"full reply  p50 {summary['full_reply_p50']:.2f}s  p95 {summary['full_reply_p95']:.2f}s   (target p50 <= 2.5 s)")
    print(f"model load {load_s:.2f}s, peak RSS {peak_mib:.0f} MiB, prompt tokens reused from cache after turn 1: {reuse:.0%}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_call.json").write_text(json.dumps({"summary": summary, "turns": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
