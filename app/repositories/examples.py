"""SQL for examples: keyset pages, counts, inserts and the search index."""

import base64
import json
import logging
import struct
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import (
    ColumnElement,
    Integer,
    cast,
    column,
    false,
    func,
    inspect,
    literal,
    literal_column,
    select,
    table,
    tablesample,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased

from app.db import begin_writing, is_postgres
from app.models import Example, ReviewStatus
from app.services import analyzer

log = logging.getLogger(__name__)

NEW_STATUS = ReviewStatus.pending.value  # the review status of an example just stored


@dataclass(frozen=True)
class ExampleFilters:
    """What an example list may be narrowed by (fields come from this allowlist only)."""

    q: str = ""
    status: str | None = None
    language: str | None = None

    @property
    def narrowed(self) -> bool:
        """A status or language filter narrows the search (each has an index to walk)."""
        return bool(self.status or self.language)


@dataclass(frozen=True)
class Page:
    """One keyset page: the rows and the opaque cursor of the next page (None at the end)."""

    items: list[Example]
    next: str | None


def encode_cursor(last_id: int, many: bool = False) -> str:
    """Opaque cursor for the page after the row with this id; `many` remembers that the list
    has many matches (a search's next pages then skip looking for few)."""
    data: dict[str, Any] = {"after": last_id, "many": True} if many else {"after": last_id}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def read_cursor(cursor: str) -> tuple[int, bool]:
    """The id a cursor points after, and whether its list has many matches; ValueError when
    the cursor is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after, many = data["after"], data.get("many", False)
    except Exception as exc:
        raise ValueError("cursor is not valid") from exc
    # type(), not isinstance: a bool is an int, and {"after": true} reached the query (a 500).
    if type(after) is not int or not 0 <= after < 2**63 or not isinstance(many, bool):
        raise ValueError("cursor is not valid")
    return after, many


def decode_cursor(cursor: str) -> int:
    """The id a cursor points after; ValueError when the cursor is not one of ours."""
    return read_cursor(cursor)[0]


# --- examples: reading ---------------------------------------------------------------------


def _search_condition(
    session: Session, q: str, entity: Any, narrowed: bool = False
) -> ColumnElement[bool] | None:
    terms = analyzer.query_units(q)
    if not terms:
        return None
    if is_postgres(session):
        table = inspect(entity).selectable.name  # "examples", or the sample's alias
        vector: ColumnElement[Any] = literal_column(f"{table}.search_vector")
        condition: ColumnElement[bool] = vector.bool_op("@@")(
            cast(literal(analyzer.to_tsquery_literal(terms)), TSQUERY)
        )
        return condition
    matching = text("SELECT rowid FROM example_fts WHERE example_fts MATCH :ftsq").bindparams(
        ftsq=analyzer.to_fts5_query(terms)
    )
    # With a status or language filter, SQLite should walk that filter's index and look each
    # example up among the matches; left to itself it walked every match of a common word
    # (0.6-1 s over 1,000,000 examples when the filter kept none). "+ 0" keeps it off the id.
    ids = entity.id + 0 if narrowed else entity.id
    return ids.in_(matching.columns(rowid=Example.id.type))  # type: ignore[no-any-return]


def _filtered(
    session: Session, dataset_id: int, filters: ExampleFilters, entity: Any = Example
) -> Any:
    stmt = select(entity).where(entity.dataset_id == dataset_id)
    if filters.status:
        stmt = stmt.where(entity.status == filters.status)
    if filters.language:
        stmt = stmt.where(entity.language == filters.language)
    if filters.q:
        condition = _search_condition(session, filters.q, entity, filters.narrowed)
        stmt = stmt.where(condition) if condition is not None else stmt.where(false())
    return stmt


def page_examples(
    session: Session, dataset_id: int, filters: ExampleFilters, after: int | None, limit: int
) -> Page:
    """A keyset page of examples in id order (limit+1 fetched to know whether more follow)."""
    return page_and_total(session, dataset_id, filters, after, limit, None)[0]


def count_examples(session: Session, dataset_id: int, filters: ExampleFilters) -> int:
    """How many examples match the filters."""
    stmt = _filtered(session, dataset_id, filters).with_only_columns(func.count())
    return int(session.scalar(stmt) or 0)


@dataclass(frozen=True)
class Total:
    """How many examples match: counted (`exact`), or else estimated."""

    value: int
    exact: bool


# A search looks for at most this many matches through the search index first: all of them
# when it is counted too, those after the cursor when it is not.
SEARCH_PROBE = 10_000
PAGE_PROBE = 1_000
# An estimate counts the matches in a sample of the table's pages (about 7,000 examples).
SAMPLE_PAGES = 3_000


def page_and_total(
    session: Session,
    dataset_id: int,
    filters: ExampleFilters,
    after: int | None,
    limit: int,
    count_up_to: int | None,
    many: bool = False,
) -> tuple[Page, Total | None]:
    """A keyset page in id order and, with `count_up_to`, how many match: counted up to that
    many, estimated past it (never below what was counted). Counting every match of a common
    word over 1,000,000 examples took about a second on Postgres, 0.4 s on SQLite. `many`
    comes from the cursor: the first page found that the search has many matches."""
    if is_postgres(session):
        return _postgres_page_and_total(
            session, dataset_id, filters, after, limit, count_up_to, many
        )
    return _sqlite_page_and_total(session, dataset_id, filters, after, limit, count_up_to)


def _postgres_page_and_total(
    session: Session,
    dataset_id: int,
    filters: ExampleFilters,
    after: int | None,
    limit: int,
    count_up_to: int | None,
    many: bool,
) -> tuple[Page, Total | None]:
    """A search first asks for the ids of its matches, without an order, so that the search
    index answers; when there are few, they give the page (and the count). Asked for a page
    in id order straight away, Postgres guesses that a word it has no statistics for matches
    about 0.5% of the rows, walks the table in that order and tests every row: a word that
    is nowhere read all of 1,000,000 examples (1.7 s; through the index, 0.1 ms). When there
    are many, that walk meets them soon, and the next pages' cursors say so (`many`), so that
    they go straight to it: looking for few first cost a common word's next page 50-150 ms,
    for a page of 3 ms. Past `count_up_to`, the total is estimated from a sample of the
    table's pages."""
    stmt = _filtered(session, dataset_id, filters)
    search = bool(filters.q)
    counted = 0
    if search and count_up_to is None and not many:  # only this page's matches matter
        ids = _ids(session, stmt if after is None else stmt.where(Example.id > after), PAGE_PROBE)
        if ids is not None:
            return _page_of_ids(session, ids, limit), None
    elif search and count_up_to is not None:
        up_to = min(count_up_to, SEARCH_PROBE)
        ids = None if many else _ids(session, stmt, up_to)
        if ids is not None:
            wanted = [i for i in ids if after is None or i > after]
            return _page_of_ids(session, wanted, limit), Total(len(ids), exact=True)
        counted = up_to + 1
    page = _page(session, stmt, after, limit, many=search)
    if count_up_to is None:
        return page, None
    if counted <= count_up_to:
        counted = _capped_count(session, stmt, count_up_to)
        if counted <= count_up_to:
            return page, Total(counted, exact=True)
    return page, Total(max(_sampled_count(session, dataset_id, filters), counted), exact=False)


def _ids(session: Session, stmt: Any, up_to: int) -> list[int] | None:
    """The ids of the rows a query matches, in order, if there are at most `up_to`."""
    ids = session.scalars(stmt.with_only_columns(Example.id).limit(up_to + 1)).all()
    return sorted(ids) if len(ids) <= up_to else None


def _page_of_ids(session: Session, ids: list[int], limit: int) -> Page:
    """The page of the first `limit` of these ids (in order); more follow if there are."""
    shown = ids[:limit]
    rows = list(session.scalars(select(Example).where(Example.id.in_(shown)).order_by(Example.id)))
    return Page(rows, encode_cursor(shown[-1]) if len(ids) > limit else None)


def _sampled_count(session: Session, dataset_id: int, filters: ExampleFilters) -> int:
    """How many examples match, estimated (Postgres) from the matches among a sample of the
    table's pages (TABLESAMPLE SYSTEM, the same pages each time while the table stays the
    same size). About 20 ms over 1,000,000 examples, within 6% for "the" (316,558) and 2% for
    a three-character Chinese word, whose bigrams the planner's own estimate takes for
    independent words (20,549 for 119,503); its statistics also know nothing of a dataset
    pushed since the table was last analysed."""
    pages = int(
        session.scalar(
            text("SELECT pg_relation_size('examples') / current_setting('block_size')::int")
        )
        or 0
    )
    percent = min(100.0, 100.0 * SAMPLE_PAGES / max(pages, 1))
    sampled = tablesample(
        Example.__table__,
        func.system(literal_column(f"{percent:.6f}")),
        name="sampled",
        seed=literal_column("0"),
    )
    entity = aliased(Example, sampled)
    stmt = _filtered(session, dataset_id, filters, entity).with_only_columns(func.count())
    return round(int(session.scalar(stmt) or 0) * 100.0 / percent)


# SQLite estimates a search's total from about this many of its matches, and walks the
# matches of a word with at most FTS_WALK of them even when a filter narrows the search.
FTS_SAMPLE = 5_000
FTS_WALK = 20_000
_FTS = table("example_fts", column("rowid", Integer))
_HASH_RANGE = 1 << 32


def _sqlite_page_and_total(
    session: Session,
    dataset_id: int,
    filters: ExampleFilters,
    after: int | None,
    limit: int,
    count_up_to: int | None,
) -> tuple[Page, Total | None]:
    """A search walks its word's FTS5 matches in the index's order, which is id order, and
    stops at the page's end. Collecting the matches first (`id IN (matches)`) took 95 ms for
    a page of a common word over 1,000,000 examples and 0.4 s to count them. When a status
    or language filter narrows the search and the word is common, it walks that filter's
    index instead and looks the examples up among the matches (walking 316,558 matches of
    "the" to find none accepted: 0.7 s). Past `count_up_to`, a search's total is estimated
    from a sample of its matches; other filters are counted, as their indexes answer them."""
    terms = analyzer.query_units(filters.q) if filters.q else []
    if not terms:
        page = _page(session, _filtered(session, dataset_id, filters), after, limit, many=False)
        if count_up_to is None:
            return page, None
        return page, Total(count_examples(session, dataset_id, filters), exact=True)
    query = analyzer.to_fts5_query(terms)
    # How many examples the words match, in any dataset: asked once, where it decides the
    # walk (a narrowed search) or scales the estimate of the total.
    matches = _fts_count(session, query) if filters.narrowed else None
    key: Any
    if matches is not None and matches > FTS_WALK:
        stmt, key = _filtered(session, dataset_id, filters), Example.id
    else:
        stmt, key = _fts_walk(session, dataset_id, filters, query), _FTS.c.rowid
    page = _page(session, stmt, after, limit, many=False, key=key)
    if count_up_to is None:
        return page, None
    counted = _capped_count(session, stmt, count_up_to)
    if counted <= count_up_to:
        return page, Total(counted, exact=True)
    if matches is None:
        matches = _fts_count(session, query)
    estimate = _fts_estimate(session, dataset_id, filters, query, matches)
    return page, Total(max(estimate, counted), exact=False)


def _fts_count(session: Session, query: str) -> int:
    """How many examples of any dataset an FTS5 query matches (20 ms for a common word over
    1,000,000 examples)."""
    return int(session.scalar(select(func.count()).select_from(_FTS).where(_fts_match(query))) or 0)


def _fts_match(query: str) -> ColumnElement[bool]:
    return literal_column("example_fts").op("MATCH")(query)


def _fts_walk(session: Session, dataset_id: int, filters: ExampleFilters, query: str) -> Any:
    """The examples an FTS5 query matches, walked from the search index (the other filters
    checked on each)."""
    unsearched = _filtered(session, dataset_id, replace(filters, q=""))
    return unsearched.join(_FTS, _FTS.c.rowid == Example.id).where(_fts_match(query))


def _fts_estimate(
    session: Session, dataset_id: int, filters: ExampleFilters, query: str, matches: int
) -> int:
    """How many examples a search matches (SQLite), estimated from about FTS_SAMPLE of the
    word's `matches` (in any dataset), chosen by a multiplicative hash of their ids (Knuth's,
    its multiplier under 2^31 so that SQLite's 64-bit integers never overflow), so that a
    pattern in the ids, every other example say, cannot line up with the sample: within 1.5%
    for a common word over 1,000,000 examples, in 50 ms where counting them all took 0.4 s."""
    below = _HASH_RANGE // max(1, matches // FTS_SAMPLE)
    scrambled = ((_FTS.c.rowid % _HASH_RANGE) * 1327217885) % _HASH_RANGE
    sample = _fts_walk(session, dataset_id, filters, query).where(scrambled < below)
    sampled = session.scalar(sample.with_only_columns(func.count()))
    return round(int(sampled or 0) * _HASH_RANGE / below)


def _capped_count(session: Session, stmt: Any, up_to: int) -> int:
    """How many rows a query matches, counted up to `up_to` + 1 at most."""
    matching = stmt.with_only_columns(literal_column("1")).limit(up_to + 1)
    return int(session.scalar(select(func.count()).select_from(matching.subquery())) or 0)


def _page(
    session: Session, stmt: Any, after: int | None, limit: int, many: bool, key: Any = Example.id
) -> Page:
    """The rows after `after` in id order; `key` is the id column to walk (the search index's
    rowid, for a walk through its matches)."""
    if after is not None:
        stmt = stmt.where(key > after)
    rows = list(session.scalars(stmt.order_by(key).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].id, many) if more and rows else None)


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


