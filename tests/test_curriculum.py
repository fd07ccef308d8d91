"""Curricula: the shipped tracks load and use the starter scenarios; bad files get errors naming file, field and fix."""
from __future__ import annotations

import shutil

import pytest

from trainer.catalog import Catalog
from trainer.config import ROOT
from trainer.content import ContentError
from trainer.curriculum import Curriculum, load_curriculum


def _write(tmp_path, text: str):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """id: t
title: T
modules:
  - {id: one, title: One, scenario: router-walter}
  - {id: two, title: Two, scenario: double-billed-dana, prerequisites: [one], mode: assessment, max_attempts: 2}
"""


def test_shipped_curricula_load_and_follow_the_issue(catalog):
    assert {"onboarding-week-1", "sales-track"} <= set(catalog.curricula)
    for cur in catalog.curricula.values():
        assert all(m.scenario in catalog.scenarios for m in cur.modules)
    onboarding = catalog.curricula["onboarding-week-1"]
    kinds = [catalog.personas[catalog.scenarios[m.scenario].persona].scenario_type.value for m in onboarding.modules]
    # calm → complaint → angry → escalation, in that order
    order = [kinds.index(k) for k in ("confused", "complaint", "angry_caller", "escalation")]
    assert order == sorted(order)
    assert {m.mode for m in onboarding.modules} == {"practice", "assessment"}
    sales = catalog.curricula["sales-track"]
    sales_kinds = {catalog.personas[catalog.scenarios[m.scenario].persona].scenario_type.value for m in sales.modules}
    assert {"upsell", "cross_sell"} <= sales_kinds
    assert onboarding.medals.tier(91) == "gold" and onboarding.medals.tier(76) == "silver" and onboarding.medals.tier(10) is None


def test_defaults(tmp_path):
    cur = load_curriculum(_write(tmp_path, GOOD))
    one, two = cur.modules
    assert one.pass_score == 70 and one.mode == "practice" and one.max_attempts is None and one.prerequisites == []
    assert two.mode == "assessment" and two.max_attempts == 2
    assert (cur.medals.bronze, cur.medals.silver, cur.medals.gold) == (50, 75, 90)


@pytest.mark.parametrize("text, field, fix", [
    (GOOD + "colour: blue\n", "colour", "remove it"),
    (GOOD.replace("mode: assessment", "mode: exam"), "modules[1].mode", "practice"),
    (GOOD.replace("max_attempts: 2", "max_attempts: 0"), "modules[1].max_attempts", "at least 1"),
    (GOOD.replace("title: One, ", ""), "modules[0].title", "add this field"),
    (GOOD.replace("[one]", "[three]"), "", "earlier module ids: one"),
    (GOOD.replace("[one]", "[two]"), "", "cannot require itself"),
    (GOOD.replace("id: two", "id: one").replace("[one]", "[]"), "", "appears twice"),
    (GOOD + "medals: {bronze: 80, silver: 70, gold: 90}\n", "medals", "reorder"),
])
def test_bad_files_name_file_field_and_fix(tmp_path, text, field, fix):
    with pytest.raises(ContentError) as exc:
        load_curriculum(_write(tmp_path, text))
    problem = exc.value.problems[0]
    assert problem.file.endswith("c.yaml")
    assert problem.field == field
    assert fix in problem.fix or fix in problem.message


def test_prerequisite_listed_after_its_module_says_to_reorder(tmp_path):
    text = """id: t
title: T
modules:
  - {id: one, title: One, scenario: router-walter, prerequisites: [two]}
  - {id: two, title: Two, scenario: double-billed-dana}
"""
    with pytest.raises(ContentError, match="order they are taken"):
        load_curriculum(_write(tmp_path, text))


def test_catalog_cross_checks_module_scenarios(tmp_path):
    root = tmp_path / "content"
    for folder in ("personas", "scenarios", "rubrics"):
        shutil.copytree(ROOT / folder, root / folder)
    (root / "curricula").mkdir()
    (root / "curricula" / "bad.yaml").write_text(GOOD.replace("scenario: double-billed-dana", "scenario: no-such-call").replace("id: t", "id: bad"))
    cat = Catalog.load(root)
    assert "bad" not in cat.curricula
    [p] = cat.problems
    assert p.field == "modules[1].scenario" and "no-such-call" in p.message and "double-billed-dana" in p.fix


def test_validate_command_checks_curricula(tmp_path, capsys):
    from trainer.cli import main
    folder = tmp_path / "curricula"
    folder.mkdir()
    (folder / "x.yaml").write_text(GOOD.replace("mode: assessment", "mode: exam"))
    assert main(["validate", str(folder)]) == 1
    assert "modules[1].mode" in capsys.readouterr().err
    assert main(["validate", str(ROOT / "curricula")]) == 0


def test_model_rejects_module_lookup_of_unknown_id(catalog):
    cur: Curriculum = catalog.curricula["sales-track"]
    with pytest.raises(KeyError, match="no module"):
        cur.module("nope")
