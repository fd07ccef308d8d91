"""`trainer content ...`: the studio's revision actions from the terminal (same functions as the web app)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..accounts import SystemPrincipal

CLI = SystemPrincipal("cli")   # the terminal is trusted: whoever runs it holds the content files and the database


def _studio():
    from ..service import Frontline
    from .studio import Studio
    return Studio(Frontline())


def cmd_content(args) -> int:
    from .revisions import InUse
    studio = _studio()
    revs = studio.revisions
    try:
        if args.action == "history":
            for r in revs.history(args.kind, args.id):
                print(f"r{r.revision:<3} {r.status:9} {r.source:8} {r.created_at:%Y-%m-%d %H:%M}  {r.author:16} {r.content_hash}  {r.note}")
        elif args.action == "diff":
            sys.stdout.write(revs.diff(args.kind, args.id, args.a, args.b))
        elif args.action == "import":
            for f in args.files:
                rev = studio.import_file(Path(f), author=SystemPrincipal(args.author), kind=args.kind)
                if args.publish:
                    rev = studio.publish(rev.kind, rev.content_id, rev.revision, author=SystemPrincipal(args.author))
                print(f"{rev.kind} {rev.content_id}: revision {rev.revision} ({rev.status})")
        elif args.action == "export":
            paths = [revs.export(args.kind, args.id, Path(args.dest))] if args.id else revs.export_all(Path(args.dest), include_drafts=args.drafts)
            for p in paths:
                print(p)
        elif args.action == "publish":
            rev = studio.publish(args.kind, args.id, args.revision, author=SystemPrincipal(args.author))
            print(f"{args.kind} {args.id}: revision {rev.revision} published")
        elif args.action == "retire":
            rev, warning = studio.retire(args.kind, args.id, author=SystemPrincipal(args.author))
            print(f"{args.kind} {args.id}: retired (revision {rev.revision}). {warning}".strip())
        elif args.action == "rollback":
            rev = studio.rollback(args.kind, args.id, args.revision, author=SystemPrincipal(args.author))
            print(f"{args.kind} {args.id}: revision {rev.revision} is a draft copy of revision {args.revision}")
        elif args.action == "delete":
            n = studio.delete(args.kind, args.id, author=SystemPrincipal(args.author))
            print(f"{args.kind} {args.id}: deleted {n} revision(s)")
        elif args.action == "autoplay":
            text = Path(args.persona).read_text(encoding="utf-8") if Path(args.persona).suffix in (".yaml", ".yml") \
                else studio.open("persona", args.persona, actor=CLI)
            res = studio.autoplay(text, actor=CLI, use_model=args.model)
            for name, run in res.runs.items():
                print(f"\n== {name}")
                for ln in run.lines:
                    print(f"{'AGENT' if ln.speaker == 'agent' else 'CUSTOMER'}: {ln.text}" + (f"   [mood {ln.mood:.1f}]" if ln.mood is not None else ""))
            print("\n" + res.verdict().replace("**", "").replace("`", ""))
            return 0 if res.works() else 1
        elif args.action == "draft":
            result = studio.draft(args.sentence, actor=CLI, on_progress=lambda m: print(m, file=sys.stderr))
            print(f"# {result.label}", file=sys.stderr)
            sys.stdout.write(result.yaml_text)
    except InUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (LookupError, PermissionError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def add_parser(sub: "argparse._SubParsersAction") -> None:
    from .kinds import KINDS
    kinds = list(KINDS)                     # curricula join by registering their kind
    p = sub.add_parser("content", help="studio revisions: history, diff, import/export, publish, retire, auto-play, draft")
    acts = p.add_subparsers(dest="action", required=True)

    def kind_id(q, with_id=True):
        q.add_argument("kind", choices=kinds)
        if with_id:
            q.add_argument("id")

    def author(q):
        q.add_argument("--author", required=True, help="your name, recorded with the revision")

    q = acts.add_parser("history", help="list the revisions of an item")
    kind_id(q)
    q = acts.add_parser("diff", help="unified diff between two revisions")
    kind_id(q)
    q.add_argument("a", type=int)
    q.add_argument("b", type=int)
    q = acts.add_parser("import", help="import YAML files as drafts")
    q.add_argument("files", nargs="+")
    q.add_argument("--kind", choices=kinds)
    q.add_argument("--publish", action="store_true")
    author(q)
    q = acts.add_parser("export", help="write YAML files (one item, or everything edited in the studio)")
    q.add_argument("dest")
    q.add_argument("--kind", choices=kinds, default="persona")
    q.add_argument("--id")
    q.add_argument("--drafts", action="store_true", help="export the latest drafts too")
    for name in ("publish", "rollback"):
        q = acts.add_parser(name, help=f"{name} a revision")
        kind_id(q)
        q.add_argument("--revision", type=int, required=name == "rollback")
        author(q)
    for name in ("retire", "delete"):
        q = acts.add_parser(name, help=f"{name} an item (delete only what is unused)")
        kind_id(q)
        author(q)
    q = acts.add_parser("autoplay", help="play a persona against a good and a rude canned agent")
    q.add_argument("persona", help="persona id or a YAML file")
    q.add_argument("--model", action="store_true", help="word the customer's lines with the configured model")
    q = acts.add_parser("draft", help="draft a persona from one sentence (printed, not saved)")
    q.add_argument("sentence")
    p.set_defaults(fn=cmd_content)
