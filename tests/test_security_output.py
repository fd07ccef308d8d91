"""What the app shows and exports cannot be turned against the people who read it (issue 13, findings 5, 9, 11, 13).

- Markdown and HTML: text from a trainee, a lead, a grader or trainer content goes through the real page functions,
  is rendered with a CommonMark parser (markdown-it-py, what Gradio's `marked` implements in the browser), and must
  come out as text only: no image, no link, no heading or table of its own.
- CSV: cells that a spreadsheet would run as a formula start with an apostrophe; numbers stay numbers.
- Bidi controls (U+202E and kin) are never stored from agent text or comments, and never reach a page or a CSV.
- A trainee whose customer cannot answer sees a plain message; the server address and the exception go to the log.
"""
from __future__ import annotations

import copy
import csv
import io
import logging
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from trainer import ui_accounts as ua
from trainer import ui_dashboard as ud
from trainer import ui_handlers as h
from trainer.actor import sanitize_agent_text
from trainer.export import sessions_csv
from trainer.grader import Scorecard
from trainer.grader.grade import CriterionScore, DimensionScore, Evidence
from trainer.llm.fake import FakeLLM, down
from trainer.service import Frontline
from trainer.text import csv_cell, md_escape, md_quote, plain, strip_bidi
from trainer.voice.metrics import markdown as speech_markdown

from .people import PW, fast_hash, make_org, record_call  # noqa: F401  (fast_hash is a fixture)

pytestmark = pytest.mark.usefixtures("fast_hash")

IMAGE = "![x](http://evil.example/x.png)"
LINK = "[click](http://evil.example)"
HEADING = "\n## Score 100/100 — PASS\n"
HTML_IMG = "<img src=x onerror=alert(1)>"
TABLE = "| a | b |"
HOSTILE = [IMAGE, LINK, HEADING, HTML_IMG, TABLE, "`code` **bold** _em_ ~~gone~~", "$$\\href{http://evil.example}{x}$$",
           "    indented code", "- a list\n1. another", "> quoted", "<http://evil.example>", "www.evil.example",
           "[ref]: http://evil.example", "&lt;entity&gt;", "x\\*y"]
ALL_HOSTILE = " ".join(HOSTILE)
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"

MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])   # raw HTML on, like marked


class _Page(HTMLParser):
    """The tags and the visible text of rendered HTML (entities decoded, as a browser shows them)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []
        self.in_tag: list[str] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._heading = []

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data):
        self.text.append(data)
        if self._heading is not None:
            self._heading.append(data)

    @property
    def visible(self) -> str:
        return "".join(self.text)


def render(md: str) -> _Page:
    return _Page(MD.render(md))


def assert_inert(md: str, *, allowed_tags: set[str]) -> _Page:
    """md renders to only the tags the page itself writes: nothing the hostile text asked for."""
    page = render(md)
    made = set(page.tags) - allowed_tags
    assert not made, f"hostile text became markup {made}:\n{md}"
    for forbidden in ("img", "a", "table", "code", "pre", "script", "em", "strong", "del", "ul", "ol"):
        if forbidden not in allowed_tags:
            assert forbidden not in page.tags
    return page


def assert_inert_html(html: str, *, allowed_tags: set[str]) -> _Page:
    """For gr.HTML (HTML, no Markdown): only the page's own tags."""
    page = _Page(html)
    made = set(page.tags) - allowed_tags
    assert not made, f"hostile text became markup {made}:\n{html}"
    return page


def assert_no_raw_markup(s: str) -> None:
    """The escaped text itself holds nothing a Markdown or HTML parser acts on (marked, not only markdown-it)."""
    for token in ("![", "](", "[", "]", "<img", "<", "`", "|", "$$", "**"):
        assert token not in s, (token, s)
    assert not any(line.lstrip().startswith("#") for line in s.splitlines())


# ---------------------------------------------------------------------- the escaping functions
@pytest.mark.parametrize("hostile", HOSTILE)
def test_md_escape_renders_as_the_text_itself(hostile):
    escaped = md_escape(hostile)
    assert "\n" not in escaped
    assert_no_raw_markup(escaped)
    page = assert_inert(f"Name: {escaped}\n", allowed_tags={"p"})
    assert page.visible.strip() == ("Name: " + plain(hostile)).strip()       # it reads as written, on one line


