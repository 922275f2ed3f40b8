"""Storing canonical examples: dedup by content hash, upsert by external id, index for search."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app import repositories
from app.canonical import CanonicalExample, content_hash
from app.models import Dataset, Example
from app.models.types import utcnow
from app.services import analyzer
from app.services.language import detect_languages


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


def to_row(
    dataset_id: int, example: CanonicalExample, digest: str, language: str | None
) -> dict[str, Any]:
    """The examples-table row for a canonical example."""
    now = utcnow()
    return {
        "dataset_id": dataset_id,
        "external_id": example.external_id,
        "content_hash": digest,
        "messages": [m.model_dump() for m in example.messages],
        "alternatives": [a.model_dump(exclude_none=True) for a in example.alternatives] or None,
        "tools": example.tools,
        "label": example.label,
        "meta": example.metadata,
        "language": language,
        "status": "pending",
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def store_examples(
    session: Session, dataset: Dataset, items: list[CanonicalExample]
) -> StoreResult:
    """Store a batch in the caller's transaction. Items are reported by their index in `items`.

    The same content is never stored twice in a dataset; an item with a known external id
    replaces that example's content. Within a batch, the first of two equal items wins.
    """
    result = StoreResult()
    languages = detect_languages([language_sample(item) for item in items])
    seen_hashes: set[str] = set()
    seen_ids: set[str] = set()
    staged: list[tuple[int, dict[str, Any]]] = []
    docs: list[analyzer.Analyzed] = []
    for index, item in enumerate(items):
        digest = content_hash(item)
        if item.external_id is not None and item.external_id in seen_ids:
            result.duplicates.append(
                (index, f"external_id {item.external_id!r} repeats an earlier item")
            )
            continue
        if digest in seen_hashes:
            result.duplicates.append((index, "same content as an earlier item"))
            continue
        seen_hashes.add(digest)
        if item.external_id is not None:
            seen_ids.add(item.external_id)
        staged.append((index, to_row(dataset.id, item, digest, languages[index])))
        docs.append(analyzer.analyze(example_texts(item)))

    outcome = repositories.upsert_examples(session, dataset.id, [r for _, r in staged], docs)
    for index, row in staged:
        ext = row["external_id"]
        if row["content_hash"] in outcome.inserted:
            result.created.append(outcome.inserted[row["content_hash"]])
        elif ext in outcome.updated:
            result.updated.append(outcome.updated[ext])
        elif ext in outcome.unchanged:
            result.unchanged.append(outcome.unchanged[ext])
        else:
            result.duplicates.append((index, "same content as an example already stored"))
    return result
