"""Property-based fuzzing of content files: whatever a trainer writes, loading it either works or
raises ContentError naming the file and the field, never a traceback.

Each kind of content file is one line in LOADERS: (model, a valid example file to mutate).
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from trainer.config import ROOT
from trainer.content import ContentError, load_model
from trainer.persona import Persona
from trainer.rubric import Rubric
from trainer.scenario import Scenario

LOADERS: dict[str, tuple[type, Path]] = {
    "persona": (Persona, ROOT / "personas" / "double-billed-dana.yaml"),
    "scenario": (Scenario, ROOT / "scenarios" / "double-billed-dana.yaml"),
    "rubric": (Rubric, ROOT / "rubrics" / "default.yaml"),
}
try:                                    # curricula (issue 4): fuzzed as soon as the loader exists
    from trainer.curriculum import Curriculum  # type: ignore[attr-defined]
    _examples = sorted((ROOT / "curricula").glob("*.y*ml"))
    if _examples:
        LOADERS["curriculum"] = (Curriculum, _examples[0])
except ImportError:
    pass

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**12, max_value=10**12),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
                    st.sampled_from(["", " ", "0", "yes", "2024-11-03", "\x00", "ü" * 3, "a: b", "- x", "{", "]"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=8)


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


def _mutate(doc: Any, path: tuple, action: str, value: Any) -> Any:
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    if action == "delete":
        del parent[key]
    elif action == "extra" and isinstance(parent, dict):
        parent[f"{key}_typo"] = value
    else:
        parent[key] = value
    return doc


def _check(model: type, path: Path, *, mutated: bool) -> None:
    try:
        load_model(path, model)
    except ContentError as exc:
        assert exc.problems, "ContentError without problems"
        names = set(model.model_fields)
        for p in exc.problems:
            assert p.file == str(path), p
            assert p.message and p.fix, p
            file_level = p.message.startswith(("YAML syntax error", "expected a mapping", "not UTF-8"))
            if mutated and not file_level:     # a field-level problem: it names the field (or, model-wide, the fields involved)
                assert p.field or any(n in f"{p.message} {p.fix}" for n in names), p
        assert str(path) in str(exc)


def _write(text: str | bytes) -> Path:
    d = Path(tempfile.mkdtemp(prefix="fuzz-"))
    f = d / "item.yaml"
    f.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return f


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_mutated_files_load_or_name_file_and_field(kind):
    model, example = LOADERS[kind]
    seed = yaml.safe_load(example.read_text())
    paths = _paths(seed)

    @FUZZ
    @given(data=st.data())
    def run(data):
        doc = yaml.safe_load(example.read_text())
        n = data.draw(st.integers(min_value=1, max_value=3))
        for _ in range(n):
            live = [p for p in _paths(doc)] or paths
            path = data.draw(st.sampled_from(live))
            action = data.draw(st.sampled_from(["replace", "delete", "extra"]))
            value = data.draw(values)
            if isinstance(value, float) and math.isnan(value) and action == "extra":
                value = "nan"
            doc = _mutate(doc, path, action, value)
        try:
            text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        except yaml.YAMLError:
            return
        _check(model, _write(text), mutated=True)
    run()


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_arbitrary_text_never_raises_anything_but_content_error(kind):
    model, _ = LOADERS[kind]

    @FUZZ
    @given(text=st.one_of(st.text(max_size=300), st.binary(max_size=200),
                          st.sampled_from(["", "---", "- a\n- b", "id: [", "id: x\n  bad: indent", "\t- tab", "a: &x\n  b: *x",
                                           "!!python/object:os.system ls", "%YAML 9.9\n---\nid: x", "? [a]\n: b"])))
    def run(text):
        _check(model, _write(text), mutated=False)
    run()


def test_known_bad_values_get_a_named_field():
    """Hand-picked cases the fuzzer found or that trainers write."""
    model, example = LOADERS["persona"]
    for mutate, field in [(lambda d: d.update(name=""), "name"), (lambda d: d["facts"].update(full_name="   "), "facts.full_name"),
                          (lambda d: d.update(mood=float("nan")), "mood"), (lambda d: d.update(difficulty="hard"), "difficulty")]:
        doc = yaml.safe_load(example.read_text())
        mutate(doc)
        path = _write(yaml.safe_dump(doc))
        with pytest.raises(ContentError) as info:
            load_model(path, model)
        assert any(field in (p.field + " " + p.fix) for p in info.value.problems), (field, info.value.problems)
