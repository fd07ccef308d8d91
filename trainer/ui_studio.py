"""The studio tab and the coaching panel (Gradio). Thin: the work is in trainer.studio and trainer.coaching."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

import gradio as gr

from . import coaching
from .content import ContentError, parse_yaml_text
from .accounts import PermissionDenied
from .studio.forms import FORMS, FieldSpec, form_of, problems_markdown
from .studio.kinds import KINDS, kind_of
from .studio.revisions import InUse
from .studio.studio import CONTENT_ID, Studio, require_editor
from .tempfiles import private_dir, write_private
from .ui_handlers import chat_text, current_user, esc, mood_bar

log = logging.getLogger(__name__)

MOOD_Y = "mood (0 calm – 10 furious)"


def _component(f: FieldSpec):
    kw = {"label": f.label, "info": f.info or None}
    if f.widget == "text":
        return gr.Textbox(**kw, max_lines=1)
    if f.widget == "textarea":
        return gr.Textbox(**kw, lines=2, max_lines=6)
    if f.widget in ("lines", "pairs"):
        return gr.Textbox(**kw, lines=3, max_lines=10)
    if f.widget == "csv":
        return gr.Textbox(**kw, max_lines=1)
    if f.widget == "number":
        return gr.Number(**kw, minimum=f.minimum, maximum=f.maximum, step=f.step or 1)
    if f.widget == "slider":
        return gr.Slider(**kw, minimum=f.minimum or 0, maximum=f.maximum or 10, step=f.step or 1)
    if f.widget == "choice":
        return gr.Dropdown(**kw, choices=list(f.choices), allow_custom_value=True)
    if f.widget == "bool":
        return gr.Checkbox(label=f.label, info=f.info or None)
    if f.widget == "table":
        widths = {"id": "14%", "kind": "13%", "label": "38%", "cues": "25%", "required": "10%",
                  "topic": "22%", "asked_by": "23%", "detail": "55%"}
        return gr.Dataframe(headers=list(f.columns), label=f.label, type="array", interactive=True, wrap=True,
                            column_count=len(f.columns), row_count=1, column_widths=[widths.get(c, "20%") for c in f.columns])
    raise ValueError(f.widget)


def _content_id(yaml_text: str) -> str:
    """The item's id from the editor's YAML, checked against the id pattern (it names files: no paths, no dots)."""
    m = re.search(r"^id:\s*['\"]?([^'\"\s#]+)", yaml_text or "", re.M)
    if not m:
        raise ValueError("the YAML has no id yet: add an 'id:' line")
    if len(m.group(1)) > 80 or not CONTENT_ID.fullmatch(m.group(1)):
        raise ValueError("the id must be lowercase letters, digits, '-' or '_' (at most 80), e.g. dana-furious")
    return m.group(1)


def _err(exc: Exception) -> str:
    if isinstance(exc, ContentError):
        return "✗ " + "<br>".join(esc(str(p)) for p in exc.problems)
    return f"✗ {esc(str(exc))}"


@dataclass
class _Editor:
    kind: str
    comps: dict[str, gr.components.Component] = field(default_factory=dict)


def _editor(app, studio: Studio, kind: str, token: gr.State) -> _Editor:
    k = kind_of(kind)
    spec = form_of(kind)
    ed = _Editor(kind)
    paths = [f.path for f in spec.fields]

    def me(tok):
        """The signed-in user of this request, if they may use the studio (trainers and admins). Every handler below
        starts here, before it looks at its input; the studio's functions check the role again."""
        user = current_user(app, tok)
        require_editor(user)
        return user

    with gr.Row(equal_height=True):
        pick = gr.Dropdown(choices=[], label=f"Open a {kind}", scale=4, value=None)
        new_btn = gr.Button(f"New {kind}", scale=1)
        clone_id = gr.Textbox(label="Clone as (new id)", placeholder=f"e.g. my-{kind}-harder", scale=2, max_lines=1)
        clone_btn = gr.Button("Clone", scale=1)
    if kind == "persona":
        with gr.Accordion("Draft a persona from a sentence", open=False):
            with gr.Row(equal_height=True):
                sentence = gr.Textbox(label="Describe the customer in one line", scale=5, max_lines=2,
                                      placeholder="retired teacher, confused by a new router, polite but slow")
                draft_btn = gr.Button("Draft it", variant="primary", scale=1)
            draft_md = gr.Markdown()
    with gr.Row():
        with gr.Column(scale=3):
            gr.Markdown("#### Form")
            for group, fields in groupby(spec.fields, key=lambda f: f.group):
                fields = list(fields)
                with gr.Accordion(group or k.title, open=group in ("Who", "Scenario", "Call script")):
                    if all(f.widget == "number" for f in fields) and len(fields) > 3:
                        for i in range(0, len(fields), 4):
                            with gr.Row():
                                for f in fields[i:i + 4]:
                                    ed.comps[f.path] = _component(f)
                    else:
                        for f in fields:
                            ed.comps[f.path] = _component(f)
        with gr.Column(scale=2):
            gr.Markdown("#### YAML (edit either side; they stay in sync)")
            code = gr.Code(language="yaml", lines=28, max_lines=40, wrap_lines=True, label=f"{k.folder}/<id>.yaml", interactive=True)
            valid_md = gr.Markdown("Open or create a " + kind + ".")
            note = gr.Textbox(label="Note for this revision", placeholder="what changed and why", max_lines=1)
            with gr.Row():
                save_btn = gr.Button("Save draft", variant="secondary")
                publish_btn = gr.Button("Save & publish", variant="primary")
            with gr.Row():
                retire_btn = gr.Button("Retire")
                delete_btn = gr.Button("Delete", variant="stop")
            action_md = gr.Markdown()
            with gr.Accordion("Import / export YAML files", open=False):
                export_btn = gr.Button("Export the editor's YAML", size="sm")
                export_file = gr.File(label="Exported file", interactive=False, height=90)
                import_file = gr.File(label=f"Import a {kind} YAML file (kept as a draft)", file_types=[".yaml", ".yml"], height=110)
    with gr.Accordion("History, diff and rollback", open=False):
        hist = gr.Dataframe(headers=["rev", "status", "source", "author", "note", "created (UTC)", "hash"], interactive=False,
                            label="Revisions (newest first)", wrap=True)
        with gr.Row(equal_height=True):
            rev_a = gr.Dropdown(label="From revision", choices=[], scale=1)
            rev_b = gr.Dropdown(label="To revision", choices=[], scale=1)
            diff_btn = gr.Button("Show diff", scale=1)
            rollback_btn = gr.Button("Roll back to 'From'", scale=1)
        diff_md = gr.Markdown()

    form_comps = [ed.comps[p] for p in paths]

    def values_out(text: str, user) -> list:
        vals = studio.form_values(kind, text, actor=user)
        return [vals[p] for p in paths]

    def history_out(cid: str | None, user):
        rows = studio.history_rows(kind, cid, actor=user) if cid else []
        revs = [r[0] for r in rows]
        return (rows or None, gr.update(choices=revs, value=revs[1] if len(revs) > 1 else (revs[0] if revs else None)),
                gr.update(choices=revs, value=revs[0] if revs else None))

    def load(text: str, cid: str | None, user):
        return [text, *values_out(text, user), studio.validation_markdown(kind, text, actor=user), *history_out(cid, user)]

    load_outputs = [code, *form_comps, valid_md, hist, rev_a, rev_b]

    def on_pick(tok, cid):
        user = me(tok)
        if not cid:
            return [gr.update()] * len(load_outputs)
        return load(studio.open(kind, cid, actor=user), cid, user)

    pick.input(on_pick, [token, pick], load_outputs)

    def on_new(tok):
        user = me(tok)
        return [*load(studio.blank(kind, actor=user), None, user), gr.update(value=None)]

    new_btn.click(on_new, token, [*load_outputs, pick])

    def on_form(tok, text, *vals):
        user = me(tok)
        try:
            new = studio.apply_form(kind, text, dict(zip(paths, vals)), actor=user)
        except ContentError as exc:
            return gr.update(), problems_markdown(kind, exc.problems) + "\n\n_Fix the YAML first: the form writes into it._"
        return new, studio.validation_markdown(kind, new, actor=user)

    for comp in form_comps:
        comp.input(on_form, [token, code, *form_comps], [code, valid_md], show_progress="hidden")

    def on_yaml(tok, text):
        user = me(tok)
        try:
            data = parse_yaml_text(text or "", "YAML view")
        except ContentError:
            data = None
        form = values_out(text, user) if isinstance(data, dict) else [gr.update()] * len(paths)   # half-typed YAML keeps the form
        return [*form, studio.validation_markdown(kind, text, actor=user)]

    code.input(on_yaml, [token, code], [*form_comps, valid_md], show_progress="hidden")

    def refreshed(cid, user):
        return gr.update(choices=studio.items(kind, actor=user), value=cid)

    def on_list(tok):
        return gr.update(choices=studio.items(kind, actor=me(tok)))

    pick.focus(on_list, token, pick)          # the list is read when it is opened: trainers only

    def on_save(tok, text, why, publish):
        user = me(tok)
        try:
            rev = studio.save(kind, text, author=user, note=why, publish=publish)
        except (ContentError, ValueError, LookupError) as exc:
            return _err(exc), gr.update(), *history_out(None, user)
        what = "published — practice calls use it now" if rev.status == "published" else "saved as a draft (not served to trainees)"
        return (f"✓ {kind} **{rev.content_id}** revision {rev.revision} {what}.", refreshed(rev.content_id, user),
                *history_out(rev.content_id, user))

    save_outputs = [action_md, pick, hist, rev_a, rev_b]

    def on_save_draft(tok, text, why):
        return on_save(tok, text, why, False)

    def on_publish(tok, text, why):
        return on_save(tok, text, why, True)

    save_btn.click(on_save_draft, [token, code, note], save_outputs)
    publish_btn.click(on_publish, [token, code, note], save_outputs)

    def on_retire(tok, text):
        user = me(tok)
        try:
            cid = _content_id(text)
            rev, warn = studio.retire(kind, cid, author=user)
        except (ValueError, LookupError) as exc:
            return _err(exc), gr.update(), *history_out(None, user)
        msg = f"✓ {kind} **{cid}** retired (revision {rev.revision}): no new sessions use it; its history and past calls stay."
        return (msg + (f"\n\n⚠ {esc(warn)}" if warn else ""), refreshed(cid, user), *history_out(cid, user))

    retire_btn.click(on_retire, [token, code], save_outputs)

    def on_delete(tok, text):
        user = me(tok)
        try:
            cid = _content_id(text)
            n = studio.delete(kind, cid, author=user)
        except InUse as exc:
            return f"✗ {esc(str(exc))}", gr.update(), *history_out(None, user)
        except (ValueError, LookupError) as exc:
            return _err(exc), gr.update(), *history_out(None, user)
        return f"Deleted {kind} **{cid}** ({n} revision(s)).", refreshed(None, user), *history_out(None, user)

    delete_btn.click(on_delete, [token, code], save_outputs)

    def on_clone(tok, text, new_id):
        user = me(tok)
        try:
            rev = studio.clone(kind, _content_id(text), new_id, author=user)
        except (ValueError, LookupError, ContentError) as exc:
            return [gr.update()] * len(load_outputs) + [_err(exc), gr.update()]
        return [*load(rev.yaml_text, rev.content_id, user), f"✓ Cloned as **{rev.content_id}** (draft revision {rev.revision}).",
                refreshed(rev.content_id, user)]

    clone_btn.click(on_clone, [token, code, clone_id], [*load_outputs, action_md, pick])

    def on_export(tok, text):
        """The editor's YAML as a download, written under FRONTLINE_HOME/tmp (0700), named by its checked id only."""
        me(tok)
        try:
            cid = _content_id(text)
        except ValueError as exc:
            return None, _err(exc)
        folder = private_dir(app.settings.home, "export")
        out = folder / f"{cid}.yaml"
        if out.resolve().parent != folder.resolve():      # belt and braces: the id pattern already forbids paths
            raise PermissionDenied("the export must stay in its folder")
        write_private(out, text)                          # exactly what is in the editor
        return str(out), f"Exported the editor's YAML as `{out.name}`."

    export_btn.click(on_export, [token, code], [export_file, action_md])

    def on_import(tok, path):
        user = me(tok)
        if not path:
            return [gr.update()] * len(load_outputs) + [gr.update(), gr.update()]
        try:
            rev = studio.import_file(Path(path), author=user, kind=kind)
        except (ContentError, ValueError) as exc:
            return [gr.update()] * len(load_outputs) + [_err(exc), gr.update()]
        return [*load(rev.yaml_text, rev.content_id, user), f"✓ Imported **{rev.content_id}** as draft revision {rev.revision}.",
                refreshed(rev.content_id, user)]

    import_file.upload(on_import, [token, import_file], [*load_outputs, action_md, pick])

    def on_diff(tok, text, a, b):
        user = me(tok)
        if a is None or b is None:
            return "Pick two revisions."
        try:
            return "```diff\n" + studio.diff(kind, _content_id(text), a, b, actor=user) + "```"
        except (ValueError, LookupError) as exc:
            return _err(exc)

    diff_btn.click(on_diff, [token, code, rev_a, rev_b], diff_md)

    def on_rollback(tok, text, a):
        user = me(tok)
        try:
            cid = _content_id(text)
            rev = studio.rollback(kind, cid, a, author=user)
        except (ValueError, LookupError, TypeError) as exc:
            return [gr.update()] * len(load_outputs) + [_err(exc)]
        return [*load(rev.yaml_text, cid, user), f"Revision {rev.revision} is a copy of revision {a} (a draft: publish it to serve it)."]

    rollback_btn.click(on_rollback, [token, code, rev_a], [*load_outputs, action_md])

    if kind == "persona":
        def on_draft(tok, text_sentence, progress=gr.Progress()):
            user = me(tok)
            try:
                result = studio.draft(text_sentence, actor=user, on_progress=lambda msg: progress(0.5, desc=msg))
            except ValueError as exc:
                return [gr.update()] * len(load_outputs) + [_err(exc), gr.update()]
            head = "⚠ " if result.source == "template" else ""
            extra = ""
            if result.problems:
                extra = f"\n\n<details><summary>What was wrong with the model's answers ({len(result.problems)})</summary>\n\n" + \
                        "\n".join(f"- {esc(str(p))}" for p in result.problems[:15]) + "\n</details>"
            return [*load(result.yaml_text, None, user), f"{head}**{esc(result.label)}**{extra}", gr.update(value=None)]

        draft_btn.click(on_draft, [token, sentence], [*load_outputs, draft_md, pick])
        _try_and_autoplay(studio, code, token, me)
    return ed


