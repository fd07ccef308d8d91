"""A catalogue of broken personas: each problem names the file, the field and the fix, and the studio
shows it next to the form label it belongs to."""
from __future__ import annotations

import re

import pytest
import yaml

from trainer.config import ROOT
from trainer.studio.forms import problems_markdown, validate_text

SEED = (ROOT / "personas" / "double-billed-dana.yaml").read_text(encoding="utf-8")
FILE = "personas/broken.yaml"


def mutate(fn) -> str:
    data = yaml.safe_load(SEED)
    fn(data)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _set(path: str, value):
    def fn(d):
        *parents, last = path.split(".")
        for p in parents:
            d = d[p]
        d[last] = value
    return fn


def _drop(path: str):
    def fn(d):
        *parents, last = path.split(".")
        for p in parents:
            d = d[p]
        del d[last]
    return fn


# (name, yaml text, field, words in the fix, form label or None)
BROKEN = [
    ("mood too high", mutate(_set("mood", 12)), "mood", "at most 10", "Starting mood"),
    ("difficulty zero", mutate(_set("difficulty", 0)), "difficulty", "at least 1", "Difficulty"),
    ("unknown call type", mutate(_set("scenario_type", "furious")), "scenario_type", "use one of: 'complaint'", "Call type"),
    ("problem missing", mutate(_drop("problem")), "problem", "add this field", "Problem"),
    ("misspelt field", mutate(_set("moood", 5)), "moood", "check the spelling", None),
    ("unknown calming trigger", mutate(_set("triggers.calm", {"soothing": 1.0})), "triggers.calm", "use one of: acknowledgement", None),
    ("trigger weight out of range", mutate(_set("triggers.inflame", {"rude": 9.0})), "triggers.inflame", "between 0 and 5", None),
    ("name and full name disagree", mutate(_set("name", "Tom Whitfield")), "name", "must share a first name", "Display name"),
    ("one example line", mutate(_set("speech.example_lines", ["Just the one."])), "speech.example_lines", "add at least", "Example lines"),
    ("id with capitals and spaces", mutate(_set("id", "Double Billed")), "id", "match the required pattern", "Id"),
    ("history is not a list", mutate(_set("facts.history", "called twice")), "facts.history", "write a list", "History"),
    ("nothing counts as the fix", mutate(_set("goal.accepts", [])), "goal.accepts", "add at least", "Words that mean the fix is offered"),
    ("call direction", mutate(_set("brief.direction", "sideways")), "brief.direction", "'inbound' or 'outbound'", "Direction"),
    ("offer openness", mutate(_set("offer.openness", 11)), "offer.openness", "at most 10", "Openness"),
    ("CRM card contradicts the facts", mutate(_set("brief.crm", {"Customer": "Dana Whitfield", "Account": "99-0000"})),
     "brief.crm.Account", "make the CRM card and facts.account_number agree", "CRM card"),
    ("hidden detail without cue words", mutate(lambda d: d["hidden_details"][0].pop("asked_by")), "hidden_details[0].asked_by",
     "add this field", "Hidden details"),
    ("security answers as a list", mutate(_set("facts.verification", ["postcode", "dob"])), "facts.verification",
     "write a mapping", "Security answers"),
    ("reluctant buyer with no objection", mutate(_set("offer.objections", [])), "offer.objections", "add at least one objection line",
     "Objections"),
    ("tab indentation", SEED.replace("  name: Brightwave Telecom", "\tname: Brightwave Telecom"), "line 7, column 1",
     "indentation (spaces, not tabs)", None),
    ("empty file", "", "", "start the file with the fields of a persona", None),
]


def test_the_catalogue_is_large_enough():
    assert len(BROKEN) >= 10 and len({b[0] for b in BROKEN}) == len(BROKEN)


@pytest.mark.parametrize("name,text,field,fix,label", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_persona_names_file_field_and_fix(name, text, field, fix, label):
    result = validate_text("persona", text, FILE)
    assert not result.ok and result.model is None
    match = [p for p in result.problems if p.field == field]
    assert match, f"{name}: expected a problem at {field!r}, got {[(p.field, p.fix) for p in result.problems]}"
    p = match[0]
    assert p.file == FILE
    assert fix in p.fix, (name, p.fix)
    shown = str(p)
    assert shown.startswith(f"{FILE}: {field}" if field else FILE) and f"Fix: {p.fix}" in shown
    md = problems_markdown("persona", result.problems)
    if label:
        assert f"**{label}" in md, md
    if field:
        assert f"`{field}`" in md


def test_every_starter_persona_is_valid():
    for path in sorted((ROOT / "personas").glob("*.yaml")):
        result = validate_text("persona", path.read_text(encoding="utf-8"), str(path))
        assert result.ok, result.problems
    assert problems_markdown("persona", []).startswith("✓ **Valid.**")


def test_scenario_problems_point_at_the_step():
    text = (ROOT / "scenarios" / "double-billed-dana.yaml").read_text(encoding="utf-8")
    bad = re.sub(r"kind: restate", "kind: paraphrase", text)
    result = validate_text("scenario", bad, "scenarios/x.yaml")
    assert [p.field for p in result.problems] == ["call_script[3].kind"]
    assert "use one of: greet" in result.problems[0].fix
    assert "**Call script (in order)** (`call_script[3].kind`)" in problems_markdown("scenario", result.problems)
