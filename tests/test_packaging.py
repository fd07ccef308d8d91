"""The wheel is the product: `pip wheel .` must carry the app (trainer/, ui.py) and its content (personas, scenarios,
rubrics, curricula, calibration), and an install of it must run away from the checkout.

The content folders stay at the repository root, where authors edit them; pyproject.toml maps each into the wheel as
trainer/_content/<folder>, and trainer.config picks the checkout's folders in development and the wheel's copy in an
install. The slow test builds the wheel from a copy of the working tree, installs it into a fresh virtual environment
(its dependencies taken from this one, no index) and runs `trainer personas`, `trainer validate` and `trainer app`
from a folder outside the checkout.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import httpx
import pytest

from trainer import config
from trainer.config import load_settings

from .services import free_port, wait_for_port

REPO = Path(__file__).resolve().parent.parent
CONTENT = {"personas": "*.y*ml", "scenarios": "*.y*ml", "rubrics": "*.y*ml", "curricula": "*.y*ml",
           "calibration": "*.json", "calibration/heldout": "*.json"}


def _setuptools_config() -> dict:
    with (REPO / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)["tool"]["setuptools"]


def _source_packages() -> set[str]:
    """Every folder under trainer/ that holds Python modules, as a dotted package name."""
    return {".".join(d.relative_to(REPO).parts) for d in [REPO / "trainer", *(REPO / "trainer").rglob("*")]
            if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))}


def _content_files() -> list[str]:
    """Where each content file of the checkout must sit inside the wheel."""
    return sorted(f"trainer/_content/{folder}/{f.name}" for folder, pattern in CONTENT.items()
                  for f in (REPO / folder).glob(pattern))


# ------------------------------------------------------------------ fast: the configuration and the resolution


def test_every_package_under_trainer_is_listed_for_the_wheel():
    # The content mapping needs an explicit package list in pyproject.toml, so a new package would silently be left
    # out of the wheel (while the checkout, and so every other test, still imports it).
    listed = set(_setuptools_config()["packages"])
    missing = sorted(_source_packages() - listed)
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml, or the wheel leaves them out"


def test_every_content_folder_is_mapped_into_the_wheel():
    cfg = _setuptools_config()
    for folder in CONTENT:
        package = "trainer._content." + folder.replace("/", ".")
        assert package in cfg["packages"], package
        top = folder.split("/")[0]
        assert cfg["package-dir"]["trainer._content." + top] == top
        assert cfg["package-data"][package], package
    assert "ui" in cfg["py-modules"]


def test_a_checkout_is_told_from_an_install(tmp_path):
    assert config.CHECKOUT == REPO and config.ROOT == REPO       # the suite runs from the checkout (editable install)
    site = tmp_path / "site-packages"
    (site / "trainer").mkdir(parents=True)
    (site / "personas").mkdir()                 # some other distribution's folder is not a checkout
    assert config.checkout_root(site / "trainer") is None
    (site / "pyproject.toml").write_text("[project]\n")
    assert config.checkout_root(site / "trainer") == site


def test_the_content_folder_setting_overrides_and_a_missing_one_is_an_error(tmp_path):
    none = str(tmp_path / "none.toml")
    assert load_settings({"FRONTLINE_CONFIG": none}).content_dir == config.ROOT
    assert load_settings({"FRONTLINE_CONFIG": none, "FRONTLINE_CONTENT_DIR": str(tmp_path)}).content_dir == tmp_path
    toml = tmp_path / "frontline.toml"
    toml.write_text(f'content_dir = "{tmp_path}"\n')
    assert load_settings({"FRONTLINE_CONFIG": str(toml)}).content_dir == tmp_path
    # Before: a mistyped folder loaded as an empty catalog ("0 file(s) valid, 0 problem(s)", no personas).
    with pytest.raises(ValueError, match="FRONTLINE_CONTENT_DIR / content_dir = '.*nowhere' is not a folder"):
        load_settings({"FRONTLINE_CONFIG": none, "FRONTLINE_CONTENT_DIR": str(tmp_path / "nowhere")})


# ------------------------------------------------------------------ slow: build, install, run


def _can_build_wheels() -> None:
    """--no-build-isolation builds with this environment's setuptools (no index is asked): before 70.1 it needs the
    separate `wheel` package for bdist_wheel."""
    version = tuple(int(p) for p in metadata.version("setuptools").split(".")[:2])
    try:
        has_wheel = bool(metadata.version("wheel"))
    except metadata.PackageNotFoundError:
        has_wheel = False
    if version < (70, 1) and not has_wheel:
        pytest.fail(f"setuptools {metadata.version('setuptools')} without the `wheel` package cannot build a wheel: "
                    "install the dev extras (they pin setuptools>=70.1), e.g. .venv/bin/pip install 'setuptools>=70.1'")


def _copy_tree(dest: Path) -> Path:
    """The working tree as git sees it (tracked and new files, not the ignored build output, venv or egg-info), so
    that the build writes its build/ folder into the copy, not into the checkout, and no stale build/ is packed."""
    try:
        out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):      # no git, or not a git checkout (an unpacked sdist)
        shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(".git", ".venv", "out", "build", "*.egg-info",
                                                                  "__pycache__", ".pytest_cache"))
        return dest
    for rel in filter(None, out.stdout.decode().split("\0")):
        src = REPO / rel
        if src.is_file():                       # a tracked file deleted in the working tree is not copied
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def _run(args: list, *, env: dict, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.slow
def test_the_wheel_carries_the_content_and_runs_outside_the_checkout(tmp_path):
    _can_build_wheels()
    src = _copy_tree(tmp_path / "src")
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", wheels, src],
         env=dict(os.environ), cwd=tmp_path, timeout=300)
    (wheel,) = wheels.glob("frontline_trainer-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    assert len(_content_files()) > 30
    assert not [f for f in _content_files() if f not in names], "content files missing from the wheel"
    modules = sorted(str(f.relative_to(REPO)) for f in (REPO / "trainer").rglob("*.py") if "__pycache__" not in f.parts)
    assert not [m for m in modules if m not in names], "modules missing from the wheel"
    assert {"ui.py", "trainer/migrations/script.py.mako"} <= names

    # A fresh environment holding only the wheel; its dependencies come from this environment's site-packages,
    # named in a .pth file (a path line: the .pth files there, the checkout's editable finder among them, stay unread).
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], env=dict(os.environ), cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        env=dict(os.environ), cwd=tmp_path).stdout.strip())
    outer = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (purelib / "outer-environment.pth").write_text("".join(f"{p}\n" for p in outer))
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel],
         env=dict(os.environ), cwd=tmp_path, timeout=300)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FRONTLINE_CONTENT_DIR", "VIRTUAL_ENV")}
    env.update(FRONTLINE_HOME=str(tmp_path / "home"), FRONTLINE_CONFIG=str(tmp_path / "none.toml"), FRONTLINE_PRELOAD="0",
               # never loaded: the app starts without reading the model (FRONTLINE_PRELOAD=0) and no call is made
               FRONTLINE_CUSTOMER_MODEL=str(tmp_path / "unused.gguf"), FRONTLINE_GRADER_MODEL=str(tmp_path / "unused.gguf"))
    where = json.loads(_run([python, "-c", "import json, trainer, ui; from trainer import config; "
                                           "print(json.dumps([trainer.__file__, ui.__file__, str(config.CHECKOUT), str(config.ROOT)]))"],
                            env=env, cwd=outside).stdout)
    assert all(Path(p).is_relative_to(purelib) for p in (where[0], where[1], where[3])), where
    assert where[2] == "None", where

    trainer = venv / "bin" / "trainer"
    listed = _run([trainer, "personas"], env=env, cwd=outside).stdout
    assert [p.stem for p in (REPO / "personas").glob("*.y*ml") if p.stem not in listed] == [], listed
    n_files = sum(len(list((REPO / folder).glob("*.y*ml"))) for folder in ("personas", "scenarios", "rubrics", "curricula"))
    assert _run([trainer, "validate"], env=env, cwd=outside).stdout.strip() == f"{n_files} file(s) valid, 0 problem(s)"

    port = free_port()
    log = (tmp_path / "app.log").open("w+")
    app = subprocess.Popen([str(trainer), "app", "--port", str(port)], env=env, cwd=outside, stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for_port(port, timeout=180, proc=app)
        except (RuntimeError, TimeoutError) as exc:
            log.seek(0)
            pytest.fail(f"{exc}\n{log.read()}")
        reply = httpx.get(f"http://127.0.0.1:{port}/config", timeout=30)
        assert reply.status_code == 200, reply.text
        assert reply.json()["components"]
        log.seek(0)
        assert "content problem" not in log.read()
    finally:
        app.terminate()
        try:
            app.wait(timeout=20)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
        log.close()
