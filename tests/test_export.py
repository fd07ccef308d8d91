"""Exports: the CSV parses and matches the scorecards; xAPI statements satisfy the rules of the xAPI 1.0.3 spec that an
LRS enforces (checked here by an independent validator, written from the spec, not from our exporter)."""
from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import datetime

import pytest

from trainer.export import sessions_csv, xapi_json, xapi_statements

from .people import fast_hash, make_org, record_call  # noqa: F401  (fast_hash is a fixture)

pytestmark = pytest.mark.usefixtures("fast_hash")

# ---------------------------------------------------------------------------------------------- a validator from the spec
IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$")                    # an absolute IRI: scheme ":" and no spaces
LANG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")                  # RFC 5646 language tag (simplified)
DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
ISO_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
STATEMENT_KEYS = {"id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority", "version", "attachments"}


def _lang_map(m, where):
    assert isinstance(m, dict) and m, f"{where}: a language map is a non-empty object"
    for k, v in m.items():
        assert LANG.match(k), f"{where}: '{k}' is not a language tag"
        assert isinstance(v, str), f"{where}: values are strings"


def _extensions(ext, where):
    assert isinstance(ext, dict)
    for k in ext:
        assert IRI.match(k), f"{where}: extension key '{k}' must be an IRI"


def _agent(actor):
    assert actor.get("objectType", "Agent") in ("Agent", "Group")
    ifis = [k for k in ("mbox", "mbox_sha1sum", "openid", "account") if k in actor]
    assert len(ifis) == 1, "an Agent has exactly one inverse functional identifier"
    if "account" in actor:
        acc = actor["account"]
        assert set(acc) == {"homePage", "name"} and IRI.match(acc["homePage"]) and acc["name"]
    if "mbox" in actor:
        assert actor["mbox"].startswith("mailto:")


def _activity(obj, where):
    assert obj.get("objectType", "Activity") == "Activity"
    assert IRI.match(obj["id"]), f"{where}: activity id must be an IRI"
    d = obj.get("definition", {})
    assert set(d) <= {"name", "description", "type", "moreInfo", "extensions", "interactionType", "correctResponsesPattern",
                      "choices", "scale", "source", "target", "steps"}
    if "type" in d:
        assert IRI.match(d["type"])
    for key in ("name", "description"):
        if key in d:
            _lang_map(d[key], f"{where}.definition.{key}")


def validate_statement(s: dict) -> None:
    assert set(s) <= STATEMENT_KEYS, f"unknown statement properties: {set(s) - STATEMENT_KEYS}"
    for key in ("actor", "verb", "object"):
        assert key in s, f"a statement needs {key}"
    if "id" in s:
        assert str(uuid.UUID(s["id"])) == s["id"].lower()
    _agent(s["actor"])
    assert IRI.match(s["verb"]["id"]) and set(s["verb"]) <= {"id", "display"}
    if "display" in s["verb"]:
        _lang_map(s["verb"]["display"], "verb.display")
    _activity(s["object"], "object")
    if "result" in s:
        r = s["result"]
        assert set(r) <= {"score", "success", "completion", "response", "duration", "extensions"}
        if "score" in r:
            sc = r["score"]
            assert set(sc) <= {"scaled", "raw", "min", "max"}
            if "scaled" in sc:
                assert -1 <= sc["scaled"] <= 1
            if "min" in sc and "max" in sc:
                assert sc["min"] < sc["max"]
            if "raw" in sc:
                assert sc.get("min", sc["raw"]) <= sc["raw"] <= sc.get("max", sc["raw"])
        for flag in ("success", "completion"):
            if flag in r:
                assert isinstance(r[flag], bool)
        if "duration" in r:
            assert DURATION.match(r["duration"]), r["duration"]
        if "extensions" in r:
            _extensions(r["extensions"], "result.extensions")
    if "context" in s:
        c = s["context"]
        assert set(c) <= {"registration", "instructor", "team", "contextActivities", "revision", "platform", "language", "statement", "extensions"}
        if "registration" in c:
            uuid.UUID(c["registration"])
        if "language" in c:
            assert LANG.match(c["language"])
        for kind, acts in c.get("contextActivities", {}).items():
            assert kind in ("parent", "grouping", "category", "other")
            for a in acts if isinstance(acts, list) else [acts]:
                _activity(a, f"context.contextActivities.{kind}")
        if "extensions" in c:
            _extensions(c["extensions"], "context.extensions")
    if "timestamp" in s:
        assert ISO_TS.match(s["timestamp"]), s["timestamp"]
        datetime.fromisoformat(s["timestamp"].replace("Z", "+00:00"))