class StagedRow(NamedTuple):
    """An example ready to write. SQLite takes its stage-column values (JSON already encoded)
    and its FTS5 text; Postgres takes `copy`: the same values and the search vector in binary
    COPY form, encoded where the batch was prepared (a worker process, for big imports) by
    copy_fields()."""

    external_id: str | None
    content_hash: str
    values: tuple[Any, ...] = ()  # in STAGE_COLUMNS order (SQLite)
    fts: str = ""  # SQLite
    copy: bytes = b""  # Postgres


@dataclass
class UpsertOutcome:
    """What the database did with a staged batch, keyed so the caller can map items back."""

    inserted: dict[str, int]  # content hash -> new example id
    updated: dict[str, int]  # external id -> example id whose content was replaced
    unchanged: dict[str, int]  # external id -> example id already holding this content


STAGE_COLUMNS = (
    "external_id",
    "content_hash",
    "messages",
    "alternatives",
    "tools",
    "label",
    "metadata",
    "language",
)
_COLUMNS = ", ".join(STAGE_COLUMNS)
_JSONB_COLUMNS = ("messages", "alternatives", "tools", "metadata")


def upsert_examples(
    session: Session, dataset_id: int, rows: list[StagedRow], now: datetime
) -> UpsertOutcome:
    """Store a batch (unique hashes and external ids within it) through a staging table.

    Rows whose external id is stored with other content replace it (version + 1); rows that
    clash with a stored example otherwise are left out (ON CONFLICT DO NOTHING). The search
    index is written in the same transaction, so what is stored is searchable at commit.
    """
    if not rows:
        return UpsertOutcome({}, {}, {})
    postgres = is_postgres(session)
    if postgres:
        _bulk_settings(session)
        copied = _copy_new_rows(session, dataset_id, rows, now)
        if copied is not None:
            return copied
    (_stage_postgres if postgres else _stage_sqlite)(session, rows)
    params = {"d": dataset_id, "now": now}
    with_ids = any(row.external_id is not None for row in rows)
    if with_ids:
        _resolve_external_ids(session, params)
    updated = _update_from_stage(session, params, postgres) if with_ids else {}
    if postgres:
        # Ids in the batch's order, rows written in the order of their hashes (see _in_key_order).
        _number_new_rows(session)
        columns, picked = f"id, {_COLUMNS}, search_vector", f"new_id, {_COLUMNS}, search_vector"
        order = "WHERE new_id IS NOT NULL ORDER BY content_hash"
    else:
        columns, picked, order = _COLUMNS, _COLUMNS, "WHERE true ORDER BY ord"
    inserted = {
        h: i
        for i, h in session.execute(
            text(
                f"INSERT INTO examples (dataset_id, status, version, created_at, updated_at,"
                f" {columns}) SELECT :d, :status, 1, :now, :now, {picked}"
                f" FROM sift_stage {order}"
                " ON CONFLICT DO NOTHING RETURNING id, content_hash"
            ),
            {**params, "status": NEW_STATUS},
        )
    }
    unchanged: dict[str, int] = {}
    if with_ids:
        unchanged = {
            ext: i
            for ext, i in session.execute(
                text(
                    "SELECT external_id, target_id FROM sift_stage"
                    " WHERE target_id IS NOT NULL AND target_hash = content_hash"
                )
            )
            if ext not in updated  # the same content as far as duplicates go, but not as given
        }
    if not postgres:
        by_hash = {row.content_hash: row.fts for row in rows}
        by_ext = {row.external_id: row.fts for row in rows}
        _write_fts(
            session,
            [(i, by_hash[h]) for h, i in inserted.items()]
            + [(i, by_ext[ext]) for ext, i in updated.items()],
        )
    return UpsertOutcome(inserted, updated, unchanged)


