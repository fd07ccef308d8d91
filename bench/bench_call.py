"""A scripted 10-turn call on the embedded model (double-billed-dana; if that call ends early, the remaining
turns continue on late-fee-lucas). Per turn: time to the first customer token (from agent_says until the
first on_token callback), full reply time, prompt tokens and prompt tokens reused from llama.cpp's cache.
Summary: p50/p95, model load time, peak RSS, share of the prompt reused after turn 1.

    .venv/bin/python bench/bench_call.py [--no-warm]

--no-warm: do not read each reply into the model's cache while the trainee answers (the behaviour before
CallSession.warm), for a side-by-side comparison.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Recorder, load_avg, median, pct, peak_rss_mib, setup_env, write_json  # noqa: E402

setup_env()

from trainer.accounts import SYSTEM  # noqa: E402
from trainer.service import Frontline  # noqa: E402

NO_WARM = "--no-warm" in sys.argv

TARGET_FIRST_P50 = 0.8
TARGET_FULL_P50 = 2.5
N_TURNS = 10

SCRIPTS: list[tuple[str, list[tuple[str, str]]]] = [
    ("double-billed-dana", [
        ("greet", "Good morning, thank you for calling Brightwave Telecom, my name is Sam. How can I help you today?"),
        ("ask account", "I'm sorry to hear that, Dana. I'll look into it for you. Could I take your account number, please?"),
        ("verify", "Thanks. Before I go into the account, could you confirm your postcode and date of birth for security?"),
        ("acknowledge", "Thank you, that's you verified. I completely understand how annoying it is to see the same charge taken twice."),
        ("restate", "So just to confirm, you've been charged £42.00 twice this month for your Fibre 500 broadband, and you'd like the second payment back?"),
        ("clarify", "Can you tell me which day the charges came out, and which card you paid with?"),
        ("fix + timeline", "Thanks. I can see both £42.00 payments on 3 November. I'll refund the duplicate £42.00 to your card ending 4471 today, "
                           "and it will reach your account within 3 to 5 working days."),
        ("summary", "So to recap: I've refunded the duplicate £42.00 today, it goes back to the card ending 4471, and you'll see it within 3 to 5 working days."),
        ("anything else", "Is there anything else I can help you with today?"),
        ("close", "Thanks for your patience, Dana. Have a lovely day, goodbye."),
    ]),
    ("late-fee-lucas", [
        ("greet", "Good morning, you're through to Northpeak Energy, my name is Sam. How can I help you today?"),
        ("ask account", "I'm sorry to hear that, Lucas. I'll look into it for you. Could I take your account number, please?"),
        ("verify", "Thanks. For security, could you confirm your postcode and the first line of your address?"),
        ("acknowledge", "Thank you, that's you verified. I completely understand, being charged a fee because your bank changed your card is frustrating."),
        ("restate", "So just to confirm, your saved card was declined on the 24th of October, you paid the full £88.40 on the 26th, and then a £15.00 late fee was added?"),
        ("clarify", "Have you updated the card details saved on the account, so future payments go through?"),
        ("fix + timeline", "I'll waive the £15.00 late fee for you now, and it will be removed before your next bill on 20 November."),
        ("summary", "So to recap: I've waived the £15.00 fee today, it won't appear on your bill on 20 November, and your new card ending 2290 is saved."),
        ("anything else", "Is there anything else I can help you with today?"),
        ("close", "Thanks for your patience, Lucas. Have a lovely day, goodbye."),
    ]),
]


def main() -> int:
    print(f"FRONTLINE_HOME={os.environ['FRONTLINE_HOME']}  models={os.environ['FRONTLINE_MODELS_DIR']}  cpus={os.cpu_count()}  "
          f"loadavg at start {load_avg()}")
    app = Frontline()
    t0 = time.perf_counter()
    backend = app.customer_backend()
    t_backend = time.perf_counter() - t0
    backend.load()
    load_total = time.perf_counter() - t0
    rss_after_load = peak_rss_mib()
    print(f"backend {backend.name} threads={backend.n_threads} n_ctx={backend.n_ctx}: customer_backend() {t_backend:.2f}s, "
          f"load() {backend.load_s:.2f}s, together {load_total:.2f}s")
    rec = Recorder(backend)

    rows: list[dict] = []
    calls_used = []
    for scenario_id, lines in SCRIPTS:
        if len(rows) >= N_TURNS:
            break
        session = app.start_call("bench", scenario_id, user=SYSTEM)
        session.warm_after_reply = not NO_WARM
        calls_used.append(scenario_id)
        for step, line in lines:
            if len(rows) >= N_TURNS:
                break
            session.warmed()   # a trainee reads the reply and types for seconds; the background prefill takes a fraction of one
            first: list[float] = []
            mark = rec.mark()
            start = time.perf_counter()

            def on_token(_text: str, _first=first, _start=start) -> None:
                if not _first:
                    _first.append(time.perf_counter() - _start)

            reply = session.agent_says(line, on_token=on_token)
            total = time.perf_counter() - start
            gens = rec.since(mark)
            st = backend.last_stats
            first_gen = gens[0]["stats"] if gens else {}
            rows.append({
                "turn": len(rows) + 1, "scenario": scenario_id, "step": step, "agent": line, "customer": reply.text,
                "beat": reply.beat, "mood": reply.mood, "ended": reply.ended, "end_reason": reply.end_reason,
                "first_token_s": round(first[0], 3) if first else None, "full_reply_s": round(total, 3),
                "prompt_tokens": st.prompt_tokens, "reused_tokens": st.reused_tokens, "completion_tokens": st.completion_tokens,
                "first_attempt_prompt_tokens": first_gen.get("prompt_tokens"), "first_attempt_reused_tokens": first_gen.get("reused_tokens"),
                "attempts": len(gens), "regenerated": reply.regenerated, "fallback": reply.used_fallback,
                "raw_attempts": [g["raw"] for g in gens], "error": reply.error,
            })
            if reply.ended:
                print(f"  (call on {scenario_id} ended after agent line '{step}': {reply.end_reason})")
                break

    print(f"\n{'turn':>4} {'step':<15} {'first tok':>9} {'reply':>7} {'prompt':>6} {'reused':>6} {'new':>4} {'reuse%':>6} {'att':>3} {'fb':>2}  customer line")
    for r in rows:
        ft = f"{r['first_token_s']:.2f}s" if r["first_token_s"] is not None else "-"
        share = r["first_attempt_reused_tokens"] / r["first_attempt_prompt_tokens"] if r["first_attempt_prompt_tokens"] else 0.0
        new = (r["first_attempt_prompt_tokens"] or 0) - (r["first_attempt_reused_tokens"] or 0)
        print(f"{r['turn']:>4} {r['step']:<15} {ft:>9} {r['full_reply_s']:>6.2f}s {r['first_attempt_prompt_tokens'] or 0:>6} "
              f"{r['first_attempt_reused_tokens'] or 0:>6} {new:>4} {share:>6.0%} {r['attempts']:>3} {'Y' if r['fallback'] else '':>2}  {r['customer']}")
    print("  (prompt/reused/new are for the first generation attempt of each turn; the table in the JSON also keeps the final attempt's "
          "backend.last_stats)")

    ft = [r["first_token_s"] for r in rows if r["first_token_s"] is not None]
    fr = [r["full_reply_s"] for r in rows]
    later = [r for r in rows[1:] if r["first_attempt_prompt_tokens"]]
    # turn 1 of the second call (if any) also starts a new prompt header; report it but keep it in the per-turn figure
    shares = [r["first_attempt_reused_tokens"] / r["first_attempt_prompt_tokens"] for r in later]
    shares_final = [r["reused_tokens"] / r["prompt_tokens"] for r in rows[1:] if r["prompt_tokens"]]
    peak = peak_rss_mib()
    summary = {
        "turns": len(rows), "calls": calls_used, "cpu_count": os.cpu_count(), "threads": backend.n_threads,
        "first_token_p50_s": round(median(ft), 3), "first_token_p95_s": round(pct(ft, 0.95), 3),
        "full_reply_p50_s": round(median(fr), 3), "full_reply_p95_s": round(pct(fr, 0.95), 3),
        "first_token_p50_after_turn1_s": round(median(ft[1:]), 3) if len(ft) > 1 else None,
        "target_first_token_p50_s": TARGET_FIRST_P50, "target_full_reply_p50_s": TARGET_FULL_P50,
        "first_token_p50_met": median(ft) <= TARGET_FIRST_P50, "full_reply_p50_met": median(fr) <= TARGET_FULL_P50,
        "customer_backend_s": round(t_backend, 3), "model_load_s": round(backend.load_s, 3), "load_total_s": round(load_total, 3),
        "peak_rss_mib": round(peak), "peak_rss_after_load_mib": round(rss_after_load),
        "reused_share_per_turn_after_first": [round(s, 3) for s in shares],
        "reused_share_min_after_first": round(min(shares), 3) if shares else None,
        "reused_share_mean_after_first": round(sum(shares) / len(shares), 3) if shares else None,
        "reused_share_mean_after_first_final_attempt": round(sum(shares_final) / len(shares_final), 3) if shares_final else None,
        "regenerated_turns": sum(1 for r in rows if r["regenerated"]), "fallback_turns": sum(1 for r in rows if r["fallback"]),
        "loadavg_end": load_avg(),
    }
    print()
    print(f"first token p50 {summary['first_token_p50_s']:.2f}s  p95 {summary['first_token_p95_s']:.2f}s   "
          f"(target p50 <= {TARGET_FIRST_P50} s: {'MET' if summary['first_token_p50_met'] else 'NOT MET'})")
    print(f"full reply  p50 {summary['full_reply_p50_s']:.2f}s  p95 {summary['full_reply_p95_s']:.2f}s   "
          f"(target p50 <= {TARGET_FULL_P50} s: {'MET' if summary['full_reply_p50_met'] else 'NOT MET'})")
    print(f"model load: customer_backend() {t_backend:.2f}s + load() {backend.load_s:.2f}s = {load_total:.2f}s")
    print(f"peak RSS {peak:.0f} MiB (after load {rss_after_load:.0f} MiB)")
    if shares:
        print(f"prompt reused from cache, turns 2..{len(rows)} (first attempt): "
              + " ".join(f"{s:.0%}" for s in shares)
              + f"  -> min {min(shares):.0%}, mean {sum(shares) / len(shares):.0%}")
    print(f"turns regenerated {summary['regenerated_turns']}/{len(rows)}, fallback {summary['fallback_turns']}/{len(rows)}; "
          f"calls: {', '.join(calls_used)}; loadavg at end {summary['loadavg_end']}")
    path = write_json("bench_call_no_warm" if NO_WARM else "bench_call", {"summary": summary, "turns": rows})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
