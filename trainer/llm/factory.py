"""Build the backend a ModelConfig names."""
from __future__ import annotations

from ..config import ModelConfig, Settings
from .base import BackendError, LLMBackend


def make_backend(cfg: ModelConfig, settings: Settings, *, slot: str = "customer") -> LLMBackend:
    """slot: which role the backend serves; local models keep one KV cache per slot."""
    if cfg.backend == "local":
        from pathlib import Path

        from ..embedded import assemble
        from .local import LocalBackend
        path = Path(cfg.model) if cfg.model else assemble(settings.model_cache)
        return LocalBackend.shared(path, n_ctx=settings.n_ctx, n_threads=settings.n_threads, slot=slot)
    if cfg.backend == "openai":
        from .openai_backend import OpenAIBackend
        return OpenAIBackend(cfg.model, base_url=cfg.base_url, api_key_env=cfg.api_key_env, timeout_s=cfg.timeout_s,
                             prompt_style=cfg.prompt_style)
    if cfg.backend == "langchain":
        from .langchain_backend import LangChainBackend
        return LangChainBackend(cfg.model, temperature=cfg.temperature)
    raise BackendError(f"unknown backend '{cfg.backend}': use local, openai or langchain", retryable=False)
