"""Who gets the CPU. On the 2-core machines Frontline targets, the customer model (llama.cpp, one thread per core)
and whisper cannot run side by side without both slowing several times over: llama.cpp's threads wait on each
other, so one thread held up by whisper stalls the whole step. (Measured in the browser check of docs/benchmarks.md:
a 43-token prefill took 12.6 s beside a re-transcription that itself took 10 s; alone they take 0.3 s and 0.5 s.)

So work is sorted in two kinds:
- foreground: what the trainee is waiting for — the customer's reply being generated, a phrase being transcribed
  live, an uploaded recording. It runs at once; FOREGROUND counts how much of it is running.
- background: head starts and clean-ups — prefilling the model's cache, transcribing a turn again with the full
  window, the judge reading the call ahead of grading. These run one at a time (`background()`), and a step that
  can wait (a prefill chunk) waits while foreground work runs.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager


class Foreground:
    """How much foreground work is running in this process (a counter, entered with `with FOREGROUND:`)."""

    def __init__(self):
        self._n = 0
        self._lock = threading.Lock()

    def __enter__(self):
        with self._lock:
            self._n += 1
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._n -= 1

    @property
    def busy(self) -> bool:
        return self._n > 0

    def wait_idle(self, timeout: float = 30.0, poll: float = 0.02) -> bool:
        """Wait until no foreground work runs (at most `timeout` seconds: background work is not starved forever)."""
        end = time.monotonic() + timeout
        while self.busy and time.monotonic() < end:
            time.sleep(poll)
        return not self.busy


FOREGROUND = Foreground()
_BACKGROUND = threading.Lock()


@contextmanager
def background(*, wait_idle: bool = True):
    """Run a background job: after any other background job, and (wait_idle) once no foreground work runs."""
    with _BACKGROUND:
        if wait_idle:
            FOREGROUND.wait_idle()
        yield