def _number_new_rows(session: Session) -> None:
    """Give the staged rows that may be new (no stored example has their external id) the
    next ids of the sequence, in the batch's order."""
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sift_stage WHERE target_id IS NULL")
        (count,) = cursor.fetchone() or (0,)
        ids = _next_ids(cursor, count)
        cursor.execute(
            "UPDATE sift_stage s SET new_id = (%s::bigint[])[n.rank] FROM (SELECT ord,"
            " row_number() OVER (ORDER BY ord) AS rank FROM sift_stage WHERE target_id IS NULL)"
            " AS n WHERE s.ord = n.ord",
            (ids,),
        )


def _next_ids(cursor: Any, count: int) -> list[int]:
    """`count` new example ids, in increasing order."""
    if not count:
        return []
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence('examples', 'id')) FROM generate_series(1, %s)",
        (count,),
    )
    return sorted(i for (i,) in cursor.fetchall())


def _in_key_order(rows: list[tuple[int, StagedRow]]) -> list[tuple[int, StagedRow]]:
    """Rows in the order of their content hashes, the unique key two writers storing the same
    content contend for. Each in its own batch order, two pushes sharing content locked the
    key's entries in different orders and deadlocked: with six clients pushing overlapping
    batches, 8 of 12 pushes were aborted (HTTP 503). In one order, the second waits."""
    return sorted(rows, key=lambda pair: pair[1].content_hash)


