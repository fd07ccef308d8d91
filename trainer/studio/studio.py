"""The studio's actions over the running app, as plain functions the web UI and the CLI share.

Saving never publishes; publishing refreshes the catalog that practice calls use; every action names
its author. Every method takes the acting principal and checks it (`require_editor`): a signed-in trainer or
admin in the web app, a named SystemPrincipal in the CLI.
"""
from __future__ import annotations

import logging
import re
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..content import ContentError, ContentProblem
from ..persona import Persona
from .autoplay import AutoplayResult, Line, Rehearsal, autoplay
from .draft import DraftResult, draft_persona
from .forms import Validation, apply_form, form_values, problems_markdown, validate_text
from .kinds import KINDS, kind_of
from .revisions import DRAFT, PUBLISHED, RETIRED, ContentRevision, InUse, Revisions

if TYPE_CHECKING:
    from ..service import Frontline

log = logging.getLogger(__name__)

STATUS_MARK = {DRAFT: "draft", PUBLISHED: "published", RETIRED: "retired"}
CONTENT_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")   # the id pattern of every content kind: it names files, so no paths


def require_editor(actor) -> str:
    """The editing principal's name, for the audit trail, if they may edit content: a signed-in trainer or admin (the
    web app), or a named accounts.SystemPrincipal (the CLI, run by whoever holds the content files and the database).
    Anything else is refused: nobody signed in, another role, or a bare name typed into a form."""
    from ..accounts import NotLoggedIn, PermissionDenied, User, is_system, require_role
    if actor is None:
        raise NotLoggedIn("sign in as a trainer to use the studio")
    if is_system(actor):
        return actor.username
    if not isinstance(actor, User):
        raise PermissionDenied("the studio acts only for a signed-in trainer or admin")
    require_role(actor, "trainer", "admin")
    return actor.username


