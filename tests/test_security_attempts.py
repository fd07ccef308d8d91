"""Finding 8 of the security review: an assessment's attempts cannot be replayed.

Every call started on an assessment module is an attempt from the moment it starts, whether it is left active,
interrupted, ended without a grade or graded, so a trainee cannot rehearse the assessment, abandon the bad runs
and grade only a good one. Practice modules still count graded calls only.
"""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from trainer import ui_handlers as h
from trainer.accounts import PermissionDenied
from trainer.curriculum import Curriculum

from .people import fast_hash, make_org  # noqa: F401  (fast_hash is a fixture)

pytestmark = pytest.mark.usefixtures("fast_hash")
DRILL = "drill"


@pytest.fixture
def org(store, catalog):
    """The seed catalog plus a small curriculum: a practice module and an assessment, two attempts each, no prerequisites."""
    drill = Curriculum(id=DRILL, title="Drill", modules=[
        {"id": "warm-up", "title": "Warm-up", "scenario": "router-walter", "mode": "practice", "max_attempts": 2},
        {"id": "assessed", "title": "Assessed call", "scenario": "estimated-bill-amara", "mode": "assessment", "max_attempts": 2},
    ])
    return make_org(store, dataclasses.replace(catalog, curricula={**catalog.curricula, DRILL: drill}))


def start(org, module_id: str) -> str:
    return org.app.start_call(None, None, user=org.ann, curriculum_id=DRILL, module_id=module_id).id


def module(org, module_id: str):
    return next(m for m in org.app.progress.curriculum_progress(org.ann, org.ann, DRILL).modules if m.module.id == module_id)


def test_abandoned_assessment_calls_use_up_the_attempts(org):
    first = start(org, "assessed")
    m = module(org, "assessed")
    assert (m.attempts, m.attempts_left, m.status) == (1, 1, "available")   # counted the moment it started, still active
    second = start(org, "assessed")                                         # a second run beside the open one: counted too
    m = module(org, "assessed")
    assert (m.attempts, m.attempts_left, m.status) == (2, 0, "out_of_attempts")
    assert {org.app.store.get_call(c).status for c in (first, second)} == {"active"}   # neither was ever ended or graded
    with pytest.raises(PermissionDenied, match="No attempts left"):
        start(org, "assessed")
    with pytest.raises(PermissionDenied, match="No attempts left"):
        h.start_call(org.app, org.token(org.ann), None, f"{DRILL}/assessed")
    assert len(org.app.store.calls()) == 2                                   # the refused starts wrote nothing
    org.app.dashboard.assign(org.lead_a, curriculum_id=DRILL, usernames=["ann"])   # the lead grants another round
    assert module(org, "assessed").attempts_left == 2
    start(org, "assessed")


def test_interrupted_and_ungraded_assessment_calls_count_and_a_resumed_one_counts_once(org):
    app = org.app
    interrupted = start(org, "assessed")
    assert app.store.recover_interrupted(stale_after=timedelta(seconds=-1)) == [interrupted]   # as if its process died
    assert app.store.get_call(interrupted).status == "interrupted"
    ungraded = start(org, "assessed")
    app.store.end_call(ungraded, reason="agent_ended")                      # ended, but never graded
    assert app.store.scorecards(ungraded) == []
    assert module(org, "assessed").attempts == 2
    with pytest.raises(PermissionDenied, match="No attempts left"):
        start(org, "assessed")
    app.end_call(interrupted, org.ann)                                      # resumed, ended and graded: still one attempt
    assert app.store.scorecards(interrupted)
    assert module(org, "assessed").attempts == 2


def test_a_practice_module_counts_graded_calls_only(org):
    for _ in range(3):                                                      # more starts than its max_attempts of 2
        start(org, "warm-up")
    m = module(org, "warm-up")
    assert (m.attempts, m.attempts_left, m.status) == (0, 2, "available")
    assert module(org, "assessed").attempts == 0                            # practice calls are not the assessment's
