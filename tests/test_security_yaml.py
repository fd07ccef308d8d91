"""Findings 2 and 7 of the security review: YAML from users cannot exhaust memory or time.

A few KiB of aliases ("billion laughs") used to expand into tens of megabytes when the studio's form code turned
the parsed value into text, and a 20 MB import was parsed and kept as a draft. Every YAML the app parses from a
user now refuses anchors and aliases (content files have no use for them), nesting deeper than MAX_YAML_DEPTH, and
documents over MAX_YAML_BYTES, with a ContentError that names the field and the fix.
"""
from __future__ import annotations

import time

import pytest

from trainer.catalog import Catalog
from trainer.config import ROOT
from trainer.content import MAX_YAML_BYTES, MAX_YAML_DEPTH, ContentError, YamlRefused, parse_yaml_text
from trainer.studio import forms
from trainer.studio.revisions import Revisions

DANA = ROOT / "personas" / "double-billed-dana.yaml"
QUICK_S = 1.0          # a generous bound: refused documents are never built, so this takes milliseconds


def laughs(levels: int = 7) -> str:
    """A persona whose display name is an alias chain: 10**levels copies of 'lol' (7 levels: the probe's ~52 MB
    response, each further ~60-byte line multiplies it by 10), in about 500 bytes of YAML."""
    lines = ["id: laughs", "x:", "  l0: &l0 lol"]
    for i in range(1, levels + 1):
        lines.append(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    lines.append(f"name: *l{levels}")
    return "\n".join(lines) + "\n"


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    try:
        return fn(*args, **kw), time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - returned for the test to inspect
        return exc, time.perf_counter() - t0


def assert_refused_alias(result, elapsed: float) -> ContentError:
    assert elapsed < QUICK_S, f"took {elapsed:.2f}s: the aliases were expanded"
    assert isinstance(result, ContentError), f"not refused: got {type(result).__name__}"
    assert "anchors and aliases" in str(result) and "write the value out" in str(result)
    return result


def big_document() -> str:
    """A plain (alias-free) document of about 300 KiB: over the cap."""
    text = DANA.read_text(encoding="utf-8") + "problem: >\n" + "".join(f"  line {i} of a very long problem text\n" for i in range(9000))
    assert len(text.encode()) > 300 * 1024 > MAX_YAML_BYTES
    return text


def test_billion_laughs_is_refused_by_the_parser_naming_the_field():
    err = assert_refused_alias(*timed(parse_yaml_text, laughs(), "draft"))
    p = err.problems[0]
    assert p.file == "draft" and p.field == "x.l0" and "line 3" in p.message       # the first anchor, where it stands
    # An alias into a real field is reported at that field, in the studio's validation panel too.
    text = DANA.read_text(encoding="utf-8").replace("full_name: Dana Whitfield", "full_name: *who")
    assert "*who" in text
    v = forms.validate_text("persona", text)
    assert not v.ok and v.problems[0].field == "facts.full_name" and "anchors and aliases" in v.problems[0].message


def test_billion_laughs_gives_an_empty_form_quickly():
    values, elapsed = timed(forms.form_values, "persona", laughs())
    assert elapsed < QUICK_S, f"took {elapsed:.2f}s: the aliases were expanded"
    assert values == forms.form_values("persona", "")                              # nothing of the document reached the form
    assert values["name"] == ""


def test_billion_laughs_is_refused_by_apply_form():
    assert_refused_alias(*timed(forms.apply_form, "persona", laughs(), {}))
    assert_refused_alias(*timed(forms.apply_form, "persona", laughs(), {"name": "Dana"}))


def test_the_round_trip_loader_refuses_aliases_too():
    """apply_form parses with PyYAML first; ruamel's own loader is the second lock on the same door."""
    with pytest.raises(YamlRefused) as err:
        forms._round_trip().load("id: x\nfacts:\n  full_name: &n Dana\nname: *n\n")
    assert err.value.field == "facts.full_name"
    assert dict(forms._round_trip().load("id: x\nname: Dana\n")) == {"id": "x", "name": "Dana"}


def test_billion_laughs_import_is_refused_and_saves_nothing(store, tmp_path):
    revs = Revisions(store, seed_root=ROOT)
    path = tmp_path / "personas" / "laughs.yaml"
    path.parent.mkdir()
    path.write_text(laughs(), encoding="utf-8")
    assert_refused_alias(*timed(revs.import_file, path, author="tina"))
    assert revs.ids("persona") == []


def test_an_anchor_alone_is_refused():
    with pytest.raises(ContentError, match="anchors and aliases") as err:
        parse_yaml_text("id: x\nname: &n Dana\n", "f.yaml")
    assert err.value.problems[0].field == "name"


def test_deep_nesting_is_refused_not_a_recursion_error():
    for depth in (MAX_YAML_DEPTH + 1, 5000):
        with pytest.raises(ContentError, match=f"more than {MAX_YAML_DEPTH} levels"):
            parse_yaml_text("id: x\nname: " + "[" * depth + "]" * depth + "\n", "f.yaml")
    assert parse_yaml_text("a: " + "[" * 10 + "1" + "]" * 10, "f.yaml") == {"a": [[[[[[[[[[1]]]]]]]]]]}


def test_a_document_over_the_cap_is_refused_before_parsing():
    text = big_document()
    for fn in (lambda: parse_yaml_text(text, "big.yaml"), lambda: forms.apply_form("persona", text, {"name": "x"})):
        with pytest.raises(ContentError, match=f"at most {MAX_YAML_BYTES // 1024} KiB"):
            fn()
    v = forms.validate_text("persona", text)
    assert not v.ok and "256 KiB" in v.problems[0].message
    assert forms.form_values("persona", text) == forms.form_values("persona", "")
    just_under = "a: " + "x" * (MAX_YAML_BYTES - 10) + "\n"
    assert len(parse_yaml_text(just_under, "f.yaml")["a"]) == MAX_YAML_BYTES - 10


def test_an_import_over_the_cap_is_refused_without_reading_it(store, tmp_path):
    revs = Revisions(store, seed_root=ROOT)
    folder = tmp_path / "personas"
    folder.mkdir()
    big = folder / "big.yaml"
    big.write_text(big_document(), encoding="utf-8")
    with pytest.raises(ContentError, match=f"at most {MAX_YAML_BYTES // 1024} KiB"):
        revs.import_file(big, author="tina")
    huge = folder / "huge.yaml"
    with huge.open("wb") as fh:
        fh.truncate(20 * 1024 * 1024)       # the probe's 20 MB (sparse: costs no disk), refused from its size alone
    result, elapsed = timed(revs.import_file, huge, author="tina")
    assert isinstance(result, ContentError) and "20480 KiB" in str(result) and elapsed < QUICK_S
    assert revs.ids("persona") == []
    ok = folder / "dana.yaml"
    ok.write_text(DANA.read_text(encoding="utf-8"), encoding="utf-8")
    assert revs.import_file(ok, author="tina").content_id == "double-billed-dana"   # a real file still imports


def test_every_seed_file_still_loads():
    """Not a regression test of the fix: the guard must not refuse the content the product ships with."""
    cat = Catalog.load(ROOT)
    assert not cat.problems, cat.problems
    assert cat.personas and cat.scenarios and cat.rubrics and cat.curricula
    for folder in ("personas", "scenarios", "rubrics", "curricula"):
        for path in sorted((ROOT / folder).glob("*.y*ml")):
            assert isinstance(parse_yaml_text(path.read_text(encoding="utf-8"), str(path)), dict), path
