"""Temporary files (issue 13, finding 14a): exports and certificates go to private folders under FRONTLINE_HOME/tmp
(0700 folders, 0600 files, whatever the umask), never the shared system temp folder, and old ones are cleaned up."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from trainer import tempfiles
from trainer import ui_dashboard as ud
from trainer.accounts import PermissionDenied
from trainer.store import Store

from .people import fast_hash, make_org, record_call  # noqa: F401  (fast_hash is a fixture)

HOUR = 3600.0
NOW = 1_900_000_000.0


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def home(tmp_path) -> Path:
    return Path(os.environ["FRONTLINE_HOME"])          # set per test by conftest, like the app's own settings.home


@pytest.fixture
def open_umask():
    """The most permissive umask: the modes must not depend on the umask the server was started with."""
    old = os.umask(0)
    yield
    os.umask(old)


def aged(path: Path, age_s: float) -> Path:
    os.utime(path, (NOW - age_s, NOW - age_s), follow_symlinks=False)
    return path


# ---------------------------------------------------------------------- private folders and files
def test_private_dirs_are_0700_and_files_0600_under_home_whatever_the_umask(home, open_umask):
    one, two = tempfiles.private_dir(home, "exports"), tempfiles.private_dir(home, "exports")
    assert one != two and one.parent == two.parent == home / "tmp" / "exports"
    assert len(one.name) >= 32                                         # unguessable: a download link carries the path
    for folder in (home, home / "tmp", home / "tmp" / "exports", one):  # every level it made
        assert mode(folder) == 0o700, folder
    text = tempfiles.write_private(one / "a.csv", "név,score\n")
    raw = tempfiles.write_private(one / "b.bin", b"\x00\x01")
    assert mode(text) == mode(raw) == 0o600
    assert text.read_text(encoding="utf-8") == "név,score\n" and raw.read_bytes() == b"\x00\x01"


@pytest.mark.parametrize("umask", [0o022, 0o277, 0o777])
def test_the_modes_do_not_depend_on_the_umask(home, umask):
    """mkdir and open only ever take bits away from the mode they are given: a umask that takes the owner's away too
    must not leave a folder that cannot be opened, or a file with no mode at all."""
    old = os.umask(umask)
    try:
        folder = tempfiles.private_dir(home, "exports")
        path = tempfiles.write_private(folder / "a.csv", "x")
    finally:
        os.umask(old)
    assert [mode(p) for p in (home, home / "tmp", folder.parent, folder, path)] == [0o700] * 4 + [0o600]


def test_a_loose_existing_folder_or_file_is_made_private(home):
    (home / "tmp" / "exports").mkdir(parents=True)
    os.chmod(home / "tmp", 0o755)
    os.chmod(home / "tmp" / "exports", 0o777)
    folder = tempfiles.private_dir(home, "exports")
    assert mode(home / "tmp") == mode(home / "tmp" / "exports") == 0o700
    loose = folder / "x.txt"
    loose.write_text("old")
    os.chmod(loose, 0o666)
    assert mode(tempfiles.write_private(loose, "new")) == 0o600 and loose.read_text() == "new"


def test_the_gradio_cache_folder_is_private(home, open_umask):
    assert tempfiles.gradio_temp_dir(home) == home / "tmp" / "gradio"
    assert mode(home / "tmp" / "gradio") == mode(home / "tmp") == 0o700


@pytest.mark.parametrize("kind", ["../content", "/etc", "a/b", "", ".", "Exports", "gradio"])
def test_a_kind_is_a_word_not_a_path(home, kind):
    with pytest.raises(ValueError, match="kind"):
        tempfiles.private_dir(home, kind)


def test_writing_through_a_symlink_is_refused(home, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    folder = tempfiles.private_dir(home, "exports")
    (folder / "export.csv").symlink_to(outside)
    with pytest.raises(OSError):
        tempfiles.write_private(folder / "export.csv", "overwritten")
    assert outside.read_text() == "keep me"


def test_a_symlinked_tmp_folder_is_refused(home, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home.mkdir(parents=True)
    (home / "tmp").symlink_to(elsewhere)
    with pytest.raises(RuntimeError, match="symlink"):
        tempfiles.private_dir(home, "exports")
    assert list(elsewhere.iterdir()) == []


# ---------------------------------------------------------------------- clean-up
def test_clean_removes_old_entries_and_keeps_new_ones_and_the_top_folders(home):
    old = tempfiles.private_dir(home, "exports")
    aged(tempfiles.write_private(old / "old.csv", "x"), 7 * HOUR)
    aged(old, 7 * HOUR)
    new = tempfiles.private_dir(home, "exports")
    aged(tempfiles.write_private(new / "new.csv", "y"), 1 * HOUR)
    aged(new, 1 * HOUR)
    busy = tempfiles.private_dir(home, "certificates")               # an old folder just written into is still in use
    aged(busy, 9 * HOUR)
    aged(tempfiles.write_private(busy / "c.html", "z"), 10)
    cache = tempfiles.gradio_temp_dir(home) / "3f2a"                  # Gradio's cache: <hash>/<file>
    cache.mkdir()
    aged(tempfiles.write_private(cache / "upload.wav", b"RIFF"), 30 * HOUR)
    aged(cache, 30 * HOUR)
    stray = aged(tempfiles.write_private(home / "tmp" / "stray.txt", "s"), 8 * HOUR)
    aged(home / "tmp" / "exports", 100 * HOUR)
    aged(home / "tmp", 100 * HOUR)

    assert tempfiles.clean(home, max_age_s=6 * HOUR, now=NOW) == 3
    assert not old.exists() and not cache.exists() and not stray.exists()
    assert (new / "new.csv").read_text() == "y" and (busy / "c.html").exists()
    assert {p.name for p in (home / "tmp").iterdir()} == {"exports", "certificates", "gradio"}
    assert tempfiles.clean(home, max_age_s=6 * HOUR, now=NOW) == 0
    assert tempfiles.clean(home, max_age_s=6 * HOUR, now=NOW + 6 * HOUR) == 2     # later, the new ones are old too
    assert {p.name for p in (home / "tmp").iterdir()} == {"exports", "certificates", "gradio"}


def test_clean_without_a_tmp_folder_does_nothing(home):
    assert tempfiles.clean(home, now=NOW) == 0
    assert tempfiles.clean(home / "never-made", now=NOW) == 0


def test_clean_removes_symlinks_without_following_them(home, tmp_path):
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "data.txt").write_text("keep")
    aged(outside / "data.txt", 50 * HOUR)
    folder = tempfiles.private_dir(home, "exports")
    (folder / "inner-link").symlink_to(outside)
    aged(folder / "inner-link", 50 * HOUR)
    aged(folder, 50 * HOUR)
    links = [folder.parent / "link", home / "tmp" / "kind-link"]      # where an entry, and where a kind's folder, would be
    for link in links:
        link.symlink_to(outside)
        aged(link, 50 * HOUR)

    assert tempfiles.clean(home, now=NOW) == 3
    assert not folder.exists() and not any(os.path.lexists(link) for link in links)
    assert (outside / "data.txt").read_text() == "keep" and outside.is_dir()


# ---------------------------------------------------------------------- the downloads the app offers
@pytest.fixture
def org(tmp_path, catalog, fast_hash):  # noqa: F811
    store = Store(f"sqlite:///{tmp_path / 'frontline.db'}")
    yield make_org(store, catalog)
    store.engine.dispose()


def test_dashboard_exports_are_private_files_under_home(org, home, open_umask):
    app = org.app
    assert Path(app.settings.home) == home
    record_call(app, org.ann, "double-billed-dana", 55)
    tok = org.token(org.lead_a)
    for kind, start in (("csv", "call_id,"), ("xapi", "[")):
        path = Path(ud.export_file(app, tok, kind, None))
        assert path.parent.parent == home / "tmp" / "exports"
        assert mode(path) == 0o600 and mode(path.parent) == 0o700
        assert path.read_text(encoding="utf-8").lstrip().startswith(start)


def test_a_refused_export_leaves_no_folder_behind(org, home):
    app = org.app
    other_team = app.accounts.team_by_name("B").id
    with pytest.raises(PermissionDenied):
        ud.export_file(app, org.token(org.lead_a), "csv", other_team)
    assert not (home / "tmp" / "exports").exists() or list((home / "tmp" / "exports").iterdir()) == []


def test_certificates_are_private_files_under_home(org, home, open_umask):
    app, ann = org.app, org.ann
    cur = app.catalog.curricula["onboarding-week-1"]
    for m in cur.modules:
        record_call(app, ann, m.scenario, 90, curriculum_id=cur.id, module_id=m.id)
    code = app.progress.certificates(ann, ann)[0].code
    page, path = ud.certificate_file(app, org.token(ann), code)
    path = Path(path)
    assert path.parent.parent == home / "tmp" / "certificates" and path.name == f"certificate-{code}.html"
    assert mode(path) == 0o600 and mode(path.parent) == 0o700 and mode(home / "tmp") == 0o700
    assert path.read_text(encoding="utf-8") == page
