"""The checks that live in the functions the UI calls, tested with signed-in users (not the trusted CLI principal):
the studio's role check, the coaching panel, voice uploads, re-grading, and studio exports that name files."""
from __future__ import annotations

from pathlib import Path

import pytest

from trainer import coaching
from trainer.accounts import SYSTEM, NotLoggedIn, PermissionDenied, SystemPrincipal
from trainer.config import ROOT
from trainer.studio.studio import Studio, require_editor
from trainer.voice.fakes import FakeSTT, FakeTTS, energy_spans, transcript
from trainer.voice.service import VoicePractice

from .people import PW, fast_hash, make_org  # noqa: F401 - fast_hash is a fixture
from .test_voice import AGENT, CUSTOMER, write_stereo

DANA = (ROOT / "personas" / "double-billed-dana.yaml").read_text(encoding="utf-8")


@pytest.fixture
def org(store, catalog, fast_hash):
    return make_org(store, catalog)


def test_require_editor_takes_signed_in_trainers_and_admins_only(org):
    assert require_editor(org.trainer) == "tim"
    assert require_editor(org.admin) == "root"
    assert require_editor(SystemPrincipal("alex")) == "alex"          # the CLI, by name
    for user in (org.ann, org.lead_a):
        with pytest.raises(PermissionDenied, match="trainer"):
            require_editor(user)
    with pytest.raises(NotLoggedIn):
        require_editor(None)
    with pytest.raises(PermissionDenied, match="signed-in trainer"):
        require_editor("tim")                                          # a typed name is nobody
    org.app.accounts.update_user(org.admin, "tim", active=False)
    with pytest.raises(PermissionDenied, match="deactivated"):
        require_editor(org.app.accounts.by_username("tim"))


def test_every_studio_action_refuses_a_trainee_and_serves_a_trainer(org):
    studio = Studio(org.app)
    ann, tim = org.ann, org.trainer
    reads = [lambda who: studio.items("persona", actor=who),
             lambda who: studio.open("persona", "double-billed-dana", actor=who),
             lambda who: studio.blank("persona", actor=who),
             lambda who: studio.history_rows("persona", "double-billed-dana", actor=who),
             lambda who: studio.validation_markdown("persona", DANA, actor=who),
             lambda who: studio.form_values("persona", DANA, actor=who),
             lambda who: studio.apply_form("persona", DANA, {}, actor=who),
             lambda who: studio.autoplay(DANA, actor=who),
             lambda who: studio.start_try(DANA, actor=who, use_model=False),
             lambda who: studio.draft("a calm retired teacher", actor=who)]
    writes = [lambda who: studio.save("persona", DANA.replace("mood: 6", "mood: 7"), author=who),
              lambda who: studio.clone("persona", "double-billed-dana", "dana-two", author=who),
              lambda who: studio.retire("persona", "router-walter", author=who)]
    for act in reads + writes:
        with pytest.raises(PermissionDenied):
            act(ann)
    assert studio.revisions.history("persona", "dana-two") == []      # nothing the trainee tried was written
    assert org.app.customer_backend().calls == []                      # and the model was never asked
    for act in reads + writes:
        act(tim)                                                       # the same actions work for a trainer
    assert studio.revisions.latest("persona", "dana-two").author == "tim"
    assert org.app.customer_backend().calls                           # the draft asked the model, for the trainer


def test_a_try_out_belongs_to_the_trainer_who_started_it(org):
    studio = Studio(org.app)
    rid = studio.start_try(DANA, actor=org.trainer, use_model=False)
    assert studio.try_say(rid, "Hello, Brightwave, Tim speaking.", actor=org.trainer).text
    with pytest.raises(ValueError, match="start a try-out"):
        studio.try_say(rid, "hello", actor=org.admin)                 # someone else's rehearsal id is no rehearsal
    with pytest.raises(PermissionDenied):
        studio.try_say(rid, "hello", actor=org.ann)


