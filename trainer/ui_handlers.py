"""What the web UI's events do, as plain functions over Frontline: tested without a browser."""
from __future__ import annotations

import html
import queue
import threading
from typing import Iterator

import pandas as pd

from .actor import sanitize_agent_text
from .grader import Scorecard
from .service import Frontline

VERDICT_ICON = {"met": "**MET**", "partly": "**PARTLY**", "not_met": "**MISSED**", "n/a": "n/a"}
END_REASON = {"resolved": "the customer was satisfied and said goodbye", "hung_up": "the customer hung up",
              "escalated": "the call was transferred / escalated", "agent_ended": "you ended the call"}


def esc(text: str) -> str:
    """Escape text that came from a user or a model before it goes into Markdown/HTML."""
    return html.escape(text or "", quote=False).replace("|", "&#124;").replace("*", "&#42;").replace("_", "&#95;").replace("`", "&#96;")


def chat_text(text: str) -> str:
    """A line for the chat window: shown as plain text (no HTML, no Markdown), never as markup."""
    return esc(text)


def scenario_choices(app: Frontline) -> list[tuple[str, str]]:
    return [(f"{r['title']} — {r['customer']}, {r['company']} · {r['type']} · {'★' * r['difficulty']}", r["id"]) for r in app.scenario_rows()]


def brief_markdown(app: Frontline, scenario_id: str | None) -> str:
    if not scenario_id:
        return "Pick a scenario to read its brief."
    sc = app.catalog.scenario(scenario_id)
    p = app.catalog.persona_for(sc)
    crm = "\n".join(f"| {esc(k)} | {esc(v)} |" for k, v in p.brief.crm.items())
    steps = "\n".join(f"{i}. {esc(s.label)}" for i, s in enumerate(sc.call_script, 1))
    return (f"### {esc(sc.title)}\n**{p.company.name}** · {p.brief.direction} call · {p.scenario_type.value.replace('_', ' ')} · "
            f"difficulty {'★' * p.difficulty}{'☆' * (5 - p.difficulty)} · pass mark {sc.pass_score:.0f}\n\n{esc(p.brief.summary)}\n\n"
            f"**CRM card**\n\n| Field | Value |\n|---|---|\n{crm}\n\n<details><summary>Call flow for this scenario</summary>\n\n{steps}\n</details>")


def mood_bar(mood: float) -> str:
    pct = int(mood * 10)
    colour = "#2e7d32" if mood < 4 else "#f9a825" if mood < 7 else "#c62828"
    word = "calm" if mood < 2 else "a little annoyed" if mood < 4 else "frustrated" if mood < 6 else "angry" if mood < 8 else "furious"
    return (f"<div style='font-size:0.9em'>Customer mood: <b>{word}</b> ({mood:.1f}/10)</div>"
            f"<div style='background:#eee;border-radius:4px;height:12px'><div style='width:{pct}%;background:{colour};"
            f"height:12px;border-radius:4px'></div></div>")


def start_call(app: Frontline, trainee: str, scenario_id: str | None) -> tuple[str, list[dict], str]:
    if not (trainee or "").strip():
        raise ValueError("Enter your name first.")
    if not scenario_id:
        raise ValueError("Pick a scenario first.")
    session = app.start_call(trainee, scenario_id)
    p = session.persona
    intro = (f"📞 {'Incoming' if p.brief.direction == 'inbound' else 'Outgoing'} call — {p.name} is on the line. "
             f"You speak first: greet the customer.")
    return session.id, [{"role": "assistant", "content": intro, "metadata": {"title": "Call connected"}}], mood_bar(p.mood)


def stream_turn(app: Frontline, call_id: str, text: str, history: list[dict]) -> Iterator[tuple[list[dict], str, dict]]:
    """Yield (chat history, mood html, status) as the customer's reply streams in."""
    if not call_id:
        raise ValueError("Start a call first.")
    session = app.session(call_id)
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
        except Exception as exc:  # noqa: BLE001 - surfaced to the trainee, the call stays saved
            result["error"] = exc
        q.put(("done", ""))

    threading.Thread(target=work, daemon=True).start()
    while True:
        kind, payload = q.get()
        if kind == "done":
            break
        history[-1] = {"role": "assistant", "content": chat_text(payload) if kind == "tok" else "…"}
        yield history, mood_bar(session.director.state.mood), {"ended": False, "error": None}
    if "error" in result:
        history.pop()
        yield history, mood_bar(session.director.state.mood), {"ended": False, "error": f"Something went wrong: {result['error']}. Your call is saved."}
        return
    reply = result["reply"]
    if reply.error:
        history.pop()
        yield history, mood_bar(reply.mood), {"ended": False, "error": reply.error}
        return
    history[-1] = {"role": "assistant", "content": chat_text(reply.text)}
    if reply.ended:
        history.append({"role": "assistant", "content": f"Call ended: {END_REASON.get(reply.end_reason or '', reply.end_reason)}.",
                        "metadata": {"title": "Call ended"}})
    yield history, mood_bar(reply.mood), {"ended": reply.ended, "error": None}


def scorecard_markdown(card: Scorecard, turns=None) -> str:
    out = []
    verdict = "PASS" if card.passed else "FAIL"
    out.append(f"## Score {card.overall:.0f}/100 — {verdict}\nPass mark {card.pass_score:.0f}. Rubric `{card.rubric_id}` v{card.rubric_version}, grader: {card.grader_model}.")
    if card.fatal_errors:
        out.append("### ⛔ Fatal errors (the call fails whatever else it scored)")
        for f in card.fatal_errors:
            ev = "; ".join(f"turn {e.turn}: “{esc(e.quote)}”" for e in f.evidence)
            out.append(f"- **{esc(f.description)}** {ev}")
        out.append(f"_Score before fatal errors: {card.raw_overall:.0f}_")
    if card.coaching:
        out.append("### Coaching — next time, try")
        out += [f"{i}. {esc(tip)}" for i, tip in enumerate(card.coaching, 1)]
    out.append("### By dimension\n| Dimension | Score |\n|---|---|")
    out += [f"| {d.label} | {'n/a' if d.score is None else f'{d.score:.0f}'} |" for d in card.dimensions]
    out.append("### Criteria and evidence")
    for dim in card.dimensions:
        rows = [c for c in card.criteria if c.dimension == dim.id]
        out.append(f"\n#### {dim.label}\n")
        for c in rows:
            ev = " — " + "; ".join(f"turn {e.turn}: “{esc(e.quote)}”" for e in c.evidence[:2]) if c.evidence else ""
            note = f" _({esc(c.note)})_" if c.note else ""
            out.append(f"- {VERDICT_ICON[c.verdict]} {esc(c.description)}{ev}{note}")
    if card.flags:
        out.append("### Flags\n" + "\n".join(f"- {esc(f)}" for f in card.flags))
    return "\n".join(out)


def mood_frame(moods: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"customer turn": list(range(len(moods))), "mood (0 calm – 10 furious)": moods})


def end_and_grade(app: Frontline, call_id: str) -> tuple[str, pd.DataFrame]:
    if not call_id:
        raise ValueError("Start a call first.")
    card = app.end_call(call_id)
    view = app.view(call_id)
    return scorecard_markdown(card), mood_frame(view.moods)


def past_calls(app: Frontline, trainee: str) -> list[tuple[str, str]]:
    if not (trainee or "").strip():
        return []
    out = []
    for c in app.calls_of(trainee):
        cards = app.store.scorecards(c.id)
        score = f"{cards[-1].overall:.0f}/100" if cards else c.status
        out.append((f"{c.started_at:%Y-%m-%d %H:%M} · {c.scenario_id} · {c.end_reason or c.status} · {score}", c.id))
    return out


def open_call(app: Frontline, call_id: str | None) -> tuple[list[dict], str, pd.DataFrame]:
    if not call_id:
        raise ValueError("Pick a call.")
    view = app.view(call_id)
    history = [{"role": "user" if t.speaker == "agent" else "assistant", "content": chat_text(t.text)} for t in view.turns]
    status = f"Status: **{view.record.status}**" + (f" — {END_REASON.get(view.record.end_reason or '', view.record.end_reason)}" if view.record.end_reason else "")
    if view.record.status == "interrupted":
        status += " — this call was interrupted (the app stopped mid-call); the transcript up to the last turn is kept."
    card_md = scorecard_markdown(view.scorecard) if view.scorecard else "_Not graded yet._"
    return history, status + "\n\n" + card_md, mood_frame(view.moods)