def _resolve_external_ids(session: Session, params: dict[str, Any]) -> None:
    """Look up, row by row through the unique keys, which staged rows name a stored example
    and whether their content is already taken. Per-row subqueries on the keys led by the
    external id and the hash (`dataset_id + 0`: see STORED_HASHES) are index probes whatever
    the statistics say; a join here once scanned the whole table for every batch."""
    session.execute(
        text(
            "UPDATE sift_stage SET (target_id, target_hash) = (SELECT e.id, e.content_hash"
            " FROM examples e WHERE e.external_id = sift_stage.external_id"
            " AND e.dataset_id + 0 = :d) WHERE external_id IS NOT NULL"
        ),
        params,
    )
    # A scalar subquery, not EXISTS: Postgres may run an EXISTS as one hashed subplan that
    # reads every stored hash of the dataset, and chose to when its statistics undercounted
    # the dataset (44 ms a batch at 30,000 examples, growing with the dataset).
    session.execute(
        text(
            "UPDATE sift_stage SET hash_taken = (SELECT true FROM examples x"
            " WHERE x.content_hash = sift_stage.content_hash AND x.dataset_id + 0 = :d"
            " LIMIT 1) IS NOT NULL"
            " WHERE target_id IS NOT NULL AND target_hash <> content_hash"
        ),
        params,
    )