def test_the_coaching_panel_fails_closed(org):
    """Finding 4: a garbage or revoked token gave the panel None, which meant 'the trusted CLI'."""
    call = org.app.start_call(None, "double-billed-dana", user=org.ann)
    org.app.say(call.id, "Hello, Brightwave, this is Ann.", actor=org.ann)
    assert coaching.call_hints(org.app, call.id, actor=org.ann)
    assert coaching.call_checklist(org.app, call.id, actor=org.ann)
    for nobody, error in ((None, NotLoggedIn), (org.bob, PermissionDenied), (org.lead_a, PermissionDenied)):
        with pytest.raises(error):
            coaching.call_hints(org.app, call.id, actor=nobody)
        with pytest.raises(error):
            coaching.call_checklist(org.app, call.id, actor=nobody)
    org.app.live.clear()                      # as after a restart: the call is only in the store, and would be resumed
    with pytest.raises(PermissionDenied):
        coaching.call_hints(org.app, call.id, actor=org.bob)          # another trainee cannot resume (claim) it
    assert call.id not in org.app.live


def test_voice_uploads_are_checked_for_the_signed_in_user(org, tmp_path):
    def upload(actor, trainee):
        stt = FakeSTT([transcript(*AGENT), transcript(*CUSTOMER)])
        vp = VoicePractice(org.app, stt=stt, tts=FakeTTS(), vad=energy_spans)
        return vp.import_recording(write_stereo(tmp_path / f"rec-{trainee or 'self'}.wav", AGENT, CUSTOMER), trainee=trainee, actor=actor)

    assert upload(org.ann, "").call_id                               # your own call
    assert upload(org.lead_a, "bob").call_id                          # a lead: their team member's
    refusals = set()
    for actor, trainee in ((org.ann, "bob"), (org.lead_a, "cat"), (org.ann, "nobody-here")):
        with pytest.raises(PermissionDenied) as err:
            upload(actor, trainee)
        refusals.add(str(err.value))
    assert len(refusals) == 1                                          # "no such user" reads like "not yours"
    with pytest.raises(NotLoggedIn):
        upload(None, "ann")


def test_a_trainee_cannot_regrade_and_a_lead_can(org):
    call = org.app.start_call(None, "double-billed-dana", user=org.ann)
    org.app.end_call(call.id, org.ann)
    with pytest.raises(PermissionDenied, match="re-grade"):
        org.app.regrade(call.id, org.ann)
    before = len(org.app.store.scorecards(call.id))
    previous, card = org.app.regrade(call.id, org.lead_a)
    assert previous is not None and len(org.app.store.scorecards(call.id)) == before + 1
    with pytest.raises(PermissionDenied):
        org.app.regrade(call.id, org.lead_b)                          # not their team
    assert org.app.regrade(call.id, SYSTEM)[1].overall == card.overall


@pytest.mark.parametrize("bad_id", ["/tmp/x", "../scenarios/double-billed-dana", "a/b", "..", "Dana", "x" * 81, "a.b"])
def test_studio_export_ids_cannot_name_a_path(bad_id):
    from trainer.ui_studio import _content_id
    with pytest.raises(ValueError, match="lowercase"):
        _content_id(f"id: {bad_id}\nname: x\n")
    assert _content_id("id: dana-furious_2\n") == "dana-furious_2"


def test_no_seed_file_is_writable_through_an_export(tmp_path):
    """The probe's attack, end to end through the export handler's building blocks: the id names a file in the
    private export folder only."""
    from trainer.tempfiles import private_dir, write_private
    from trainer.ui_studio import _content_id
    seed = ROOT / "scenarios" / "double-billed-dana.yaml"
    text = seed.read_text(encoding="utf-8")
    attack = f"id: {ROOT}/scenarios/double-billed-dana\n" + text.replace("pass_score:", "pass_score: 0 #")
    with pytest.raises(ValueError):
        _content_id(attack)
    folder = private_dir(tmp_path, "export")
    out = write_private(folder / f"{_content_id(text)}.yaml", text)
    assert Path(out).parent == folder and seed.read_text(encoding="utf-8") == text
