"""Private temporary files: exports, printable certificates and Gradio's upload cache, under FRONTLINE_HOME/tmp.

The system temp folder is shared by every account on the machine, and files made there with the default umask are
world-readable (a team's scores, a trainee's call audio). Everything here lives in `home/tmp`, whose folders are 0700 and
whose files are 0600 whatever the umask, each download in its own folder with an unguessable name (Gradio serves files
by path). `clean` removes what is older than a few hours, so the folder does not grow without bound."""
from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import time
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
MAX_AGE_S = 6 * 3600          # a download is fetched within seconds; hours leave room for a slow browser tab
_KIND = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def tmp_root(home: Path | str) -> Path:
    """`home/tmp`, made (with any missing parents) and set to 0700."""
    return _private_folder(Path(home) / "tmp")


def private_dir(home: Path | str, kind: str) -> Path:
    """A fresh, empty folder `home/tmp/<kind>/<random>` that only this account can open. `kind` names what it holds
    ("exports", "certificates", ...): a short lowercase word, never a path."""
    if not _KIND.match(kind or "") or kind == "gradio":
        raise ValueError(f"temp folder kind {kind!r}: use a short lowercase word such as 'exports' (and not 'gradio')")
    parent = _private_folder(tmp_root(home) / kind)
    while True:
        path = parent / secrets.token_hex(16)           # 128 bits: the path is what a download link carries
        try:
            os.mkdir(path, DIR_MODE)
        except FileExistsError:                         # pragma: no cover - a 128-bit collision
            continue
        os.chmod(path, DIR_MODE)                        # mkdir's mode is masked by the umask
        return path


def gradio_temp_dir(home: Path | str) -> Path:
    """`home/tmp/gradio`, for GRADIO_TEMP_DIR (set it before gradio is imported: Gradio reads it at import time)."""
    return _private_folder(tmp_root(home) / "gradio")


def write_private(path: Path | str, data: str | bytes) -> Path:
    """Write `data` (text as UTF-8) to `path` as a 0600 file. Refuses to write through a symlink."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)                        # the umask, or a file that was there before, cannot widen it
        view = memoryview(raw)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    return path


def clean(home: Path | str, max_age_s: float = MAX_AGE_S, now: float | None = None) -> int:
    """Remove what under `home/tmp` is older than `max_age_s` (by its newest modification time): the entries of each
    kind's folder, and stray files beside them; the folders `home/tmp` and `home/tmp/<kind>` stay. Returns how many
    entries it removed. Symlinks are removed, never followed; a missing `home/tmp` is nothing to do."""
    root = Path(home) / "tmp"
    now = time.time() if now is None else now
    if not _is_real_dir(root):
        return 0
    removed = 0
    for top in _entries(root):
        if _is_real_dir(top):
            for entry in _entries(top):
                removed += _remove_if_old(entry, now - max_age_s)
        else:
            removed += _remove_if_old(top, now - max_age_s)
    return removed


# ---------------------------------------------------------------------- internals
def _private_folder(path: Path) -> Path:
    """Make `path` and its missing parents; the folders made here, and `path` itself, end up 0700."""
    missing = []
    p = path
    while not os.path.lexists(p):
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:                         # another request made it meanwhile
            pass
        if folder != path:
            os.chmod(folder, DIR_MODE)
    if not _is_real_dir(path):
        raise RuntimeError(f"{path} is not a folder (or is a symlink). Fix: remove it; Frontline makes it again.")
    os.chmod(path, DIR_MODE)
    return path


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _entries(folder: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(folder)]
    except FileNotFoundError:
        return []


def _newest_mtime(path: Path) -> float:
    """The newest modification time in `path`, a folder still being written to counting as new. Never follows links."""
    newest = os.lstat(path).st_mtime
    if stat.S_ISDIR(os.lstat(path).st_mode):
        for parent, dirs, files in os.walk(path, followlinks=False):
            for name in dirs + files:
                try:
                    newest = max(newest, os.lstat(os.path.join(parent, name)).st_mtime)
                except FileNotFoundError:
                    pass
    return newest


def _remove_if_old(path: Path, cutoff: float) -> int:
    try:
        if _newest_mtime(path) >= cutoff:
            return 0
        if _is_real_dir(path):
            shutil.rmtree(path)                         # rmtree does not follow the symlinks inside
        else:
            os.unlink(path)                             # a file, or a symlink itself (not what it points to)
    except FileNotFoundError:                           # removed meanwhile (another process cleaning)
        return 0
    return 1