# What an update by external id compares to tell "unchanged" from "updated": everything it
# was given, exactly. The content hash leaves out metadata and the text's outer whitespace and
# Unicode form (it finds duplicates), so a push that only mends a trailing newline, a
# metadata field or an accent's encoding matched the stored hash and changed nothing.
_GIVEN = ("messages", "alternatives", "tools", "label", "metadata")


def _update_from_stage(session: Session, params: dict[str, Any], postgres: bool) -> dict[str, int]:
    assignments = ", ".join(f"{c} = s.{c}" for c in STAGE_COLUMNS if c != "external_id")
    if postgres:
        assignments += ", search_vector = s.search_vector"
    update = (
        f"UPDATE examples SET {assignments}, version = examples.version + 1,"
        " updated_at = :now FROM sift_stage s WHERE examples.id = s.target_id AND "
    )
    if postgres:
        _probe_by_key(session, True)
    # New content, not taken by another example.
    result = session.execute(
        text(
            update + "s.target_hash <> s.content_hash AND NOT s.hash_taken"
            " RETURNING examples.external_id, examples.id"
        ),
        params,
    )
    updated = {ext: i for ext, i in result}
    # The same content as the hash sees it, given differently (whitespace, Unicode form,
    # metadata): told apart per row through the primary key, then written the same way.
    if _mark_differing(session, postgres):
        result = session.execute(
            text(update + "s.differs RETURNING examples.external_id, examples.id"), params
        )
        updated.update({ext: i for ext, i in result})
    if postgres:
        _probe_by_key(session, False)
    return updated


