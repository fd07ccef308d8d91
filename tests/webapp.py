"""The real web app (ui.build) served over HTTP on a loopback port, in this process, and a small client that speaks
Gradio's queue protocol the way the browser does (POST queue/join, then read the event stream).

Used by the tests that attack the app from outside: they call endpoints by their index from /config, with whatever
session token they like, exactly as an attacker with curl would.
"""
from __future__ import annotations

import json
import secrets
import sys
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from trainer.config import ROOT
from trainer.llm.fake import FakeLLM
from trainer.service import Frontline

from .services import free_port

sys.path.insert(0, str(ROOT))

PASSWORDS = {"admin": "admin-pass-walk", "trainer": "trainer-pass-walk", "lead": "lead-pass-walk",
             "trainee": "trainee-pass-walk", "victim": "victim-pass-walk"}


@dataclass
class Reply:
    success: bool
    error: str | None
    output: dict = field(default_factory=dict)
    messages: list[dict] = field(default_factory=list)


@dataclass
class WebApp:
    app: Frontline
    demo: object
    url: str
    model: FakeLLM
    tokens: dict[str, str]
    victim_call: str
    config: dict = field(default_factory=dict)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def dependencies(self) -> list[dict]:
        return [d for d in self.config["dependencies"] if d.get("backend_fn")]

    def component(self, cid: int) -> dict:
        return next(c for c in self.config["components"] if c["id"] == cid)

    def token_id(self) -> int:
        return next(c["id"] for c in self.config["components"] if c.get("type") == "browserstate")

    def call(self, dep: dict, token: str | None, values: dict[int, object] | None = None, timeout: float = 30) -> Reply:
        """Run one dependency the way the page does. Inputs get their component's initial value unless `values` says
        otherwise; the session token goes wherever the token component is an input."""
        data = []
        for cid in dep["inputs"]:
            if values and cid in values:
                data.append(values[cid])
            elif cid == self.token_id():
                data.append(token)
            else:
                data.append(self.component(cid).get("props", {}).get("value"))
        session = uuid.uuid4().hex
        body = {"data": data, "event_data": None, "fn_index": dep["id"], "trigger_id": (dep.get("targets") or [[None]])[0][0],
                "session_hash": session}
        with self.client() as c:
            r = c.post("/gradio_api/queue/join", json=body)
            if r.status_code != 200:
                return Reply(False, f"HTTP {r.status_code}: {r.text[:300]}")
            messages = []
            with c.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}, timeout=timeout) as s:
                for line in s.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    msg = json.loads(line[5:])
                    messages.append(msg)
                    if msg.get("msg") == "process_completed":
                        out = msg.get("output") or {}
                        return Reply(bool(msg.get("success")), out.get("error"), out, messages)
                    if msg.get("msg") in ("close_stream", "unexpected_error"):
                        break
        return Reply(False, f"no result: {messages[-3:]}", {}, messages)


def serve(tmp_path, catalog, store) -> WebApp:
    """A Frontline with a counting fake customer model, five accounts (admin, trainer, lead, two trainees on the lead's
    team), a practice call of the 'victim' trainee, served by the real ui.build on a free port."""
    import ui
    from trainer.accounts import LoginSession, _token_hash
    model = FakeLLM(responder=lambda prompt: "I just want this sorted out, please.")
    app = Frontline(store=store, catalog=catalog, customer_backend=model, sleep=lambda s: None)
    acc = app.accounts
    admin = acc.create_admin("admin", PASSWORDS["admin"], "Admin")
    acc.create_team(admin, "Team A")
    acc.create_user(admin, "tara.trainer", PASSWORDS["trainer"], "trainer", display_name="Tara Trainer")
    acc.create_user(admin, "lena.lead", PASSWORDS["lead"], "lead", display_name="Lena Lead", team="Team A")
    acc.create_user(admin, "sam.trainee", PASSWORDS["trainee"], "trainee", display_name="Sam Trainee", team="Team A")
    acc.create_user(admin, "vic.victim", PASSWORDS["victim"], "trainee", display_name="Vic Victim", team="Team A")
    acc.set_team_lead(admin, "Team A", "lena.lead")
    names = {"admin": "admin", "trainer": "tara.trainer", "lead": "lena.lead", "trainee": "sam.trainee", "victim": "vic.victim"}
    tokens = {who: acc.login(names[who], PASSWORDS[who]) for who in names}
    victim = acc.by_username("vic.victim")
    call = app.start_call(None, "double-billed-dana", user=victim)
    app.say(call.id, "Thank you for calling Brightwave, this is Vic.", actor=victim)
    # an expired session of the trainee: the row exists, its time is up
    expired = secrets.token_urlsafe(32)
    with store.session() as s:
        t = acc.clock()
        s.add(LoginSession(token_hash=_token_hash(expired), user_id=acc.by_username("sam.trainee").id,
                           created_at=t - timedelta(hours=13), expires_at=t - timedelta(hours=1)))
        s.commit()
    tokens["expired"] = expired
    tokens["forged"] = secrets.token_urlsafe(32)
    model.calls.clear()
    demo = ui.build(app)
    port = free_port()
    demo.queue(default_concurrency_limit=8).launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                                                   quiet=True, **ui.launch_options(app))
    web = WebApp(app=app, demo=demo, url=f"http://127.0.0.1:{port}", model=model, tokens=tokens, victim_call=call.id)
    with web.client() as c:
        web.config = c.get("/config").json()
    return web
