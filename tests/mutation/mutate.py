"""Mutation testing of the authorization code and the grader's fatal criteria, with cosmic-ray (see README.md here).

Run it through `tests/mutation/run.sh`. cosmic-ray writes each mutant into the file on disk, so run.sh copies the
working tree first, and this script refuses to run in a folder with a .git. For each group in GROUPS it:
- runs the group's tests once, unmutated, with which_tests.py, to find the tests that enter the group's functions;
- writes a cosmic-ray config whose test command runs only those tests;
- makes a session (`cosmic-ray init`) and skips every mutant outside the group's functions, or inside a type
  annotation (the scope is given by qualified function name, so it follows the code when lines move);
- runs `cosmic-ray baseline` and `cosmic-ray exec`.
Then it writes report.md: the table of killed and surviving mutants, and each survivor's diff.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Fn:
    """A function (or method, as Class.method) whose mutants count. `until`: only the lines before the first line of
    the function that contains this text (the role part of a longer function). `lines_with`: only the lines that
    contain this text (the fatal-error lines of the grader)."""
    qualname: str
    until: str | None = None
    lines_with: str | None = None


@dataclass
class Group:
    files: dict[str, list[Fn]]
    tests: list[str]
    why: str
    timeout: float = 180.0
    k: str = "not postgresql"                 # store tests run on SQLite only: the same code paths, half the time
    extra_args: list[str] = field(default_factory=list)


MUTANT_TESTS = "tests/test_security_mutants.py"

GROUPS: dict[str, Group] = {
    "accounts": Group(
        files={"trainer/accounts.py": [Fn("is_system"), Fn("require_role"), Fn("Accounts.create_user"), Fn("Accounts.users"),
                                       Fn("Accounts.update_user"), Fn("Accounts.set_password"),
                                       Fn("Accounts.change_own_password"), Fn("Accounts.can_see_user"),
                                       Fn("Accounts.user_for_token")]},
        tests=["tests/test_accounts.py", "tests/test_security_accounts.py", MUTANT_TESTS],
        why="roles, the system principal, who may see whom, password changes, tokens"),
    "service": Group(
        files={"trainer/service.py": [Fn("Frontline.authorize_call"), Fn("Frontline.calls_of"),
                                      Fn("Frontline.start_call", until="scenario = self.catalog.scenario("),
                                      Fn("Frontline.regrade", until='if record.status == "active"')]},
        tests=["tests/test_accounts.py", "tests/test_security_studio.py", "tests/test_coaching.py", MUTANT_TESTS],
        why="who may open, continue, list and re-grade a call"),
    "studio": Group(
        files={"trainer/studio/studio.py": [Fn("require_editor"), Fn("Studio.rehearsal")]},
        tests=["tests/test_security_studio.py", MUTANT_TESTS],
        why="the studio's role check and the owner check of a try-out"),
    "ui_guard": Group(
        files={"trainer/ui_guard.py": [Fn("guard_events"), Fn("_wrap")]},
        tests=[MUTANT_TESTS, "tests/test_ui.py"],
        why="the web boundary: every event resolves the session token first"),
    "fatal": Group(
        files={"trainer/grader/checks.py": [Fn("verify_before_disclosure"), Fn("no_card_number"), Fn("no_abuse"),
                                            Fn("no_unauthorised_promise")],
               "trainer/grader/grade.py": [Fn("Grader.grade", lines_with="fatal")]},
        tests=["tests/test_grader.py", MUTANT_TESTS],
        why="the fatal compliance criteria, and a fatal error making the score 0 and the call a FAIL"),
}
"""The groups: each mutates a few functions and runs only the tests that exercise them (a mutant costs one pytest
run, so a short list keeps the whole run near 30 minutes on two cores)."""

WALK_TESTS = ["tests/test_api_walk.py"]
"""With --walk, the ui_guard group also runs the HTTP API walk (a real server: about 80 s a mutant)."""


# ---------------------------------------------------------------------- scope
def _functions(tree: ast.Module) -> dict[str, ast.AST]:
    """Top-level functions by name and methods as Class.method (nested functions belong to their outer function)."""
    out: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    out[f"{node.name}.{item.name}"] = item
    return out


def function_spans(path: Path, fns: list[Fn]) -> list[tuple[int, int]]:
    """(first line, last line) of each whole function, for choosing the tests that run it."""
    found = _functions(ast.parse(path.read_text(encoding="utf-8")))
    return [(min([found[f.qualname].lineno] + [d.lineno for d in found[f.qualname].decorator_list]), found[f.qualname].end_lineno)
            for f in fns if f.qualname in found]


def scope_lines(path: Path, fns: list[Fn]) -> dict[str, set[int]]:
    """The line numbers whose mutants count, per function. A function that is not there (renamed?) is an error: the
    scope must not shrink silently."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = _functions(ast.parse(text))
    out: dict[str, set[int]] = {}
    for fn in fns:
        node = found.get(fn.qualname)
        if node is None:
            raise SystemExit(f"{path}: no function {fn.qualname}; update GROUPS in {__file__}")
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        end = node.end_lineno
        if fn.until:
            stop = next((n for n in range(node.lineno, end + 1) if fn.until in lines[n - 1]), None)
            if stop is None:
                raise SystemExit(f"{path}: {fn.qualname} has no line with {fn.until!r}; update GROUPS in {__file__}")
            end = stop - 1
        chosen = set(range(start, end + 1))
        if fn.lines_with:
            chosen = {n for n in chosen if fn.lines_with in lines[n - 1]}
        out[fn.qualname] = chosen
    return out


def annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the type annotations are. Every mutated module has `from __future__ import annotations`, so an annotation
    is never evaluated and a mutant inside one (`User | None` -> `User + None`) is equivalent by construction."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if not any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
               for n in tree.body):
        return []
    spans = []
    for node in ast.walk(tree):
        notes = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            notes = [x.annotation for x in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg] if x is not None]
            notes.append(node.returns)
        elif isinstance(node, ast.AnnAssign) and not isinstance(node.target, ast.Name):
            notes = [node.annotation]
        spans += [((n.lineno, n.col_offset), (n.end_lineno, n.end_col_offset)) for n in notes if n is not None]
    return spans


def apply_scope(session: Path, group: Group) -> tuple[int, int]:
    """Marks every mutant outside the group's functions, or inside a type annotation, as skipped. Returns (in scope,
    skipped)."""
    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    wanted = {str(Path(f)): set().union(*scope_lines(Path(f), fns).values()) for f, fns in group.files.items()}
    notes = {str(Path(f)): annotation_spans(Path(f)) for f in group.files}

    def counts(m) -> bool:
        path, pos = str(Path(m.module_path)), tuple(m.start_pos)
        return m.start_pos[0] in wanted.get(path, ()) and not any(a <= pos < b for a, b in notes.get(path, ()))

    skip, keep = [], 0
    with use_db(str(session)) as db:
        for item in db.pending_work_items:
            inside = all(counts(m) for m in item.mutations)
            if inside:
                keep += 1
            else:
                skip.append(item.job_id)
        if skip:
            db.set_multiple_results(skip, WorkResult(output="outside the scope of tests/mutation/mutate.py",
                                                     worker_outcome=WorkerOutcome.SKIPPED))
    return keep, len(skip)


# ---------------------------------------------------------------------- running
def pytest_args(group: Group) -> list[str]:
    # -p no:...: plugins these tests do not use (langsmith's alone costs a second at every start)
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:warnings", "-p", "no:cacheprovider", "-p", "no:langsmith_plugin",
            "-p", "no:hypothesispytest", "-p", "no:anyio", "-m", "not slow", "-k", group.k, *group.extra_args]


def group_tests(group: Group, walk: bool) -> list[str]:
    return group.tests + (WALK_TESTS if walk and "trainer/ui_guard.py" in group.files else [])


