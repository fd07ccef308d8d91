"""Studio revisions: form <-> YAML <-> store round trips, history, diff, rollback, publishing through the
catalog overlay, calls pinned to the exact revision, and the delete-versus-retire rule."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from trainer.accounts import SYSTEM
from trainer.config import ROOT
from trainer.content import ContentError, content_hash
from trainer.llm.fake import FakeLLM
from trainer.service import Frontline
from trainer.accounts import SystemPrincipal
from trainer.studio.forms import apply_form, form_values
from trainer.studio.overlay import overlay_catalog
from trainer.studio.revisions import DRAFT, PUBLISHED, RETIRED, InUse, Revisions, parse_content
from trainer.studio.studio import Studio

from .conftest import in_character_responder

TINA = SystemPrincipal("Tina")     # the CLI's principal; a signed-in trainer is tested in test_security_studio.py

DANA = ROOT / "personas" / "double-billed-dana.yaml"


@pytest.fixture
def revs(store) -> Revisions:
    return Revisions(store, seed_root=ROOT)


@pytest.fixture
def app(store, dana):
    return Frontline(store=store, customer_backend=FakeLLM(responder=in_character_responder(dana)), sleep=lambda s: None)


def edited(text: str, **changes) -> str:
    values = form_values("persona", text)
    values.update(changes)
    return apply_form("persona", text, values)


def test_form_yaml_store_round_trip(revs):
    seed = DANA.read_text(encoding="utf-8")
    values = form_values("persona", seed)
    assert values["facts.full_name"] == "Dana Whitfield" and values["mood"] == 6.0
    assert "postcode: BT7 1NN" in values["facts.verification"]
    assert values["hidden_details"][0][:2] == ["when the charges happened", "when, date, which day"]
    assert apply_form("persona", seed, values) == seed                      # nothing changed: text untouched
    text = edited(seed, mood=8.5, **{"goal.accepts": "refund, credit", "facts.email": "dana@example.com"})
    assert "# A customer charged twice" in text                             # comments survive a form edit
    assert "mood: 8.5" in text and "accepts: [refund, credit]" in text
    rev = revs.save("persona", text, author="Tina", note="angrier")
    assert rev.status == DRAFT and rev.revision == 2 and rev.author == "Tina"
    stored = revs.get("persona", "double-billed-dana", 2)
    assert stored.yaml_text == text
    back = form_values("persona", stored.yaml_text)
    assert back["mood"] == 8.5 and back["goal.accepts"] == "refund, credit" and back["facts.email"] == "dana@example.com"
    model = parse_content("persona", stored.yaml_text)
    assert model.mood == 8.5 and stored.content_hash == content_hash(model)


def test_history_diff_and_rollback(revs):
    seed = DANA.read_text(encoding="utf-8")
    r2 = revs.save("persona", edited(seed, mood=8), author="Tina", note="angrier")
    r3 = revs.save("persona", edited(r2.yaml_text, patience=3), author="Omar", note="less patient")
    hist = revs.history("persona", "double-billed-dana")
    assert [h.revision for h in hist] == [3, 2, 1]
    assert hist[-1].source == "seed" and hist[-1].yaml_text == seed and hist[-1].status == PUBLISHED
    diff = revs.diff("persona", "double-billed-dana", 1, 3)
    assert "-mood: 6" in diff and "+mood: 8" in diff and "-patience: 6" in diff and "+patience: 3" in diff
    assert "revision 1" in diff.splitlines()[0] and len([l for l in diff.splitlines() if l.startswith(("+", "-"))]) == 6
    assert revs.save("persona", r3.yaml_text, author="Tina").revision == 3   # saving the same text adds nothing
    back = revs.rollback("persona", "double-billed-dana", 1, author="Tina")
    assert back.revision == 4 and back.yaml_text == seed and back.status == DRAFT and "rolled back to revision 1" in back.note
    assert [h.revision for h in revs.history("persona", "double-billed-dana")] == [4, 3, 2, 1]   # history is never rewritten


def test_publishing_reaches_the_catalog_and_drafts_do_not(app, revs):
    seed = DANA.read_text(encoding="utf-8")
    assert app.catalog.personas["double-billed-dana"].mood == 6
    draft = revs.save("persona", edited(seed, mood=9), author="Tina")
    assert app.catalog.personas["double-billed-dana"].mood == 6          # a draft is never served
    revs.publish("persona", "double-billed-dana", draft.revision, author="Tina")
    assert app.catalog.personas["double-billed-dana"].mood == 9          # the overlay reloads on publish
    assert app.catalog.studio.served[("persona", "double-billed-dana")] == draft.revision
    # publishing an older revision copies it forward, so the newest published revision is always the served one
    again = revs.publish("persona", "double-billed-dana", 1, author="Tina")
    assert again.revision == draft.revision + 1 and again.status == PUBLISHED
    assert app.catalog.personas["double-billed-dana"].mood == 6


def test_sessions_and_scorecards_pin_the_exact_revision(app, revs):
    seed = DANA.read_text(encoding="utf-8")
    first = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    pinned = json.loads(app.store.get_call(first.id).settings_json)["revisions"]
    assert pinned["persona"]["revision"] == 1 and pinned["persona"]["hash"] == app.store.get_call(first.id).persona_hash
    rev = revs.save("persona", edited(seed, mood=8), author="Tina", publish=True)
    second = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    record = app.store.get_call(second.id)
    pinned2 = json.loads(record.settings_json)["revisions"]
    assert pinned2["persona"] == {"id": "double-billed-dana", "revision": rev.revision, "hash": rev.content_hash}
    assert record.persona_hash == rev.content_hash and record.start_mood == 8
    app.say(second.id, "Thank you for calling Brightwave, my name is Sam.", actor=SYSTEM)
    app.end_call(second.id, SYSTEM)
    card = app.store.scorecards(second.id)[-1]
    assert json.loads(card.settings_json)["revisions"]["persona"]["revision"] == rev.revision
    # the pinned text is exactly what the trainee faced, even after later edits
    revs.save("persona", edited(rev.yaml_text, mood=2), author="Tina", publish=True)
    assert parse_content("persona", revs.get("persona", "double-billed-dana", pinned2["persona"]["revision"]).yaml_text).mood == 8


def test_grading_uses_the_pinned_scenario_revision(app, revs):
    call = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    text = (ROOT / "scenarios" / "double-billed-dana.yaml").read_text(encoding="utf-8").replace("pass_score: 70", "pass_score: 95")
    revs.save("scenario", text, author="Tina", publish=True)
    app.say(call.id, "Thank you for calling Brightwave, my name is Sam.", actor=SYSTEM)
    assert app.end_call(call.id, SYSTEM).pass_score == 70             # the call began under pass mark 70
    assert app.catalog.scenarios["double-billed-dana"].pass_score == 95


def test_delete_versus_retire(app, revs):
    studio = Studio(app)
    # a seed persona can only be retired
    with pytest.raises(InUse, match="retire it instead"):
        studio.delete("persona", "double-billed-dana", author=TINA)
    # a studio-made persona used by a published scenario cannot be deleted
    clone = studio.clone("persona", "double-billed-dana", "dana-furious", author=TINA)
    revs.publish("persona", "dana-furious", clone.revision, author="Tina")
    sc = yaml.safe_load((ROOT / "scenarios" / "double-billed-dana.yaml").read_text(encoding="utf-8"))
    sc.update(id="dana-furious-call", persona="dana-furious", title="Dana, furious")
    studio.save("scenario", yaml.safe_dump(sc, sort_keys=False), author=TINA, publish=True)
    with pytest.raises(InUse, match="scenario 'dana-furious-call'"):
        studio.delete("persona", "dana-furious", author=TINA)
    # a scenario used in a call cannot be deleted either
    call = app.start_call("Sam", "dana-furious-call", user=SYSTEM)
    with pytest.raises(InUse, match="1 call"):
        studio.delete("scenario", "dana-furious-call", author=TINA)
    # retiring keeps history and past calls, and takes it out of new sessions
    rev, warning = studio.retire("persona", "dana-furious", author=TINA)
    assert rev.status == RETIRED and "dana-furious-call" in warning
    assert "dana-furious" not in app.catalog.personas and "dana-furious-call" not in app.catalog.scenarios
    assert app.view(call.id, SYSTEM).record.persona_id == "dana-furious"
    assert len(revs.history("persona", "dana-furious")) == 2
    # an unused draft can be deleted
    spare = studio.clone("persona", "double-billed-dana", "dana-spare", author=TINA)
    assert studio.delete("persona", "dana-spare", author=TINA) == 1 and revs.history("persona", "dana-spare") == []
    assert spare.status == DRAFT


def test_retired_seed_persona_hides_its_scenario(app, revs):
    studio = Studio(app)
    studio.retire("persona", "router-walter", author=TINA)
    cat = app.catalog
    assert "router-walter" not in cat.personas and "router-walter" not in cat.scenarios
    assert any(p.field == "persona" and "router-walter" in p.message for p in cat.problems)
    assert ("router-walter" in dict((cid, cid) for _, cid in studio.items("persona", actor=TINA)))
    revs.rollback("persona", "router-walter", 1, author="Tina", publish=True)
    assert "router-walter" in app.catalog.scenarios


def test_import_export_and_clone(tmp_path, revs, store):
    src = tmp_path / "incoming" / "personas" / "dana-copy.yaml"
    src.parent.mkdir(parents=True)
    src.write_text(DANA.read_text(encoding="utf-8").replace("id: double-billed-dana", "id: dana-copy"), encoding="utf-8")
    rev = revs.import_file(src, author="Tina")
    assert rev.source == "import" and rev.status == DRAFT and rev.content_id == "dana-copy"
    out = revs.export("persona", "dana-copy", tmp_path / "out")
    assert out == tmp_path / "out" / "personas" / "dana-copy.yaml" and out.read_text(encoding="utf-8") == src.read_text(encoding="utf-8")
    revs.publish("persona", "dana-copy", author="Tina")
    written = revs.export_all(tmp_path / "all")
    assert [p.name for p in written] == ["dana-copy.yaml"]
    # the exported files load as seed content elsewhere
    cat = overlay_catalog(ROOT, store)
    assert "dana-copy" in cat.personas
    bad = tmp_path / "personas" / "broken.yaml"
    bad.parent.mkdir(exist_ok=True)
    bad.write_text("id: broken\nname: [unclosed\n", encoding="utf-8")
    with pytest.raises(ContentError) as err:
        revs.import_file(bad, author="Tina")
    assert str(bad) in str(err.value) and "YAML syntax error" in str(err.value)
    with pytest.raises(ValueError, match="already exists"):
        revs.clone("persona", "dana-copy", "double-billed-dana", author="Tina")


def test_saving_needs_valid_content_and_an_author(app):
    studio = Studio(app)
    for nobody in (" ", "Tina"):          # a typed-in name is not a principal: the web app once let anyone claim one
        with pytest.raises(PermissionError, match="signed-in trainer"):
            studio.save("persona", DANA.read_text(encoding="utf-8"), author=nobody)
    with pytest.raises(ContentError, match="mood"):
        studio.save("persona", DANA.read_text(encoding="utf-8").replace("mood: 6", "mood: 60"), author=TINA)
    sc = (ROOT / "scenarios" / "double-billed-dana.yaml").read_text(encoding="utf-8").replace("persona: double-billed-dana", "persona: nobody")
    with pytest.raises(ContentError, match="no published persona 'nobody'"):
        studio.save("scenario", sc, author=TINA)


def test_revision_numbers_survive_two_writers(store, tmp_path):
    a = Revisions(store, seed_root=ROOT)
    b = Revisions(Store_like(store), seed_root=ROOT)
    seed = DANA.read_text(encoding="utf-8")
    r1 = a.save("persona", edited(seed, mood=7), author="A")
    r2 = b.save("persona", edited(seed, mood=8), author="B")
    assert (r1.revision, r2.revision) == (2, 3)


def Store_like(store):
    """A second Store on the same database file, as a second app process would have."""
    from trainer.store import Store
    return Store(store.url)


def test_items_list_states(app, revs):
    studio = Studio(app)
    labels = dict((cid, label) for label, cid in studio.items("persona", actor=TINA))
    assert "published (seed file)" in labels["double-billed-dana"]
    revs.save("persona", edited(DANA.read_text(encoding="utf-8"), mood=7), author="Tina")
    labels = dict((cid, label) for label, cid in studio.items("persona", actor=TINA))
    assert "draft r2" in labels["double-billed-dana"]
    assert Path(studio.blank("persona", actor=TINA)).name and "id: new-persona" in studio.blank("persona", actor=TINA)


def test_a_new_kind_is_one_registration(store, tmp_path):
    """Curricula will join this way: register the kind (and a form); revisions, overlay and CLI follow."""
    from pydantic import Field

    from trainer.catalog import Catalog
    from trainer.content import Strict
    from trainer.studio.kinds import KINDS, ContentKind, register_kind
    from trainer.studio.overlay import StudioOverlay

    class Note(Strict):
        id: str = Field(pattern=r"^[a-z0-9-]+$")
        text: str = Field(min_length=1)

    register_kind(ContentKind("note", "notes", Note, "notes"))
    try:
        (tmp_path / "notes").mkdir()
        (tmp_path / "notes" / "hello.yaml").write_text("id: hello\ntext: seed\n", encoding="utf-8")
        revs = Revisions(store, seed_root=tmp_path)
        rev = revs.save("note", "id: hello\ntext: edited\n", author="Tina", publish=True)
        assert rev.revision == 2 and revs.get("note", "hello", 1).source == "seed"
        assert "-text: seed\n+text: edited\n" in revs.diff("note", "hello", 1, 2)
        cat = Catalog(root=tmp_path)
        cat.notes = {}  # type: ignore[attr-defined]
        StudioOverlay(revs)(cat)
        assert cat.notes["hello"].text == "edited"  # type: ignore[attr-defined]
        with pytest.raises(ContentError, match="text"):
            revs.save("note", "id: hello\n", author="Tina")
    finally:
        KINDS.pop("note")


def test_curricula_are_edited_in_the_studio_like_personas(app):
    """Curricula: form ↔ YAML ↔ store, published revisions reach the catalog trainees pick modules from, and a scenario
    a curriculum module uses cannot be deleted."""
    studio = Studio(app)
    seed = (ROOT / "curricula" / "sales-track.yaml").read_text(encoding="utf-8")
    values = form_values("curriculum", seed)
    assert values["id"] == "sales-track" and values["medals.bronze"] == 55
    modules = values["modules"]
    assert [row[0] for row in modules] == ["consultative-upsell", "cross-sell", "objections"]
    assert apply_form("curriculum", seed, values) == seed                       # nothing changed: text untouched
    modules[0][3] = "60"                                                        # pass_score of the first module
    text = apply_form("curriculum", seed, {**values, "modules": modules})
    assert "# Sales track" in text                                              # comments survive
    rev = studio.save("curriculum", text, author=TINA, note="easier start", publish=True)
    assert rev.status == PUBLISHED and rev.revision == 2
    assert overlay_catalog(ROOT, app.store).curricula["sales-track"].modules[0].pass_score == 60
    assert app.catalog.curricula["sales-track"].modules[0].pass_score == 60    # what the app serves now
    broken = text.replace("mode: assessment", "mode: exam")
    with pytest.raises(ContentError, match="mode"):
        studio.save("curriculum", broken, author=TINA)
    # a studio-made scenario used by a published curriculum cannot be deleted
    studio.clone("scenario", "family-plan-priya", "priya-hard", author=TINA)
    studio.publish("scenario", "priya-hard", author=TINA)
    uses = seed.replace("scenario: family-plan-priya\n    description: Ask", "scenario: priya-hard\n    description: Ask")
    assert uses != seed
    studio.save("curriculum", uses, author=TINA, publish=True)
    with pytest.raises(InUse, match="curriculum 'sales-track'"):
        studio.delete("scenario", "priya-hard", author=TINA)