@given(st.text(alphabet=st.sampled_from(list("abc XYZ019!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\t\n") + ["é", "—", "★", "\u202e"]),
               max_size=60))
@settings(max_examples=300, deadline=None, derandomize=True)
def test_any_text_escaped_is_one_plain_paragraph(text):
    page = render(md_escape(text))
    assert set(page.tags) <= {"p"}
    assert " ".join(page.visible.split()) == " ".join(plain(text).split())


def test_md_quote_keeps_every_line_inside_the_quote():
    md = "### Coaching comments\n\n" + md_quote("Good effort." + HEADING + "Pass mark 70.\n\n" + IMAGE + "\n---\n</blockquote>")
    page = assert_inert(md, allowed_tags={"h3", "blockquote", "p", "br"})
    assert page.headings == ["Coaching comments"]
    assert page.tags.count("blockquote") == 1
    assert all(line == ">" or line.startswith("> ") for line in md.splitlines()[2:])


def test_strip_bidi_removes_every_bidi_control_and_nothing_else():
    assert strip_bidi(f"a{BIDI}b — ★ é") == "ab — ★ é"
    assert strip_bidi(None) == ""
    assert md_escape(f"\u202egnp.exe") == "gnp&#46;exe"
    assert plain("x\u2067y\nz") == "xy z"


# ---------------------------------------------------------------------- finding 5, end to end
@pytest.fixture
def org(store, catalog):
    return make_org(store, catalog)


def test_a_trainees_line_is_text_in_the_leads_dashboard(org):
    """Seen: a trainee's line loaded an outside image in the lead's dashboard (the transcript and the scorecard)."""
    app = org.app
    ann_tok, lead_tok = org.token(org.ann), org.token(org.lead_a)
    call_id, history, _, _ = h.start_call(app, ann_tok, "double-billed-dana")
    line = f"Thank you for calling Brightwave, I'm Ann. {IMAGE} {LINK} {HTML_IMG} {TABLE}"
    list(h.stream_turn(app, ann_tok, call_id, line, history))
    h.end_and_grade(app, ann_tok, call_id)
    chat, card_md, _ = h.open_call(app, lead_tok, call_id)
    agent = [m["content"] for m in chat if m["role"] == "user"]
    assert agent and all("evil" in m for m in agent)                      # the line is shown...
    for m in agent:                                                        # ...as text (the Chatbot renders Markdown)
        assert_no_raw_markup(m)
        assert "Brightwave, I'm Ann. ![x](http://evil.example/x.png)" in assert_inert(m, allowed_tags={"p"}).visible
    assert_inert(card_md, allowed_tags={"h2", "h3", "h4", "p", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th",
                                        "td", "strong", "em", "code", "blockquote"})
    assert "<img" not in MD.render(card_md) and "<a " not in MD.render(card_md)


def test_a_leads_comment_cannot_forge_a_score_heading(org):
    """Seen: a lead's comment put "## Score 100/100 — PASS" above the real 25/100."""
    app = org.app
    call = record_call(app, org.ann, "double-billed-dana", 25)
    app.dashboard.add_comment(org.lead_a, call, "Good effort." + HEADING + "Pass mark 70. " + IMAGE)
    _, md, _ = h.open_call(app, org.token(org.ann), call)
    page = render(md)
    scores = [x for x in page.headings if x.startswith("Score")]
    assert scores == ["Score 25/100 — FAIL"]
    assert "img" not in page.tags
    quote = MD.render(md).split("<blockquote>", 1)[1].split("</blockquote>", 1)[0]
    assert "## Score 100/100 — PASS" in _Page(quote).visible                 # the comment, as written, inside its quote


