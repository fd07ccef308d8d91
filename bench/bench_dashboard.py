"""How long the accounts / progress / dashboard functions take: seeding the demo team, signing in (Argon2id),
and the lead's dashboard and exports on the demo team and on a larger organisation.

The larger organisation re-uses the demo's real graded calls: each extra trainee gets copies of one demo trainee's
calls (transcript and scorecard as graded), so the data has the demo's shape at a bigger size.

    python bench/bench_dashboard.py [--teams 3] [--per-team 20]
"""
from __future__ import annotations

import argparse
import statistics
import time

from _common import load_avg, peak_rss_mib, setup_env, write_json

setup_env()

from sqlmodel import select  # noqa: E402

from trainer.catalog import Catalog  # noqa: E402
from trainer.config import ROOT  # noqa: E402
from trainer.export import sessions_csv, xapi_statements  # noqa: E402
from trainer.seed import scripted_customer, seed_demo  # noqa: E402
from trainer.service import Frontline  # noqa: E402
from trainer.store import CallRecord, ScorecardRecord, TurnRecord  # noqa: E402


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def clone_calls(app: Frontline, source_trainee_id: int, target_trainee_id: int) -> int:
    n = 0
    with app.store.session() as s:
        for call in s.exec(select(CallRecord).where(CallRecord.trainee_id == source_trainee_id)):
            data = call.model_dump(exclude={"id"})
            copy = CallRecord(**{**data, "trainee_id": target_trainee_id})
            s.add(copy)
            s.flush()
            for t in s.exec(select(TurnRecord).where(TurnRecord.call_id == call.id)):
                s.add(TurnRecord(**{**t.model_dump(exclude={"id"}), "call_id": copy.id}))
            for c in s.exec(select(ScorecardRecord).where(ScorecardRecord.call_id == call.id)):
                s.add(ScorecardRecord(**{**c.model_dump(exclude={"id"}), "call_id": copy.id}))
            n += 1
        s.commit()
    return n


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teams", type=int, default=3)
    ap.add_argument("--per-team", type=int, default=20)
    args = ap.parse_args()
    cat = Catalog.load(ROOT)
    app = Frontline(catalog=cat, customer_backend=scripted_customer(cat), use_judge=False, sleep=lambda s: None)
    acc = app.accounts
    t0 = time.perf_counter()
    seeded = seed_demo(app, admin_password="bench-admin-1", password="bench-pass-1", log=lambda *_: None)
    seed_s = time.perf_counter() - t0
    print(f"seed-demo: {seeded['calls']} calls played and graded in {seed_s:.1f} s ({1000 * seed_s / seeded['calls']:.0f} ms per call)")

    logins = []
    for _ in range(10):
        t = time.perf_counter()
        acc.login("lena.fischer", "bench-pass-1", ip="bench")
        logins.append(time.perf_counter() - t)
    login_ms = 1000 * statistics.median(logins)
    print(f"sign-in (Argon2id verify + session): median {login_ms:.0f} ms")

    lena = acc.by_username("lena.fischer")
    team_a = acc.team_by_name("Team Aurora").id
    small = {
        "team_table_ms": 1000 * timed(lambda: app.dashboard.team_table(lena, team_a))[0],
        "missed_criteria_ms": 1000 * timed(lambda: app.dashboard.missed_criteria(lena, team_a))[0],
        "trainee_trends_ms": 1000 * timed(lambda: app.dashboard.trainee_trends(lena, "sam.patel"))[0],
        "what_next_ms": 1000 * timed(lambda: app.progress.what_next(acc.by_username("sam.patel"), acc.by_username("sam.patel")))[0],
    }
    print("demo team (5 trainees): " + ", ".join(f"{k} {v:.0f}" for k, v in small.items()))

    # a larger organisation built from copies of the demo's graded calls
    admin = acc.by_username("admin")
    sources = [acc.trainee_record(acc.by_username(u)).id for u in ("sam.patel", "mia.chen", "jo.okafor", "leo.novak")]
    total_calls = 0
    big_teams = []
    for ti in range(args.teams):
        lead = acc.create_user(admin, f"lead{ti}", "bench-pass-1", "lead", display_name=f"Lead {ti}")
        team = acc.create_team(admin, f"Bench team {ti}", lead=lead.username)
        big_teams.append((lead, team))
        for k in range(args.per_team):
            u = acc.create_user(admin, f"t{ti}-{k}", "bench-pass-1", "trainee", display_name=f"Trainee {ti}-{k}", team=team.name)
            total_calls += clone_calls(app, sources[k % len(sources)], acc.trainee_record(u).id)
        app.dashboard.assign(lead, curriculum_id="onboarding-week-1", team_id=team.id, due="2030-01-01")
    lead, team = big_teams[0]
    big = {
        "team_table_ms": 1000 * timed(lambda: app.dashboard.team_table(lead, team.id), 3)[0],
        "missed_criteria_ms": 1000 * timed(lambda: app.dashboard.missed_criteria(lead, team.id), 3)[0],
        "csv_export_all_ms": 1000 * timed(lambda: sessions_csv(app.store, cat, acc, admin), 3)[0],
        "xapi_export_all_ms": 1000 * timed(lambda: xapi_statements(app.store, cat, acc, admin), 3)[0],
    }
    n_all = len(xapi_statements(app.store, cat, acc, admin))
    print(f"larger organisation ({args.teams} teams x {args.per_team} trainees, {total_calls} extra calls; "
          f"team of {args.per_team}, exports of {n_all} calls): " + ", ".join(f"{k} {v:.0f}" for k, v in big.items()))
    path = write_json("bench_dashboard", {
        "seed_calls": seeded["calls"], "seed_seconds": round(seed_s, 2), "seed_ms_per_call": round(1000 * seed_s / seeded["calls"]),
        "login_median_ms": round(login_ms, 1), "demo_team": {k: round(v, 1) for k, v in small.items()},
        "larger": {"teams": args.teams, "per_team": args.per_team, "calls_exported": n_all, **{k: round(v, 1) for k, v in big.items()}},
        "peak_rss_mib": round(peak_rss_mib()), "load_avg": load_avg()})
    print(f"peak RSS {peak_rss_mib():.0f} MiB; load average {load_avg()}; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