class Studio:
    def __init__(self, app: "Frontline", *, max_rehearsals: int = 64):
        self.app = app
        self.revisions: Revisions = app.revisions
        self._rehearsals: OrderedDict[str, Rehearsal] = OrderedDict()
        self._lock = threading.Lock()
        self.max_rehearsals = max_rehearsals

    # ------------------------------------------------------------------ listing and opening
    def items(self, kind: str, *, actor) -> list[tuple[str, str]]:
        """(label, id) for every item of a kind: served ones, drafts and retired ones, with their state."""
        require_editor(actor)
        k = kind_of(kind)
        served = getattr(self.app.catalog, k.catalog_attr, {})
        effective = self.revisions.effective(kind)
        ids = sorted(set(served) | set(self.revisions.ids(kind)) | {p.stem for p in (self.revisions.seed_root / k.folder).glob("*.y*ml")})
        out = []
        for cid in ids:
            eff, last = effective.get(cid), self.revisions.latest(kind, cid)
            if eff is not None and eff.status == RETIRED:
                state = "retired"
            elif cid in served:
                state = "published" + (f" r{eff.revision}" if eff is not None and eff.source != "seed" else " (seed file)")
            else:
                state = "draft only"
            if last is not None and last.status == DRAFT and (eff is None or last.revision > eff.revision):
                state += f", draft r{last.revision}"
            out.append((f"{cid} — {state}", cid))
        return out

    def open(self, kind: str, content_id: str, *, actor) -> str:
        """The YAML of an item's newest revision (drafts included: it holds the assessment's answers, trainers only)."""
        require_editor(actor)
        return self.revisions.text_of(kind, content_id)

    def blank(self, kind: str, *, actor) -> str:
        """A starting point for a new item: a copy of the first seed item with a new id."""
        require_editor(actor)
        k = kind_of(kind)
        seeds = sorted((self.revisions.seed_root / k.folder).glob("*.y*ml"))
        if not seeds:
            return "id: new-item\n"
        text = seeds[0].read_text(encoding="utf-8")
        return re.sub(r"^id:.*$", f"id: new-{kind}", text, count=1, flags=re.M)

    def validate(self, kind: str, yaml_text: str) -> Validation:
        v = validate_text(kind, yaml_text)
        if v.model is not None and kind == "scenario":
            cat = self.app.catalog
            sc = v.model
            persona = getattr(sc, "persona")
            if persona not in cat.personas:
                v.problems.append(ContentProblem(file="scenarios/(studio draft).yaml", field="persona",
                                                 message=f"no published persona '{persona}'",
                                                 fix=f"use one of: {', '.join(sorted(cat.personas))}, or publish that persona first"))
                v.model = None
        return v

    def validation_markdown(self, kind: str, yaml_text: str, *, actor) -> str:
        require_editor(actor)
        return problems_markdown(kind, self.validate(kind, yaml_text).problems)

    def form_values(self, kind: str, yaml_text: str, *, actor) -> dict:
        """The editor's form fields for a YAML text (trainers only: the form is the studio's)."""
        require_editor(actor)
        return form_values(kind, yaml_text)

    def apply_form(self, kind: str, yaml_text: str, values: dict, *, actor) -> str:
        """The YAML text with the form's values written into it, comments and layout kept."""
        require_editor(actor)
        return apply_form(kind, yaml_text, values)

    # ------------------------------------------------------------------ revisions
    def save(self, kind: str, yaml_text: str, *, author, note: str = "", publish: bool = False) -> ContentRevision:
        author = require_editor(author)
        v = self.validate(kind, yaml_text)
        if not v.ok:
            raise ContentError(v.problems)
        rev = self.revisions.save(kind, yaml_text, author=author, note=note, publish=publish)
        return rev

    def publish(self, kind: str, content_id: str, revision: int | None = None, *, author) -> ContentRevision:
        author = require_editor(author)
        rev = self.revisions.get(kind, content_id, revision) if revision else self.revisions.latest(kind, content_id)
        if rev is None:
            raise LookupError(f"save {kind} '{content_id}' before publishing it")
        v = self.validate(kind, rev.yaml_text)
        if not v.ok:
            raise ContentError(v.problems)
        return self.revisions.publish(kind, content_id, rev.revision, author=author)

    def retire(self, kind: str, content_id: str, *, author) -> tuple[ContentRevision, str]:
        author = require_editor(author)
        usage = self.revisions.usage(kind, content_id, self.app.catalog)
        rev = self.revisions.retire(kind, content_id, author=author)
        note = ""
        if usage.referrers:
            note = (f"Still referenced by {', '.join(f'{k} {i}' for k, i in usage.referrers)}: "
                    "those are hidden from practice until they point at another item.")
        return rev, note

    def delete(self, kind: str, content_id: str, *, author) -> int:
        require_editor(author)
        return self.revisions.delete(kind, content_id, catalog=self.app.catalog)

    def clone(self, kind: str, content_id: str, new_id: str, *, author) -> ContentRevision:
        author = require_editor(author)
        new_id = (new_id or "").strip()
        if not CONTENT_ID.fullmatch(new_id):
            raise ValueError("the new id must be lowercase letters, digits and dashes, e.g. dana-furious")
        return self.revisions.clone(kind, content_id, new_id, author=author)

    def rollback(self, kind: str, content_id: str, revision: int, *, author) -> ContentRevision:
        return self.revisions.rollback(kind, content_id, int(revision), author=require_editor(author))

    def history_rows(self, kind: str, content_id: str, *, actor) -> list[list]:
        require_editor(actor)
        return [[r.revision, r.status, r.source, r.author, r.note, f"{r.created_at:%Y-%m-%d %H:%M}", r.content_hash]
                for r in self.revisions.history(kind, content_id)]

    def diff(self, kind: str, content_id: str, a: int, b: int, *, actor) -> str:
        require_editor(actor)
        return self.revisions.diff(kind, content_id, int(a), int(b))

    def export(self, kind: str, content_id: str, dest: Path, revision: int | None = None, *, actor) -> Path:
        require_editor(actor)
        return self.revisions.export(kind, content_id, dest, revision=revision)

    def import_file(self, path: Path, *, author, kind: str | None = None) -> ContentRevision:
        return self.revisions.import_file(Path(path), author=require_editor(author), kind=kind)

    # ------------------------------------------------------------------ trying a draft
    def _persona(self, yaml_text: str) -> Persona:
        v = validate_text("persona", yaml_text)
        if not v.ok:
            raise ContentError(v.problems)
        return v.model  # type: ignore[return-value]

    def start_try(self, yaml_text: str, *, actor, use_model: bool = True) -> str:
        """A rehearsal against the draft in the editor (saved or not), for a trainer. Returns its id; only the trainer
        who started it can speak in it."""
        owner = require_editor(actor)
        persona = self._persona(yaml_text)
        backend = self.app.customer_backend() if use_model else None
        cfg = self.app.settings.customer
        r = Rehearsal(persona, backend, temperature=cfg.temperature, sleep=self.app.sleep)
        rid = uuid.uuid4().hex
        r.owner = owner  # type: ignore[attr-defined]
        with self._lock:
            self._rehearsals[rid] = r
            while len(self._rehearsals) > self.max_rehearsals:
                self._rehearsals.popitem(last=False)
        return rid

    def rehearsal(self, rid: str, *, actor) -> Rehearsal:
        who = require_editor(actor)
        with self._lock:
            r = self._rehearsals.get(rid or "")
        if r is None or getattr(r, "owner", None) != who:
            raise ValueError("start a try-out first (press 'Start try-out')")
        return r

    def try_say(self, rid: str, text: str, *, actor) -> Line:
        return self.rehearsal(rid, actor=actor).agent_says(text)

    def autoplay(self, yaml_text: str, *, actor, use_model: bool = False,
                 on_progress: Callable[[str, int, int], None] | None = None) -> AutoplayResult:
        require_editor(actor)
        persona = self._persona(yaml_text)
        backend = self.app.customer_backend() if use_model else None
        return autoplay(persona, backend, temperature=self.app.settings.customer.temperature, on_progress=on_progress,
                        sleep=self.app.sleep)

    def draft(self, sentence: str, *, actor, on_progress: Callable[[str], None] | None = None) -> DraftResult:
        require_editor(actor)
        try:
            backend = self.app.customer_backend()
        except Exception as exc:  # noqa: BLE001 - no model at all: the template still gives the trainer a start
            log.warning("no customer model for drafting: %s", exc)
            backend = None
        return draft_persona(sentence, backend, on_progress=on_progress, sleep=self.app.sleep)


__all__ = ["Studio", "InUse", "require_editor", "KINDS"]
