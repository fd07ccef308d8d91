"""Shared set-up for the bench scripts: an isolated FRONTLINE_HOME, the shared assembled model, a results
folder, and a recorder that keeps the stats and raw text of every generation (first attempts included)."""
from __future__ import annotations

import dataclasses
import json
import os
import resource
import statistics
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"


def setup_env() -> None:
    """Must run before anything from `trainer` is imported."""
    os.environ["FRONTLINE_HOME"] = tempfile.mkdtemp(prefix="frontline-bench-")
    os.environ.setdefault("FRONTLINE_MODELS_DIR", str(Path.home() / ".frontline" / "models"))
    os.environ.setdefault("FRONTLINE_CONFIG", str(Path(os.environ["FRONTLINE_HOME"]) / "none.toml"))
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def pct(xs: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024      # KiB on Linux


def write_json(name: str, data: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    return path


def load_avg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


class Recorder:
    """Wraps backend.complete / backend.chat on the instance (not the class) and records, per generation,
    the backend's GenerationStats and the raw streamed text."""

    def __init__(self, backend):
        self.backend = backend
        self.calls: list[dict] = []
        # local backends route complete() and complete_json() through _complete(): wrap that one, once
        for meth in (("_complete", "chat") if hasattr(backend, "_complete") else ("complete", "chat")):
            orig = getattr(backend, meth, None)
            if orig is not None:
                setattr(backend, meth, self._wrap(orig, meth))

    def _wrap(self, orig, kind):
        def wrapped(*args, **kw):
            parts = []
            for chunk in orig(*args, **kw):
                parts.append(chunk)
                yield chunk
            st = getattr(self.backend, "last_stats", None)
            self.calls.append({"kind": kind, "raw": "".join(parts),
                               "stats": dataclasses.asdict(st) if dataclasses.is_dataclass(st) else {}})
        return wrapped

    def mark(self) -> int:
        return len(self.calls)

    def since(self, mark: int) -> list[dict]:
        return self.calls[mark:]


def prompt_eval_rate(backend, n_tokens: int = 96) -> float:
    """How fast this machine evaluates prompt tokens right now (tokens/s, a fresh 96-token prompt on the customer
    model): shared machines vary by a third from hour to hour, so a figure is only comparable with its rate."""
    import time
    llm = backend.load()
    with backend.lock:
        toks = llm.tokenize(("The caller explains the problem again and asks when it will be fixed. " * 20).encode(), add_bos=False)[:n_tokens]
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(toks)
        dt = time.perf_counter() - t0
        llm.reset()
    return round(len(toks) / dt, 1)
