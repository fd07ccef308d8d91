"""llama-cpp-python in process. One Llama object per model file, shared and serialised by a lock.

llama.cpp keeps the KV cache of the last prompt; a new prompt that starts with the previous one only
evaluates the new tokens. The actor keeps its prompt stable turn to turn so each turn costs only the
new lines.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ..compute import FOREGROUND
from .base import BackendError, GenerationStats, Message

log = logging.getLogger(__name__)

_instances: dict[tuple[str, int, int, str], "LocalBackend"] = {}
_instances_lock = threading.Lock()


_loaded: "weakref.WeakSet[LocalBackend]" = weakref.WeakSet()


@atexit.register
def _close_models() -> None:
    """Free the loaded models while the interpreter is still whole. Left to the garbage collector at shutdown,
    llama-cpp-python's finaliser runs after the modules it calls are gone and prints a TypeError traceback per
    model. A model still in use by a daemon thread (a generation cut off by the exit) is left alone."""
    for backend in list(_loaded):
        if backend.lock.acquire(timeout=1.0):
            try:
                llm, backend._llm = backend._llm, None
                if llm is not None:
                    llm.close()
            except Exception:  # noqa: BLE001 - exiting anyway
                pass
            finally:
                backend.lock.release()


def _common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens two sequences share (what llama.cpp's cache can reuse)."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class LocalBackend:
    supports_completion = True
    supports_json_schema = True
    supports_prefill = True

    def __init__(self, model_path: Path, *, n_ctx: int = 4096, n_threads: int = 0):
        self.model_path = Path(model_path)
        self.name = f"local:{self.model_path.name}"
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 2
        self._llm = None
        self.lock = threading.Lock()
        self.waiting = 0                   # generations waiting for the lock: a prefill gives way to them
        self.load_s = 0.0
        self.last_stats = GenerationStats()
        self._grammars: dict[str, object] = {}

    @classmethod
    def shared(cls, model_path: Path, *, n_ctx: int = 4096, n_threads: int = 0, slot: str = "customer") -> "LocalBackend":
        """One instance per model file and slot. The customer and the grader get separate slots, so each keeps its
        own KV cache; the weights are memory-mapped, so a second slot costs its cache (~120 MB), not another copy."""
        key = (str(model_path), n_ctx, n_threads, slot)
        with _instances_lock:
            if key not in _instances:
                _instances[key] = cls(model_path, n_ctx=n_ctx, n_threads=n_threads)
            return _instances[key]

    def load(self):
        if self._llm is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise BackendError(f"llama-cpp-python is not installed ({exc}); run the README's set-up command", retryable=False) from exc
            if not self.model_path.is_file():
                raise BackendError(f"model file not found: {self.model_path}", retryable=False)
            t0 = time.perf_counter()
            self._llm = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                              n_batch=512, verbose=False)
            self.load_s = time.perf_counter() - t0
            _loaded.add(self)
            log.info("loaded %s in %.1fs", self.model_path.name, self.load_s)
        return self._llm

    def _reused(self, llm, prompt: str) -> tuple[int, int]:
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        return len(tokens), _common_prefix(llm._input_ids[: llm.n_tokens].tolist(), tokens)

    def complete(self, prompt: str, *, max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]:
        yield from self._complete(prompt, max_tokens=max_tokens, temperature=temperature, stop=stop)

    @contextmanager
    def _turn(self):
        """Hold the model for one generation; while waiting, say so, so a running prefill stops at its next chunk."""
        self.waiting += 1
        try:
            self.lock.acquire()
        finally:
            self.waiting -= 1
        try:
            with FOREGROUND:              # a generation is foreground work (see trainer/compute.py)
                yield
        finally:
            self.lock.release()

    def _complete(self, prompt: str, *, max_tokens: int, temperature: float, stop: list[str], grammar=None) -> Iterator[str]:
        with self._turn():
            llm = self.load()
            stats = GenerationStats()
            stats.prompt_tokens, stats.reused_tokens = self._reused(llm, prompt)
            if stats.prompt_tokens + max_tokens > self.n_ctx:
                raise BackendError(f"prompt too long for the context window ({stats.prompt_tokens} tokens of {self.n_ctx})", retryable=False)
            chunks = llm.create_completion(prompt, max_tokens=max_tokens, temperature=temperature, top_p=0.9,
                                           repeat_penalty=1.1, stop=stop, stream=True, grammar=grammar)
            yield from self._timed((c["choices"][0].get("text", "") for c in chunks), stats)

    def _timed(self, pieces: Iterator[str], stats: GenerationStats) -> Iterator[str]:
        """Pass the streamed pieces on, timing the first one and the whole; the stats become last_stats."""
        t0 = time.perf_counter()
        for piece in pieces:
            if piece:
                if not stats.completion_tokens:
                    stats.first_token_s = time.perf_counter() - t0
                stats.completion_tokens += 1
                yield piece
        stats.total_s = time.perf_counter() - t0
        self.last_stats = stats

    def complete_json(self, prompt: str, schema: dict, *, max_tokens: int) -> str:
        """A completion constrained by llama.cpp's grammar to JSON matching the schema (greedy decoding)."""
        from llama_cpp import LlamaGrammar
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            self._grammars[key] = LlamaGrammar.from_json_schema(key, verbose=False)
        return "".join(self._complete(prompt, max_tokens=max_tokens, temperature=0.0, stop=[], grammar=self._grammars[key]))

    def prefill(self, prompt: str, *, chunk: int = 32, wait_while: Callable[[], bool] | None = None,
                skip_if_busy: bool = False) -> int:
        """Evaluate the prompt into the KV cache ahead of time, a few tokens at a time, pausing while
        wait_while() is true (another generation is running). A later completion whose prompt starts with
        this one only evaluates the rest. It is only a head start, so it never holds up a generation: it stops
        at the next chunk when one is waiting for the model, and with skip_if_busy it does nothing if the model
        is in use. Returns the number of tokens evaluated now."""
        if not self.lock.acquire(blocking=not skip_if_busy):
            return 0
        try:
            llm = self.load()
            tokens = llm.tokenize(prompt.encode("utf-8"), special=True)
            keep = min(_common_prefix(llm._input_ids[: llm.n_tokens].tolist(), tokens), len(tokens) - 1)       # always leave one token, so a completion refreshes the logits
            todo = tokens[keep:len(tokens) - 1]
            if not todo:
                return 0
            llm.n_tokens = keep
            done = 0
            for i in range(0, len(todo), chunk):
                while wait_while is not None and wait_while() and not self.waiting:
                    time.sleep(0.02)
                if self.waiting:
                    break
                llm.eval(todo[i:i + chunk])
                done += len(todo[i:i + chunk])
            return done
        finally:
            self.lock.release()

    def chat(self, messages: list[Message], *, max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]:
        with self._turn():
            llm = self.load()
            chunks = llm.create_chat_completion(messages=list(messages), max_tokens=max_tokens, temperature=temperature,
                                                stop=stop or None, stream=True)
            yield from self._timed((c["choices"][0].get("delta", {}).get("content") or "" for c in chunks), GenerationStats())
