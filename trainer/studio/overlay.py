"""The catalog the app serves: the repository's seed files, overlaid with the studio's published revisions.

Rules, per item: a published studio revision replaces (or adds to) the seed file; a retired one
removes the item from new sessions; drafts are never served. A stored copy of a seed file (made when
a call pins it, or before the first edit) does not override the file, so a seed file updated in the
repository still takes effect until a trainer publishes an edit.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..catalog import Catalog
from ..content import ContentError
from ..store import Store
from .kinds import KINDS
from .revisions import RETIRED, Revisions, parse_content, studio_file

log = logging.getLogger(__name__)


@dataclass
class StudioOverlay:
    """Catalog.load(..., overlay=StudioOverlay(revisions)); afterwards it tells what it changed."""

    revisions: Revisions
    served: dict[tuple[str, str], int] = field(default_factory=dict)     # (kind, id) -> revision served from the store
    retired: dict[tuple[str, str], int] = field(default_factory=dict)

    def __call__(self, cat: Catalog) -> None:
        self.served.clear()
        self.retired.clear()
        for kind in KINDS.values():
            items = getattr(cat, kind.catalog_attr, None)
            if items is None:                     # the catalog does not hold this kind yet
                continue
            for cid, rev in self.revisions.effective(kind.name).items():
                if rev.status == RETIRED:
                    items.pop(cid, None)
                    self.retired[(kind.name, cid)] = rev.revision
                    continue
                if rev.source == "seed" and cid in items:
                    continue                      # the repository file stays the seed content
                try:
                    items[cid] = parse_content(kind, rev.yaml_text, studio_file(kind, cid, rev.revision))
                except ContentError as exc:       # e.g. a schema change made an old revision invalid
                    cat.problems.extend(exc.problems)
                    continue
                self.served[(kind.name, cid)] = rev.revision


def overlay_catalog(root: Path, store: Store) -> Catalog:
    """Seed files + published studio revisions, cross-checked (a scenario naming a missing persona is reported)."""
    ov = StudioOverlay(Revisions(store, seed_root=root))
    cat = Catalog.load(root, overlay=ov)
    cat.studio = ov  # type: ignore[attr-defined]
    return cat


class CatalogCache:
    """Reloads the overlaid catalog when the store's revisions change (another process may publish)."""

    def __init__(self, root: Path, store: Store):
        self.root = Path(root)
        self.revisions = Revisions(store, seed_root=self.root)
        self.store = store
        self._stamp: tuple[int, int] | None = None
        self._catalog: Catalog | None = None

    def get(self) -> Catalog:
        stamp = self.revisions.stamp()
        if self._catalog is None or stamp != self._stamp:
            self._catalog = overlay_catalog(self.root, self.store)
            self._stamp = stamp
        return self._catalog
