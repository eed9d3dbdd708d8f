"""Knowledge-base articles: create, edit (every save a new version), publish, archive, versions,
diff, roll back, synonyms; every change audited (subject ``kb#<article_id>``).

Who: agents (and the bot) read and search; supervisors and admins write articles (they own the
answers customers get); only admins edit the synonym table (it changes every search).

Every save is one DynamoDB transaction: the new ``kb-versions`` item (condition: that version does
not exist yet) and the article's head (condition: its version is still the one read), so two
editors never lose each other's change (409) and history never has a gap. Publishing embeds the
article's units once (the vectors are stored with the published snapshot) and takes the next index
sequence number (atomic ADD on ``kb-index``): searchers on every warm Lambda catch up within
``searcher.REFRESH_SECONDS`` (``chalicelib/kb/searcher.py``).
"""

from __future__ import annotations

import difflib
import uuid
from typing import Any

import numpy as np
from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib.audit import service as audit
from chalicelib.db import transact_write
from chalicelib.errors import Conflict, Forbidden, Invalid, NotFound
from chalicelib.kb.bodies import ArticleBody, ArticleChanges, SynonymsBody
from chalicelib.kb.models import (
    INDEX_PART,
    POINTER_KIND,
    POINTER_NAME,
    SYNONYMS_KIND,
    SYNONYMS_NAME,
    Article,
    ArticleVersion,
    IndexPointer,
    SynonymSet,
    stored_synonym_groups,
)
from chalicelib.messages import iso, utcnow

DRAFT, PUBLISHED, ARCHIVED = "draft", "published", "archived"
CONTENT = ("title", "body", "language", "questions", "tags", "skill_groups", "channels")
EDITOR_ROLE = "supervisor"
LIST_LIMIT = 100


class ArticleNotFound(NotFound):
    code = "article_not_found"


class StaleVersion(Conflict):
    code = "stale_version"


def new_article_id() -> str:
    return f"kb_{uuid.uuid4().hex[:16]}"


def _subject(article_id: str) -> str:
    return f"kb#{article_id}"


# ---- reading ------------------------------------------------------------------------------------
def load(article_id: str, *, consistent: bool = False) -> Article:
    try:
        return Article.get(article_id, consistent_read=consistent)
    except DoesNotExist:
        raise ArticleNotFound(f"article {article_id} not found") from None


def content_of(article: Article) -> dict[str, Any]:
    return {
        "title": article.title,
        "body": article.body,
        "language": article.language,
        "questions": list(article.questions or []),
        "tags": list(article.tags or []),
        "skill_groups": list(article.skill_groups or []),
        "channels": list(article.channels or []),
    }


def view(article: Article) -> dict[str, Any]:
    return {
        "article_id": article.article_id,
        **content_of(article),
        "status": article.status,
        "version": int(article.version),
        "published_version": int(article.published_version) if article.published_version else None,
        "created_at": article.created_at,
        "created_by": article.created_by,
        "updated_at": article.updated_at,
        "updated_by": article.updated_by,
    }


def summary(article: Article) -> dict[str, Any]:
    """What a write answers: ``{article_id, status, version}``."""
    return {"article_id": article.article_id, "status": article.status, "version": int(article.version)}


def get_version(article_id: str, version: int) -> ArticleVersion:
    try:
        return ArticleVersion.get(article_id, version)
    except DoesNotExist:
        raise NotFound(f"article {article_id} has no version {version}") from None


def read(article_id: str, version: int | None = None) -> dict[str, Any]:
    """The article's head, or one of its versions (content as saved then)."""
    article = load(article_id)
    if version is None or version == int(article.version):
        return view(article)
    saved = get_version(article_id, version)
    return {
        "article_id": article_id,
        **saved.content,
        "version": int(saved.version),
        "head_version": int(article.version),
        "saved_at": saved.saved_at,
        "saved_by": saved.saved_by,
    }


