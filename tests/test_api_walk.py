"""Every Gradio event is a public HTTP endpoint. These tests read the running app's /config, as an attacker would,
and call every dependency in it over HTTP: with no token, a forged token, an expired token, and a trainee's token
against another trainee's call and against trainer/lead/admin-only content. All must be refused, nothing written,
no model called. A new event that skips the guard makes them fail (it shows up in /config and answers)."""
from __future__ import annotations

import hashlib
import json

import pytest
from sqlmodel import SQLModel, func, select

from trainer.config import ROOT
from trainer.ui_guard import EXEMPT

from .webapp import serve

RESTRICTED_TABS = {"Studio", "Personas", "Scenarios", "Curricula", "Dashboard", "Admin"}
REFUSALS = ("Please log in", "session has ended", "session expired", "needs the", "trainer or admin", "cannot open this call",
            "only list your own", "You can only", "not lead")


@pytest.fixture(scope="module")
def web(tmp_path_factory, catalog):
    from trainer.store import Store
    tmp = tmp_path_factory.mktemp("walk")
    store = Store(f"sqlite:///{tmp / 'walk.db'}")
    mp = pytest.MonkeyPatch()
    mp.setenv("FRONTLINE_HOME", str(tmp / "home"))
    w = serve(tmp, catalog, store)
    yield w
    w.demo.close()
    mp.undo()


def snapshot(web) -> dict:
    """Everything a request could write: the row count of every table, the content files, the private temp folder."""
    counts = {}
    with web.app.store.session() as s:
        for name, table in SQLModel.metadata.tables.items():
            counts[name] = s.exec(select(func.count()).select_from(table)).one()
    files = {str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest()
             for folder in ("personas", "scenarios", "rubrics", "curricula") for p in sorted((ROOT / folder).glob("*"))}
    home_tmp = web.app.settings.home / "tmp"
    temp = sorted(str(p) for p in home_tmp.rglob("*")) if home_tmp.exists() else []
    return {"rows": counts, "files": files, "temp": temp}


def _tab_of(web) -> dict[int, str | None]:
    parent: dict[int, int | None] = {}

    def walk(node, up=None):
        parent[node["id"]] = up
        for child in node.get("children", []):
            walk(child, node["id"])
    walk(web.config["layout"])
    comps = {c["id"]: c for c in web.config["components"]}

    def tab(cid):
        while cid is not None:
            c = comps.get(cid, {})
            if c.get("type") == "tabitem":
                return c.get("props", {}).get("label")
            cid = parent.get(cid)
        return None
    return {d["id"]: tab((d.get("targets") or [[None]])[0][0]) for d in web.dependencies()}


def guarded(web) -> list[dict]:
    return [d for d in web.dependencies() if d["api_name"].rstrip("_0123456789") not in EXEMPT]


def test_the_config_lists_every_event_and_only_sign_in_and_the_landing_are_exempt(web):
    deps = web.dependencies()
    assert len(deps) > 150                                   # the whole app, not a sample
    exempt = {d["api_name"].rstrip("_0123456789") for d in deps} & set(EXEMPT)
    assert exempt == {"on_login", "show_session", "on_logout"}
    assert len(guarded(web)) == len(web.demo.frontline_guarded)
    assert all(d.get("api_visibility") == "private" for d in guarded(web))   # not offered to API clients either


@pytest.mark.parametrize("who", ["none", "forged", "expired"])
def test_every_event_refuses_a_missing_forged_or_expired_token(web, who):
    token = {"none": "", "forged": web.tokens["forged"], "expired": web.tokens["expired"]}[who]
    before = snapshot(web)
    answered = []
    for dep in guarded(web):
        reply = web.call(dep, token)
        if reply.success or not any(r in (reply.error or "") for r in REFUSALS):
            answered.append((dep["id"], dep["api_name"], reply.success, reply.error))
    assert not answered, f"{len(answered)} events did not refuse: {answered[:10]}"
    after = snapshot(web)
    # nothing written (rows, content files, temp files); the one write allowed is dropping the expired session itself
    assert after["rows"].pop("login_session") <= before["rows"].pop("login_session")
    assert after == before
    assert web.model.calls == [] and web.model.prefills == []   # no model call


def test_a_trainee_cannot_use_trainer_lead_or_admin_events(web):
    tabs = _tab_of(web)
    restricted = [d for d in guarded(web) if tabs[d["id"]] in RESTRICTED_TABS]
    assert len(restricted) > 100
    before = snapshot(web)
    answered = []
    for dep in restricted:
        reply = web.call(dep, web.tokens["trainee"])
        if reply.success:
            answered.append((dep["id"], dep["api_name"], tabs[dep["id"]]))
    assert not answered, answered
    after = snapshot(web)
    after["rows"].pop("login_session"), before["rows"].pop("login_session")
    assert after == before
    assert web.model.calls == []


def test_a_trainee_cannot_reach_another_trainees_call(web):
    """Every event that takes a dropdown or a text field gets the victim's call id in all of them."""
    victim_text = "this is Vic"
    turns_before = [(t.speaker, t.text) for t in web.app.store.turns(web.victim_call)]
    leaked = []
    tried = 0
    for dep in guarded(web):
        fields = {cid: web.victim_call for cid in dep["inputs"]
                  if web.component(cid).get("type") in ("dropdown", "textbox")}
        if not fields:
            continue
        tried += 1
        reply = web.call(dep, web.tokens["trainee"], fields)
        if reply.success and victim_text in json.dumps(reply.output):
            leaked.append((dep["id"], dep["api_name"]))
    assert tried > 50 and not leaked, leaked
    assert [(t.speaker, t.text) for t in web.app.store.turns(web.victim_call)] == turns_before
    pick = next(d for d in guarded(web) if d["api_name"] == "on_pick_3")          # My calls → Past calls
    reply = web.call(pick, web.tokens["trainee"], {pick["inputs"][1]: web.victim_call})
    assert not reply.success


def test_the_walk_can_tell_an_answer_from_a_refusal(web):
    """The control: the same client, with the victim's own valid token, gets their call list."""
    refresh = next(d for d in guarded(web) if d["api_name"] == "on_refresh_calls")
    reply = web.call(refresh, web.tokens["victim"])
    assert reply.success and web.victim_call in json.dumps(reply.output)
    assert not web.call(refresh, web.tokens["forged"]).success


def test_refusals_leave_no_traceback_in_the_log(web, capfd):
    capfd.readouterr()
    dep = guarded(web)[0]
    assert not web.call(dep, "").success
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


def test_security_headers_and_no_monitoring_or_analytics(web):
    with web.client() as c:
        page = c.get("/")
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        csp = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "img-src 'self' data: blob:" in csp
        assert c.get("/monitoring/summary").status_code in (403, 404)
        assert c.get("/gradio_api/monitoring/summary").status_code in (403, 404)
    assert web.config.get("analytics_enabled") is False
    assert web.config.get("max_file_size") == 200 * 1000 * 1000 or web.config.get("max_file_size") == 200 * 1024 * 1024


def test_uploads_over_the_cap_are_refused(web):
    with web.client() as c:
        r = c.post("/gradio_api/upload", files={"files": ("big.wav", b"\0" * (201 * 1024 * 1024), "audio/wav")})
    assert r.status_code == 413 or "too large" in r.text.lower()
