"""What the web UI's events do, as plain functions over Frontline: tested without a browser."""
from __future__ import annotations

import logging
import queue
import threading
from typing import Iterator

import pandas as pd

from .accounts import User
from .actor import sanitize_agent_text
from .grader import Scorecard
from .service import Frontline
from .text import MODEL_NOT_ANSWERING, SOMETHING_FAILED, md_escape, md_quote, plain

log = logging.getLogger(__name__)

VERDICT_ICON = {"met": "**MET**", "partly": "**PARTLY**", "not_met": "**MISSED**", "n/a": "n/a"}
END_REASON = {"resolved": "the customer was satisfied and said goodbye", "hung_up": "the customer hung up",
              "escalated": "the call was transferred / escalated", "agent_ended": "you ended the call"}


# Every field that came from a user, a model or content files goes into the Markdown and HTML below through esc (one
# line) or md_quote (several lines): trainer/text.py says why one character class at a time was not enough.
esc = md_escape


def current_user(app: Frontline, token: str | None) -> User:
    """The signed-in user for a session token; every handler below starts here, so roles are checked on the server."""
    return app.accounts.user_for_token(token)


def module_choices(app: Frontline, token: str | None) -> list[tuple[str, str]]:
    """Curriculum modules this user can start now, as 'curriculum/module' values (free practice is ''): the ones still
    to pass first, then passed ones (to retake)."""
    user = current_user(app, token)
    todo, done = [], []
    for cp in app.progress.all_progress(user, user):
        for m in cp.modules:
            if m.status not in ("available", "passed") or m.attempts_left == 0:
                continue
            left = "" if m.attempts_left is None else f", {m.attempts_left} attempt(s) left"
            label = plain(f"{cp.curriculum.title} · {m.module.title} [{m.module.mode}{left}]")     # a dropdown shows text
            if m.status == "passed":
                done.append((f"{label} — passed, retake", f"{cp.curriculum.id}/{m.module.id}"))
            else:
                todo.append((label, f"{cp.curriculum.id}/{m.module.id}"))
    return [("Free practice (pick any scenario)", "")] + todo + done


def module_of(app: Frontline, value: str | None):
    """(curriculum id, module) for a module choice, or (None, None) for free practice."""
    if not value:
        return None, None
    cid, _, mid = value.partition("/")
    return cid, app.catalog.curriculum(cid).module(mid)


def chat_text(text: str) -> str:
    """A line for the chat window. Gradio's Chatbot renders Markdown and HTML, so the line is escaped: it shows as the
    plain text that was said, never as markup (an image, a link, a heading)."""
    return esc(text)


def scenario_choices(app: Frontline) -> list[tuple[str, str]]:
    return [(plain(f"{r['title']} — {r['customer']}, {r['company']} · {r['type']} · {'★' * r['difficulty']}"), r["id"])
            for r in app.scenario_rows()]


def brief_markdown(app: Frontline, scenario_id: str | None, mode: str = "practice") -> str:
    if not scenario_id:
        return "Pick a scenario to read its brief."
    sc = app.catalog.scenario(scenario_id)
    p = app.catalog.persona_for(sc)
    crm = "\n".join(f"| {esc(k)} | {esc(v)} |" for k, v in p.brief.crm.items())
    steps = "\n".join(f"{i}. {esc(s.label)}" for i, s in enumerate(sc.call_script, 1))
    return (f"### {esc(sc.title)}\n**{esc(p.company.name)}** · {esc(p.brief.direction)} call · {esc(p.scenario_type.value.replace('_', ' '))} · "
            f"difficulty {'★' * p.difficulty}{'☆' * (5 - p.difficulty)} · pass mark {sc.pass_score:.0f}\n\n{esc(p.brief.summary)}\n\n"
            f"**CRM card**\n\n| Field | Value |\n|---|---|\n{crm}\n\n" +
            (f"<details><summary>Call flow for this scenario</summary>\n\n{steps}\n</details>" if mode == "practice" else
             "**Assessment:** no hints and no mood meter. This call counts towards your curriculum."))


def mood_bar(mood: float) -> str:
    pct = int(mood * 10)
    colour = "#2e7d32" if mood < 4 else "#f9a825" if mood < 7 else "#c62828"
    word = "calm" if mood < 2 else "a little annoyed" if mood < 4 else "frustrated" if mood < 6 else "angry" if mood < 8 else "furious"
    return (f"<div style='font-size:0.9em'>Customer mood: <b>{word}</b> ({mood:.1f}/10)</div>"
            f"<div style='background:#eee;border-radius:4px;height:12px'><div style='width:{pct}%;background:{colour};"
            f"height:12px;border-radius:4px'></div></div>")


