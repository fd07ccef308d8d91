"""The kinds of content the studio edits, as a registry, so adding one (curricula) is one call.

A kind names its pydantic model, its seed folder in the repository and the Catalog attribute that
holds its items. Referrers say which content points at which (a scenario names a persona), so the
studio can refuse to delete something that is in use.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from pydantic import BaseModel

from ..curriculum import Curriculum
from ..persona import Persona
from ..scenario import Scenario

if TYPE_CHECKING:
    from ..catalog import Catalog


@dataclass(frozen=True)
class ContentKind:
    name: str                 # persona | scenario | curriculum
    folder: str               # seed folder in the repository: personas/
    model: type[BaseModel]
    catalog_attr: str         # Catalog attribute holding {id: item}
    label: str = ""
    plural_label: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name.capitalize()

    @property
    def plural(self) -> str:
        return self.plural_label or self.title + "s"


KINDS: dict[str, ContentKind] = {}

Reference = tuple[str, str, str, str]          # (referrer kind, referrer id, referenced kind, referenced id)
REFERRERS: list[Callable[["Catalog"], Iterable[Reference]]] = []


def register_kind(kind: ContentKind) -> ContentKind:
    KINDS[kind.name] = kind
    return kind


def register_referrer(fn: Callable[["Catalog"], Iterable[Reference]]) -> Callable[["Catalog"], Iterable[Reference]]:
    REFERRERS.append(fn)
    return fn


def kind_of(name: str) -> ContentKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown content kind '{name}'; use one of: {', '.join(KINDS)}") from None


def kind_for_path(path) -> ContentKind | None:
    """Guess a file's kind from its folder (personas/x.yaml) or name (x.persona.yaml)."""
    from pathlib import Path
    p = Path(path)
    for k in KINDS.values():
        if k.folder in p.parts or p.name.endswith(f".{k.name}.yaml") or p.name.startswith(f"{k.name}-"):
            return k
    return None


register_kind(ContentKind("persona", "personas", Persona, "personas"))
register_kind(ContentKind("scenario", "scenarios", Scenario, "scenarios"))
register_kind(ContentKind("curriculum", "curricula", Curriculum, "curricula", plural_label="Curricula"))


@register_referrer
def _scenario_refs(catalog: "Catalog") -> Iterable[Reference]:
    for sid, sc in catalog.scenarios.items():
        yield ("scenario", sid, "persona", sc.persona)


@register_referrer
def _curriculum_refs(catalog: "Catalog") -> Iterable[Reference]:
    for cid, cur in getattr(catalog, "curricula", {}).items():
        for m in cur.modules:
            yield ("curriculum", cid, "scenario", m.scenario)
