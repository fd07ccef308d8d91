"""The backend protocol: stream text for a plain prompt (transcript completion) or for chat messages."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol, TypedDict, TypeVar, runtime_checkable

log = logging.getLogger(__name__)


class Message(TypedDict):
    role: str      # system | user | assistant
    content: str


class BackendError(RuntimeError):
    """The model could not answer. `retryable` is False for errors retrying cannot fix (bad key, no such model)."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    reused_tokens: int = 0       # prompt tokens whose KV cache was reused from the previous call
    completion_tokens: int = 0
    first_token_s: float = 0.0
    total_s: float = 0.0


@runtime_checkable
class LLMBackend(Protocol):
    name: str
    supports_completion: bool    # can continue a raw text prompt (the form small local models need)

    def complete(self, prompt: str, *, max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]: ...

    def chat(self, messages: list[Message], *, max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]: ...


T = TypeVar("T")


def with_retries(fn: Callable[[], T], *, attempts: int = 3, base_delay: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep,
                 on_retry: Callable[[int, BackendError], None] | None = None) -> T:
    """Call fn, retrying retryable BackendErrors with exponential backoff (0.5 s, 1 s, 2 s …)."""
    last: BackendError | None = None
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except BackendError as exc:
            last = exc
            if not exc.retryable or attempt == attempts:
                break
            delay = base_delay * 2 ** (attempt - 1)
            log.warning("model call failed (%s); retry %d/%d in %.1fs", exc, attempt, attempts - 1, delay)
            if on_retry:
                on_retry(attempt, exc)
            sleep(delay)
    assert last is not None
    raise last
