"""Shared set-up for the accounts / progress / dashboard / export tests: a small organisation and graded calls."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher

from trainer import accounts as accounts_module
from trainer.accounts import User
from trainer.grader import Scorecard
from trainer.grader.grade import CriterionScore, DimensionScore
from trainer.seed import scripted_customer
from trainer.service import Frontline

PW = "correct-horse-1"


@pytest.fixture
def fast_hash(monkeypatch):
    """Argon2id with small cost parameters, so tests that create many users stay fast (the app uses the library's defaults)."""
    monkeypatch.setattr(accounts_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@dataclass
class Org:
    app: Frontline
    admin: User
    lead_a: User
    lead_b: User
    trainer: User
    ann: User       # team A
    bob: User       # team A
    cat: User       # team B

    def token(self, user: User) -> str:
        return self.app.accounts.login(user.username, PW)


def make_org(store, catalog) -> Org:
    app = Frontline(store=store, catalog=catalog, customer_backend=scripted_customer(catalog), use_judge=False, sleep=lambda s: None)
    acc = app.accounts
    admin = acc.create_admin("root", PW, "Root Admin")
    lead_a = acc.create_user(admin, "lea", PW, "lead", display_name="Lea Lead")
    lead_b = acc.create_user(admin, "lou", PW, "lead", display_name="Lou Lead")
    trainer = acc.create_user(admin, "tim", PW, "trainer", display_name="Tim Trainer")
    acc.create_team(admin, "A", lead="lea")
    acc.create_team(admin, "B", lead="lou")
    ann = acc.create_user(admin, "ann", PW, "trainee", display_name="Ann", team="A")
    bob = acc.create_user(admin, "bob", PW, "trainee", display_name="Bob", team="A")
    cat = acc.create_user(admin, "cat", PW, "trainee", display_name="Cat", team="B")
    return Org(app, admin, lead_a, lead_b, trainer, ann, bob, cat)


def record_call(app: Frontline, user: User, scenario_id: str, score: float, *, curriculum_id=None, module_id=None,
                fatal: bool = False, dims: dict[str, float] | None = None, missed: list[str] = (), met: list[str] = (), mode: str = "practice") -> str:
    """A finished, graded call written straight to the store, with a chosen score (for testing the progress rules)."""
    store = app.store
    trainee = app.accounts.trainee_record(user)
    p = app.catalog.personas[app.catalog.scenarios[scenario_id].persona]
    call = store.start_call(trainee_id=trainee.id, scenario_id=scenario_id, persona_id=p.id, persona_hash="x", persona_snapshot=p.model_dump_json(),
                            customer_model="fake", mode=mode, curriculum_id=curriculum_id, module_id=module_id)
    store.add_turn(call.id, speaker="agent", text="Hello")
    store.end_call(call.id, reason="agent_ended")
    dims = dims or {"empathy": score, "resolution": score}
    crit = [CriterionScore(id=c, dimension="empathy", description=f"criterion {c}", weight=1, verdict="not_met") for c in missed]
    crit += [CriterionScore(id=c, dimension="empathy", description=f"criterion {c}", weight=1, verdict="met") for c in met]
    crit.append(CriterionScore(id="greeting", dimension="script_adherence", description="greeting", weight=1, verdict="met"))
    fatal_list = [CriterionScore(id="verify_before_disclosure", dimension="compliance", description="verify", weight=1,
                                 verdict="not_met", fatal=True)] if fatal else []
    card = Scorecard(rubric_id="default", rubric_version=1, rubric_hash="h", grader_model="deterministic", overall=score,
                     raw_overall=score, pass_score=70, passed=score >= 70 and not fatal, fatal_errors=fatal_list,
                     dimensions=[DimensionScore(id=k, label=k, score=v, scale5=1 + v / 25) for k, v in dims.items()], criteria=crit)
    store.save_scorecard(call_id=call.id, rubric_id="default", rubric_hash="h", grader_model="deterministic", overall=score,
                         passed=card.passed, result_json=card.model_dump_json())
    return call.id