def published_article(article_id: str) -> dict[str, Any] | None:
    """The live (published) content of an article, None if it is not published (the bot's read:
    it answers only from what is live, never from a draft being edited)."""
    try:
        article = Article.get(article_id)
    except DoesNotExist:
        return None
    snap = article.published
    if article.status != PUBLISHED or not snap:
        return None
    return {
        "article_id": article_id,
        "title": snap["title"],
        "body": snap["body"],
        "language": snap["language"],
        "questions": list(snap.get("questions") or []),
        "channels": list(snap.get("channels") or []),
        "version": int(snap.get("version") or article.published_version or 0),
    }


def listing(status: str | None = None, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    """Articles of one status (or of every status), most recently changed first: one Query on
    ``by_status`` per status, then one BatchGet."""
    statuses = [status] if status else [PUBLISHED, DRAFT, ARCHIVED]
    if any(s not in (DRAFT, PUBLISHED, ARCHIVED) for s in statuses):
        raise Invalid("status is draft, published or archived")
    keys: list[tuple[str, str]] = []
    for s in statuses:
        keys += [
            (k.updated_at, k.article_id)
            for k in Article.by_status.query(s, scan_index_forward=False, limit=limit)
        ]
    keys.sort(reverse=True)
    ids = [article_id for _, article_id in keys[:limit]]
    found = {a.article_id: a for a in Article.batch_get(ids)} if ids else {}
    return [{k: v for k, v in view(found[i]).items() if k != "body"} for i in ids if i in found]


def versions(article_id: str) -> list[dict[str, Any]]:
    load(article_id)
    return [
        {
            "version": int(v.version),
            "action": v.action,
            "changes": list(v.changes or []),
            "saved_at": v.saved_at,
            "saved_by": v.saved_by,
            "status": v.content.get("status"),
            **({"rolled_back_to": int(v.rolled_back_to)} if v.rolled_back_to else {}),
        }
        for v in ArticleVersion.query(article_id, scan_index_forward=False)
    ]


def diff(article_id: str, a: int, b: int) -> dict[str, Any]:
    """What changed from version ``a`` to ``b``: text fields as unified diffs, lists as added and
    removed items, other fields as before/after."""
    old, new = get_version(article_id, a).content, get_version(article_id, b).content
    fields: dict[str, Any] = {}
    for name in (*CONTENT, "status"):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if name in ("title", "body"):
            fields[name] = {
                "before": before,
                "after": after,
                "unified": "\n".join(
                    difflib.unified_diff(
                        str(before or "").splitlines(),
                        str(after or "").splitlines(),
                        f"v{a}",
                        f"v{b}",
                        lineterm="",
                    )
                ),
            }
        elif isinstance(before, list) or isinstance(after, list):
            b_list, a_list = list(before or []), list(after or [])
            fields[name] = {
                "added": [x for x in a_list if x not in b_list],
                "removed": [x for x in b_list if x not in a_list],
            }
        else:
            fields[name] = {"before": before, "after": after}
    return {"article_id": article_id, "from": a, "to": b, "fields": fields}


# ---- writing ------------------------------------------------------------------------------------
def _require_editor(role_ok: bool) -> None:
    if not role_ok:
        raise Forbidden("only supervisors and admins edit articles")


def _changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [k for k in (*CONTENT, "status") if before.get(k) != after.get(k)]


def _save(
    article: Article,
    *,
    expected: int,
    actor: str,
    action: str,
    content: dict[str, Any],
    status: str,
    changes: list[str],
    index: tuple[int, dict[str, Any] | None, bytes | None] | None = None,
    rolled_back_to: int | None = None,
) -> Article:
    """Write version ``expected + 1`` and the head, in one transaction."""
    now = iso(utcnow())
    version = expected + 1
    record = ArticleVersion(
        article.article_id,
        version,
        content={**content, "status": status},
        action=action,
        changes=changes,
        saved_at=now,
        saved_by=actor,
        rolled_back_to=rolled_back_to,
    )
    for name, value in content.items():
        setattr(article, name, value)
    article.status = status
    article.version = version
    article.updated_at = now
    article.updated_by = actor
    if expected == 0:
        article.created_at, article.created_by = now, actor
    if index is not None:
        seq, published, vectors = index
        article.index_part = INDEX_PART
        article.index_seq = seq
        if published is not None:
            article.published = published
            article.published_version = version
            article.vectors = vectors
            from chalicelib.kb.embed import embedder

            article.vectors_model = embedder().name
    try:
        with transact_write() as tx:
            tx.save(record, condition=ArticleVersion.version.does_not_exist())
            tx.save(
                article,
                condition=(
                    Article.article_id.does_not_exist() if expected == 0 else Article.version == expected
                ),
            )
    except TransactWriteError as exc:
        raise StaleVersion(
            f"article {article.article_id} changed since version {expected}: reload and retry"
        ) from exc
    audit.record(
        _subject(article.article_id),
        actor,
        f"kb.{action}",
        {
            "version": version,
            "changes": changes,
            **({"rolled_back_to": rolled_back_to} if rolled_back_to else {}),
        },
    )
    return article


def next_index_seq() -> int:
    """The next index sequence number (atomic ADD): every change searchers must see takes one."""
    pointer = IndexPointer(POINTER_KIND, POINTER_NAME)
    pointer.update(actions=[IndexPointer.seq.add(1)])
    return int(pointer.seq)


def _published_index(
    article_id: str, content: dict[str, Any], version: int
) -> tuple[int, dict[str, Any], bytes]:
    from chalicelib.kb.embed import embedder
    from chalicelib.kb.engine import Doc, units

    doc = Doc(
        article_id,
        content["title"],
        content["body"],
        content["language"],
        tuple(content["questions"]),
        tuple(content["channels"]),
        version,
    )
    vectors = embedder().encode(units(doc)).astype(np.float16)
    published = {
        **{k: content[k] for k in ("title", "body", "language", "questions", "channels")},
        "version": version,
    }
    return next_index_seq(), published, vectors.tobytes()


def create(actor: str, editor: bool, body: ArticleBody) -> Article:
    _require_editor(editor)
    article = Article(new_article_id())
    content = body.model_dump(include=set(CONTENT))
    if body.status == PUBLISHED:
        index = _published_index(article.article_id, content, 1)
        article = _save(
            article,
            expected=0,
            actor=actor,
            action="publish",
            content=content,
            status=PUBLISHED,
            changes=list(CONTENT),
            index=index,
        )
    else:
        article = _save(
            article,
            expected=0,
            actor=actor,
            action="create",
            content=content,
            status=DRAFT,
            changes=list(CONTENT),
        )
    _notify(article)
    return article


def update(actor: str, editor: bool, article_id: str, changes: ArticleChanges) -> Article:
    _require_editor(editor)
    article = load(article_id, consistent=True)
    if changes.version is not None and changes.version != int(article.version):
        raise StaleVersion(f"article {article_id} is at version {article.version}, not {changes.version}")
    if article.status == ARCHIVED:
        raise Conflict(f"article {article_id} is archived: roll back or create a new one")
    before = {**content_of(article), "status": article.status}
    given = changes.model_dump(include=set(CONTENT), exclude_none=True)
    content = {**content_of(article), **given}
    publish_now = changes.status == PUBLISHED
    status = PUBLISHED if publish_now else article.status
    changed = _changed(before, {**content, "status": status})
    if not changed and not (publish_now and article.published_version != article.version):
        return article
    expected = int(article.version)
    index = _published_index(article_id, content, expected + 1) if publish_now else None
    article = _save(
        article,
        expected=expected,
        actor=actor,
        action="publish" if publish_now else "update",
        content=content,
        status=status,
        changes=changed,
        index=index,
    )
    _notify(article)
    return article


def publish(actor: str, editor: bool, article_id: str) -> Article:
    """The head version goes live (a new version recording the publication)."""
    _require_editor(editor)
    article = load(article_id, consistent=True)
    if article.status == PUBLISHED and article.published_version == article.version:
        return article
    content = content_of(article)
    expected = int(article.version)
    index = _published_index(article_id, content, expected + 1)
    article = _save(
        article,
        expected=expected,
        actor=actor,
        action="publish",
        content=content,
        status=PUBLISHED,
        changes=["status"],
        index=index,
    )
    _notify(article)
    return article


def archive(actor: str, editor: bool, article_id: str) -> Article:
    """Out of search at once; kept with its history (roll back brings it back as a draft)."""
    _require_editor(editor)
    article = load(article_id, consistent=True)
    if article.status == ARCHIVED:
        return article
    index = (next_index_seq(), None, None) if article.index_part else None
    article = _save(
        article,
        expected=int(article.version),
        actor=actor,
        action="archive",
        content=content_of(article),
        status=ARCHIVED,
        changes=["status"],
        index=index,
    )
    _notify(article)
    return article


def rollback(actor: str, editor: bool, article_id: str, version: int) -> Article:
    """A new head version with the content of ``version``. A published article stays published
    with that content (the roll back is live at once); an archived one comes back as a draft."""
    _require_editor(editor)
    article = load(article_id, consistent=True)
    if version >= int(article.version) + 1:
        raise Invalid(f"article {article_id} has no version {version} to roll back to")
    target = get_version(article_id, version).content
    content = {k: target.get(k, []) for k in CONTENT}
    status = PUBLISHED if article.status == PUBLISHED else DRAFT
    expected = int(article.version)
    index = _published_index(article_id, content, expected + 1) if status == PUBLISHED else None
    if status == DRAFT and article.status == ARCHIVED:
        index = None
    article = _save(
        article,
        expected=expected,
        actor=actor,
        action="rollback",
        content=content,
        status=status,
        changes=_changed({**content_of(article), "status": article.status}, {**content, "status": status}),
        index=index,
        rolled_back_to=version,
    )
    _notify(article)
    return article


def history(article_id: str) -> list[dict[str, Any]]:
    """The article's audit trail (who did what, when)."""
    load(article_id)
    return [
        {"at": r.at.split("#", 1)[0], "actor": r.actor, "action": r.action, "details": r.details}
        for r in audit.history(_subject(article_id))
    ]


def _notify(article: Article) -> None:
    """This process's searcher applies the change at once (others catch up by the sequence)."""
    from chalicelib.kb import searcher

    searcher.applied(article)


# ---- synonyms -----------------------------------------------------------------------------------
def synonyms_view() -> dict[str, Any]:
    try:
        item = SynonymSet.get(SYNONYMS_KIND, SYNONYMS_NAME, consistent_read=True)
    except DoesNotExist:
        return {"version": 0, "groups": [], "updated_at": None, "updated_by": None}
    return {
        "version": int(item.version),
        "groups": item.groups,
        "updated_at": item.updated_at,
        "updated_by": item.updated_by,
    }


def stored_groups() -> tuple[int, list[list[str]]]:
    return stored_synonym_groups()


def save_synonyms(actor: str, body: SynonymsBody) -> dict[str, Any]:
    """Replace the admins' synonym groups (they add to the built-in ones); every searcher rebuilds
    its index with them on its next refresh."""
    from chalicelib.versions import VersionConflict, save_versioned

    groups = [list(dict.fromkeys(w.strip() for w in g if w.strip())) for g in body.groups]
    if any(len(g) < 2 for g in groups):
        raise Invalid("a synonym group needs two different words")
    item = SynonymSet(SYNONYMS_KIND, SYNONYMS_NAME, groups=groups, updated_at=iso(utcnow()), updated_by=actor)
    try:
        version = save_versioned(item, body.version, "KB synonyms")
    except VersionConflict as exc:
        raise Conflict(str(exc)) from exc
    pointer = IndexPointer(POINTER_KIND, POINTER_NAME)
    pointer.update(actions=[IndexPointer.seq.add(1), IndexPointer.synonyms_version.set(version)])
    audit.record("kb-synonyms", actor, "kb.synonyms.replace", {"version": version, "groups": len(groups)})
    return synonyms_view()
