"""Settings: environment variables over an optional TOML file over defaults.

Every setting has an environment variable FRONTLINE_<NAME>; the same names (lower case) may be put in
a TOML file given by FRONTLINE_CONFIG (default: ./frontline.toml if present). API keys are never
read from the file or stored anywhere: they come from the environment only.
"""
from __future__ import annotations

import importlib.resources
import ipaddress
import logging
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path


def checkout_root(package_dir: Path) -> Path | None:
    """The repository root when the code runs from a checkout (the source tree or an editable install): there the
    content folders sit beside trainer/. An installed wheel has site-packages above trainer/ instead, so None."""
    root = package_dir.parent
    return root if (root / "pyproject.toml").is_file() and (root / "personas").is_dir() else None


def bundled_content() -> Path:
    """The content a wheel carries: pyproject.toml maps the repository's personas/, scenarios/, rubrics/, curricula/
    and calibration/ to trainer/_content/<folder>. pip unpacks wheels, so this is a folder on disk."""
    return Path(str(importlib.resources.files(__package__) / "_content"))


CHECKOUT = checkout_root(Path(__file__).resolve().parent)
"""The repository root (ui.py, the content folders) when running from a checkout; None from an installed wheel."""
ROOT = CHECKOUT or bundled_content()
"""The default content folder: the checkout's root in development, the wheel's own copy in an install.
The content_dir setting (FRONTLINE_CONTENT_DIR) overrides it."""


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
    # Reverse proxies whose X-Forwarded-For names the client (IPs or CIDRs). Empty: no proxy header is believed, so
    # the sign-in limits count the address that really connected, not one a client wrote into a header.
    trusted_proxies: tuple[str, ...] = ()

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


def _trusted_proxies(value: str | list) -> tuple[str, ...]:
    """A comma list (environment) or a list (TOML) of proxy addresses or networks, checked now: a typo would otherwise
    make uvicorn trust nobody (or, worse, be read as a host name) without a word."""
    items = value if isinstance(value, list) else str(value).split(",")
    out = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        if item == "*":
            raise ValueError("FRONTLINE_TRUSTED_PROXIES / trusted_proxies = '*' would let any client choose its own "
                             "address; list the addresses of your reverse proxies instead (e.g. 10.0.0.5 or 10.0.0.0/24)")
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"FRONTLINE_TRUSTED_PROXIES / trusted_proxies: '{item}' is not an IP address or network; "
                             "use addresses like 10.0.0.5, ::1 or 10.0.0.0/24, separated by commas") from None
        out.append(item)
    return tuple(out)


TRUST_NO_PROXY = "none"
"""FORWARDED_ALLOW_IPS for "believe no proxy header". uvicorn compares each connecting address with the list; this
entry is not an IP, so it can only equal a non-IP peer name literally, and no TCP peer is called "none". (An empty
string happens to trust nobody in uvicorn 0.54 too, but only through a falsy-host shortcut; a variable left empty is
also easy to mistake for "unset", which trusts loopback.)"""


def apply_trusted_proxies(settings: Settings, environ=None) -> str:
    """Make uvicorn (under Gradio) believe X-Forwarded-For only from the configured proxies. uvicorn reads
    FORWARDED_ALLOW_IPS when the server is configured, at `launch()`, and by default trusts loopback: then anything on
    the machine, or a local proxy passing the header through, could give every sign-in try a new client address. Call
    this before launching; it returns the value it set."""
    environ = os.environ if environ is None else environ
    value = ",".join(settings.trusted_proxies) or TRUST_NO_PROXY
    before = environ.get("FORWARDED_ALLOW_IPS")
    if before is not None and before != value:
        logging.getLogger(__name__).warning("FORWARDED_ALLOW_IPS=%r is replaced by %r: set FRONTLINE_TRUSTED_PROXIES "
                                            "(or trusted_proxies in frontline.toml) instead", before, value)
    environ["FORWARDED_ALLOW_IPS"] = value
    return value


def _content_dir(value: str | None) -> Path:
    """The content folder (the setting, else ROOT), checked now: a folder that is not there would load as an empty
    catalog, and every command would then report no personas and "0 problems" instead of the mistake."""
    path = Path(value).expanduser() if value else ROOT
    if not path.is_dir():
        if value:
            raise ValueError(f"FRONTLINE_CONTENT_DIR / content_dir = '{value}' is not a folder: point it at a folder "
                             f"holding personas/, scenarios/, rubrics/ and curricula/, or unset it to use the built-in "
                             f"content")
        raise ValueError(f"the built-in content folder {path} is missing (a wheel built without it?): reinstall "
                         f"frontline-trainer from a wheel built by `pip wheel .`, or set FRONTLINE_CONTENT_DIR to a "
                         f"folder holding personas/, scenarios/, rubrics/ and curricula/")
    return path


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
        content_dir=_content_dir(get("content_dir") or None),
        customer=customer,
        grader=grader,
        judge=_judge_mode(get("judge", "auto")),
        n_threads=int(get("n_threads", "0")),
        n_ctx=int(get("n_ctx", "4096")),
        host=get("host", "127.0.0.1"),
        port=int(get("port", "7860")),
        trusted_proxies=_trusted_proxies(environ.get("FRONTLINE_TRUSTED_PROXIES", file_cfg.get("trusted_proxies", ""))),
    )
