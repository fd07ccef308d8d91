"""`trainer content ...` drives the same studio functions from the terminal."""
from __future__ import annotations

from trainer.cli import main
from trainer.config import ROOT


def test_import_publish_history_diff_export(tmp_path, capsys):
    src = tmp_path / "personas" / "double-billed-dana.yaml"
    src.parent.mkdir()
    src.write_text((ROOT / "personas" / "double-billed-dana.yaml").read_text(encoding="utf-8").replace("\nmood: 6", "\nmood: 8"), encoding="utf-8")
    assert main(["content", "import", str(src), "--author", "Tina", "--publish"]) == 0
    assert "revision 2 (published)" in capsys.readouterr().out
    assert main(["content", "history", "persona", "double-billed-dana"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("r2") and "published" in out[0] and "Tina" in out[0] and out[1].startswith("r1")
    assert main(["content", "diff", "persona", "double-billed-dana", "1", "2"]) == 0
    diff = capsys.readouterr().out
    assert "-mood: 6\n+mood: 8\n" in diff
    assert main(["content", "delete", "persona", "double-billed-dana", "--author", "Tina"]) == 1
    assert "retire it instead" in capsys.readouterr().err
    assert main(["content", "export", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "personas" / "double-billed-dana.yaml").read_text(encoding="utf-8") == src.read_text(encoding="utf-8")


def test_autoplay_exit_code_says_whether_the_triggers_work(capsys):
    assert main(["content", "autoplay", "outage-frank"]) == 0
    out = capsys.readouterr().out
    assert "== good agent" in out and "== rude agent" in out and "The triggers work" in out