def _hostile_catalog(catalog):
    """The seed catalog with trainer-written fields that try to load images, add links and forge headings."""
    cat = copy.copy(catalog)
    cat.personas, cat.scenarios, cat.curricula = dict(catalog.personas), dict(catalog.scenarios), dict(catalog.curricula)
    sc = catalog.scenarios["double-billed-dana"]
    p = catalog.persona_for(sc)
    cat.personas[p.id] = p.model_copy(update={
        "name": f"Dana {IMAGE}",
        "company": p.company.model_copy(update={"name": f"Brightwave {IMAGE}"}),
        "brief": p.brief.model_copy(update={"summary": f"Summary {HEADING} {LINK}", "crm": {f"Plan {TABLE}": f"{HTML_IMG} {IMAGE}"}}),
    })
    cat.scenarios[sc.id] = sc.model_copy(update={
        "title": f"Charged @SUM(1) {IMAGE}",
        "call_script": [s.model_copy(update={"label": f"{s.label} {LINK}"}) for s in sc.call_script]})
    first_cid = sorted(cat.curricula)[0]
    cur = cat.curricula[first_cid]
    cat.curricula[first_cid] = cur.model_copy(update={
        "title": f"Week {IMAGE}\u202e",
        "modules": [m.model_copy(update={"title": f"{m.title} {LINK}\n# forged"}) for m in cur.modules]})
    return cat


def test_trainer_content_is_text_in_trainees_pages(store, catalog):
    """Seen: trainer content loaded outside images in trainees' pages (the brief, the call intro, what next)."""
    org = make_org(store, _hostile_catalog(catalog))
    app, tok = org.app, org.token(org.ann)
    brief = h.brief_markdown(app, "double-billed-dana")
    page = assert_inert(brief, allowed_tags={"h3", "p", "strong", "table", "thead", "tbody", "tr", "th", "td", "details",
                                             "summary", "ol", "li"})
    assert page.headings == [f"Charged @SUM(1) {IMAGE}"]                 # the title, shown as written
    assert page.tags.count("tr") == 2                                      # the header and the one CRM row: no forged cells
    assert "Brightwave ![x]" in page.visible and "Plan | a | b |" in page.visible
    _, history, _, _ = h.start_call(app, tok, "double-billed-dana")
    assert_inert(history[0]["content"], allowed_tags={"p"})
    nxt = ud.what_next_markdown(app, tok)
    page = assert_inert(nxt, allowed_tags={"h3", "ul", "li", "p", "strong", "em"})
    assert page.headings == ["What next"] and "Week ![x]" in page.visible
    assert_inert(ud.next_hint_markdown(app, tok), allowed_tags={"p", "strong", "em"})
    assert_inert_html(ud.progress_html(app, tok), allowed_tags={"div", "h3", "table", "tr", "th", "td", "b", "br", "span"})
    for label, _ in h.module_choices(app, tok) + ud.assignable(app):       # dropdowns show text: one line, no bidi
        assert "\n" not in label and "\u202e" not in label


def test_the_module_result_line_escapes_the_curriculum(store, catalog):
    org = make_org(store, _hostile_catalog(catalog))
    app = org.app
    cid = sorted(app.catalog.curricula)[0]
    mod = app.catalog.curricula[cid].modules[0]
    call = record_call(app, org.ann, mod.scenario, 90, curriculum_id=cid, module_id=mod.id)
    line = h.module_result_markdown(app, org.ann, app.store.get_call(call))
    page = assert_inert(line, allowed_tags={"p", "strong"})
    assert page.headings == [] and "Week ![x]" in page.visible


def test_a_hostile_scorecard_is_text():
    """Grader output (model-written notes, quotes of the trainee) and rubric fields, all through scorecard_markdown."""
    card = Scorecard(
        rubric_id=f"default{IMAGE}", rubric_version=1, rubric_hash="h", grader_model=f"judge {LINK}", overall=25,
        raw_overall=25, pass_score=70, passed=False,
        fatal_errors=[CriterionScore(id="verify", dimension="compliance", description=f"Verify {HEADING}", weight=1,
                                     verdict="not_met", fatal=True, evidence=[Evidence(turn=1, quote=IMAGE)])],
        dimensions=[DimensionScore(id="empathy", label=f"Empathy {TABLE}", score=25, scale5=2)],
        criteria=[CriterionScore(id="c", dimension="empathy", description=f"Listen {HTML_IMG}", weight=1, verdict="not_met",
                                 note=f"note {HEADING}", evidence=[Evidence(turn=2, quote=f"{LINK} {IMAGE}")])],
        coaching=[f"Try {IMAGE}", HEADING], flags=[f"flag {HTML_IMG}"],
        speech={"fillers": {IMAGE: 1}, "dead_air": [], "talk_over": [], "duration_s": 10})
    md = h.scorecard_markdown(card)
    page = assert_inert(md, allowed_tags={"h2", "h3", "h4", "p", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th",
                                          "td", "strong", "em", "code"})
    assert [x for x in page.headings if "Score" in x] == ["Score 25/100 — FAIL"]
    assert f"Empathy {TABLE}" in page.headings                              # the dimension heading, as written
    assert f"default{IMAGE}" in page.visible and f"judge {LINK}" in page.visible


