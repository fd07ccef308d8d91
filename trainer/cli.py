"""The `trainer` command: thin wrappers over the same functions the web app uses."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

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
        count = len(cat.personas) + len(cat.scenarios) + len(cat.rubrics)
    else:
        kinds = {"personas": Persona, "scenarios": Scenario, "rubrics": Rubric}
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
    session = app.start_call(args.trainee, scenario_id)
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
            print(f"\n!! {reply.error}")
            continue
        if reply.used_fallback or shown[0] == 0:
            on_reset()
            sys.stdout.write(reply.text or "")
        print(f"   [mood {reply.mood:.1f}/10, {reply.beat}]")
        if reply.ended:
            print(f"-- call ended: {reply.end_reason}")
    card = app.end_call(session.id)
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
    from .config import ROOT
    sys.path.insert(0, str(ROOT))      # ui.py lives at the top of the repository, beside trainer/
    import ui
    ui.main(host=args.host, port=args.port)
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
    p = sub.add_parser("calibrate", help="agreement with human-labelled transcripts")
    p.add_argument("dir")
    p.add_argument("--min-spearman", type=float, default=0.0)
    p.add_argument("--judge", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_calibrate)
    p = sub.add_parser("model", help="assemble and verify the embedded model")
    p.add_argument("--verify", action="store_true", help="also check every part's checksum")
    p.set_defaults(fn=cmd_model)
    p = sub.add_parser("app", help="run the web app")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(fn=cmd_app)
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
