"""llama-cpp-python in process. One Llama object per model file, shared and serialised by a lock.

llama.cpp keeps the KV cache of the last prompt; a new prompt that starts with the previous one only
evaluates the new tokens. The actor keeps its prompt stable turn to turn so each turn costs only the
new lines.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Iterator

from .base import BackendError, GenerationStats, Message

log = logging.getLogger(__name__)

_instances: dict[tuple[str, int, int], "LocalBackend"] = {}
_instances_lock = threading.Lock()


class LocalBackend:
    supports_completion = True

    def __init__(self, model_path: Path, *, n_ctx: int = 4096, n_threads: int = 0):
        self.model_path = Path(model_path)
        self.name = f"local:{self.model_path.name}"
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 2
        self._llm = None
        self.lock = threading.Lock()
        self.load_s = 0.0
        self.last_stats = GenerationStats()

    @classmethod
    def shared(cls, model_path: Path, *, n_ctx: int = 4096, n_threads: int = 0) -> "LocalBackend":
        key = (str(model_path), n_ctx, n_threads)
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
            log.info("loaded %s in %.1fs", self.model_path.name, self.load_s)
        return self._llm

    def _reused(self, llm, prompt: str) -> tuple[int, int]:
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        cached = llm._input_ids[: llm.n_tokens].tolist()
        n = 0
        for a, b in zip(cached, tokens):
            if a != b:
                break
            n += 1
        return len(tokens), n

    def complete(self, prompt: str, *, max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]:
        with self.lock:
            llm = self.load()
            stats = GenerationStats()
            stats.prompt_tokens, stats.reused_tokens = self._reused(llm, prompt)
            if stats.prompt_tokens + max_tokens > self.n_ctx:
                raise BackendError(f"prompt too long for the context window ({stats.prompt_tokens} tokens of {self.n_ctx})", retryable=False)
            t0 = time.perf_counter()
            for chunk in llm.create_completion(prompt, max_tokens=max_tokens, temperature=temperature, top_p=0.9,
                                               repeat_penalty=1.1, stop=stop, stream=True):
                text = chunk["choices"][0].get("text", "")
                if text:
                    if not stats.completion_tokens:
                        stats.first_token_s = time.perf_counter() - t0
                    stats.completion_tokens += 1
                    yield text
            stats.total_s = time.perf_counter() - t0
            self.last_stats = stats

    def chat(self, messages: list[Message], *, max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]:
        with self.lock:
            llm = self.load()
            t0 = time.perf_counter()
            stats = GenerationStats()
            for chunk in llm.create_chat_completion(messages=list(messages), max_tokens=max_tokens, temperature=temperature,
                                                    stop=stop or None, stream=True):
                delta = chunk["choices"][0].get("delta", {}).get("content") or ""
                if delta:
                    if not stats.completion_tokens:
                        stats.first_token_s = time.perf_counter() - t0
                    stats.completion_tokens += 1
                    yield delta
            stats.total_s = time.perf_counter() - t0
            self.last_stats = stats