def test_speech_metrics_escape_their_words():
    md = speech_markdown({"fillers": {IMAGE: 2, f"um {TABLE}": 1}, "dead_air": [], "talk_over": [], "duration_s": 30,
                          "filler_count": 3})
    page = assert_inert(md, allowed_tags={"h3", "p", "em", "table", "thead", "tbody", "tr", "th", "td"})
    assert page.tags.count("tr") == 7 and IMAGE in page.visible              # header + 6 metric rows, none forged


def test_display_and_team_names_are_text_in_the_header(org):
    app = org.app
    app.accounts.create_team(org.admin, f"Team {IMAGE}")
    user = app.accounts.create_user(org.admin, "eve", PW, "trainee", display_name=f"Eve {LINK} {HTML_IMG}", team=f"Team {IMAGE}")
    page = assert_inert(ua.whoami_markdown(app, user), allowed_tags={"p", "strong"})
    assert f"Eve {LINK} {HTML_IMG}" in page.visible and f"Team {IMAGE}" in page.visible


def test_dashboard_choices_and_tables_are_plain_text(org):
    app = org.app
    eve = app.accounts.create_user(org.admin, "eve", PW, "trainee", display_name="Eve", team="A")
    with app.store.session() as s:                                          # a name stored before names were cleaned
        row = s.get(type(eve), eve.id)
        row.display_name = "Eve\u202e evil\nname"
        s.add(row)
        s.commit()
    tok = org.token(org.lead_a)
    assert ("Eve evil name", "eve") in ud.trainee_choices(app, tok, None)
    assert "Eve evil name" in set(ud.team_table(app, tok, None)["trainee"])


# ---------------------------------------------------------------------- finding 9: CSV cells
def test_csv_cells_cannot_start_formulas(store, catalog):
    org = make_org(store, _hostile_catalog(catalog))
    app = org.app
    app.accounts.create_team(org.admin, "+cmd")
    eve = app.accounts.create_user(org.admin, "eve", PW, "trainee", display_name='=HYPERLINK("http://evil.example","x")', team="+cmd")
    record_call(app, eve, "double-billed-dana", 82)
    rows = list(csv.DictReader(io.StringIO(sessions_csv(app.store, app.catalog, app.accounts, org.admin))))
    row = next(r for r in rows if r["username"] == "eve")
    assert row["trainee"] == '\'=HYPERLINK("http://evil.example","x")'
    assert row["team"] == "'+cmd"
    assert row["scenario_title"].startswith("Charged @SUM(1)")              # a formula sign mid-text is harmless
    assert float(row["overall"]) == 82 and row["passed"] == "True" and float(row["pass_score"]) == 70   # numbers stay numbers
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())


def test_a_scenario_title_that_starts_a_formula_is_neutralised(store, catalog):
    cat = _hostile_catalog(catalog)
    sc = cat.scenarios["double-billed-dana"]
    cat.scenarios[sc.id] = sc.model_copy(update={"title": "@SUM(1)"})
    org = make_org(store, cat)
    record_call(org.app, org.ann, "double-billed-dana", 40)
    rows = list(csv.DictReader(io.StringIO(sessions_csv(org.app.store, org.app.catalog, org.app.accounts, org.admin))))
    assert [r["scenario_title"] for r in rows] == ["'@SUM(1)"]


def test_csv_cell_rule():
    for bad in ("=1+1", "+cmd", "-2+3", "@SUM(1)", "\t=1", "\r=1", "  =1", "\u202e=1", "\uff1d1"):
        assert csv_cell(bad).startswith("'"), bad
    assert [csv_cell(v) for v in (82.5, -3, True, None, "Ann", "2026-01-01T10:00:00+00:00", "")] == \
           [82.5, -3, True, None, "Ann", "2026-01-01T10:00:00+00:00", ""]


