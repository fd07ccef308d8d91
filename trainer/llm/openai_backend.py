"""Any OpenAI-compatible server: OpenAI itself, vLLM, Ollama, llama.cpp's server. The key comes from the environment."""
from __future__ import annotations

import os
from typing import Iterator

from .base import BackendError, Message


class OpenAIBackend:
    def __init__(self, model: str, *, base_url: str = "", api_key_env: str = "OPENAI_API_KEY", timeout_s: float = 60.0,
                 prompt_style: str = "auto", client=None):
        if not model:
            raise BackendError("the openai backend needs a model name (FRONTLINE_CUSTOMER_MODEL / FRONTLINE_GRADER_MODEL)", retryable=False)
        self.model = model
        self.base_url = base_url
        self.name = f"openai:{model}" + (f"@{base_url}" if base_url else "")
        # Plain completions exist on vLLM / llama.cpp / Ollama servers, not on api.openai.com chat models.
        self.supports_completion = prompt_style == "completion"
        if client is None:
            import openai
            key = os.environ.get(api_key_env)
            if not key and not base_url:
                raise BackendError(f"no API key: set the environment variable {api_key_env}, or point base_url at a local server", retryable=False)
            client = openai.OpenAI(api_key=key or "not-needed", base_url=base_url or None, timeout=timeout_s, max_retries=0)
        self.client = client

    def _wrap(self, exc: Exception) -> BackendError:
        import openai
        where = self.base_url or "api.openai.com"
        if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError)):
            return BackendError(f"cannot reach the model server at {where} ({type(exc).__name__})")
        if isinstance(exc, openai.AuthenticationError):
            return BackendError(f"the model server at {where} rejected the API key", retryable=False)
        if isinstance(exc, openai.NotFoundError):
            return BackendError(f"model '{self.model}' not found at {where}", retryable=False)
        if isinstance(exc, openai.RateLimitError):
            return BackendError(f"rate limited by {where}")
        if isinstance(exc, openai.APIStatusError):
            return BackendError(f"{where} answered HTTP {exc.status_code}", retryable=exc.status_code >= 500)
        return BackendError(f"model call failed: {exc}")

    def complete(self, prompt: str, *, max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]:
        try:
            stream = self.client.completions.create(model=self.model, prompt=prompt, max_tokens=max_tokens,
                                                    temperature=temperature, stop=stop[:4] or None, stream=True)
            for chunk in stream:
                if chunk.choices and chunk.choices[0].text:
                    yield chunk.choices[0].text
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to a clear message
            raise self._wrap(exc) from exc

    def chat(self, messages: list[Message], *, max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]:
        try:
            stream = self.client.chat.completions.create(model=self.model, messages=list(messages), max_tokens=max_tokens,
                                                         temperature=temperature, stop=stop[:4] or None, stream=True)
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._wrap(exc) from exc
