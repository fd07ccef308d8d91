"""Settings: environment variables over an optional TOML file over defaults.

Every setting has an environment variable FRONTLINE_<NAME>; the same names (lower case) may be put in
a TOML file given by FRONTLINE_CONFIG (default: ./frontline.toml if present). API keys are never
read from the file or stored anywhere: they come from the environment only.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ModelConfig:
    """Which LLM plays a role (the customer, or the grader)."""

    backend: str = "local"            # local | openai | langchain | fake
    model: str = ""                   # local: path to a GGUF (default: the embedded model); openai: model name; langchain: provider:model
    base_url: str = ""                # openai backend: any OpenAI-compatible server (vLLM, Ollama, llama.cpp server)
    api_key_env: str = "OPENAI_API_KEY"
    prompt_style: str = "auto"        # auto | completion | chat
    temperature: float = 0.7
    timeout_s: float = 60.0
    retries: int = 3

    def describe(self) -> str:
        if self.backend == "local":
            return f"local:{Path(self.model).name if self.model else 'qwen2.5-coder-1.5b-instruct-q4_k_m'}"
        if self.backend == "openai":
            return f"openai:{self.model}@{self.base_url or 'api.openai.com'}"
        return f"{self.backend}:{self.model}"


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path.home() / ".frontline")
    models_dir: Path | None = None
    database_url: str = ""
    content_dir: Path = ROOT
    customer: ModelConfig = field(default_factory=ModelConfig)
    grader: ModelConfig = field(default_factory=lambda: ModelConfig(temperature=0.0))
    judge: str = "auto"               # LLM judge: on | off | auto (on unless the grader is the embedded local model)
    n_threads: int = 0                # local model threads; 0 = all cores
    n_ctx: int = 4096
    host: str = "127.0.0.1"
    port: int = 7860

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'frontline.db'}"

    @property
    def model_cache(self) -> Path:
        return self.models_dir or (self.home / "models")


def env_flag(name: str, default: bool, env=None) -> bool:
    """An on/off setting from the environment: unset gives the default; 0, false, no, off or empty is off."""
    v = (os.environ if env is None else env).get(name)
    return default if v is None else v.strip().lower() not in ("0", "false", "no", "off", "")


def _coerce(value: str, typ: type) -> object:
    if typ in (int,):
        return int(value)
    if typ in (float,):
        return float(value)
    return value


def _model_config(prefix: str, file_cfg: dict, base: ModelConfig, environ) -> ModelConfig:
    kw = {}
    section = file_cfg.get(prefix.lower(), {})
    for f in fields(ModelConfig):
        env = environ.get(f"FRONTLINE_{prefix}_{f.name.upper()}")
        if env is not None:
            kw[f.name] = _coerce(env, type(getattr(base, f.name)))
        elif f.name in section:
            kw[f.name] = section[f.name]
    if "api_key" in section:
        raise ValueError(f"{prefix.lower()}.api_key must not be in the config file; set the environment variable "
                         f"named by api_key_env ({section.get('api_key_env', 'OPENAI_API_KEY')}) instead")
    return ModelConfig(**{**base.__dict__, **kw})


def _judge_mode(value: str) -> str:
    mode = value.strip().lower()
    if mode not in ("on", "off", "auto"):
        raise ValueError(f"FRONTLINE_JUDGE / judge = '{value}': use on, off or auto")
    return mode


def load_settings(env: dict[str, str] | None = None) -> Settings:
    environ = os.environ if env is None else env
    cfg_path = Path(environ.get("FRONTLINE_CONFIG", "frontline.toml"))
    file_cfg: dict = {}
    if cfg_path.is_file():
        with cfg_path.open("rb") as fh:
            file_cfg = tomllib.load(fh)

    def get(name: str, default: str = "") -> str:
        return environ.get(f"FRONTLINE_{name.upper()}", str(file_cfg.get(name, default)))

    defaults = Settings()
    home = Path(get("home", str(defaults.home))).expanduser()
    customer = _model_config("CUSTOMER", file_cfg, ModelConfig(), environ)
    grader = _model_config("GRADER", file_cfg, ModelConfig(temperature=0.0), environ)
    models_dir = get("models_dir")
    return Settings(
        home=home,
        models_dir=Path(models_dir).expanduser() if models_dir else None,
        database_url=get("database_url"),
        content_dir=Path(get("content_dir", str(ROOT))).expanduser(),
        customer=customer,
        grader=grader,
        judge=_judge_mode(get("judge", "auto")),
        n_threads=int(get("n_threads", "0")),
        n_ctx=int(get("n_ctx", "4096")),
        host=get("host", "127.0.0.1"),
        port=int(get("port", "7860")),
    )
