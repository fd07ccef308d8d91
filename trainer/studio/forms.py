"""Form fields <-> YAML, and live validation that points at the field and says the fix.

A form is a list of FieldSpecs, each bound to a dotted path in the YAML (`facts.full_name`,
`triggers.calm.apology`). The YAML text stays the source of truth: applying a form changes only the
paths whose value the trainer changed, so the rest (fields the form does not show) is kept.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer as RuamelComposer
from ruamel.yaml.error import YAMLError as RuamelError
from ruamel.yaml.events import AliasEvent as RuamelAliasEvent

from ..content import ContentError, ContentProblem, YamlRefused, guard_compose, parse_yaml_text, validate_data
from ..persona import (CALMING_TRIGGERS, DEFAULT_CALM, DEFAULT_INFLAME, INFLAMING_TRIGGERS, Persona, ScenarioType)
from ..scenario import STEP_KINDS, Scenario
from .kinds import ContentKind, kind_of

MISSING = object()


@dataclass(frozen=True)
class FieldSpec:
    path: str                          # dotted path into the YAML mapping
    label: str
    widget: str = "text"               # text | textarea | number | slider | choice | bool | lines | csv | pairs | table
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    integer: bool = False
    columns: tuple[str, ...] = ()      # table: column names (keys of each row's mapping)
    csv_columns: tuple[str, ...] = ()  # table: columns holding lists, written comma-separated
    bool_columns: tuple[str, ...] = ()
    empty: str = "remove"              # what an empty value writes: remove (the key) | null
    default: Any = None                # shown when the YAML leaves the field out
    info: str = ""
    group: str = ""                    # the form section it belongs to

    @property
    def key(self) -> str:
        return self.path


@dataclass
class FormSpec:
    kind: str
    fields: list[FieldSpec]
    optional_groups: dict[str, str] = field(default_factory=dict)   # mapping path -> the field that must be set for it to exist

    def by_path(self) -> dict[str, FieldSpec]:
        return {f.path: f for f in self.fields}


def _persona_form() -> FormSpec:
    g = "Who"
    fs = [
        FieldSpec("id", "Id", info="lowercase, e.g. double-billed-dana", group=g),
        FieldSpec("name", "Display name", group=g),
        FieldSpec("scenario_type", "Call type", "choice", choices=tuple(t.value for t in ScenarioType), group=g),
        FieldSpec("difficulty", "Difficulty", "slider", minimum=1, maximum=5, step=1, integer=True, default=2, group=g),
        FieldSpec("company.name", "Company", group=g),
        FieldSpec("company.product", "Product", group=g),
        FieldSpec("company.context", "Policies the agent works under", "textarea", group=g),
    ]
    g = "Facts (the customer never contradicts these)"
    fs += [
        FieldSpec("facts.full_name", "Full name", group=g),
        FieldSpec("facts.account_number", "Account number", group=g),
        FieldSpec("facts.verification", "Security answers", "pairs", info="one per line: question: answer", group=g),
        FieldSpec("facts.phone", "Phone", group=g),
        FieldSpec("facts.email", "Email", group=g),
        FieldSpec("facts.address", "Address", group=g),
        FieldSpec("facts.plan", "Plan", group=g),
        FieldSpec("facts.amounts", "Amounts", "pairs", info="one per line, e.g. duplicate charge: £42.00", group=g),
        FieldSpec("facts.dates", "Dates", "pairs", group=g),
        FieldSpec("facts.order_ids", "Order / ticket ids", "pairs", group=g),
        FieldSpec("facts.history", "History", "lines", info="earlier contacts and events, one per line, oldest first", group=g),
    ]
    g = "Problem and goal"
    fs += [
        FieldSpec("calling_about", "Calling about", info="finishes 'I'm calling about …'", default="my account", group=g),
        FieldSpec("problem", "Problem", "textarea", group=g),
        FieldSpec("goal.description", "What satisfies them", group=g),
        FieldSpec("goal.accepts", "Words that mean the fix is offered", "csv", info="comma-separated, e.g. refund, credit", group=g),
        FieldSpec("goal.requires_timeline", "Needs a concrete timeline", "bool", default=True, group=g),
        FieldSpec("goal.requires_reference", "Wants a reference number", "bool", default=False, group=g),
        FieldSpec("hidden_details", "Hidden details (said only when asked)", "table", columns=("topic", "asked_by", "detail"),
                  csv_columns=("asked_by",), group=g),
    ]
    g = "Mood and triggers"
    fs += [
        FieldSpec("mood", "Starting mood (0 calm … 10 furious)", "slider", minimum=0, maximum=10, step=0.5, group=g),
        FieldSpec("patience", "Patience (1 … 10)", "slider", minimum=1, maximum=10, step=0.5, group=g),
        FieldSpec("supervisor.demand_at_mood", "Asks for a supervisor at mood", "number", minimum=0, maximum=10, empty="null",
                  default=9.0, info="blank = never", group=g),
        FieldSpec("supervisor.accepts_transfer", "Accepts a transfer", "bool", default=True, group=g),
    ]
    fs += [FieldSpec(f"triggers.calm.{t}", t.replace("_", " "), "number", minimum=0, maximum=5, step=0.25, default=DEFAULT_CALM[t],
                     group="Calming triggers (mood points)") for t in CALMING_TRIGGERS]
    fs += [FieldSpec(f"triggers.inflame.{t}", t.replace("_", " "), "number", minimum=0, maximum=5, step=0.25, default=DEFAULT_INFLAME[t],
                     group="Inflaming triggers (mood points)") for t in INFLAMING_TRIGGERS]
    g = "Speech"
    fs += [
        FieldSpec("speech.style", "How they talk", group=g),
        FieldSpec("speech.example_lines", "Example lines (2–6)", "lines", group=g),
    ]
    g = "Offer (optional)"
    fs += [
        FieldSpec("offer.product", "Product to offer", info="leave blank for no offer", group=g),
        FieldSpec("offer.keywords", "Words that mean it is offered", "csv", group=g),
        FieldSpec("offer.openness", "Openness (0 never … 10 keen)", "slider", minimum=0, maximum=10, step=1, integer=True, default=5, group=g),
        FieldSpec("offer.needs", "Needs the offer fits", "lines", group=g),
        FieldSpec("offer.objections", "Objections, in order", "lines", group=g),
        FieldSpec("offer.accepts_if", "Words that overcome the objection", "csv", group=g),
    ]
    g = "Agent's brief and CRM card"
    fs += [
        FieldSpec("brief.direction", "Direction", "choice", choices=("inbound", "outbound"), default="inbound", group=g),
        FieldSpec("brief.summary", "Brief", "textarea", group=g),
        FieldSpec("brief.crm", "CRM card", "pairs", info="one per line: field: value", group=g),
    ]
    return FormSpec("persona", fs, optional_groups={"offer": "offer.product"})


def _scenario_form() -> FormSpec:
    g = "Scenario"
    return FormSpec("scenario", [
        FieldSpec("id", "Id", group=g),
        FieldSpec("title", "Title", group=g),
        FieldSpec("persona", "Persona (id)", group=g),
        FieldSpec("rubric", "Rubric (id)", default="default", group=g),
        FieldSpec("pass_score", "Pass mark (0–100)", "number", minimum=0, maximum=100, step=1, default=70, group=g),
        FieldSpec("call_script", "Call script (in order)", "table", columns=("id", "kind", "label", "cues", "required"),
                  csv_columns=("cues",), bool_columns=("required",), info=f"kind is one of: {', '.join(STEP_KINDS)}",
                  group="Call script"),
    ])


def _curriculum_form() -> FormSpec:
    g = "Curriculum"
    return FormSpec("curriculum", [
        FieldSpec("id", "Id", group=g),
        FieldSpec("title", "Title", group=g),
        FieldSpec("audience", "Who it is for", group=g),
        FieldSpec("description", "Description", "textarea", group=g),
        FieldSpec("medals.bronze", "Bronze from", "number", minimum=0, maximum=100, step=1, default=50, group="Medals"),
        FieldSpec("medals.silver", "Silver from", "number", minimum=0, maximum=100, step=1, default=75, group="Medals"),
        FieldSpec("medals.gold", "Gold from", "number", minimum=0, maximum=100, step=1, default=90, group="Medals"),
        FieldSpec("modules", "Modules (in the order they are taken)", "table",
                  columns=("id", "title", "scenario", "pass_score", "max_attempts", "prerequisites", "mode", "description"),
                  csv_columns=("prerequisites",),
                  info="scenario: a scenario id; mode: practice or assessment; max_attempts blank = unlimited; "
                       "prerequisites: earlier module ids, comma-separated", group="Modules"),
    ])


FORMS: dict[str, FormSpec] = {"persona": _persona_form(), "scenario": _scenario_form(), "curriculum": _curriculum_form()}


def register_form(spec: FormSpec) -> None:
    """Curricula (or any new kind) add their form here."""
    FORMS[spec.kind] = spec


def form_of(kind: str) -> FormSpec:
    try:
        return FORMS[kind]
    except KeyError:
        raise ValueError(f"no form for content kind '{kind}'") from None


# ---------------------------------------------------------------------- paths
def get_path(data: Any, path: str) -> Any:
    cur = data
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return MISSING
        cur = cur[part]
    return cur


def set_path(data: dict, path: str, value: Any, order: list[str] | None = None) -> None:
    """Set a value; a new top-level key goes where `order` (the model's field order) puts it."""
    parts = path.split(".")
    cur = data
    for i, part in enumerate(parts[:-1]):
        if not isinstance(cur.get(part), dict):
            _insert(cur, part, CommentedMap(), order if i == 0 else None)
        cur = cur[part]
    old = cur.get(parts[-1])
    if isinstance(value, list) and not isinstance(value, CommentedSeq):
        rows_flow = bool(old) and isinstance(old, list) and hasattr(old[0], "fa") and old[0].fa.flow_style()
        value = _like(CommentedSeq([_styled(x, rows_flow) for x in value]), old)
    elif isinstance(value, dict) and not isinstance(value, CommentedMap):
        value = _like(CommentedMap(value), old)
    if parts[-1] in cur:
        cur[parts[-1]] = value
    else:
        _insert(cur, parts[-1], value, order if len(parts) == 1 else None)


def _styled(item: Any, flow: bool) -> Any:
    """A table row: short lists inside it on one line; the whole row on one line if the old rows were."""
    if not isinstance(item, dict):
        return item
    row = CommentedMap()
    for k, v in item.items():
        if isinstance(v, list):
            v = CommentedSeq(v)
            v.fa.set_flow_style()
        row[k] = v
    if flow:
        row.fa.set_flow_style()
    return row


def _like(new: Any, old: Any) -> Any:
    """Keep the old value's style: a list written [a, b] stays on one line."""
    if hasattr(old, "fa") and old.fa.flow_style():
        new.fa.set_flow_style()
    elif isinstance(new, CommentedSeq) and all(isinstance(x, str) and len(x) < 30 for x in new) and sum(map(len, new)) < 70 \
            and old is None:
        new.fa.set_flow_style()
    return new


def _insert(cur: dict, key: str, value: Any, order: list[str] | None) -> None:
    if order is None or key not in order or not hasattr(cur, "insert"):
        cur[key] = value
        return
    before = set(order[:order.index(key)])
    pos = 0
    for i, k in enumerate(cur):
        if k in before:
            pos = i + 1
    cur.insert(pos, key, value)


def del_path(data: dict, path: str) -> None:
    parts = path.split(".")
    chain = [data]
    cur: Any = data
    for part in parts[:-1]:
        if not isinstance(cur, dict) or not isinstance(cur.get(part), dict):
            return
        cur = cur[part]
        chain.append(cur)
    cur.pop(parts[-1], None)
    for i in range(len(parts) - 2, -1, -1):          # drop mappings the removal left empty
        if chain[i + 1] == {}:
            chain[i].pop(parts[i], None)


# ---------------------------------------------------------------------- value conversion
def _csv(items: Any) -> str:
    return ", ".join(str(x) for x in items) if isinstance(items, list) else ("" if items in (None, MISSING) else str(items))


def _split_csv(text: Any) -> list[str]:
    return [x.strip() for x in str(text or "").split(",") if x.strip()]


def to_widget(spec: FieldSpec, value: Any) -> Any:
    """A YAML value as the form widget shows it."""
    if value is MISSING:
        value = spec.default
    w = spec.widget
    if w in ("text", "textarea", "choice"):
        return "" if value is None else str(value)
    if w in ("number", "slider"):
        if value is None or value == "":
            return None
        try:
            return float(value) if not spec.integer else int(float(value))
        except (TypeError, ValueError):
            return None
    if w == "bool":
        return bool(value)
    if w == "lines":
        return "\n".join(str(x) for x in value) if isinstance(value, list) else ("" if value is None else str(value))
    if w == "csv":
        return _csv(value)
    if w == "pairs":
        if isinstance(value, dict):
            return "\n".join(f"{k}: {v}" for k, v in value.items())
        return "" if value is None else str(value)
    if w == "table":
        rows = []
        for item in value if isinstance(value, list) else []:
            item = item if isinstance(item, dict) else {}
            row = []
            for col in spec.columns:
                v = item.get(col, True if col in spec.bool_columns else "")
                row.append(_csv(v) if col in spec.csv_columns else ("true" if v is True else "false" if v is False else ("" if v is None else str(v))))
            rows.append(row)
        return rows
    raise ValueError(f"unknown widget {w}")


def _number(text: Any) -> Any:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return int(text) if float(text).is_integer() else float(text)
    s = str(text).strip()
    try:
        f = float(s)
    except ValueError:
        return s                                   # left as typed: validation names the field
    return int(f) if f.is_integer() else f


def from_widget(spec: FieldSpec, value: Any) -> Any:
    """A widget value as YAML data; MISSING means 'leave the key out'."""
    w = spec.widget
    if w in ("text", "textarea", "choice"):
        v = "" if value is None else str(value).strip()
        return v if v else (None if spec.empty == "null" else MISSING)
    if w in ("number", "slider"):
        if value is None or (isinstance(value, str) and not value.strip()):
            return None if spec.empty == "null" else MISSING
        n = _number(value)
        return int(n) if spec.integer and isinstance(n, (int, float)) else n
    if w == "bool":
        return bool(value)
    if w == "lines":
        items = [line.strip() for line in str(value or "").splitlines() if line.strip()]
        return items if items else MISSING
    if w == "csv":
        items = _split_csv(value)
        return items if items else MISSING
    if w == "pairs":
        out: dict[str, str] = {}
        for line in str(value or "").splitlines():
            if not line.strip():
                continue
            k, sep, v = line.partition(":")
            out[k.strip()] = v.strip() if sep else ""
        return out if out else MISSING
    if w == "table":
        rows = value.values.tolist() if hasattr(value, "values") and hasattr(value, "columns") else (value or [])
        items = []
        for row in rows:
            cells = ["" if c is None else str(c).strip() for c in list(row)[:len(spec.columns)]]
            if not any(cells):
                continue
            item: dict[str, Any] = {}
            for col, cell in zip(spec.columns, cells):
                if col in spec.csv_columns:
                    if _split_csv(cell):
                        item[col] = _split_csv(cell)
                elif col in spec.bool_columns:
                    if cell.lower() in ("false", "no", "0", "n"):
                        item[col] = False
                elif cell:
                    item[col] = cell
            items.append(item)
        return items if items else MISSING
    raise ValueError(f"unknown widget {w}")


# ---------------------------------------------------------------------- YAML <-> form
def form_values(kind: str, yaml_text: str) -> dict[str, Any]:
    """Widget values for every field of the kind's form. YAML that does not parse, or that parse_yaml_text refuses
    (too large, anchors/aliases, too deep: the validation panel says why), gives an empty form."""
    spec = form_of(kind)
    try:
        data = parse_yaml_text(yaml_text or "", "draft")
    except ContentError:
        data = None
    data = data if isinstance(data, dict) else {}
    return {f.path: to_widget(f, get_path(data, f.path)) for f in spec.fields}


def _same(spec: FieldSpec, a: Any, b: Any) -> bool:
    return from_widget(spec, a) == from_widget(spec, b)


class _ContentComposer(RuamelComposer):
    """ruamel's composer with the loader's rules (see content.guard_compose): no anchors or aliases, bounded depth.
    apply_form parses with PyYAML first, so this is the second lock on the same door, not the only one."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        return guard_compose(self, parent, index, self.parser.peek_event(), RuamelAliasEvent, super().compose_node)


def _round_trip() -> YAML:
    y = YAML(typ="rt")
    y.Composer = _ContentComposer
    y.version = (1, 1)                               # read scalars as PyYAML (the loader) does: 04182 stays text
    y.preserve_quotes = True
    y.width = 4096                                   # never fold a long line: a one-word edit stays a one-line diff
    y.indent(mapping=2, sequence=4, offset=2)
    y.representer.add_representer(type(None), lambda r, _d: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return y


def apply_form(kind: str, yaml_text: str, values: dict[str, Any]) -> str:
    """YAML text with the form's changed values written in, keeping comments, order and layout. Raises
    ContentError if the YAML does not parse (the trainer fixes the YAML view first, so nothing typed there is lost)."""
    import io
    spec = form_of(kind)
    plain = parse_yaml_text(yaml_text or "", "YAML view")         # a syntax error is reported with line and column
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = _round_trip().load(yaml_text or "") if (yaml_text or "").strip() else CommentedMap()
    except YamlRefused as exc:
        raise ContentError([exc.problem("YAML view")]) from None
    except RuamelError as exc:
        raise ContentError([ContentProblem(file="YAML view", field="", message=f"YAML syntax error: {exc}",
                                           fix="check indentation (spaces, not tabs)")]) from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, dict):
        raise ContentError([ContentProblem(file="YAML view", field="", message="the YAML is not a mapping of fields",
                                           fix="start it with 'id: ...' lines, or clear it")])
    plain = plain if isinstance(plain, dict) else {}
    current = {f.path: to_widget(f, get_path(plain, f.path)) for f in spec.fields}
    order = list(kind_of(kind).model.model_fields)
    changed = False
    for f in spec.fields:
        if f.path not in values or _same(f, values[f.path], current[f.path]):
            continue
        new = from_widget(f, values[f.path])
        if new is MISSING:
            del_path(data, f.path)
        else:
            set_path(data, f.path, new, order)
        changed = True
    for group, required in spec.optional_groups.items():
        if isinstance(data.get(group), dict) and get_path(data, required) in (MISSING, None, ""):
            del data[group]
            changed = True
    if not changed:
        return yaml_text
    buf = io.StringIO()
    _round_trip().dump(data, buf)
    out = buf.getvalue()
    return re.sub(r"\A%YAML 1\.1\n---\n", "", out)


# ---------------------------------------------------------------------- validation
_PATHS_IN_TEXT = re.compile(r"\b([a-z_]+(?:\.[a-z_]+)+|name|id)\b")


@dataclass
class Validation:
    model: BaseModel | None
    problems: list[ContentProblem]

    @property
    def ok(self) -> bool:
        return self.model is not None and not self.problems


def validate_text(kind: str | ContentKind, yaml_text: str, file: str | None = None) -> Validation:
    """Validate YAML text; every problem names the file, the field and the fix (never raises for bad content)."""
    k = kind_of(kind) if isinstance(kind, str) else kind
    file = file or f"{k.folder}/(studio draft).yaml"
    try:
        data = parse_yaml_text(yaml_text or "", file)
        model = validate_data(data, k.model, file)
    except ContentError as exc:
        return Validation(None, [_locate(p, k) for p in exc.problems])
    problems = extra_checks(k.name, model, file)
    return Validation(model if not problems else None, problems)


def _locate(p: ContentProblem, kind: ContentKind) -> ContentProblem:
    """Whole-object errors (e.g. the name/full name rule) are pinned to the first field they mention."""
    if p.field or p.message != "invalid value":
        return p
    fields = set(kind.model.model_fields)
    for m in _PATHS_IN_TEXT.finditer(p.fix):
        if m.group(1).split(".")[0] in fields:
            return p.model_copy(update={"field": m.group(1), "message": "does not agree with another field"})
    return p


def extra_checks(kind: str, model: BaseModel, file: str) -> list[ContentProblem]:
    """Checks beyond the schema that make a persona behave as intended in a call."""
    out: list[ContentProblem] = []
    if kind == "persona":
        p: Persona = model  # type: ignore[assignment]
        values = " ".join(p.facts.all_values()).lower()
        for key, value in p.brief.crm.items():
            if key.lower() in ("account", "account number") and str(value).lower().replace(" ", "") not in values.replace(" ", ""):
                out.append(ContentProblem(file=file, field=f"brief.crm.{key}", message=f"the CRM card shows account '{value}' but the facts say '{p.facts.account_number}'",
                                          fix="make the CRM card and facts.account_number agree"))
        if p.offer is not None and not p.offer.objections and p.offer.openness < 4:
            out.append(ContentProblem(file=file, field="offer.objections", message="a reluctant customer (openness below 4) has no objection to voice",
                                      fix="add at least one objection line, or raise offer.openness"))
    if kind == "scenario":
        s: Scenario = model  # type: ignore[assignment]
        if not any(step.required for step in s.call_script):
            out.append(ContentProblem(file=file, field="call_script", message="no step is required",
                                      fix="mark at least one step required: true"))
    return out


def label_for(kind: str, path: str) -> str:
    """The form label for a problem's field (or the nearest enclosing one)."""
    spec = form_of(kind).by_path()
    probe = re.sub(r"\[\d+\].*$", "", path)
    while probe:
        if probe in spec:
            return spec[probe].label
        probe = probe.rpartition(".")[0]
    return ""


def problems_markdown(kind: str, problems: list[ContentProblem]) -> str:
    if not problems:
        return "✓ **Valid.** Save it as a draft, try it, then publish."
    lines = [f"✗ **{len(problems)} problem{'s' if len(problems) != 1 else ''}** — fix these before saving:"]
    for p in problems:
        label = label_for(kind, p.field) if p.field else ""
        where = f"**{label}** (`{p.field}`)" if label else (f"`{p.field}`" if p.field else "the whole file")
        lines.append(f"- {where}: {p.message}. **Fix:** {p.fix}")
    return "\n".join(lines)
