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
    """What a batch did: new and changed example ids, and the items not stored (with why)."""

    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    duplicates: list[tuple[int, str]] = field(default_factory=list)


def example_texts(example: CanonicalExample | Example) -> list[str]:
    """Every text of an example that search looks at: messages, then alternatives."""
    messages = [m if isinstance(m, dict) else m.model_dump() for m in example.messages]
    texts = [str(m.get("content", "")) for m in messages]
    for alt in example.alternatives or []:
        alt_messages = alt["messages"] if isinstance(alt, dict) else alt.model_dump()["messages"]
        texts.extend(str(m.get("content", "")) for m in alt_messages)
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
        "messages": [m.model_dump(exclude_none=False) for m in example.messages],
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
    """Store a batch in the caller's transaction. Items are reported by their index in `items`."""
    result = StoreResult()
    digests = [content_hash(item) for item in items]
    external = [item.external_id for item in items if item.external_id]
    known_hashes, known_ids = repositories.existing_keys(session, dataset.id, digests, external)
    languages = detect_languages([language_sample(item) for item in items])

    seen_hashes: set[str] = set()
    seen_ids: set[str] = set()
    new_rows: list[dict[str, Any]] = []
    new_tokens: list[list[str]] = []
    updates: list[tuple[int, int]] = []  # (item index, example id)
    for index, (item, digest) in enumerate(zip(items, digests, strict=True)):
        ext = item.external_id
        if ext is not None and ext in seen_ids:
            result.duplicates.append((index, f"external_id {ext!r} repeats an earlier item"))
            continue
        if ext is not None and ext in known_ids:
            seen_ids.add(ext)
            example_id, stored_hash = known_ids[ext]
            if stored_hash == digest:
                result.unchanged.append(example_id)
            elif digest in known_hashes or digest in seen_hashes:
                result.duplicates.append((index, "same content as another stored example"))
            else:
                seen_hashes.add(digest)
                updates.append((index, example_id))
            continue
        if digest in known_hashes or digest in seen_hashes:
            result.duplicates.append((index, "same content as an example already stored"))
            continue
        seen_hashes.add(digest)
        if ext is not None:
            seen_ids.add(ext)
        new_rows.append(to_row(dataset.id, item, digest, languages[index]))
        new_tokens.append(analyzer.analyze_all(example_texts(item)))

    result.created = repositories.insert_examples(session, new_rows)
    docs = list(zip(result.created, new_tokens, strict=True))
    for index, example_id in updates:
        example = session.get_one(Example, example_id)
        row = to_row(dataset.id, items[index], digests[index], languages[index])
        for key in (
            "content_hash",
            "messages",
            "alternatives",
            "tools",
            "label",
            "meta",
            "language",
        ):
            setattr(example, key, row[key])
        result.updated.append(example_id)
        docs.append((example_id, analyzer.analyze_all(example_texts(items[index]))))
    session.flush()
    repositories.index_examples(session, docs)
    return result