def start_call(app: Frontline, token: str | None, scenario_id: str | None, module: str | None = None) -> tuple[str, list[dict], str, str]:
    """Start a call for the signed-in user: (call id, chat history, mood meter html, mode)."""
    user = current_user(app, token)
    curriculum_id, mod = module_of(app, module)
    if mod is None and not scenario_id:
        raise ValueError("Pick a scenario first.")
    session = app.start_call(None, scenario_id, user=user, curriculum_id=curriculum_id, module_id=mod.id if mod else None)
    p = session.persona
    mode = session.record.mode
    intro = (f"{'Incoming' if p.brief.direction == 'inbound' else 'Outgoing'} call — {esc(p.name)} is on the line. "
             f"You speak first: greet the customer." + (" This is an assessment: it counts." if mode == "assessment" else ""))
    return session.id, [{"role": "assistant", "content": intro, "metadata": {"title": "Call connected"}}], \
        (mood_bar(p.mood) if mode == "practice" else ""), mode


def stream_turn(app: Frontline, token: str | None, call_id: str, text: str, history: list[dict]) -> Iterator[tuple[list[dict], str, dict]]:
    """Yield (chat history, mood html, status) as the customer's reply streams in. The mood html is empty in assessment mode."""
    user = current_user(app, token)
    if not call_id:
        raise ValueError("Start a call first.")
    session = app.session(call_id, user)
    meter = mood_bar if session.record.mode == "practice" else (lambda _mood: "")   # no meter in assessments
    if session.ended:
        raise ValueError("This call has ended. Start a new one, or press Retry.")
    if not (text or "").strip() and session.pending is None:
        raise ValueError("Type what you would say to the customer.")
    history = list(history or [])
    if session.pending is None:
        history.append({"role": "user", "content": chat_text(sanitize_agent_text(text))})   # what was stored, as text
    history.append({"role": "assistant", "content": "…"})
    q: queue.Queue = queue.Queue()
    result: dict = {}

    def work() -> None:
        try:
            result["reply"] = session.agent_says(text, on_token=lambda t: q.put(("tok", t)), on_reset=lambda: q.put(("reset", "")))
        except Exception as exc:  # noqa: BLE001 - the trainee gets a plain message, the log the details; the call stays saved
            log.warning("call %s: the customer's reply failed", call_id, exc_info=True)
            result["error"] = exc
        q.put(("done", ""))

    threading.Thread(target=work, daemon=True).start()
    yield history, meter(session.director.state.mood), {"ended": False, "error": None}   # the line is taken: show it now
    while True:
        kind, payload = q.get()
        if kind == "done":
            break
        history[-1] = {"role": "assistant", "content": chat_text(payload) if kind == "tok" else "…"}
        yield history, meter(session.director.state.mood), {"ended": False, "error": None}
    if "error" in result:
        history.pop()
        yield history, meter(session.director.state.mood), {"ended": False, "error": SOMETHING_FAILED}
        return
    reply = result["reply"]
    if reply.error:
        # reply.error words the backend's reason, which can name the model server's address: the call logged it,
        # the trainee only needs to know that the customer did not answer and what to press
        history.pop()
        yield history, meter(reply.mood), {"ended": False, "error": MODEL_NOT_ANSWERING}
        return
    history[-1] = {"role": "assistant", "content": chat_text(reply.text)}
    if reply.ended:
        history.append({"role": "assistant", "content": f"Call ended: {esc(END_REASON.get(reply.end_reason or '', reply.end_reason))}.",
                        "metadata": {"title": "Call ended"}})
    yield history, meter(reply.mood), {"ended": reply.ended, "error": None}


def scorecard_markdown(card: Scorecard, turns=None) -> str:
    out = []
    verdict = "PASS" if card.passed else "FAIL"
    # the rubric id in <code>, not backticks: inside a Markdown code span the entities would show as written
    out.append(f"## Score {card.overall:.0f}/100 — {verdict}\nPass mark {card.pass_score:.0f}. Rubric <code>{esc(card.rubric_id)}</code> "
               f"v{esc(card.rubric_version)}, grader: {esc(card.grader_model)}.")
    if card.fatal_errors:
        out.append("### FATAL errors (the call fails whatever else it scored)")
        for f in card.fatal_errors:
            ev = "; ".join(f"turn {esc(e.turn)}: “{esc(e.quote)}”" for e in f.evidence)
            out.append(f"- **{esc(f.description)}** {ev}")
        out.append(f"_Score before fatal errors: {card.raw_overall:.0f}_")
    if card.coaching:
        out.append("### Coaching — next time, try")
        out += [f"{i}. {esc(tip)}" for i, tip in enumerate(card.coaching, 1)]
    out.append("### By dimension\n| Dimension | Score |\n|---|---|")
    out += [f"| {esc(d.label)} | {'n/a' if d.score is None else f'{d.score:.0f}'} |" for d in card.dimensions]
    if card.speech:                                       # calls with audio: voice practice or an uploaded recording
        from .voice.metrics import markdown as speech_markdown
        out.append(speech_markdown(card.speech))
    out.append("### Criteria and evidence")
    for dim in card.dimensions:
        rows = [c for c in card.criteria if c.dimension == dim.id]
        out.append(f"\n#### {esc(dim.label)}\n")
        for c in rows:
            ev = " — " + "; ".join(f"turn {esc(e.turn)}: “{esc(e.quote)}”" for e in c.evidence[:2]) if c.evidence else ""
            note = f" _({esc(c.note)})_" if c.note else ""
            out.append(f"- {VERDICT_ICON.get(c.verdict, esc(c.verdict))} {esc(c.description)}{ev}{note}")
    if card.flags:
        out.append("### Flags\n" + "\n".join(f"- {esc(f)}" for f in card.flags))
    return "\n".join(out)


