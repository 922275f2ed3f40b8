"""Storing canonical examples: dedup by content hash, upsert by external id, index for search.

Work is split in two so bulk imports can spread it over processes: `stage_examples` is pure
CPU (hash, language, search document, JSON encoding) and touches no database; `store_staged`
writes a staged batch in the caller's transaction.
"""

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.orm import Session, sessionmaker

from app import repositories
from app.canonical import CanonicalExample, content_hash
from app.db import is_postgres
from app.models import Dataset, Example
from app.models.types import utcnow
from app.repositories import StagedRow
from app.services import analyzer
from app.services.language import detect_languages

log = logging.getLogger(__name__)


@dataclass
class StoreResult:
    """What a batch did: new, changed and unchanged example ids, and the items left out (why)."""

    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    duplicates: list[tuple[int, str]] = field(default_factory=list)


def example_texts(example: CanonicalExample | Example) -> list[str]:
    """Every text of an example that search looks at: messages, then alternatives."""
    if isinstance(example, CanonicalExample):
        texts = [m.content for m in example.messages]
        texts += [m.content for alt in example.alternatives for m in alt.messages]
        return texts
    texts = [str(m.get("content", "")) for m in example.messages]
    texts += [str(m.get("content", "")) for a in example.alternatives or [] for m in a["messages"]]
    return texts


def language_sample(example: CanonicalExample) -> str:
    """The text language is judged on: the first user turn (else the first turn)."""
    for message in example.messages:
        if message.role == "user" and message.content.strip():
            return message.content
    return example.messages[0].content


def _json(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # what orjson will not encode (integers past 64 bits, non-string keys)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def stage_examples(items: list[CanonicalExample], postgres: bool) -> list[StagedRow]:
    """Everything about a batch that needs no database: hash, language, search document."""
    languages = detect_languages([language_sample(item) for item in items])
    staged = []
    for item, language in zip(items, languages, strict=True):
        doc = analyzer.analyze(example_texts(item))
        alternatives = [a.model_dump(exclude_none=True) for a in item.alternatives] or None
        messages = [m.model_dump() for m in item.messages]
        values = (
            item.external_id,
            content_hash(item, messages),
            _json(messages),
            _json(alternatives),
            _json(item.tools),
            item.label,
            _json(item.metadata),
            language,
        )
        if postgres:
            copy = repositories.copy_fields(values, analyzer.to_tsvector_binary(doc))
            staged.append(StagedRow(item.external_id, values[1], copy=copy))
        else:
            fts = analyzer.to_fts5_text(doc)
            staged.append(StagedRow(item.external_id, values[1], values, fts=fts))
    return staged


def store_staged(session: Session, dataset: Dataset, rows: list[StagedRow]) -> StoreResult:
    """Write a staged batch in the caller's transaction; items are reported by their index.

    The same content is never stored twice in a dataset; an item with a known external id
    replaces that example's content. Within a batch, the first of two equal items wins, and
    of two items with one external id the later wins, as it would across batches or pushes:
    what is stored does not hang on where a file's batches are cut.
    """
    result = StoreResult()
    last = {row.external_id: index for index, row in enumerate(rows) if row.external_id}
    pending: list[tuple[int, StagedRow]] = []
    for index, row in enumerate(rows):
        ext = row.external_id
        if ext is not None and last[ext] != index:
            result.duplicates.append(
                (index, f"external_id {ext!r} is given again later: the later item is kept")
            )
        else:
            pending.append((index, row))
    again = _store_round(session, dataset, pending, result, retry=True)
    if again:
        _store_round(session, dataset, again, result, retry=False)
    result.duplicates.sort()  # in the batch's order, whichever round found them
    return result


def _store_round(
    session: Session,
    dataset: Dataset,
    rows: list[tuple[int, StagedRow]],
    result: StoreResult,
    retry: bool,
) -> list[tuple[int, StagedRow]]:
    """Store the rows (each external id once); with `retry`, return those to look up once
    more: a row with an external id that was neither stored nor matched. Another transaction
    may have stored that id after this one looked it up (its insert then waited for that one
    and did nothing), or the content it takes may belong to an example this batch has just
    changed (a=X, b=Y, then a=W, b=X). Looked up again, the first is an update and the
    second goes in; a row whose content another example holds is still a duplicate."""
    seen_hashes: set[str] = set()
    kept: list[tuple[int, StagedRow]] = []
    for index, row in rows:
        if row.content_hash in seen_hashes:
            result.duplicates.append((index, "same content as an earlier item"))
        else:
            seen_hashes.add(row.content_hash)
            kept.append((index, row))

    later: list[tuple[int, StagedRow]] = []
    outcome = repositories.upsert_examples(session, dataset.id, [r for _, r in kept], utcnow())
    for index, row in kept:
        ext = row.external_id
        if row.content_hash in outcome.inserted:
            result.created.append(outcome.inserted[row.content_hash])
        elif ext in outcome.updated:
            result.updated.append(outcome.updated[ext])
        elif ext in outcome.unchanged:
            result.unchanged.append(outcome.unchanged[ext])
        elif ext is not None and retry:
            later.append((index, row))
        else:
            result.duplicates.append((index, "same content as an example already stored"))
    return later


def store_examples(
    session: Session, dataset: Dataset, items: list[CanonicalExample]
) -> StoreResult:
    """Stage and store a batch in one go (small batches: the demo, REST pushes)."""
    return store_staged(session, dataset, stage_examples(items, is_postgres(session)))


def merge_pending_search_entries(make_session: sessionmaker[Session]) -> int | None:
    """Merge the search index's pending list (Postgres) in a transaction of its own: bulk
    writes let it grow to 64 MB (256 MB during a large import, which merges it every few
    seconds) and every search reads it until it is merged. Returns the pages merged; None
    where that cannot be done (SQLite, a user who does not own the index) or failed (logged:
    autovacuum merges the list too)."""
    try:
        with make_session() as session:
            merged = repositories.merge_search_index(session)
            session.commit()
            return merged
    except Exception:
        log.exception("merging the search index's pending list failed")
        return None