def _try_and_autoplay(studio: Studio, code: gr.Code, token: gr.State, me) -> None:
    with gr.Accordion("Try it — you play the agent against the persona in the editor", open=False):
        with gr.Row(equal_height=True):
            try_model = gr.Checkbox(label="Customer lines from the model (off: the director's own lines, instant)", value=True, scale=3)
            try_start = gr.Button("Start try-out", variant="primary", scale=1)
        try_id = gr.State("")
        try_meter = gr.HTML()
        try_chat = gr.Chatbot(label="Try-out (not saved, not graded)", height=340)
        with gr.Row(equal_height=True):
            try_msg = gr.Textbox(label="You (the agent)", scale=5, max_lines=2, placeholder="Type and press Enter")
            try_send = gr.Button("Send", scale=1)
        try_status = gr.Markdown()

    def on_try_start(tok, text, use_model):
        user = me(tok)
        try:
            rid = studio.start_try(text, actor=user, use_model=use_model)
        except ContentError as exc:
            return "", [], "", _err(exc)
        r = studio.rehearsal(rid, actor=user)
        return rid, [], mood_bar(r.persona.mood), f"{esc(r.persona.name)} is on the line. You speak first."

    try_start.click(on_try_start, [token, code, try_model], [try_id, try_chat, try_meter, try_status])

    def on_try_send(tok, rid, msg, hist):
        user = me(tok)
        try:
            line = studio.try_say(rid, msg, actor=user)
        except ValueError as exc:
            return gr.update(), msg, gr.update(), _err(exc)
        r = studio.rehearsal(rid, actor=user)
        hist = list(hist or []) + [{"role": "user", "content": chat_text(r.lines[-2].text)},
                                   {"role": "assistant", "content": chat_text(line.text)}]
        status = f"The director chose: **{(line.beat or '').replace('_', ' ')}** (mood {line.mood:.1f})" + \
            (f" · {esc(line.note)}" if line.note else "")
        if r.ended:
            status += f" · **call ended: {r.end_reason}**"
        return hist, "", mood_bar(line.mood or 0), status

    for ev in (try_msg.submit, try_send.click):
        ev(on_try_send, [token, try_id, try_msg, try_chat], [try_chat, try_msg, try_meter, try_status])

    with gr.Accordion("Auto-play — a good agent and a rude agent call this persona", open=False):
        with gr.Row(equal_height=True):
            auto_model = gr.Checkbox(label="Word the customer's lines with the model (slower; the mood comes from the director either way)",
                                     value=False, scale=3)
            auto_btn = gr.Button("Run auto-play", variant="primary", scale=1)
        verdict = gr.Markdown()
        plot = gr.LinePlot(x="customer turn", y=MOOD_Y, color="agent", title="Customer mood: good agent vs rude agent",
                           color_map={"good agent": "#2e7d32", "rude agent": "#c62828"}, sort="x",
                           y_lim=[0, 10], height=280)
        with gr.Row():
            good_chat = gr.Chatbot(label="Good agent", height=360)
            rude_chat = gr.Chatbot(label="Rude agent", height=360)

    def on_auto(tok, text, use_model, progress=gr.Progress()):
        try:
            res = studio.autoplay(text, actor=me(tok), use_model=use_model,
                                  on_progress=lambda who, i, n: progress((i + (n if who == "rude agent" else 0)) / (2 * n),
                                                                         desc=f"{who}: line {i + 1} of {n}"))
        except ContentError as exc:
            return _err(exc), None, [], []
        return res.verdict(), res.frame(), res.chat("good agent"), res.chat("rude agent")

    auto_btn.click(on_auto, [token, code, auto_model], [verdict, plot, good_chat, rude_chat])


