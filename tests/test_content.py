"""Persona / scenario / rubric files: the shipped ones are valid, broken ones get file + field + fix."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from trainer.cli import main
from trainer.config import ROOT
from trainer.content import ContentError
from trainer.persona import Persona, ScenarioType, load_persona
from trainer.rubric import DIMENSIONS


def test_starter_content_covers_the_brief(catalog):
    personas = catalog.personas.values()
    assert len(catalog.personas) >= 8
    assert len({p.company.name for p in personas}) >= 2
    types = [p.scenario_type for p in personas]
    assert sum(t in (ScenarioType.billing, ScenarioType.complaint) for t in types) >= 2
    assert sum(t in (ScenarioType.angry_caller, ScenarioType.escalation) for t in types) >= 2
    assert sum(t in (ScenarioType.upsell, ScenarioType.cross_sell) for t in types) >= 2
    assert ScenarioType.follow_up in types and ScenarioType.confused in types
    assert any(p.supervisor.demand_at_mood is not None and p.supervisor.demand_at_mood <= 8 for p in personas)
    assert set(catalog.scenarios) == set(catalog.personas)
    assert set(catalog.rubrics["default"].dimensions) == set(DIMENSIONS)


def _write(tmp_path: Path, data) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def _dana_data() -> dict:
    return yaml.safe_load((ROOT / "personas" / "double-billed-dana.yaml").read_text())


@pytest.mark.parametrize("mutate, field, fix_word", [
    (lambda d: d.pop("goal"), "goal", "add this field"),
    (lambda d: d.__setitem__("moood", 3), "moood", "remove it"),
    (lambda d: d.__setitem__("mood", 14), "mood", "at most 10"),
    (lambda d: d.__setitem__("difficulty", "hard"), "difficulty", "whole number"),
    (lambda d: d.__setitem__("scenario_type", "angry"), "scenario_type", "angry_caller"),
    (lambda d: d["triggers"]["inflame"].__setitem__("shouting", 2), "triggers.inflame", "calm_down"),
    (lambda d: d["speech"].__setitem__("example_lines", ["only one"]), "speech.example_lines", "at least"),
    (lambda d: d["facts"].pop("account_number"), "facts.account_number", "add this field"),
    (lambda d: d["hidden_details"][0].__setitem__("asked_by", []), "hidden_details[0].asked_by", "at least"),
])
def test_broken_persona_names_file_field_and_fix(tmp_path, mutate, field, fix_word):
    data = copy.deepcopy(_dana_data())
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ContentError) as err:
        load_persona(path)
    problem = err.value.problems[0]
    assert problem.file == str(path)
    assert problem.field == field
    assert fix_word in problem.fix
    assert str(path) in str(err.value) and "Fix:" in str(err.value)


def test_yaml_syntax_error_points_at_the_line(tmp_path):
    path = _write(tmp_path, "id: x\nname: [unclosed\n  mood: 3\n")
    with pytest.raises(ContentError) as err:
        load_persona(path)
    assert "line" in err.value.problems[0].field and "YAML syntax" in err.value.problems[0].message


def test_empty_file_and_list_file(tmp_path):
    for text in ("", "- a\n- b\n"):
        with pytest.raises(ContentError) as err:
            load_persona(_write(tmp_path, text))
        assert "expected a mapping" in err.value.problems[0].message


def test_numbers_and_dates_are_accepted_as_text(tmp_path):
    data = _dana_data()
    data["brief"]["crm"]["Customer since"] = 2022
    data["facts"]["dates"]["opened"] = "2022-01-05"
    p = load_persona(_write(tmp_path, data))
    assert p.brief.crm["Customer since"] == "2022"


def test_validate_cli_exit_codes(tmp_path, capsys):
    assert main(["validate"]) == 0
    data = _dana_data()
    data["patience"] = 0
    bad_dir = tmp_path / "personas"
    bad_dir.mkdir()
    (bad_dir / "bad.yaml").write_text(yaml.safe_dump(data))
    assert main(["validate", str(bad_dir)]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml: patience" in err and "at least 1" in err


def test_persona_round_trips_through_json(dana):
    assert Persona.model_validate_json(dana.model_dump_json()) == dana