def test_the_validator_rejects_broken_statements():
    good = {"actor": {"objectType": "Agent", "account": {"homePage": "https://x.example", "name": "a"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"en-US": "passed"}},
            "object": {"objectType": "Activity", "id": "https://x.example/a"}, "result": {"score": {"scaled": 0.5}},
            "timestamp": "2026-01-02T03:04:05.000Z"}
    validate_statement(good)
    for broken in ({**good, "verb": {"id": "passed"}}, {k: v for k, v in good.items() if k != "actor"},
                   {**good, "result": {"score": {"scaled": 1.5}}}, {**good, "timestamp": "02/01/2026"},
                   {**good, "actor": {"name": "no identifier"}}, {**good, "object": {"id": "not an iri"}},
                   {**good, "result": {"duration": "90 seconds"}}):
        with pytest.raises((AssertionError, KeyError, ValueError)):
            validate_statement(broken)


# ---------------------------------------------------------------------------------------------- the exports
@pytest.fixture
def org(store, catalog):
    org = make_org(store, catalog)
    record_call(org.app, org.ann, "router-walter", 82, curriculum_id="onboarding-week-1", module_id="calm-caller")
    record_call(org.app, org.ann, "double-billed-dana", 35, fatal=True)
    record_call(org.app, org.bob, "late-fee-lucas", 71)
    record_call(org.app, org.cat, "outage-frank", 64)
    return org


def _csv(org, actor, **kw):
    app = org.app
    return list(csv.DictReader(io.StringIO(sessions_csv(app.store, app.catalog, app.accounts, actor, **kw))))


def test_csv_has_one_row_per_visible_graded_call(org):
    rows = _csv(org, org.lead_a)
    assert sorted(r["username"] for r in rows) == ["ann", "ann", "bob"]
    by_scenario = {r["scenario_id"]: r for r in rows}
    walter = by_scenario["router-walter"]
    assert walter["curriculum_id"] == "onboarding-week-1" and walter["module_id"] == "calm-caller" and walter["mode"] == "practice"
    assert float(walter["overall"]) == 82 and walter["passed"] == "True" and walter["team"] == "A"
    assert by_scenario["double-billed-dana"]["fatal_errors"] == "1" and by_scenario["double-billed-dana"]["passed"] == "False"
    assert float(walter["empathy"]) == 82 and walter["offer_handling"] == ""
    assert datetime.fromisoformat(walter["started_at"]) <= datetime.fromisoformat(walter["ended_at"])
    assert [r["username"] for r in _csv(org, org.cat)] == ["cat"]               # a trainee exports only their own
    assert len(_csv(org, org.admin)) == 4


def test_xapi_statements_are_valid_and_match_the_calls(org):
    app = org.app
    stmts = xapi_statements(app.store, app.catalog, app.accounts, org.lead_a, base_url="https://lms.example.com/frontline/")
    assert len(stmts) == 3
    for s in stmts:
        validate_statement(s)
    body = json.loads(xapi_json(stmts))                                        # what is POSTed to /statements
    assert body == stmts
    walter = next(s for s in stmts if s["object"]["id"].endswith("/router-walter"))
    assert walter["verb"]["id"] == "http://adlnet.gov/expapi/verbs/passed" and walter["result"]["success"] is True
    assert walter["result"]["score"] == {"scaled": 0.82, "raw": 82, "min": 0, "max": 100}
    assert walter["actor"]["account"] == {"homePage": "https://lms.example.com/frontline", "name": "ann"}
    parent = walter["context"]["contextActivities"]["parent"][0]
    assert parent["id"].endswith("/curricula/onboarding-week-1/modules/calm-caller")
    dana = next(s for s in stmts if "double-billed-dana" in s["object"]["id"])
    assert dana["verb"]["id"].endswith("/failed") and dana["result"]["extensions"]["https://lms.example.com/frontline/xapi/ext/fatal-errors"]
    again = xapi_statements(app.store, app.catalog, app.accounts, org.lead_a, base_url="https://lms.example.com/frontline/")
    assert [s["id"] for s in again] == [s["id"] for s in stmts]             # re-export: same ids, no duplicates in the LRS
    mine = xapi_statements(app.store, app.catalog, app.accounts, org.bob)
    assert [s["actor"]["account"]["name"] for s in mine] == ["bob"]


def test_export_command_writes_files(tmp_path, capsys):
    from trainer.cli import main
    assert main(["export", "csv"]) == 2                                        # nothing to export as until an admin exists
    assert "create-admin" in capsys.readouterr().err
    assert main(["create-admin", "--password", "admin-pass-1"]) == 0
    out = tmp_path / "x.json"
    assert main(["export", "xapi", "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == []
