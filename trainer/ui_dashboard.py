"""What the *My progress* and *Dashboard* tabs show, as plain functions over Frontline (tested without a browser).
Each takes the session token; the permission checks are in trainer.progress / trainer.dashboard."""
from __future__ import annotations

import pandas as pd

from .export import sessions_csv, xapi_json, xapi_statements
from .progress import CurriculumProgress, aware
from .service import Frontline
from .tempfiles import private_dir, write_private
from .text import md_escape as esc, plain
from .ui_handlers import current_user

STATUS_STYLE = {"passed": ("PASSED", "#2e7d32"), "available": ("AVAILABLE", "#1565c0"), "locked": ("LOCKED", "#78909c"),
                "out_of_attempts": ("NO ATTEMPTS LEFT", "#c62828")}
MEDAL_STYLE = {"gold": "#b8860b", "silver": "#708090", "bronze": "#a0522d"}


def _pill(text: str, colour: str) -> str:
    return (f"<span style='background:{colour};color:#fff;border-radius:10px;padding:1px 8px;font-size:0.78em;"
            f"font-weight:600;letter-spacing:0.5px;white-space:nowrap'>{esc(text)}</span>")


def curriculum_html(cp: CurriculumProgress) -> str:
    bar = (f"<div style='background:#e3e8ee;border-radius:4px;height:10px;margin:4px 0 10px'><div style='width:{cp.percent}%;"
           f"background:#2e7d32;height:10px;border-radius:4px'></div></div>")
    rows = []
    for i, m in enumerate(cp.modules, 1):
        label, colour = STATUS_STYLE[m.status]
        medal = _pill(m.medal.upper(), MEDAL_STYLE[m.medal]) if m.medal else ""
        att = f"{m.attempts}" + (f" of {m.module.max_attempts * (1 + m.extra_rounds)}" if m.module.max_attempts else "")
        note = ""
        if m.status == "locked":
            note = "after " + ", ".join(esc(cp.curriculum.module(p).title) for p in m.waiting_for)
        elif m.passed_at:
            note = f"passed {aware(m.passed_at):%d %b}"
        rows.append(f"<tr><td>{i}</td><td><b>{esc(m.module.title)}</b><br><span style='color:#667;font-size:0.85em'>"
                    f"{esc(m.module.description)}</span></td><td>{esc(m.module.mode)}</td><td>{m.module.pass_score:.0f}</td>"
                    f"<td>{_pill(label, colour)}</td><td>{att}</td><td>{'' if m.best is None else f'{m.best:.0f}'}</td>"
                    f"<td>{'' if m.last is None else f'{m.last:.0f}'}</td><td>{medal}</td><td style='font-size:0.85em'>{note}</td></tr>")
    cert = ""
    if cp.certificate:
        cert = (f"<p>{_pill('COMPLETED', '#2e7d32')} Certificate <b>{esc(cp.certificate.code)}</b> issued "
                f"{aware(cp.certificate.issued_at):%d %B %Y} — open it below to print.</p>")
    return (f"<div style='margin-bottom:22px'><h3 style='margin:0'>{esc(cp.curriculum.title)}</h3>"
            f"<div style='color:#556'>{esc(cp.curriculum.description)}</div>"
            f"<div style='margin-top:6px'>{cp.passed} of {len(cp.modules)} modules passed</div>{bar}{cert}"
            "<table style='width:100%;border-collapse:collapse;font-size:0.92em'><tr style='text-align:left;border-bottom:1px solid #ccd'>"
            "<th>#</th><th>Module</th><th>Mode</th><th>Pass</th><th>Status</th><th>Attempts</th><th>Best</th><th>Last</th><th>Medal</th><th></th></tr>"
            + "".join(rows) + "</table></div>")


def progress_html(app: Frontline, token: str | None) -> str:
    user = current_user(app, token)
    return "".join(curriculum_html(cp) for cp in app.progress.all_progress(user, user))


def what_next_markdown(app: Frontline, token: str | None) -> str:
    user = current_user(app, token)
    recs = app.progress.what_next(user, user)
    if not recs:
        return "### What next\nYou have passed everything on offer. Pick any scenario for free practice."
    out = ["### What next"]
    for r in recs:
        sc = app.catalog.scenarios[r.scenario_id]
        due = f" — due {r.due_at:%d %b}" if r.due_at else ""
        if r.kind == "module":
            mod = app.catalog.curricula[r.curriculum_id].module(r.module_id)
            out.append(f"- **{esc(mod.title)}** ({esc(mod.mode)}) — {esc(r.reason)}{due}. Choose it under *Practice → Curriculum module*.")
        else:
            out.append(f"- **Practise '{esc(sc.title)}'** — {esc(r.reason.rstrip('.'))}{due}.")
    return "\n".join(out)


