"""Where the speech models live, checked by SHA-256 before first use. No hub download, ever."""
from __future__ import annotations

import functools
import hashlib
import logging
import os
from pathlib import Path

from ..embedded import PIPER_VOICE_PACKAGE, WHISPER_TINY_PACKAGE, ModelError, piper_voice_path, whisper_tiny_dir

log = logging.getLogger(__name__)

# faster-whisper / huggingface_hub must never reach for the network, even if a path is mistyped.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PIPER_VOICE_SHA256 = {
    "en_US-joe-medium.onnx": "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
    "en_US-joe-medium.onnx.json": "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
}
WHISPER_TINY_SHA256 = {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def _verified(path: str, size: int, mtime: float, expected: str) -> bool:
    return sha256(Path(path)) == expected


def verify_files(folder: Path, expected: dict[str, str], package: str) -> None:
    for name, digest in expected.items():
        p = folder / name
        if not p.is_file():
            raise ModelError(f"{p} is missing: run  pip install --force-reinstall '{package}'")
        st = p.stat()
        if not _verified(str(p), st.st_size, st.st_mtime, digest):
            raise ModelError(f"{p} does not match its published SHA-256: run  pip install --force-reinstall '{package}'")


def piper_voice() -> Path:
    """The embedded Joe voice (.onnx, with its .onnx.json beside it), verified."""
    path = piper_voice_path()
    verify_files(path.parent, PIPER_VOICE_SHA256, PIPER_VOICE_PACKAGE)
    return path


def whisper_model(name_or_dir: str = "tiny.en") -> Path:
    """A CTranslate2 whisper folder: 'tiny.en' is the embedded one (verified); any other value is a local folder
    a trainer owns. A folder that does not exist is an error here: faster-whisper would treat the string as a hub id."""
    if name_or_dir in ("", "tiny.en"):
        folder = whisper_tiny_dir()
        verify_files(folder, WHISPER_TINY_SHA256, WHISPER_TINY_PACKAGE)
        return folder
    folder = Path(name_or_dir).expanduser()
    if not (folder / "model.bin").is_file():
        raise ModelError(f"FRONTLINE_WHISPER_MODEL={name_or_dir!r}: no CTranslate2 model.bin in that folder. "
                         f"Fix: use 'tiny.en' (embedded) or the path of a faster-whisper model folder")
    return folder
