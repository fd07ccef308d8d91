"""The `trainer` command: thin wrappers over the same functions the web app uses."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .accounts import SYSTEM
from .content import ContentError


def _app(args, **kw):
    from .service import Frontline
    return Frontline(**kw)


def cmd_validate(args) -> int:
    from .catalog import Catalog
    from .content import load_model
    from .persona import Persona
    from .rubric import Rubric
    from .scenario import Scenario
    from .config import load_settings
    problems = []
    count = 0
    if not args.paths:
        cat = Catalog.load(load_settings().content_dir)
        problems = cat.problems
        count = len(cat.personas) + len(cat.scenarios) + len(cat.rubrics) + len(cat.curricula)
    else:
        from .curriculum import Curriculum
        kinds = {"personas": Persona, "scenarios": Scenario, "rubrics": Rubric, "curricula": Curriculum}
        files = []
        for p in map(Path, args.paths):
            files += sorted(p.glob("*.y*ml")) if p.is_dir() else [p]
        for f in files:
            model = next((m for folder, m in kinds.items() if folder in f.parts), None)
            if model is None:
                model = Persona if "persona" in f.name else Scenario if "scenario" in f.name else Rubric if "rubric" in f.name else Persona
            try:
                load_model(f, model)
                count += 1
            except ContentError as exc:
                problems += exc.problems
    for p in problems:
        print(f"ERROR {p}", file=sys.stderr)
    print(f"{count} file(s) valid, {len(problems)} problem(s)")
    return 1 if problems else 0


def cmd_personas(args) -> int:
    from .catalog import Catalog
    from .config import load_settings
    cat = Catalog.load(load_settings().content_dir)
    print(f"{'id':28} {'type':14} {'diff':4} {'customer':18} company")
    for pid, p in sorted(cat.personas.items(), key=lambda kv: (kv[1].difficulty, kv[0])):
        print(f"{pid:28} {p.scenario_type.value:14} {p.difficulty:<4} {p.name:18} {p.company.name}")
    for prob in cat.problems:
        print(f"ERROR {prob}", file=sys.stderr)
    return 1 if cat.problems else 0


def cmd_simulate(args) -> int:
    app = _app(args)
    scenario_id = args.scenario or args.persona
    session = app.start_call(args.trainee, scenario_id, user=SYSTEM)
    persona = session.persona
    print(f"Call {session.id} — {persona.name} ({persona.company.name}). {persona.brief.summary}")
    for k, v in persona.brief.crm.items():
        print(f"  {k}: {v}")
    print("Type your lines as the agent; /end ends the call.\n")
    scripted = Path(args.script).read_text().splitlines() if args.script else None
    while not session.ended:
        if scripted is not None:
            if not scripted:
                break
            line = scripted.pop(0)
            if not line.strip():
                continue
            print(f"AGENT: {line}")
        else:
            try:
                line = input("AGENT: ")
            except EOFError:
                break
        if line.strip() == "/end":
            break
        print(f"{persona.speaker_tag}: ", end="", flush=True)
        shown = [0]

        def on_token(text: str) -> None:
            sys.stdout.write(text[shown[0]:])
            sys.stdout.flush()
            shown[0] = len(text)

        def on_reset() -> None:
            shown[0] = 0
            sys.stdout.write("\r" + " " * 60 + f"\r{persona.speaker_tag}: ")

        reply = session.agent_says(line, on_token=on_token, on_reset=on_reset)
        if reply.error:
            print(f"\n!! {reply.error} ({reply.detail})" if reply.detail else f"\n!! {reply.error}")
            continue
        if reply.used_fallback or shown[0] == 0:
            on_reset()
            sys.stdout.write(reply.text or "")
        print(f"   [mood {reply.mood:.1f}/10, {reply.beat}]")
        if reply.ended:
            print(f"-- call ended: {reply.end_reason}")
    card = app.end_call(session.id, SYSTEM)
    _print_card(card, args.json)
    return 0


def _print_card(card, as_json: bool) -> None:
    if as_json:
        print(card.model_dump_json(indent=2))
        return
    print(f"\nSCORE {card.overall:.0f}/100 — {'PASS' if card.passed else 'FAIL'} (pass mark {card.pass_score:.0f})")
    for f in card.fatal_errors:
        print(f"  FATAL: {f.description} " + "; ".join(f'turn {e.turn}: "{e.quote}"' for e in f.evidence))
    for d in card.dimensions:
        print(f"  {d.label:28} {'n/a' if d.score is None else f'{d.score:5.0f}'}")
    for c in card.criteria:
        ev = "; ".join(f'turn {e.turn}: "{e.quote}"' for e in c.evidence[:1])
        print(f"    [{c.verdict:7}] {c.id:26} {ev} {c.note}".rstrip())
    if card.coaching:
        print("Coaching:")
        for tip in card.coaching:
            print(f"  - {tip}")


def cmd_grade(args) -> int:
    from .config import load_settings
    from .catalog import Catalog
    from .grader import Grader
    from .transcripts import TranscriptError, load_transcript
    settings = load_settings()
    cat = Catalog.load(settings.content_dir)
    try:
        turns = load_transcript(Path(args.file))
        scenario = cat.scenario(args.scenario) if args.scenario else None
    except (TranscriptError, ContentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    persona = cat.persona_for(scenario) if scenario else None
    judge = None
    if args.judge:
        from .llm import make_backend
        judge = make_backend(settings.grader, settings)
    grader = Grader(cat.rubrics[scenario.rubric if scenario else "default"], judge_backend=judge)
    card = grader.grade(turns, persona=persona, scenario=scenario)
    _print_card(card, args.json)
    return 0


def cmd_regrade(args) -> int:
    from tqdm import tqdm

    from .service import Frontline
    app = Frontline(use_judge=True if args.judge else None)
    if args.all:
        ids = [r.id for r in app.store.calls(limit=100_000) if app.store.scorecards(r.id)]
    elif args.stale:
        ids = app.stale_calls()
    else:
        ids = args.call_ids
    if not ids:
        print("nothing to re-grade" + (" (no scorecard was made with an older rubric)" if args.stale else ""))
        return 0
    failed = 0
    for cid in tqdm(ids, desc="re-grading", unit="call", disable=len(ids) < 3):
        try:
            old, new = app.regrade(cid, SYSTEM)
        except (LookupError, RuntimeError) as exc:
            print(f"{cid}: {exc}", file=sys.stderr)
            failed += 1
            continue
        was = f"{old.overall:.0f} ({old.grader_model}, rubric {old.rubric_hash[:8]})" if old else "ungraded"
        print(f"{cid}: {was} -> {new.overall:.0f} ({new.grader_model}, rubric {new.rubric_hash[:8]}); both scorecards kept")
    return 1 if failed else 0


def cmd_calibrate(args) -> int:
    from .calibrate import calibrate, format_report
    report = calibrate(Path(args.dir), judge=args.judge)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    low = [d for d in ("active_listening", "script_adherence", "de_escalation") if report["dimensions"][d]["spearman"] < args.min_spearman]
    if low:
        print(f"below --min-spearman {args.min_spearman}: {', '.join(low)}", file=sys.stderr)
        return 1
    return 0


def cmd_model(args) -> int:
    from .config import load_settings
    from .embedded import assemble, verify_parts
    settings = load_settings()
    if args.verify:
        verify_parts()
    print(assemble(settings.model_cache))
    return 0


def cmd_app(args) -> int:
    import os
    from .config import CHECKOUT, load_settings
    from . import tempfiles
    settings = load_settings()
    # The data folder holds the database, call audio and exports: only its owner reads it.
    settings.home.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.home, 0o700)
    # Before Gradio is imported (it reads these once): no telemetry, and uploads in a private folder of our own.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["GRADIO_TEMP_DIR"] = str(tempfiles.gradio_temp_dir(settings.home))
    removed = tempfiles.clean(settings.home)
    if removed:
        print(f"Removed {removed} old temporary file(s) under {settings.home / 'tmp'}.")
    if CHECKOUT is not None:           # a checkout: ui.py lives at the top of the repository, beside trainer/
        sys.path.insert(0, str(CHECKOUT))
    import ui                          # an installed wheel carries ui as a top-level module (pyproject: py-modules)
    ui.main(host=args.host, port=args.port)
    return 0


def cmd_create_admin(args) -> int:
    import getpass
    import secrets
    from .accounts import AccountError, Accounts
    from .config import load_settings
    from .store import Store
    settings = load_settings()
    accounts = Accounts(Store(settings.db_url))
    password, generated = args.password, False
    if not password:
        if sys.stdin.isatty():
            password = getpass.getpass(f"Password for {args.username}: ")
            if password != getpass.getpass("Again: "):
                print("error: the passwords differ", file=sys.stderr)
                return 2
        else:
            password, generated = secrets.token_urlsafe(12), True
    try:
        user = accounts.create_admin(args.username, password, args.name or "Administrator", one_time=generated)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Created admin '{user.username}' in {settings.db_url}.")
    if generated:
        print(f"One-time password: {password}   (valid for 24 hours; signing in asks you to choose your own)")
    return 0


def cmd_seed_demo(args) -> int:
    from .catalog import Catalog
    from .config import load_settings
    from .seed import TEAM_A, seed_demo, scripted_customer
    from .service import Frontline
    settings = load_settings()
    cat = Catalog.load(settings.content_dir)
    app = Frontline(settings=settings, catalog=cat, customer_backend=scripted_customer(cat), use_judge=False, sleep=lambda s: None)
    print(f"Seeding a demo team into {settings.db_url} (each call is played through the director and graded)…")
    try:
        result = seed_demo(app, admin_password=args.admin_password, password=args.password)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"\n{result['calls']} graded calls. Log in at the app with:")
    if result["admin"]:
        print(f"  {'admin':14} admin     password: {result['admin'][1]}")
    for name, role, team in result["users"]:
        print(f"  {name:14} {role:9} {team:14} password: {result['password']}")
    print(f"Team lead of {TEAM_A}: lena.fischer. These are demo passwords: change or delete the accounts before real use.")
    return 0


def cmd_export(args) -> int:
    from .accounts import Accounts, User
    from .catalog import Catalog
    from .config import load_settings
    from .export import sessions_csv, xapi_json, xapi_statements
    from .store import Store
    from sqlmodel import select
    settings = load_settings()
    store = Store(settings.db_url)
    accounts = Accounts(store)
    cat = Catalog.load(settings.content_dir)
    with store.session() as s:        # the command line is trusted: it exports as an admin would
        admin = s.exec(select(User).where(User.role == "admin")).first()
    if admin is None:
        print("error: no admin exists yet; run `trainer create-admin` first", file=sys.stderr)
        return 2
    from .accounts import AccountError
    try:
        team_id = accounts.team_by_name(args.team).id if args.team else None
    except AccountError as exc:
        names = ", ".join(t.name for t in accounts.all_teams()) or "(no teams yet)"
        print(f"error: {exc} Teams: {names}", file=sys.stderr)
        return 2
    if args.format == "csv":
        text = sessions_csv(store, cat, accounts, admin, team_id=team_id)
    else:
        text = xapi_json(xapi_statements(store, cat, accounts, admin, base_url=args.base_url, team_id=team_id))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_grade_recording(args) -> int:
    from .service import Frontline
    from .voice.service import VoicePractice
    app = Frontline()
    vp = VoicePractice(app)
    try:
        got = vp.import_recording(args.file, trainee=args.trainee, scenario_id=args.scenario, layout=args.layout,
                                  agent_channel=args.agent_channel, actor=SYSTEM,
                                  progress=None if args.json else lambda f, m: print(f"[{f:4.0%}] {m}", file=sys.stderr))
    except (ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not args.json:
        print(f"call {got.call_id} stored against {args.trainee} ({got.layout}, {len(got.turns)} turns)")
        for speaker, text in got.turns:
            print(f"  {speaker.upper():8} {text}")
        from .voice.metrics import markdown
        print(markdown(got.metrics.to_dict()))
    _print_card(got.scorecard, args.json)
    return 0


def cmd_db(args) -> int:
    from . import migrate
    if args.action == "revision":
        if not args.message:
            print("error: trainer db revision needs -m \"what changed\"", file=sys.stderr)
            return 2
        path = migrate.revision(args.message, autogenerate=not args.empty)
        print(f"wrote {path}\nRead it, adjust data moves if needed, and commit it.")
        return 0
    from sqlalchemy import create_engine
    from .config import load_settings
    url = load_settings().db_url
    if args.action == "upgrade":
        from .store import Store
        store = Store(url)            # opening the store upgrades it (and stamps a pre-migration database)
        print(f"{url.split('@')[-1]}: at revision {migrate.current(store.engine)} (newest: {migrate.head()})")
        return 0
    engine = create_engine(url)
    cur = migrate.current(engine)
    print(f"{url.split('@')[-1]}: at revision {cur or '(none)'} (newest: {migrate.head()})")
    if args.action == "check":
        from .store import Store
        Store("sqlite://").engine.dispose()      # register every table the store uses
        diffs = migrate.differences(engine) if cur else ["not migrated"]
        for d in diffs:
            print(f"  differs: {d}", file=sys.stderr)
        return 1 if diffs or cur != migrate.head() else 0
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser(prog="trainer", description="Frontline: contact-center call practice with LLM customers")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("validate", help="check persona / scenario / rubric files")
    p.add_argument("paths", nargs="*")
    p.set_defaults(fn=cmd_validate)
    p = sub.add_parser("personas", help="list personas")
    p.set_defaults(fn=cmd_personas)
    p = sub.add_parser("simulate", help="play a call in the terminal")
    p.add_argument("--persona", help="persona/scenario id")
    p.add_argument("--scenario", help="scenario id (defaults to --persona)")
    p.add_argument("--trainee", default="terminal")
    p.add_argument("--script", help="file of agent lines to play instead of typing")
    p.add_argument("--json", action="store_true", help="print the scorecard as JSON")
    p.set_defaults(fn=cmd_simulate)
    p = sub.add_parser("grade", help="grade a transcript file (JSON or Agent:/Customer: text)")
    p.add_argument("file")
    p.add_argument("--scenario")
    p.add_argument("--json", action="store_true")
    p.add_argument("--judge", action="store_true", help="also ask the configured grader LLM")
    p.set_defaults(fn=cmd_grade)
    p = sub.add_parser("regrade", help="grade stored calls again with the current rubric, keeping the old scorecards")
    p.add_argument("call_ids", nargs="*")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--stale", action="store_true", help="every call whose latest scorecard used an older rubric")
    g.add_argument("--all", action="store_true", help="every graded call")
    p.add_argument("--judge", action="store_true", help="also ask the configured grader LLM")
    p.set_defaults(fn=cmd_regrade)
    p = sub.add_parser("calibrate", help="agreement with human-labelled transcripts")
    p.add_argument("dir")
    p.add_argument("--min-spearman", type=float, default=0.0)
    p.add_argument("--judge", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_calibrate)
    p = sub.add_parser("model", help="assemble and verify the embedded model")
    p.add_argument("--verify", action="store_true", help="also check every part's checksum")
    p.set_defaults(fn=cmd_model)
    p = sub.add_parser("grade-recording", help="transcribe a call recording (WAV/MP3) and grade it like a practice call")
    p.add_argument("file")
    p.add_argument("--trainee", required=True, help="the agent on the call; the call is stored against them")
    p.add_argument("--scenario", help="scenario the call followed (optional; default rubric otherwise)")
    p.add_argument("--layout", choices=["auto", "stereo", "mono"], default="auto")
    p.add_argument("--agent-channel", choices=["left", "right"], default="left")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_grade_recording)
    p = sub.add_parser("app", help="run the web app")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(fn=cmd_app)
    p = sub.add_parser("create-admin", help="create an admin account (the first one, or another)")
    p.add_argument("--username", default="admin")
    p.add_argument("--name", help="display name")
    p.add_argument("--password", help="omit to be asked (or, without a terminal, to get a generated one-time password)")
    p.set_defaults(fn=cmd_create_admin)
    p = sub.add_parser("seed-demo", help="create a demo team with graded call histories")
    p.add_argument("--password", help="password for every demo user (default: generated and printed)")
    p.add_argument("--admin-password", help="password for the 'admin' user if no admin exists yet")
    p.set_defaults(fn=cmd_seed_demo)
    p = sub.add_parser("export", help="export sessions and scores: csv, or xapi statements (JSON for an LRS)")
    p.add_argument("format", choices=["csv", "xapi"])
    p.add_argument("--team", help="only this team")
    p.add_argument("--base-url", default="https://frontline.example", help="IRI base for xAPI activity ids and accounts")
    p.add_argument("-o", "--output")
    p.set_defaults(fn=cmd_export)
    from .studio.cli import add_parser as add_content_parser
    add_content_parser(sub)
    p = sub.add_parser("db", help="database schema: upgrade, current, check, revision -m MESSAGE")
    p.add_argument("action", choices=["upgrade", "current", "check", "revision"])
    p.add_argument("-m", "--message", help="revision: what the new migration changes")
    p.add_argument("--empty", action="store_true", help="revision: an empty migration to fill in by hand")
    p.set_defaults(fn=cmd_db)
    args = ap.parse_args(argv)
    if args.cmd == "simulate" and not (args.persona or args.scenario):
        ap.error("simulate needs --persona or --scenario")
    try:
        return args.fn(args)
    except ContentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