def mood_frame(moods: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"customer turn": list(range(len(moods))), "mood (0 calm – 10 furious)": moods})


def end_and_grade(app: Frontline, token: str | None, call_id: str) -> tuple[str, pd.DataFrame]:
    user = current_user(app, token)
    if not call_id:
        raise ValueError("Start a call first.")
    card = app.end_call(call_id, user)
    view = app.view(call_id, user)
    md = scorecard_markdown(card)
    if view.record.curriculum_id:
        md = module_result_markdown(app, user, view.record) + "\n\n" + md
    return md, mood_frame(view.moods)


def module_result_markdown(app: Frontline, user: User, record) -> str:
    try:
        cp = app.progress.curriculum_progress(user, user, record.curriculum_id)
    except Exception:  # noqa: BLE001 - the curriculum file may have changed since the call; the scorecard still shows
        return ""
    m = next((m for m in cp.modules if m.module.id == record.module_id), None)
    if m is None:
        return ""
    line = f"**{esc(cp.curriculum.title)} · {esc(m.module.title)}** — pass mark {m.module.pass_score:.0f}; "
    if m.status == "passed":
        line += f"module **passed** (best {m.best:.0f}{', ' + esc(m.medal) + ' medal' if m.medal else ''})."
    elif m.status == "out_of_attempts":
        line += "not passed, and no attempts left: your team lead can assign it again."
    else:
        line += "not passed yet" + (f"; {m.attempts_left} attempt(s) left." if m.attempts_left is not None else "; try again when ready.")
    if cp.certificate:
        line += f" Curriculum complete: certificate {esc(cp.certificate.code)} is under *My progress*."
    return line


def past_calls(app: Frontline, token: str | None, username: str | None = None) -> list[tuple[str, str]]:
    """The calls of `username` (default: the signed-in user) that the signed-in user may see."""
    user = current_user(app, token)
    target = app.accounts.by_username(username) if username else user
    out = []
    for c in app.calls_of(target, user):
        cards = app.store.scorecards(c.id)
        score = f"{cards[-1].overall:.0f}/100" if cards else c.status
        where = f"{c.curriculum_id}/{c.module_id}" if c.curriculum_id else "free practice"
        # a dropdown label: shown as text, so plain (one line, no bidi controls) rather than entity-escaped
        out.append((plain(f"{c.started_at:%Y-%m-%d %H:%M} · {c.scenario_id} · {where} · {c.mode} · {c.end_reason or c.status} · {score}"), c.id))
    return out


def comments_markdown(comments: list[dict]) -> str:
    """Each comment as a block quote, line by line (md_quote), so a comment cannot end its quote and write a heading
    of its own, e.g. a forged "Score 100/100 — PASS" above the real scorecard."""
    if not comments:
        return ""
    out = ["### Coaching comments"]
    for c in comments:
        out.append(f"{md_quote(c['text'])}\n>\n> — {esc(c['author'])}, {esc(c['at'])}")
    return "\n\n".join(out)


def open_call(app: Frontline, token: str | None, call_id: str | None) -> tuple[list[dict], str, pd.DataFrame]:
    user = current_user(app, token)
    if not call_id:
        raise ValueError("Pick a call.")
    view = app.view(call_id, user)
    history = [{"role": "user" if t.speaker == "agent" else "assistant", "content": chat_text(t.text)} for t in view.turns]
    r = view.record
    status = f"Status: **{esc(r.status)}**" + (f" — {esc(END_REASON.get(r.end_reason or '', r.end_reason))}" if r.end_reason else "")
    status += f" · {esc(r.mode)} mode" + (f" · {esc(r.curriculum_id)} / {esc(r.module_id)}" if r.curriculum_id else "")
    if view.record.status == "interrupted":
        status += " — this call was interrupted (the app stopped mid-call); the transcript up to the last turn is kept."
    card_md = scorecard_markdown(view.scorecard) if view.scorecard else "_Not graded yet._"
    notes = comments_markdown(app.dashboard.comments(user, call_id))
    return history, status + ("\n\n" + notes if notes else "") + "\n\n" + card_md, mood_frame(view.moods)