# ---------------------------------------------------------------------- finding 13: bidi controls
def test_bidi_controls_never_reach_the_transcript_the_scorecard_or_the_csv(org):
    app = org.app
    ann_tok = org.token(org.ann)
    assert sanitize_agent_text(f"Hello{BIDI} there") == "Hello there"
    call_id, history, _, _ = h.start_call(app, ann_tok, "double-billed-dana")
    history, _, _ = list(h.stream_turn(app, ann_tok, call_id, f"Thank you for calling Brightwave,\u202e I'm Ann{BIDI}.", history))[-1]
    md, _ = h.end_and_grade(app, ann_tok, call_id)
    stored = [t.text for t in app.store.turns(call_id)]
    assert stored and not any(c in t for t in stored for c in BIDI)
    assert not any(c in m["content"] for m in history for c in BIDI) and not any(c in md for c in BIDI)
    out = sessions_csv(app.store, app.catalog, app.accounts, org.admin)
    assert not any(c in out for c in BIDI)


def test_bidi_controls_are_stripped_from_comments_before_they_are_stored(org):
    app = org.app
    call = record_call(app, org.ann, "double-billed-dana", 55)
    app.dashboard.add_comment(org.lead_a, call, "Good\u202e call\u2066, well done")
    assert [c["text"] for c in app.dashboard.comments(org.ann, call)] == ["Good call, well done"]


def test_bidi_controls_in_a_display_name_are_not_exported(org):
    app = org.app
    eve = app.accounts.create_user(org.admin, "eve", PW, "trainee", display_name="Eve", team="A")
    with app.store.session() as s:                                          # as stored by an older version
        row = s.get(type(eve), eve.id)
        row.display_name = "\u202eEve"
        s.add(row)
        s.commit()
    record_call(app, eve, "double-billed-dana", 55)
    rows = list(csv.DictReader(io.StringIO(sessions_csv(app.store, app.catalog, app.accounts, org.admin))))
    assert [r["trainee"] for r in rows if r["username"] == "eve"] == ["Eve"]


# ---------------------------------------------------------------------- finding 11: what a trainee is shown
SERVER = "http://10.20.30.40:8081/v1"
PATH = "/srv/frontline/trainer/llm/openai_backend.py"


def _trainee_app(store, catalog, backend) -> tuple[Frontline, str]:
    app = Frontline(store=store, catalog=catalog, customer_backend=backend, use_judge=False, sleep=lambda s: None)
    admin = app.accounts.create_admin("boss", PW)
    app.accounts.create_user(admin, "sam", PW, "trainee", display_name="Sam")
    return app, app.accounts.login("sam", PW)


def test_model_down_shows_a_plain_message_and_logs_the_server(store, catalog, caplog):
    app, tok = _trainee_app(store, catalog, FakeLLM([down(f"cannot reach the model server at {SERVER} (ConnectError)")] * 3))
    call_id, history, _, _ = h.start_call(app, tok, "double-billed-dana")
    with caplog.at_level(logging.INFO):
        history, _, info = list(h.stream_turn(app, tok, call_id, "Hello, Brightwave, Sam speaking.", history))[-1]
    assert info["error"] == "The customer could not answer (the model is not responding). Your call is saved: press Retry reply."
    assert "10.20.30.40" not in info["error"] and "http" not in info["error"]
    assert not any("10.20.30.40" in m["content"] for m in history)
    assert SERVER in caplog.text                                            # whoever runs the app can see why


def test_an_unexpected_error_shows_a_plain_message_and_logs_the_details(store, catalog, caplog):
    boom = AttributeError(f"'dict' object has no attribute 'encode' ({PATH})")
    app, tok = _trainee_app(store, catalog, FakeLLM([boom]))
    call_id, history, _, _ = h.start_call(app, tok, "double-billed-dana")
    with caplog.at_level(logging.WARNING):
        history, _, info = list(h.stream_turn(app, tok, call_id, "Hello, Brightwave, Sam speaking.", history))[-1]
    assert info["error"] and "Retry reply" in info["error"]
    for secret in ("dict", "encode", PATH, "AttributeError"):
        assert secret not in info["error"]
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[1] is boom]
    assert logged and PATH in caplog.text                                   # with the traceback, for whoever runs the app
