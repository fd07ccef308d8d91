"""Load: N simulated trainees chatting at once through the app's service layer (the functions the web
UI calls), their customer played by an OpenAI-compatible fake server on loopback that answers after a
fixed delay. Reports throughput and the app's own overhead (reply latency beyond the fake delay).

    python bench/bench_load.py                      # N = 10, 25, 50 against the fake server (about 1 min)
    python bench/bench_load.py --embedded           # also: concurrent calls the embedded model sustains, p95 <= 5 s
    python bench/bench_load.py --db postgresql+psycopg://...   # on PostgreSQL instead of SQLite (WAL)

Run heavy variants under `flock /tmp/frontline-heavy.lock`. Results: bench/results/bench_load.json.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, load_avg, pct, setup_env, write_json  # noqa: E402

setup_env()

AGENT_LINES = [
    "Thank you for calling Brightwave, my name is Sam. How can I help?",
    "I'm sorry to hear that. Can I take your account number, please?",
    "Thank you. And can you confirm your postcode for security?",
    "I can see the two payments of £42 on the 3rd of November.",
    "I'll refund the duplicate £42 to your card within 5 working days.",
    "Your reference number is BW-55120. Is there anything else I can help with?",
]


def run_level(n: int, *, turns: int, delay: float, base_url: str, db_url: str, backend_kind: str = "openai",
              think: tuple[float, float] = (0.0, 0.0), warm_up: bool = False) -> dict:
    from trainer.accounts import SYSTEM
    from trainer.config import load_settings
    from trainer.service import Frontline
    from trainer.store import Store
    env = {"FRONTLINE_CONFIG": "/nonexistent.toml", "FRONTLINE_HOME": os.environ["FRONTLINE_HOME"]}
    if backend_kind == "openai":
        env.update({"FRONTLINE_CUSTOMER_BACKEND": "openai", "FRONTLINE_CUSTOMER_MODEL": "fake-customer",
                    "FRONTLINE_CUSTOMER_BASE_URL": base_url, "FRONTLINE_CUSTOMER_TIMEOUT_S": "60"})
    else:
        env.update({"FRONTLINE_MODELS_DIR": os.environ["FRONTLINE_MODELS_DIR"]})
    settings = load_settings(env)
    app = Frontline(settings=settings, store=Store(db_url))
    app.customer_backend()                               # build (or load) the backend before the clock starts
    if warm_up:                                          # one untimed reply: llama.cpp evaluates the persona header once
        s = app.start_call("warm-up", "double-billed-dana", user=SYSTEM)
        app.say(s.id, AGENT_LINES[0], actor=SYSTEM)
        app.end_call(s.id, SYSTEM)
    latencies: list[float] = []
    model_calls: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def trainee(i: int) -> None:
        rng = random.Random(i)
        try:
            session = app.start_call(f"trainee-{i:03d}", "double-billed-dana", user=SYSTEM)
            barrier.wait()
            for t in range(turns):
                if think[1]:
                    time.sleep(rng.uniform(*think))              # the trainee reads the reply and types the next line
                t0 = time.perf_counter()
                reply = app.say(session.id, AGENT_LINES[t % len(AGENT_LINES)], actor=SYSTEM)
                took = time.perf_counter() - t0
                with lock:
                    if reply.text:
                        latencies.append(took)
                        model_calls.append(1 + reply.regenerated)     # a line the guard rejected costs another model call
                    else:
                        errors.append(reply.error or "no text")
                if reply.ended:
                    break
            app.end_call(session.id, SYSTEM)
        except Exception as exc:  # noqa: BLE001 - counted, the benchmark goes on
            with lock:
                errors.append(repr(exc))

    threads = [threading.Thread(target=trainee, args=(i,)) for i in range(n)]
    cpu0, t0 = time.process_time(), time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    app.store.engine.dispose()
    over = [x - delay * k for x, k in zip(latencies, model_calls)]     # the app's own time: beyond the model's delay
    return {"concurrent_calls": n, "turns": len(latencies), "errors": len(errors), "error_samples": errors[:3],
            "wall_s": round(wall, 2), "throughput_turns_per_s": round(len(latencies) / wall, 2),
            "cpu_s": round(cpu, 2), "cpu_ms_per_turn": round(1000 * cpu / max(1, len(latencies)), 1),
            "regenerated_turns": sum(1 for k in model_calls if k > 1), "reply_p50_ms": round(1000 * pct(latencies, 0.5), 1), "reply_p95_ms": round(1000 * pct(latencies, 0.95), 1),
            "overhead_p50_ms": round(1000 * pct(over, 0.5), 1), "overhead_p95_ms": round(1000 * pct(over, 0.95), 1),
            "overhead_max_ms": round(1000 * max(over), 1) if over else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", default="10,25,50")
    ap.add_argument("--turns", type=int, default=6)
    ap.add_argument("--delay", type=float, default=0.5, help="the fake model's answer delay (s)")
    ap.add_argument("--think", default="1,4", help="trainee think time between turns, uniform MIN,MAX seconds (0,0: all at once)")
    ap.add_argument("--db", default="", help="database URL (default: a fresh SQLite file, WAL)")
    ap.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL server on loopback and use it")
    ap.add_argument("--name", default="bench_load", help="results file name (bench/results/NAME.json)")
    ap.add_argument("--embedded", action="store_true", help="also find how many concurrent calls the embedded model sustains")
    ap.add_argument("--embedded-max", type=int, default=6)
    ap.add_argument("--embedded-turns", type=int, default=4)
    args = ap.parse_args()
    import subprocess
    from tests.services import free_port, start_postgres, wait_for_port
    pg = start_postgres() if args.postgres else None

    out: dict = {"script": "bench/bench_load.py", "cores": os.cpu_count(), "load_before": load_avg(), "fake_delay_s": args.delay,
                 "turns_per_call": args.turns, "think_s": args.think, "database": "postgresql" if args.postgres or args.db.startswith("postgresql") else "sqlite (WAL)",
                 "layer": "service (trainer.service.Frontline, the functions the web UI calls) + real openai client over HTTP",
                 "levels": []}
    think = tuple(float(x) for x in args.think.split(","))
    print(f"{os.cpu_count()} cores, load {out['load_before']}; fake model delay {args.delay * 1000:.0f} ms, {args.turns} turns per call, "
          f"think time {think[0]:g}-{think[1]:g} s")
    print(f"{'calls':>5} {'turns':>5} {'err':>4} {'turns/s':>8} {'reply p50':>10} {'reply p95':>10} {'overhead p50':>13} {'overhead p95':>13} {'cpu/turn':>9}")
    # the fake model server runs in its own process, as a real model server would (it does not share our GIL)
    port = free_port()
    srv = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_openai_server.py"), "--port", str(port), "--delay", str(args.delay)],
                           stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=30, proc=srv)
        for n in [int(x) for x in args.levels.split(",")]:
            db = pg.new_database() if pg else args.db or f"sqlite:///{Path(os.environ['FRONTLINE_HOME']) / f'load-{n}.db'}"
            r = run_level(n, turns=args.turns, delay=args.delay, base_url=f"http://127.0.0.1:{port}/v1", db_url=db, think=think)
            out["levels"].append(r)
            print(f"{n:>5} {r['turns']:>5} {r['errors']:>4} {r['throughput_turns_per_s']:>8} {r['reply_p50_ms']:>8}ms {r['reply_p95_ms']:>8}ms "
                  f"{r['overhead_p50_ms']:>11}ms {r['overhead_p95_ms']:>11}ms {r['cpu_ms_per_turn']:>7}ms")
    finally:
        srv.terminate()
        srv.wait()
        if pg:
            pg.stop()
    top = out["levels"][-1]
    out["target"] = {"concurrent_calls": 50, "overhead_p95_ms_max": 100,
                     "met": bool(top["concurrent_calls"] >= 50 and top["overhead_p95_ms"] <= 100 and top["errors"] == 0)}
    print(f"target (50 calls, overhead p95 <= 100 ms): {'MET' if out['target']['met'] else 'NOT MET'}")

    if args.embedded:
        print("\nembedded model (llama.cpp in-process), reply latency with N calls at once:")
        out["embedded"] = []
        for n in range(1, args.embedded_max + 1):
            db = f"sqlite:///{Path(os.environ['FRONTLINE_HOME']) / f'emb-{n}.db'}"
            r = run_level(n, turns=args.embedded_turns, delay=0.0, base_url="", db_url=db, backend_kind="local", warm_up=True, think=think)
            out["embedded"].append(r)
            print(f"  N={n}: reply p50 {r['reply_p50_ms'] / 1000:.2f}s p95 {r['reply_p95_ms'] / 1000:.2f}s, {r['throughput_turns_per_s']} turns/s, errors {r['errors']}")
            if r["reply_p95_ms"] > 5000:
                break
        ok = [r["concurrent_calls"] for r in out["embedded"] if r["reply_p95_ms"] <= 5000 and not r["errors"]]
        out["embedded_sustained_calls_p95_le_5s"] = max(ok) if ok else 0
        out["embedded_limit_reached"] = out["embedded"][-1]["reply_p95_ms"] > 5000
        print(f"embedded model sustains {'' if out['embedded_limit_reached'] else 'at least '}{out['embedded_sustained_calls_p95_le_5s']} "
              f"concurrent call(s) with reply p95 <= 5 s")
    out["load_after"] = load_avg()
    print(f"results: {write_json(args.name, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
