"""Any LangChain chat model, named as provider:model (e.g. anthropic:claude-sonnet-4-5, ollama:llama3.1)."""
from __future__ import annotations

from typing import Iterator

from .base import BackendError, Message


class LangChainBackend:
    supports_completion = False

    def __init__(self, spec: str, *, temperature: float = 0.7, model=None):
        self.name = f"langchain:{spec}"
        if model is None:
            if ":" not in spec:
                raise BackendError(f"langchain model must be written provider:model, got '{spec}'", retryable=False)
            try:
                from langchain.chat_models import init_chat_model
                model = init_chat_model(spec, temperature=temperature)
            except ImportError as exc:
                raise BackendError(f"cannot load LangChain provider for '{spec}': {exc}. Install its integration package "
                                   f"(e.g. pip install langchain-{spec.split(':')[0]})", retryable=False) from exc
            except Exception as exc:  # noqa: BLE001
                raise BackendError(f"cannot create LangChain model '{spec}': {exc}", retryable=False) from exc
        self.model = model

    def complete(self, prompt: str, *, max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]:
        raise BackendError("LangChain chat models take chat messages, not a raw prompt", retryable=False)

    def chat(self, messages: list[Message], *, max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
        kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
        lc = [kinds[m["role"]](content=m["content"]) for m in messages]
        try:
            for chunk in self.model.stream(lc, stop=stop or None):
                text = chunk.content if isinstance(chunk.content, str) else "".join(
                    part.get("text", "") for part in chunk.content if isinstance(part, dict))
                if text:
                    yield text
        except Exception as exc:  # noqa: BLE001 - providers raise their own types
            raise BackendError(f"LangChain model call failed: {exc}") from exc
