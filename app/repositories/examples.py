"""SQL for examples: keyset pages, counts, inserts and the search index."""

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    cast,
    false,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from app.models import Example
from app.services import analyzer


@dataclass(frozen=True)
class ExampleFilters:
    """What an example list may be narrowed by (fields come from this allowlist only)."""

    q: str = ""
    status: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Page:
    """One keyset page: the rows and the opaque cursor of the next page (None at the end)."""

    items: list[Example]
    next: str | None


def encode_cursor(last_id: int) -> str:
    """Opaque cursor for the page after the row with this id."""
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor points after; ValueError when the cursor is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except Exception as exc:
        raise ValueError("cursor is not valid") from exc
    if not isinstance(after, int):
        raise ValueError("cursor is not valid")
    return after


# --- examples: reading ---------------------------------------------------------------------


def _search_condition(session: Session, q: str) -> ColumnElement[bool] | None:
    terms = analyzer.query_terms(q)
    if not terms:
        return None
    if session.get_bind().dialect.name == "postgresql":
        condition: ColumnElement[bool] = literal_column("examples.search_vector").bool_op("@@")(
            cast(literal(analyzer.to_tsquery_literal(terms)), TSQUERY)
        )
        return condition
    matching = text("SELECT rowid FROM example_fts WHERE example_fts MATCH :ftsq").bindparams(
        ftsq=analyzer.to_fts5_query(terms)
    )
    return Example.id.in_(matching.columns(rowid=Example.id.type))


def _filtered(session: Session, dataset_id: int, filters: ExampleFilters) -> Any:
    stmt = select(Example).where(Example.dataset_id == dataset_id)
    if filters.status:
        stmt = stmt.where(Example.status == filters.status)
    if filters.language:
        stmt = stmt.where(Example.language == filters.language)
    if filters.q:
        condition = _search_condition(session, filters.q)
        stmt = stmt.where(condition) if condition is not None else stmt.where(false())
    return stmt


def page_examples(
    session: Session, dataset_id: int, filters: ExampleFilters, after: int | None, limit: int
) -> Page:
    """A keyset page of examples in id order (limit+1 fetched to know whether more follow)."""
    stmt = _filtered(session, dataset_id, filters)
    if after is not None:
        stmt = stmt.where(Example.id > after)
    rows = list(session.scalars(stmt.order_by(Example.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].id) if more and rows else None)


def count_examples(session: Session, dataset_id: int, filters: ExampleFilters) -> int:
    """How many examples match the filters."""
    stmt = _filtered(session, dataset_id, filters).with_only_columns(func.count())
    return int(session.scalar(stmt) or 0)


def get_example(session: Session, dataset_id: int, example_id: int) -> Example | None:
    """The example with this id, only if it belongs to the dataset."""
    return session.scalars(
        select(Example).where(Example.id == example_id, Example.dataset_id == dataset_id)
    ).one_or_none()


def neighbours(session: Session, dataset_id: int, example_id: int) -> tuple[int | None, int | None]:
    """Ids of the previous and next example in the dataset, for page navigation."""
    in_dataset = Example.dataset_id == dataset_id
    prev_id = session.scalar(
        select(func.max(Example.id)).where(in_dataset, Example.id < example_id)
    )
    next_id = session.scalar(
        select(func.min(Example.id)).where(in_dataset, Example.id > example_id)
    )
    return prev_id, next_id


# --- examples: writing ---------------------------------------------------------------------


def existing_keys(
    session: Session, dataset_id: int, hashes: Sequence[str], external_ids: Sequence[str]
) -> tuple[set[str], dict[str, tuple[int, str]]]:
    """Content hashes already stored, and stored external ids -> (example id, content hash)."""
    known_hashes: set[str] = set()
    for chunk in _chunks(hashes):
        known_hashes.update(
            session.scalars(
                select(Example.content_hash).where(
                    Example.dataset_id == dataset_id, Example.content_hash.in_(chunk)
                )
            )
        )
    known_ids: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(external_ids):
        for ext, ex_id, h in session.execute(
            select(Example.external_id, Example.id, Example.content_hash).where(
                Example.dataset_id == dataset_id, Example.external_id.in_(chunk)
            )
        ):
            if ext is not None:
                known_ids[ext] = (ex_id, h)
    return known_hashes, known_ids


def _chunks(values: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def insert_examples(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert example rows (already deduplicated); returns their new ids in order."""
    if not rows:
        return []
    result = session.execute(
        insert(Example).returning(Example.id, sort_by_parameter_order=True), rows
    )
    return list(result.scalars())


def index_examples(session: Session, docs: list[tuple[int, list[str]]]) -> None:
    """Write each example's analyzed tokens to the search index (replacing what was there)."""
    if not docs:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("UPDATE examples SET search_vector = CAST(:v AS tsvector) WHERE id = :id"),
            [{"id": i, "v": analyzer.to_tsvector_literal(t)} for i, t in docs],
        )
        return
    ids = [{"id": i} for i, _ in docs]
    session.execute(text("DELETE FROM example_fts WHERE rowid = :id"), ids)
    session.execute(
        text("INSERT INTO example_fts (rowid, body) VALUES (:id, :body)"),
        [{"id": i, "body": analyzer.to_fts5_text(t)} for i, t in docs],
    )


def language_counts(session: Session, dataset_id: int) -> list[tuple[str, int]]:
    """The languages a dataset's examples are in, with how many of each, most common first."""
    rows = session.execute(
        select(Example.language, func.count())
        .where(Example.dataset_id == dataset_id, Example.language.is_not(None))
        .group_by(Example.language)
        .order_by(func.count().desc(), Example.language)
    )
    return [(str(language), int(count)) for language, count in rows]
