"""Every saved version of a persona or scenario, kept in the store.

A revision is immutable YAML text with a number, a content hash, an author and a note. Its status
says what it is: a draft (saved, not served), published (served to trainees) or retired (no new
sessions). The repository's YAML files stay the seed content; the store holds what trainers edit,
and the effective version of an item is its latest published or retired revision. Calls pin the
exact revision they used (see `pin`).
"""
from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import BaseModel
from sqlalchemy import UniqueConstraint, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, delete, select

from ..content import MAX_YAML_BYTES, ContentError, ContentProblem, check_yaml_size, content_hash, parse_yaml_text, validate_data
from ..store import CallRecord, Store, now
from .kinds import KINDS, REFERRERS, ContentKind, kind_for_path, kind_of

if TYPE_CHECKING:
    from ..catalog import Catalog

log = logging.getLogger(__name__)

DRAFT, PUBLISHED, RETIRED = "draft", "published", "retired"
STATUSES = (DRAFT, PUBLISHED, RETIRED)


class ContentRevision(SQLModel, table=True):
    __tablename__ = "content_revision"
    __table_args__ = (UniqueConstraint("kind", "content_id", "revision", name="uq_content_revision"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)              # persona | scenario | curriculum
    content_id: str = Field(index=True)
    revision: int                              # 1, 2, 3 … per (kind, content_id)
    yaml_text: str
    content_hash: str = Field(index=True)      # trainer.content.content_hash of the validated item (= CallRecord.persona_hash)
    status: str = DRAFT                        # draft | published | retired
    source: str = "studio"                     # studio | seed (copied from the repository file) | import | snapshot
    author: str = ""
    note: str = ""
    created_at: datetime = Field(default_factory=now)


class InUse(ValueError):
    """The item is referenced (by published content or by calls) and can only be retired."""


@dataclass
class Usage:
    referrers: list[tuple[str, str]] = field(default_factory=list)   # (kind, id) of published content pointing at it
    calls: int = 0

    @property
    def in_use(self) -> bool:
        return bool(self.referrers or self.calls)

    def describe(self) -> str:
        parts = [f"{k} '{i}'" for k, i in self.referrers]
        if self.calls:
            parts.append(f"{self.calls} call(s)")
        return ", ".join(parts) or "nothing"


def studio_file(kind: ContentKind, content_id: str, revision: int | None = None) -> str:
    """The name errors use for content edited in the app (there is no file on disk)."""
    return f"{kind.folder}/{content_id}.yaml" + (f" (revision {revision})" if revision else " (studio draft)")


def parse_content(kind: str | ContentKind, yaml_text: str, file: str | None = None) -> BaseModel:
    """Parse and validate YAML text as a kind; raises ContentError naming file, field and fix."""
    k = kind_of(kind) if isinstance(kind, str) else kind
    file = file or f"{k.folder}/(studio draft).yaml"
    data = parse_yaml_text(yaml_text, file)
    return validate_data(data, k.model, file)


def dump_yaml(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)


class Revisions:
    """Revision history of studio content, over the app's Store (SQLite or PostgreSQL)."""

    def __init__(self, store: Store, *, seed_root: Path):
        self.store = store
        self.seed_root = Path(seed_root)

    # ------------------------------------------------------------------ reading
    def history(self, kind: str, content_id: str) -> list[ContentRevision]:
        """All revisions, newest first."""
        with self.store.session() as s:
            q = select(ContentRevision).where(ContentRevision.kind == kind, ContentRevision.content_id == content_id)
            return list(s.exec(q.order_by(ContentRevision.revision.desc())))  # type: ignore[union-attr]

    def get(self, kind: str, content_id: str, revision: int) -> ContentRevision:
        with self.store.session() as s:
            rev = s.exec(select(ContentRevision).where(ContentRevision.kind == kind, ContentRevision.content_id == content_id,
                                                       ContentRevision.revision == revision)).first()
        if rev is None:
            raise LookupError(f"{kind} '{content_id}' has no revision {revision}")
        return rev

    def latest(self, kind: str, content_id: str) -> ContentRevision | None:
        h = self.history(kind, content_id)
        return h[0] if h else None

    def effective(self, kind: str) -> dict[str, ContentRevision]:
        """Per content id, the revision that decides what is served: the latest published or retired one."""
        out: dict[str, ContentRevision] = {}
        with self.store.session() as s:
            q = select(ContentRevision).where(ContentRevision.kind == kind, ContentRevision.status != DRAFT)
            for rev in s.exec(q.order_by(ContentRevision.revision)):  # type: ignore[arg-type]
                out[rev.content_id] = rev
        return out

    def ids(self, kind: str) -> list[str]:
        with self.store.session() as s:
            return sorted(set(s.exec(select(ContentRevision.content_id).where(ContentRevision.kind == kind))))

    def stamp(self) -> tuple[int, int]:
        """Changes whenever a revision is added, changes status or is deleted (cheap cache key)."""
        with self.store.session() as s:
            row = s.exec(select(func.count(ContentRevision.id), func.max(ContentRevision.id))).one()
            published = s.exec(select(func.count(ContentRevision.id)).where(ContentRevision.status != DRAFT)).one()
        return (int(row[0] or 0) * 1_000_003 + int(published or 0), int(row[1] or 0))

    def seed_path(self, kind: str, content_id: str) -> Path | None:
        k = kind_of(kind)
        folder = self.seed_root / k.folder
        for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
            if path.stem == content_id:
                return path
        for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
            try:
                if (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("id") == content_id:
                    return path
            except (yaml.YAMLError, AttributeError, OSError):
                continue
        return None

    def text_of(self, kind: str, content_id: str, revision: int | None = None) -> str:
        """YAML of a revision; without one: the latest revision, else the seed file."""
        if revision is not None:
            return self.get(kind, content_id, revision).yaml_text
        rev = self.latest(kind, content_id)
        if rev is not None:
            return rev.yaml_text
        path = self.seed_path(kind, content_id)
        if path is None:
            raise LookupError(f"no {kind} '{content_id}' in the store or in {kind_of(kind).folder}/")
        return path.read_text(encoding="utf-8")

    # ------------------------------------------------------------------ writing
    def _add(self, kind: str, content_id: str, yaml_text: str, *, chash: str, status: str, source: str, author: str,
             note: str) -> ContentRevision:
        for attempt in range(3):           # two writers racing for the same number: the loser takes the next one
            with self.store.session() as s:
                top = s.exec(select(func.max(ContentRevision.revision)).where(
                    ContentRevision.kind == kind, ContentRevision.content_id == content_id)).one()
                rev = ContentRevision(kind=kind, content_id=content_id, revision=int(top or 0) + 1, yaml_text=yaml_text,
                                      content_hash=chash, status=status, source=source, author=author, note=note)
                s.add(rev)
                try:
                    s.commit()
                except IntegrityError:
                    s.rollback()
                    if attempt == 2:
                        raise
                    continue
                s.refresh(rev)
                return rev
        raise RuntimeError("unreachable")

    def _baseline(self, kind: str, content_id: str) -> None:
        """Before the first studio edit of a seed item, keep the seed file as revision 1 (diff and rollback need it)."""
        if self.latest(kind, content_id) is not None:
            return
        path = self.seed_path(kind, content_id)
        if path is None:
            return
        text = path.read_text(encoding="utf-8")
        try:
            model = parse_content(kind, text, str(path.relative_to(self.seed_root)))
        except ContentError:
            return                                        # a broken seed file is reported by the catalog, not copied
        self._add(kind, content_id, text, chash=content_hash(model), status=PUBLISHED, source="seed", author="seed",
                  note=f"seed file {path.relative_to(self.seed_root)}")

    def save(self, kind: str, yaml_text: str, *, author: str, note: str = "", publish: bool = False,
             source: str = "studio") -> ContentRevision:
        """Validate and keep a new revision (a draft unless publish). Saving unchanged content adds nothing."""
        k = kind_of(kind)
        model = parse_content(k, yaml_text)
        cid = getattr(model, "id")
        chash = content_hash(model)
        self._baseline(k.name, cid)
        last = self.latest(k.name, cid)
        if last is not None and last.content_hash == chash and last.yaml_text == yaml_text and last.status != RETIRED:
            return self.publish(k.name, cid, last.revision, author=author) if publish and last.status == DRAFT else last
        return self._add(k.name, cid, yaml_text, chash=chash, status=PUBLISHED if publish else DRAFT, source=source,
                         author=author, note=note)

    def publish(self, kind: str, content_id: str, revision: int | None = None, *, author: str) -> ContentRevision:
        """Serve a revision to trainees. Publishing an older revision than the one served copies it forward."""
        rev = self.get(kind, content_id, revision) if revision is not None else self.latest(kind, content_id)
        if rev is None:
            raise LookupError(f"{kind} '{content_id}' has no saved revision to publish")
        parse_content(kind, rev.yaml_text, studio_file(kind_of(kind), content_id, rev.revision))   # still valid today?
        current = self.effective(kind).get(content_id)
        if rev.status == PUBLISHED and (current is None or current.revision == rev.revision):
            return rev
        if current is not None and current.revision > rev.revision:
            return self._add(kind, content_id, rev.yaml_text, chash=rev.content_hash, status=PUBLISHED, source="studio",
                             author=author, note=f"published revision {rev.revision} again")
        with self.store.session() as s:
            row = s.get(ContentRevision, rev.id)
            assert row is not None
            row.status = PUBLISHED
            if author and author != row.author:
                row.note = (row.note + "; " if row.note else "") + f"published by {author}"
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def retire(self, kind: str, content_id: str, *, author: str, note: str = "") -> ContentRevision:
        """No new sessions with this item; its history and the calls that used it stay."""
        self._baseline(kind, content_id)
        last = self.latest(kind, content_id)
        if last is None:
            raise LookupError(f"no {kind} '{content_id}' to retire")
        current = self.effective(kind).get(content_id)
        if current is not None and current.status == RETIRED:
            return current
        base = current or last
        return self._add(kind, content_id, base.yaml_text, chash=base.content_hash, status=RETIRED, source="studio",
                         author=author, note=note or "retired")

    def rollback(self, kind: str, content_id: str, to_revision: int, *, author: str, publish: bool = False) -> ContentRevision:
        """A new revision with the text of an older one (history is never rewritten)."""
        old = self.get(kind, content_id, to_revision)
        return self._add(kind, content_id, old.yaml_text, chash=old.content_hash, status=PUBLISHED if publish else DRAFT,
                         source="studio", author=author, note=f"rolled back to revision {to_revision}")

    def clone(self, kind: str, content_id: str, new_id: str, *, author: str, revision: int | None = None) -> ContentRevision:
        """A draft copy under a new id (the name is marked as a copy for personas)."""
        k = kind_of(kind)
        if self.latest(kind, new_id) is not None or self.seed_path(kind, new_id) is not None:
            raise ValueError(f"a {kind} with id '{new_id}' already exists; pick another id")
        data = parse_yaml_text(self.text_of(kind, content_id, revision), studio_file(k, content_id, revision))
        data["id"] = new_id
        if k.name == "scenario" and "title" in data:
            data["title"] = f"{data['title']} (copy)"
        text = dump_yaml(data)
        return self.save(kind, text, author=author, note=f"cloned from {content_id}" + (f" revision {revision}" if revision else ""))

    def diff(self, kind: str, content_id: str, a: int, b: int) -> str:
        ra, rb = self.get(kind, content_id, a), self.get(kind, content_id, b)
        lines = difflib.unified_diff(ra.yaml_text.splitlines(), rb.yaml_text.splitlines(), lineterm="",
                                     fromfile=f"{content_id} revision {a}", tofile=f"{content_id} revision {b}")
        out = "".join(line + "\n" for line in lines)
        return out or f"revisions {a} and {b} have the same text\n"

    # ------------------------------------------------------------------ in use, delete
    def usage(self, kind: str, content_id: str, catalog: "Catalog | None" = None) -> Usage:
        u = Usage()
        if catalog is not None:
            for fn in REFERRERS:
                for rkind, rid, tkind, tid in fn(catalog):
                    if tkind == kind and tid == content_id and (rkind, rid) not in u.referrers:
                        u.referrers.append((rkind, rid))
        col = {"persona": CallRecord.persona_id, "scenario": CallRecord.scenario_id}.get(kind)
        if col is not None:
            with self.store.session() as s:
                u.calls = int(s.exec(select(func.count(CallRecord.id)).where(col == content_id)).one())
        return u

    def delete(self, kind: str, content_id: str, *, catalog: "Catalog | None" = None) -> int:
        """Remove an unused item made in the studio. Seed files and items in use can only be retired."""
        if self.seed_path(kind, content_id) is not None:
            raise InUse(f"{kind} '{content_id}' is seed content from {kind_of(kind).folder}/ in the repository; retire it instead")
        u = self.usage(kind, content_id, catalog)
        if u.in_use:
            raise InUse(f"{kind} '{content_id}' is in use by {u.describe()}; it cannot be deleted, only retired")
        with self.store.session() as s:
            n = len(s.exec(select(ContentRevision.id).where(ContentRevision.kind == kind, ContentRevision.content_id == content_id)).all())
            if not n:
                raise LookupError(f"no {kind} '{content_id}' in the studio")
            s.exec(delete(ContentRevision).where(ContentRevision.kind == kind, ContentRevision.content_id == content_id))  # type: ignore[call-overload]
            s.commit()
        return n

    # ------------------------------------------------------------------ pinning sessions
    def pin(self, kind: str, item: BaseModel) -> ContentRevision:
        """The stored revision holding exactly this item, created if needed (an untouched seed file, say).
        Calls record its number, so a scorecard can always be traced to the text the trainee faced."""
        cid = getattr(item, "id")
        chash = content_hash(item)
        with self.store.session() as s:
            found = s.exec(select(ContentRevision).where(ContentRevision.kind == kind, ContentRevision.content_id == cid,
                                                         ContentRevision.content_hash == chash)
                           .order_by(ContentRevision.revision.desc())).first()  # type: ignore[union-attr]
        if found is not None:
            return found
        path = self.seed_path(kind, cid)
        if path is not None:
            text = path.read_text(encoding="utf-8")
            try:
                if content_hash(parse_content(kind, text)) == chash:
                    return self._add(kind, cid, text, chash=chash, status=PUBLISHED, source="seed", author="seed",
                                     note=f"seed file {path.relative_to(self.seed_root)}")
            except ContentError:
                pass
        return self._add(kind, cid, dump_yaml(item.model_dump(mode="json", exclude_defaults=True)), chash=chash,
                         status=PUBLISHED, source="snapshot", author="system", note="snapshot of the content a call used")

    def pin_call(self, persona: BaseModel, scenario: BaseModel) -> dict[str, dict]:
        """What a call stores in its settings: {kind: {id, revision, hash}} for each piece of content."""
        out = {}
        for kind, item in (("persona", persona), ("scenario", scenario)):
            rev = self.pin(kind, item)
            out[kind] = {"id": rev.content_id, "revision": rev.revision, "hash": rev.content_hash}
        return out

    # ------------------------------------------------------------------ files
    def import_file(self, path: Path, *, author: str, kind: str | None = None, publish: bool = False) -> ContentRevision:
        path = Path(path)
        k = kind_of(kind) if kind else kind_for_path(path)
        if k is None:
            raise ContentError([ContentProblem(file=str(path), field="", message="cannot tell whether this is a " + " or ".join(KINDS),
                                               fix=f"put it in a folder named {' / '.join(x.folder for x in KINDS.values())}, or choose the kind")])
        try:
            # The size first, from the file system: an upload of any size reaches this, and reading (then parsing) a
            # 20 MB file took half a minute and kept it all in memory. The text is checked again as it is parsed.
            check_yaml_size(path.stat().st_size, str(path))
            with path.open("rb") as fh:
                raw = fh.read(MAX_YAML_BYTES + 1)   # bounded even if the file grew since the stat
            check_yaml_size(len(raw), str(path))
            text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")   # newlines as read_text gave them
        except (OSError, UnicodeDecodeError) as exc:
            raise ContentError([ContentProblem(file=str(path), field="", message=f"cannot read the file ({exc.__class__.__name__})",
                                               fix="check the path and save it as UTF-8 text")]) from None
        parse_content(k, text, str(path))          # errors name the imported file; aliases and anchors are refused
        return self.save(k.name, text, author=author, note=f"imported from {path.name}", publish=publish, source="import")

    def export(self, kind: str, content_id: str, dest: Path, *, revision: int | None = None) -> Path:
        """Write the YAML to dest/<folder>/<id>.yaml (dest may also be a .yaml file path)."""
        k = kind_of(kind)
        text = self.text_of(kind, content_id, revision)
        dest = Path(dest)
        out = dest if dest.suffix in (".yaml", ".yml") else dest / k.folder / f"{content_id}.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        return out

    def export_all(self, dest: Path, *, include_drafts: bool = False) -> list[Path]:
        """Every item edited in the studio (published ones, or the latest draft too)."""
        written = []
        for k in KINDS.values():
            for cid in self.ids(k.name):
                rev = self.latest(k.name, cid) if include_drafts else self.effective(k.name).get(cid)
                if rev is not None and rev.status != RETIRED:
                    written.append(self.export(k.name, cid, dest, revision=rev.revision))
        return written