def build_studio_tab(app, studio: Studio | None = None, *, token: gr.State, tab: bool = True) -> Studio:
    """The Studio tab: personas and scenarios through a form and YAML, with history, try-out and auto-play.
    Every event takes the signed-in session (`token`); the studio's functions check the role and record every revision
    against the signed-in trainer."""
    studio = studio or Studio(app)
    ctx = gr.Tab("Studio") if tab else gr.Column()
    with ctx:
        gr.Markdown("### Content studio\nEdit personas, scenarios and curricula through the form or the YAML. Every save is a revision; "
                    "only **published** revisions reach trainees. Try a draft, or auto-play it, before you publish.")
        with gr.Tabs():
            for kind in [k for k in KINDS if k in FORMS]:          # a registered kind with a form gets an editor
                with gr.Tab(kind_of(kind).plural):
                    _editor(app, studio, kind, token)
    return studio


# ---------------------------------------------------------------------- coaching panel
@dataclass
class CoachingPanel:
    mode: str
    call_id: gr.State | None = None
    checklist: gr.Markdown | None = None
    hint: gr.Markdown | None = None
    app: object = None
    token: gr.State | None = None

    @property
    def active(self) -> bool:
        return self.mode == coaching.PRACTICE and self.checklist is not None

    def refresh(self, tok: str | None, cid: str):
        """The checklist of the signed-in trainee's own call (coaching.call_checklist checks who asks)."""
        if not cid:
            return "", ""
        try:
            user = current_user(self.app, tok)
            return coaching.checklist_markdown(coaching.call_checklist(self.app, cid, actor=user)), gr.update()  # type: ignore[arg-type]
        except coaching.CoachingOff:
            return "", ""
        except PermissionError:
            raise
        except Exception as exc:  # noqa: BLE001 - the panel must never break the call
            log.warning("coaching checklist failed: %s", exc)
            return gr.update(), gr.update()

    def attach(self, *events) -> None:
        """Refresh the checklist after each of these events (start, each turn). No-op in assessment mode."""
        if not self.active:
            return
        for ev in events:
            ev.then(self.refresh, [self.token, self.call_id], [self.checklist, self.hint], show_progress="hidden")


def build_coaching_panel(app, call_id: gr.State, *, mode: str = coaching.PRACTICE, token: gr.State | None = None) -> CoachingPanel:
    """An optional side panel for practice calls: the script checklist and hints on request.
    In assessment mode it builds nothing visible and attaches nothing."""
    if mode != coaching.PRACTICE:
        return CoachingPanel(mode=mode)
    if token is None:
        raise TypeError("the coaching panel needs the session token: its hints are the signed-in trainee's own")
    with gr.Accordion("Coaching (practice mode)", open=True):
        checklist = gr.Markdown("Start a call to see the script checklist.")
        hint_btn = gr.Button("Hint", size="sm")
        hint_md = gr.Markdown()
    panel = CoachingPanel(mode=mode, call_id=call_id, checklist=checklist, hint=hint_md, app=app, token=token)

    def on_hint(tok, cid):
        if not cid:
            return "Start a call first."
        try:
            return "\n".join(f"- {esc(h)}" for h in coaching.call_hints(app, cid, actor=current_user(app, tok)))
        except coaching.CoachingOff as exc:
            return esc(str(exc))

    hint_btn.click(on_hint, [token, call_id], hint_md)
    return panel