ASSIGN_STYLE = {"overdue": ("OVERDUE", "#c62828"), "open": ("OPEN", "#1565c0"), "done": ("DONE", "#2e7d32")}


def assignments_html(app: Frontline, token: str | None) -> str:
    user = current_user(app, token)
    rows = app.progress.my_assignments(user, user)
    if not rows:
        return "<p style='color:#667'>No assignments. Your team lead's assignments will show here.</p>"
    order = {"overdue": 0, "open": 1, "done": 2}
    rows.sort(key=lambda r: (order[r["status"]], r["due"] or "9999"))
    body = "".join(f"<tr><td>{_pill(*ASSIGN_STYLE[r['status']])}</td><td><b>{esc(r['what'])}</b><br>"
                   f"<span style='color:#667;font-size:0.85em'>{esc(r['note'])}</span></td><td>{esc(r['kind'])}</td>"
                   f"<td style='white-space:nowrap'>{esc(r['due'] or '—')}</td></tr>" for r in rows)
    return ("<table style='width:100%;border-collapse:collapse;font-size:0.92em'><tr style='text-align:left;border-bottom:1px solid #ccd'>"
            "<th>Status</th><th>Assignment</th><th>Kind</th><th>Due</th></tr>" + body + "</table>")


def next_hint_markdown(app: Frontline, token: str | None) -> str:
    """One line above the Practice tab: the first 'what next' recommendation, and how many assignments are overdue."""
    user = current_user(app, token)
    recs = app.progress.what_next(user, user)
    overdue = sum(1 for r in app.progress.my_assignments(user, user) if r["status"] == "overdue")
    parts = []
    if overdue:
        parts.append(f"**{overdue} assignment(s) overdue** — see *My progress*.")
    if recs:
        r = recs[0]
        due = f", due {r.due_at:%d %b}" if r.due_at else ""
        if r.kind == "module":
            mod = app.catalog.curricula[r.curriculum_id].module(r.module_id)
            parts.append(f"Next: **{esc(mod.title)}** ({esc(r.reason)}{due}) — pick it under *Curriculum module*.")
        else:
            parts.append(f"Next: **{esc(app.catalog.scenarios[r.scenario_id].title)}** ({esc(r.reason)}{due}) — pick it under *Scenario*.")
    return " ".join(parts)


def assignments_frame(app: Frontline, token: str | None) -> pd.DataFrame:
    user = current_user(app, token)
    rows = [{k: v for k, v in r.items() if k != "id"} for r in app.progress.my_assignments(user, user)]
    return pd.DataFrame(rows, columns=["what", "kind", "due", "status", "note"])


def certificate_choices(app: Frontline, token: str | None) -> list[tuple[str, str]]:
    user = current_user(app, token)
    return [(plain(f"{c.curriculum_title} — {aware(c.issued_at):%d %b %Y} ({c.code})"), c.code) for c in app.progress.certificates(user, user)]


def certificate_file(app: Frontline, token: str | None, code: str) -> tuple[str, str]:
    """(html for the page, path of a printable .html file to download)."""
    user = current_user(app, token)
    page = app.progress.certificate_html(user, code)
    path = write_private(private_dir(app.settings.home, "certificates") / f"certificate-{code}.html", page)
    return page, str(path)


# ---------------------------------------------------------------------- dashboard (leads, admins)
def team_choices(app: Frontline, token: str | None) -> list[tuple[str, int]]:
    user = current_user(app, token)
    if user.role not in ("lead", "admin"):
        return []
    return [(plain(t.name), t.id) for t in app.accounts.teams_visible_to(user)]


SHORT = {"Active listening": "Listening", "Script adherence": "Script", "De-escalation": "De-escal.", "Empathy": "Empathy",
         "Resolution": "Resolution", "Compliance and verification": "Compliance", "Offer handling": "Offers", "Closing": "Closing"}