def _mark_differing(session: Session, postgres: bool) -> bool:
    """Set `differs` on the staged rows whose content hash is their example's own but whose
    values are not; whether any is. Values are compared as JSON values, as Postgres' jsonb
    does: the order of an object's keys, or 1 against 1.0, is no difference (SQLite keeps
    JSON as text, compared here in Python, so both say "unchanged" alike)."""
    stored = ", ".join(f"e.{c}" for c in _GIVEN)
    if postgres:
        given = ", ".join(f"sift_stage.{c}" for c in _GIVEN)
        differing = session.execute(
            text(
                f"UPDATE sift_stage SET differs = (SELECT ({stored}) IS DISTINCT FROM ({given})"
                " FROM examples e WHERE e.id = sift_stage.target_id)"
                " WHERE target_id IS NOT NULL AND target_hash = content_hash RETURNING differs"
            )
        )
        return any(flag for (flag,) in differing)
    given = ", ".join(f"s.{c}" for c in _GIVEN)
    rows = session.execute(
        text(
            f"SELECT s.ord, {stored}, {given} FROM sift_stage s JOIN examples e"
            " ON e.id = s.target_id WHERE s.target_hash = s.content_hash"
        )
    )
    width = len(_GIVEN)
    changed = [
        ord_
        for ord_, *values in rows
        if any(
            _as_json(a) != _as_json(b) for a, b in zip(values[:width], values[width:], strict=True)
        )
    ]
    if changed:
        session.execute(
            text(
                "UPDATE sift_stage SET differs = 1"
                " WHERE ord IN (SELECT value FROM json_each(:ords))"
            ),
            {"ords": json.dumps(changed)},
        )
    return bool(changed)


def _as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


_JOINS_AROUND_PROBES = ("enable_hashjoin", "enable_mergejoin", "enable_material")


def _probe_by_key(session: Session, on: bool) -> None:
    """Have the statements that change stored examples from the stage find each one through
    the primary key, a staged row at a time (or, `on` false, let the planner choose again).
    With statistics that undercount the dataset, as a large import leaves them, the planner
    hashed the stage and read the whole key instead: 41,000 rows for a batch of 1,000."""
    for setting in _JOINS_AROUND_PROBES:
        session.execute(text(f"SET LOCAL {setting} = {'off' if on else 'DEFAULT'}"))


def _stage_sqlite(session: Session, rows: list[StagedRow]) -> None:
    begin_writing(session)
    session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS sift_stage (ord INTEGER PRIMARY KEY,"
            " external_id TEXT, content_hash TEXT, messages TEXT, alternatives TEXT, tools TEXT,"
            " label BOOLEAN, metadata TEXT, language TEXT,"
            " target_id INTEGER, target_hash TEXT, hash_taken BOOLEAN, differs BOOLEAN)"
        )
    )
    session.execute(text("DELETE FROM sift_stage"))
    binds = ", ".join(f":{c}" for c in STAGE_COLUMNS)
    session.execute(
        text(f"INSERT INTO sift_stage (ord, {_COLUMNS}) VALUES (:ord, {binds})"),
        [
            {"ord": n, **dict(zip(STAGE_COLUMNS, row.values, strict=True))}
            for n, row in enumerate(rows)
        ],
    )


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
_COPY_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_FIELDS = struct.pack(">h", len(STAGE_COLUMNS) + 1)  # a staging row: the columns and the vector
# An examples row: id, dataset_id, status, version, created_at, updated_at, then as above.
_EXAMPLE_FIELDS = struct.pack(">h", len(STAGE_COLUMNS) + 7)
_INT4 = struct.Struct(">ii").pack  # length 4 and the value
_INT8 = struct.Struct(">iq").pack  # length 8 and the value: bigint ids, timestamps
_JSON_AT = frozenset(i for i, c in enumerate(STAGE_COLUMNS) if c in _JSONB_COLUMNS)


def _binary_field(value: Any, jsonb: bool) -> bytes:
    if value is None:
        return _NULL
    if isinstance(value, bool):
        data = b"\x01" if value else b"\x00"
    else:
        data = (b"\x01" if jsonb else b"") + value.encode()  # jsonb: version 1, then the text
    return struct.pack(">i", len(data)) + data


def copy_fields(values: tuple[Any, ...], search_vector: bytes) -> bytes:
    """The stage columns (STAGE_COLUMNS order) and the search vector (tsvector's binary
    form) of one row, as binary COPY fields."""
    fields = [_binary_field(v, i in _JSON_AT) for i, v in enumerate(values)]
    return b"".join([*fields, struct.pack(">i", len(search_vector)), search_vector])


