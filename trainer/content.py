"""Loading YAML content (personas, scenarios, rubrics) with errors a trainer can act on.

Every error names the file, the field (as a dotted path) and what to write instead.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
import datetime as _dt
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


def _scalar_to_text(v: Any) -> Any:
    # YAML turns `2022`, `42.00` and `2024-11-03` into numbers and dates; in a CRM card they are text.
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float, _dt.date)):
        return str(v)
    return v


Text = Annotated[str, BeforeValidator(_scalar_to_text)]
"""A string field that also accepts a bare number or date from YAML."""


class Strict(BaseModel):
    """Base for content models: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ContentProblem(BaseModel):
    file: str
    field: str
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}. Fix: {self.fix}"


class ContentError(Exception):
    """One or more problems in one content file."""

    def __init__(self, problems: list[ContentProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


_FIX_BY_TYPE = {
    "missing": "add this field",
    "extra_forbidden": "remove it, or check the spelling against the documented fields",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "float_parsing": "write a number",
    "string_type": "write text (quote it if it looks like a number or date)",
    "list_type": "write a list (lines starting with '- ')",
    "dict_type": "write a mapping (key: value lines)",
    "model_type": "write a mapping (key: value lines)",
    "bool_parsing": "write true or false",
    "literal_error": "use one of the allowed values",
    "enum": "use one of the allowed values",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
    "too_short": "add at least the minimum number of entries/characters",
    "too_long": "shorten it",
    "string_pattern_mismatch": "match the required pattern",
}


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def problems_from_validation(file: str, err: ValidationError) -> list[ContentProblem]:
    problems = []
    for e in err.errors():
        kind = e.get("type", "")
        fix = _FIX_BY_TYPE.get(kind, "see the format in README.md")
        ctx = e.get("ctx") or {}
        if kind in ("literal_error", "enum") and "expected" in ctx:
            fix = f"use one of: {ctx['expected']}"
        elif kind == "greater_than_equal" and "ge" in ctx:
            fix = f"use a value of at least {ctx['ge']}"
        elif kind == "less_than_equal" and "le" in ctx:
            fix = f"use a value of at most {ctx['le']}"
        elif kind == "value_error":
            fix = str(ctx.get("error", "")) or fix
        message = e.get("msg", "invalid value")
        if kind == "value_error":
            message = "invalid value"
        problems.append(ContentProblem(file=file, field=_field_path(tuple(e.get("loc", ()))), message=message, fix=fix))
    return problems


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContentError([ContentProblem(file=str(path), field="", message="file not found", fix="check the path")]) from None
    except UnicodeDecodeError:
        raise ContentError([ContentProblem(file=str(path), field="", message="not UTF-8 text", fix="save the file as UTF-8")]) from None
    return parse_yaml_text(text, str(path))


# Content files are a few KiB (the largest seed file, rubrics/default.yaml, is under 14 KiB). YAML reaches the parser
# straight from the studio's editor, forms and import, so without a cap one request can make the server parse (and the
# form code stringify) megabytes; 256 KiB is ~20x the largest real file and bounds what one request can cost.
MAX_YAML_BYTES = 256 * 1024
# The deepest content is a rubric (dimension -> criteria list -> criterion -> list), about 6 levels. The composer
# recurses once per level, so "[[[[..." would otherwise end in a RecursionError deep inside PyYAML.
MAX_YAML_DEPTH = 32

ALIAS_MESSAGE = "YAML anchors and aliases (&name / *name) are not allowed in content files"
ALIAS_FIX = "write the value out in full where it is used"


class YamlRefused(Exception):
    """Raised inside a loader for a document the app will not build (an alias, an anchor, too deep); carries the problem."""

    def __init__(self, field: str, message: str, fix: str):
        super().__init__(message)
        self.field, self.message, self.fix = field, message, fix

    def problem(self, file: str) -> ContentProblem:
        return ContentProblem(file=file, field=self.field, message=self.message, fix=self.fix)


def check_yaml_size(size: int, file: str) -> None:
    """Refuse a document of `size` bytes over MAX_YAML_BYTES, before anything parses it."""
    if size > MAX_YAML_BYTES:
        raise ContentError([ContentProblem(
            file=file, field="", message=f"the YAML is {size / 1024:.0f} KiB; content files may be at most {MAX_YAML_BYTES // 1024} KiB",
            fix="shorten it (a persona, scenario or rubric is a few KiB), or split it into several items")])


def _node_path(path: list[str]) -> str:
    return "".join(p if p.startswith("[") or i == 0 else "." + p for i, p in enumerate(path))


def guard_compose(composer: Any, parent: Any, index: Any, event: Any, alias_event: type, compose: Any) -> Any:
    """Shared by the PyYAML and ruamel composers: refuse an alias or anchor before it is resolved (an alias chain
    "billion laughs" expands a few KiB into gigabytes) and nesting deeper than MAX_YAML_DEPTH, naming the field."""
    path: list[str] = composer.__dict__.setdefault("_frontline_path", [])
    depth = composer.__dict__.get("_frontline_depth", 0) + 1
    if isinstance(index, int):
        part = f"[{index}]"                              # a sequence item
    elif index is not None:                              # a mapping value: index is its key's node
        value = getattr(index, "value", None)
        part = value[:80] if isinstance(value, str) else "?"
    else:
        part = None                                      # the root, or a mapping key (reported as the mapping holding it)
    if part is not None:
        path.append(part)
    composer._frontline_depth = depth
    try:
        mark = getattr(event, "start_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        if isinstance(event, alias_event) or getattr(event, "anchor", None) is not None:
            raise YamlRefused(_node_path(path), ALIAS_MESSAGE + where, ALIAS_FIX)
        if depth > MAX_YAML_DEPTH:
            raise YamlRefused(_node_path(path), f"nested more than {MAX_YAML_DEPTH} levels deep{where}",
                              "flatten it: content files nest a few levels at most")
        return compose(parent, index)
    finally:
        composer._frontline_depth = depth - 1
        if part is not None:
            path.pop()


class SafeContentLoader(yaml.SafeLoader):
    """PyYAML's safe loader without anchors/aliases and with a depth limit: see guard_compose."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        return guard_compose(self, parent, index, self.peek_event(), yaml.AliasEvent, super().compose_node)


def parse_yaml_text(text: str, file: str) -> Any:
    """Parse one content document; refuses (ContentError naming the field and the fix) documents over MAX_YAML_BYTES,
    with anchors/aliases, or nested deeper than MAX_YAML_DEPTH."""
    text = text or ""
    check_yaml_size(len(text) if len(text) > MAX_YAML_BYTES else len(text.encode("utf-8", "surrogatepass")), file)
    try:
        return yaml.load(text, Loader=SafeContentLoader)  # noqa: S506 - a SafeLoader subclass
    except YamlRefused as exc:
        raise ContentError([exc.problem(file)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ContentError([ContentProblem(
            file=file, field=where, message=f"YAML syntax error: {problem}",
            fix="check indentation (spaces, not tabs) and quote text containing ': ' or '#'")]) from None


def validate_data(data: Any, model: type[M], file: str) -> M:
    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        raise ContentError([ContentProblem(file=file, field="", message=f"expected a mapping of fields, got {got}",
                                           fix=f"start the file with the fields of a {model.__name__.lower()}, e.g. 'id: ...'")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ContentError(problems_from_validation(file, exc)) from None


def load_model(path: Path, model: type[M]) -> M:
    return validate_data(read_yaml(path), model, str(path))


def content_hash(obj: BaseModel) -> str:
    """Stable short hash of a content object, stored with sessions for audit."""
    blob = json.dumps(obj.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def load_dir(directory: Path, model: type[M]) -> tuple[dict[str, M], list[ContentProblem]]:
    """Load every *.yaml in a folder; bad files are reported, good ones still load."""
    items: dict[str, M] = {}
    problems: list[ContentProblem] = []
    for path in sorted(directory.glob("*.y*ml")):
        try:
            item = load_model(path, model)
        except ContentError as exc:
            problems.extend(exc.problems)
            continue
        item_id = getattr(item, "id")
        if item_id in items:
            problems.append(ContentProblem(file=str(path), field="id", message=f"duplicate id '{item_id}'",
                                           fix="give each file a unique id"))
            continue
        if path.stem != item_id:
            log.debug("file %s holds id %s", path, item_id)
        items[item_id] = item
    return items, problems
