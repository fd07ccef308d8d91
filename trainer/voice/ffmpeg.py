"""Gradio streams audio output through an `ffmpeg` process (AAC/HLS). Machines without FFmpeg get the
static build that the `imageio-ffmpeg` package ships on PyPI, linked as `ffmpeg` into the data folder
and put on PATH for this process. Decoding uploads does not need it (PyAV does that)."""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


def ensure_ffmpeg(home: Path) -> str | None:
    """Return the ffmpeg that streamed audio will use, or None (streamed replies then cannot play)."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
        exe = Path(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception as exc:  # noqa: BLE001 - reported, the rest of the app works
        log.warning("no ffmpeg found and imageio-ffmpeg unusable (%s): spoken replies cannot stream; "
                    "run  pip install imageio-ffmpeg  or install FFmpeg", exc)
        return None
    bindir = Path(home) / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    link = bindir / "ffmpeg"
    if not (link.exists() and link.resolve() == exe.resolve()):
        link.unlink(missing_ok=True)
        try:
            link.symlink_to(exe)
        except OSError:
            shutil.copy2(exe, link)
    os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    return shutil.which("ffmpeg")