_CHUNK_BYTES = 1 << 20


def _copy_rows(copy: Any, rows: Iterable[bytes]) -> None:
    """Send binary COPY rows in chunks of about a megabyte (a write per row costs more)."""
    chunk: list[bytes] = [_COPY_SIGNATURE]
    size = 0
    for row in rows:
        chunk.append(row)
        size += len(row)
        if size >= _CHUNK_BYTES:
            copy.write(b"".join(chunk))
            chunk, size = [], 0
    chunk.append(_COPY_TRAILER)
    copy.write(b"".join(chunk))


def _stage_postgres(session: Session, rows: list[StagedRow]) -> None:
    """Binary COPY of the batch into a temporary staging table (psycopg 3), search vectors
    included in tsvector's binary form."""
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS sift_stage (ord serial, external_id text,"
            " content_hash text, messages jsonb, alternatives jsonb, tools jsonb, label boolean,"
            " metadata jsonb, language text, search_vector tsvector,"
            " target_id bigint, target_hash text, hash_taken boolean, differs boolean,"
            " new_id bigint)"
        )
        cursor.execute("TRUNCATE sift_stage RESTART IDENTITY")
        statement = f"COPY sift_stage ({_COLUMNS}, search_vector) FROM STDIN (FORMAT BINARY)"
        with cursor.copy(statement) as copy:
            _copy_rows(copy, (_FIELDS + row.copy for row in rows))
        # A temporary table has no statistics: without them the planner joins it to examples
        # by scanning the whole table, which grows slower with every example stored.
        cursor.execute("ANALYZE sift_stage (external_id, content_hash)")


# Which of a batch's content hashes (external ids) a dataset holds already: one probe of the
# unique key per item, (content_hash, dataset_id) or (external_id, dataset_id). Put as
# `dataset_id = %s AND content_hash = ANY(%s)`, the planner weighed 2,000 probes against the
# dataset's rows as its statistics counted them, which a large import outgrows before they
# are refreshed, and a dataset new since the last ANALYZE is not in them at all: it then
# read every row of the dataset, for each batch (50-150 ms a batch at 100,000 examples) or,
# probing per item, for each item. So each item is planned on its own (a LATERAL subquery
# with a LIMIT), and `dataset_id + 0` keeps the indexes that lead with the dataset out of
# the choice: the key led by the hash is the one index left that fits.
def _stored(column: str) -> str:
    return (
        "SELECT given.value FROM unnest(%s::text[]) AS given(value) CROSS JOIN LATERAL"
        f" (SELECT 1 FROM examples e WHERE e.{column} = given.value AND e.dataset_id + 0 = %s"
        " LIMIT 1) AS stored"
    )


STORED_HASHES = _stored("content_hash")
KNOWN_EXTERNAL_IDS = _stored("external_id")

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # Postgres' timestamps count microseconds from here
_EXAMPLE_COLUMNS = f"id, dataset_id, status, version, created_at, updated_at, {_COLUMNS}"


