"""A pytest plugin for tests/mutation/mutate.py: which tests run the functions being mutated.

Loaded with `-p which_tests` (tests/mutation on PYTHONPATH). MUTATION_SCOPE names a JSON file {path: [[first line,
last line], ...]} of the functions in scope; MUTATION_SELECTED names the JSON file it writes: the node ids, in the
order they ran, of the tests whose set-up, call or tear-down entered one of those functions (in any thread). A mutant
there can only be killed by those tests, so each mutant runs only them.
"""
from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import pytest

_scope: dict[str, list[tuple[int, int]]] = {}
_current: str | None = None
_hit: dict[str, bool] = {}


def _trace(frame, event, arg):
    if _current is not None and not _hit.get(_current):
        code = frame.f_code
        spans = _scope.get(code.co_filename)
        if spans and any(a <= code.co_firstlineno <= b for a, b in spans):
            _hit[_current] = True
    return None          # no line events: a call check per frame is all this needs


def pytest_configure(config):
    raw = json.loads(Path(os.environ["MUTATION_SCOPE"]).read_text(encoding="utf-8"))
    _scope.update({str(Path(p).resolve()): [tuple(s) for s in spans] for p, spans in raw.items()})
    sys.settrace(_trace)
    threading.settrace(_trace)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    global _current
    _current = item.nodeid
    _hit.setdefault(item.nodeid, False)
    sys.settrace(_trace)                 # again: a test (or a debugger) may have replaced it
    yield
    _current = None


def pytest_sessionfinish(session, exitstatus):
    sys.settrace(None)
    threading.settrace(None)
    selected = [node for node, hit in _hit.items() if hit]
    Path(os.environ["MUTATION_SELECTED"]).write_text(json.dumps(selected, indent=1), encoding="utf-8")