def _plain_cells(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells as plain one-line text (gr.Dataframe shows "str" cells as text, so no entities; but a name's bidi
    controls would reorder the rest of its row)."""
    df = df.copy()
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]):             # object or str dtype (pandas 3)
            df[col] = df[col].map(lambda v: plain(v) if isinstance(v, str) else v)
    return df


def team_table(app: Frontline, token: str | None, team_id: int | None) -> pd.DataFrame:
    """The team table as the dashboard shows it: short headers, so a dozen columns fit a laptop screen."""
    df = app.dashboard.team_table(current_user(app, token), team_id or None)
    df = _plain_cells(df.drop(columns=["username"] + (["team"] if team_id else [])))
    return df.rename(columns={**SHORT, "progress %": "progress %", "pass rate %": "pass %", "last activity": "last active"})


def trainee_choices(app: Frontline, token: str | None, team_id: int | None) -> list[tuple[str, str]]:
    user = current_user(app, token)
    return [(plain(u.display_name), u.username) for u in app.dashboard._people(user, team_id or None)]


def trends_frame(app: Frontline, token: str | None, username: str | None, dimensions: list[str] | None = None) -> pd.DataFrame:
    """Scores over time for the line plot, only the chosen dimensions (all when none are chosen)."""
    if not username:
        return pd.DataFrame(columns=["when", "dimension", "score"])
    df = app.dashboard.trainee_trends(current_user(app, token), username)
    if dimensions:
        df = df[df["dimension"].isin(dimensions)]
    # a category per call ("03 · 07 Nov"): zero-padded so it sorts in call order, one tick per call
    df = df.assign(when=[f"{int(c):02d} · {pd.Timestamp(d):%d %b}" for c, d in zip(df["call"], df["date"])])
    return df[["when", "dimension", "score", "call"]]


def default_trend_dimensions(app: Frontline, token: str | None, username: str | None) -> list[str]:
    """Overall plus the trainee's two weakest dimensions: the lines a lead looks at first."""
    if not username:
        return ["Overall"]
    df = app.dashboard.trainee_trends(current_user(app, token), username)
    dims = df[df["dimension"] != "Overall"].groupby("dimension")["score"].mean().sort_values()
    return ["Overall", *list(dims.index[:2])]


def dimension_names(app: Frontline) -> list[str]:
    return ["Overall", *app.dashboard.dimension_labels().values()]


def missed_frame(app: Frontline, token: str | None, team_id: int | None) -> pd.DataFrame:
    df = app.dashboard.missed_criteria(current_user(app, token), team_id or None)
    df["label"] = df["criterion"].str.replace("_", " ")
    return df


def assignments_table(app: Frontline, token: str | None, team_id: int | None) -> pd.DataFrame:
    df = app.dashboard.team_assignments(current_user(app, token), team_id or None)
    return _plain_cells(df[["status", "trainee", "what", "due"]])


def assignable(app: Frontline) -> list[tuple[str, str]]:
    cur = [(plain(f"Curriculum: {c.title}"), f"curriculum:{cid}") for cid, c in sorted(app.catalog.curricula.items())]
    return cur + [(plain(f"Scenario: {r['title']}"), f"scenario:{r['id']}") for r in app.scenario_rows()]


def assign(app: Frontline, token: str | None, what: str | None, team_id: int | None, usernames: list[str] | None,
           whole_team: bool, due: str | float | None, note: str) -> str:
    user = current_user(app, token)
    if not what:
        raise ValueError("Pick what to assign.")
    kind, _, ident = what.partition(":")
    if isinstance(due, (int, float)):                      # gr.DateTime gives a timestamp
        import datetime as dt
        due = dt.datetime.fromtimestamp(due, tz=dt.timezone.utc).date().isoformat()
    rows = app.dashboard.assign(user, curriculum_id=ident if kind == "curriculum" else None, scenario_id=ident if kind == "scenario" else None,
                                usernames=[] if whole_team else list(usernames or []), team_id=team_id if whole_team else None,
                                due=due or None, note=note or "")
    return f"Assigned to {len(rows)} trainee(s)."


def add_comment(app: Frontline, token: str | None, call_id: str | None, text: str) -> str:
    if not call_id:
        raise ValueError("Open one of the trainee's calls first.")
    app.dashboard.add_comment(current_user(app, token), call_id, text)
    return "Comment saved. The trainee sees it with this call under *My calls*."


def export_file(app: Frontline, token: str | None, kind: str, team_id: int | None) -> str:
    user = current_user(app, token)
    if kind == "csv":
        name, body = "frontline-sessions.csv", sessions_csv(app.store, app.catalog, app.accounts, user, team_id=team_id or None)
    else:
        name, body = "frontline-xapi-statements.json", xapi_json(xapi_statements(app.store, app.catalog, app.accounts, user, team_id=team_id or None))
    return str(write_private(private_dir(app.settings.home, "exports") / name, body))   # made only once the export was allowed