def select_tests(name: str, group: Group, walk: bool, out: Path) -> list[str]:
    """The group's tests that run one of its functions (which_tests.py), unmutated: this is also the check that they
    pass before anything is mutated."""
    scope, selected = out / f"{name}.scope.json", out / f"{name}.tests.json"
    scope.write_text(json.dumps({f: function_spans(Path(f), fns) for f, fns in group.files.items()}), encoding="utf-8")
    env = {**os.environ, "MUTATION_SCOPE": str(scope), "MUTATION_SELECTED": str(selected),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([*pytest_args(group), "-p", "which_tests", *group_tests(group, walk)], env=env)
    if run.returncode != 0:
        raise SystemExit(f"[{name}] the tests fail before any mutation (exit {run.returncode}): fix them first")
    tests = json.loads(selected.read_text(encoding="utf-8"))
    if not tests:
        raise SystemExit(f"[{name}] no test runs {', '.join(f.qualname for fns in group.files.values() for f in fns)}")
    return tests


def write_config(name: str, group: Group, tests: list[str], out: Path) -> Path:
    paths = ", ".join(f'"{p}"' for p in group.files)
    cfg = out / f"{name}.toml"
    cfg.write_text(f"""[cosmic-ray]
module-path = [{paths}]
timeout = {group.timeout}
excluded-modules = []
test-command = {json.dumps(shlex.join([*pytest_args(group), *tests]))}

[cosmic-ray.distributor]
name = "local"
""", encoding="utf-8")
    return cfg


def cosmic_ray(*args: str) -> None:
    exe = Path(sys.executable).with_name("cosmic-ray")
    subprocess.run([str(exe), *args], check=True)


def results(session: Path):
    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome
    rows = []
    with use_db(str(session)) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            m = item.mutations[0]
            if result.worker_outcome != WorkerOutcome.NORMAL:
                status = "error"          # the mutation could not be made or run: reported, never counted as killed
            elif result.test_outcome == TestOutcome.SURVIVED:
                status = "survived"
            else:
                status = "killed"         # a failing test, an import error or a timeout
            rows.append((str(m.module_path), m.start_pos[0], m.definition_name or "", m.operator_name, m.occurrence,
                         status, result.diff or result.output or ""))
    return sorted(rows)


def report(names: list[str], sessions: dict[str, Path], seconds: dict[str, float], walk: bool) -> str:
    lines = ["# Mutation run", "", f"cosmic-ray over the functions in tests/mutation/mutate.py (walk: {walk}).", "",
             "| group | mutants | killed | survived | errors | killed % | minutes |", "|---|---:|---:|---:|---:|---:|---:|"]
    survivors, total = [], [0, 0, 0, 0]
    for name in names:
        rows = results(sessions[name])
        k = sum(r[5] == "killed" for r in rows)
        s = [r for r in rows if r[5] == "survived"]
        e = [r for r in rows if r[5] == "error"]
        n = len(rows)
        for i, v in enumerate((n, k, len(s), len(e))):
            total[i] += v
        lines.append(f"| {name} | {n} | {k} | {len(s)} | {len(e)} | {100 * k / n if n else 100:.1f} | {seconds[name] / 60:.1f} |")
        survivors += [(name, r) for r in s + e]
    n, k, s, e = total
    lines.append(f"| **all** | {n} | {k} | {s} | {e} | {100 * k / n if n else 100:.1f} | {sum(seconds.values()) / 60:.1f} |")
    lines += ["", f"## Survivors ({len(survivors)})", ""]
    for name, (path, line, fn, op, occ, status, diff) in survivors:
        lines += [f"### {name}: {path}:{line} `{fn}` {op} #{occ} ({status})", "", "```diff", diff.strip()[:3000], "```", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", default=list(GROUPS), help=f"groups to run (default: all of {', '.join(GROUPS)})")
    parser.add_argument("--out", default="mutation-out", help="folder for the configs, sessions and report.md")
    parser.add_argument("--walk", action="store_true", help="the ui_guard group also runs tests/test_api_walk.py (slow)")
    parser.add_argument("--list", action="store_true", help="only make the sessions and print the in-scope mutants")
    parser.add_argument("--report-only", action="store_true",
                        help="only write report.md from the sessions already in --out (runs and mutates nothing)")
    args = parser.parse_args(argv)
    if args.report_only:
        out = Path(args.out)
        names = [n for n in args.groups if (out / f"{n}.sqlite").exists()]
        seconds = {n: float((out / f"{n}.seconds").read_text()) if (out / f"{n}.seconds").exists() else 0.0 for n in names}
        text = report(names, {n: out / f"{n}.sqlite" for n in names}, seconds, args.walk)
        (out / "report.md").write_text(text, encoding="utf-8")
        print(text)
        return 0
    if Path(".git").exists():
        raise SystemExit("this mutates files in place: run it in a copy (tests/mutation/run.sh makes one)")
    unknown = set(args.groups) - set(GROUPS)
    if unknown:
        raise SystemExit(f"unknown group(s) {', '.join(sorted(unknown))}; choose from {', '.join(GROUPS)}")
    # The tests must import this copy's trainer package (the one being mutated), not the checkout the venv's editable
    # install points at: otherwise every mutant would survive.
    where = subprocess.run([sys.executable, "-c", "import trainer; print(trainer.__file__)"], capture_output=True, text=True,
                           check=True).stdout.strip()
    if Path(where).resolve().parent.parent != Path.cwd().resolve():
        raise SystemExit(f"`import trainer` here loads {where}, not this copy's trainer/: run it from the copy's root")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for cache in Path(".").rglob("__pycache__"):        # a stale .pyc must never stand in for a mutated file
        shutil.rmtree(cache, ignore_errors=True)
    sessions, seconds = {}, {}
    for name in args.groups:
        group = GROUPS[name]
        t0 = time.monotonic()
        tests = group_tests(group, args.walk) if args.list else select_tests(name, group, args.walk, out)
        cfg = write_config(name, group, tests, out)
        session = out / f"{name}.sqlite"
        session.unlink(missing_ok=True)
        cosmic_ray("init", str(cfg), str(session))
        keep, skipped = apply_scope(session, group)
        what = f"{len(tests)} test files" if args.list else f"{len(tests)} tests run them"
        print(f"[{name}] {keep} mutants in scope ({skipped} outside it skipped), {what}: {group.why}", flush=True)
        sessions[name] = session
        if args.list:
            from cosmic_ray.work_db import use_db
            with use_db(str(session)) as db:
                for item in sorted(db.pending_work_items, key=lambda i: (str(i.mutations[0].module_path), i.mutations[0].start_pos)):
                    m = item.mutations[0]
                    print(f"  {m.module_path}:{m.start_pos[0]} {m.definition_name} {m.operator_name} #{m.occurrence}")
            continue
        cosmic_ray("baseline", str(cfg))
        cosmic_ray("exec", str(cfg), str(session))
        seconds[name] = time.monotonic() - t0
        (out / f"{name}.seconds").write_text(f"{seconds[name]:.0f}\n", encoding="utf-8")
        print(f"[{name}] done in {seconds[name] / 60:.1f} min", flush=True)
    if args.list:
        return 0
    text = report(args.groups, sessions, seconds, args.walk)
    (out / "report.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
