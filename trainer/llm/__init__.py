"""LLM backends behind one small protocol. Heavy imports happen only when a backend is built."""
from .base import BackendError, GenerationStats, LLMBackend, Message, with_retries
from .factory import make_backend

__all__ = ["BackendError", "GenerationStats", "LLMBackend", "Message", "make_backend", "with_retries"]