def _copy_new_rows(
    session: Session, dataset_id: int, rows: list[StagedRow], now: datetime
) -> UpsertOutcome | None:
    """The fast path of a batch that only adds examples: binary COPY straight into the table,
    without the staging table's extra write and read (about a third of the database's work).

    Rows whose content is stored already are left out, as ON CONFLICT would. When a row
    names a stored external id (an update), or a concurrent writer stores the same content
    first (a unique violation or a deadlock, rolled back to a savepoint), this returns None
    and the caller takes the staging path, which sorts every case out.
    """
    connection = session.connection().connection.driver_connection
    assert connection is not None
    ids = [row.external_id for row in rows if row.external_id is not None]
    with connection.cursor() as cursor:
        if ids:
            cursor.execute(KNOWN_EXTERNAL_IDS + " LIMIT 1", (ids, dataset_id))
            if cursor.fetchone() is not None:
                return None
        cursor.execute(STORED_HASHES, ([row.content_hash for row in rows], dataset_id))
        stored = {h for (h,) in cursor.fetchall()}
        new = [row for row in rows if row.content_hash not in stored]
        if not new:
            return UpsertOutcome({}, {}, {})
        new_ids = _next_ids(cursor, len(new))
        stamp = _INT8(8, (now - _EPOCH) // timedelta(microseconds=1))
        head = b"".join(
            (_INT4(4, dataset_id), _binary_field(NEW_STATUS, False), _INT4(4, 1), stamp, stamp)
        )
        cursor.execute("SAVEPOINT sift_copy")
        try:
            statement = f"COPY examples ({_EXAMPLE_COLUMNS}, search_vector) FROM STDIN BINARY"
            with cursor.copy(statement) as copy:
                _copy_rows(
                    copy,
                    (
                        b"".join((_EXAMPLE_FIELDS, _INT8(8, example_id), head, row.copy))
                        for example_id, row in _in_key_order(list(zip(new_ids, new, strict=True)))
                    ),
                )
        except (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected):
            cursor.execute("ROLLBACK TO SAVEPOINT sift_copy")
            return None
        cursor.execute("RELEASE SAVEPOINT sift_copy")
    return UpsertOutcome({row.content_hash: i for i, row in zip(new_ids, new, strict=True)}, {}, {})


def _bulk_settings(session: Session) -> None:
    """Let the search index take new entries in larger runs during this transaction.

    A GIN index first appends new entries to a pending list and merges the list into the
    index when it passes gin_pending_list_limit (4 MB by default); merging 64 MB at a time,
    with the work_mem to sort it in one pass, writes a third less WAL and took 25-30% less of
    the backend's time per example (measured: 240 down to 165-175 microseconds, 50,000
    synthetic examples, three runs each). The cost: a search reads the pending list whole
    until it is merged, up to ~70 ms at 64 MB, so an import merges it as it goes and when it
    ends, and the worker's sweep merges what pushes leave (merge_search_index).

    JIT compilation is off: the duplicate check probes a unique key 2,000 times a batch,
    a few milliseconds of work, but while the planner's statistics do not know the dataset's
    rows (a large import outgrows them; a new dataset is not in them) it costs the check at
    over 500,000, past jit_above_cost and jit_optimize_above_cost, and Postgres spent
    60-140 ms a batch compiling it (auto_explain, 30,000 synthetic examples into a new
    database: every batch but the first)."""
    limit = "256MB" if session.info.get(_MERGED_ELSEWHERE) else "64MB"
    session.execute(text(f"SET LOCAL gin_pending_list_limit = '{limit}'"))
    session.execute(text("SET LOCAL work_mem = '128MB'"))
    session.execute(text("SET LOCAL jit = off"))


_MERGED_ELSEWHERE = "sift.search_merged_elsewhere"


def leave_search_merges_elsewhere(session: Session) -> None:
    """This session's bulk writes leave the search index's pending list to a connection that
    merges it every few seconds (a large import's): they let it grow to 256 MB rather than
    64 MB, so that they never stop to merge it themselves. Merging larger runs less often
    also costs the server less: 150 rather than 170 microseconds an example (300,000
    synthetic examples, three runs each), and the import went 5-7% faster."""
    session.info[_MERGED_ELSEWHERE] = True


def merge_search_index(session: Session) -> int | None:
    """Merge the search index's pending list now (Postgres), so searches stop reading it;
    returns the pages merged, or None where that cannot be done: SQLite, or a database user
    who does not own the index (autovacuum merges it there)."""
    if not is_postgres(session):
        return None
    try:
        with session.begin_nested():
            merged = session.execute(
                text("SELECT gin_clean_pending_list('ix_examples_search'::regclass)")
            ).scalar_one()
    except DBAPIError as exc:
        log.warning("search index pending list left to autovacuum: %s", exc.orig)
        return None
    return int(merged)


def refresh_statistics(session: Session) -> None:
    """After a large load: have the database re-sample the examples table, so that its query
    plans know about the new rows, and (Postgres) vacuum it, which marks the new pages
    all-visible so that counts read the indexes alone. Autovacuum does both in time, where it
    is on; until then a search for a common word can read every match instead of stopping at
    the first page, and the dataset page's counts over 1,000,000 examples took 1.8-3.1 s
    (0.13 s after a VACUUM of 3 s). VACUUM cannot run inside a transaction, so it runs on a
    connection of its own, outside the session's."""
    if not is_postgres(session):
        session.execute(text("ANALYZE examples"))
        return
    engine = session.get_bind().engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE) examples")


def _write_fts(session: Session, docs: list[tuple[int, str]]) -> None:
    if not docs:
        return
    session.execute(text("DELETE FROM example_fts WHERE rowid = :id"), [{"id": i} for i, _ in docs])
    session.execute(
        text("INSERT INTO example_fts (rowid, body) VALUES (:id, :body)"),
        [{"id": i, "body": body} for i, body in docs],
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
