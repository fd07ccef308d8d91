"""A scripted backend for tests: replies from a queue or a function; it records every call and
raises when the queue runs out, so a test never passes on a silent default reply."""
from __future__ import annotations

from typing import Callable, Iterator

from .base import BackendError, Message


class FakeExhausted(AssertionError):
    pass


class FakeLLM:
    def __init__(self, replies: list[str | Exception] | None = None, *, responder: Callable[[str], str] | None = None,
                 supports_completion: bool = True, name: str = "fake", supports_prefill: bool = False):
        if replies is None and responder is None:
            raise ValueError("FakeLLM needs replies or a responder")
        self.replies = list(replies or [])
        self.responder = responder
        self.supports_completion = supports_completion
        self.name = name
        self.calls: list[dict] = []
        self.supports_prefill = supports_prefill      # like the local backend: prompts can be read into a cache ahead
        self.prefills: list[str] = []

    def _next(self, prompt_text: str) -> str:
        if self.responder is not None:
            return self.responder(prompt_text)
        if not self.replies:
            raise FakeExhausted(f"FakeLLM ran out of replies after {len(self.calls)} calls; last prompt ended: {prompt_text[-200:]!r}")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    @staticmethod
    def _stream(text: str) -> Iterator[str]:
        for i, word in enumerate(text.split(" ")):
            yield word if i == 0 else " " + word

    def complete(self, prompt: str, *, max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]:
        if not self.supports_completion:
            raise AssertionError("FakeLLM: complete() called on a chat-only fake")
        self.calls.append({"kind": "complete", "prompt": prompt, "stop": stop, "max_tokens": max_tokens})
        return self._stream(self._next(prompt))

    def prefill(self, prompt: str, **_kw) -> int:
        if not self.supports_prefill:
            raise AssertionError("FakeLLM: prefill() called on a fake made without supports_prefill")
        self.prefills.append(prompt)
        return len(prompt)

    def chat(self, messages: list[Message], *, max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]:
        self.calls.append({"kind": "chat", "messages": list(messages), "stop": stop, "max_tokens": max_tokens})
        return self._stream(self._next("\n".join(m["content"] for m in messages)))


def down(message: str = "cannot reach the model server (connection refused)") -> BackendError:
    return BackendError(message)
