"""Engine, session factory and the request-scoped session dependency."""

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Engine, MetaData, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints the same."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Build an engine; on SQLite turn on foreign keys, WAL and a busy timeout."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def is_postgres(session: Session) -> bool:
    """Whether the session talks to Postgres (the one place dialect differences are asked)."""
    return session.get_bind().dialect.name == "postgresql"


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after the route commits."""
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)


def begin_writing(session: Session) -> None:
    """On SQLite, take the write lock before the transaction reads anything: a deferred
    transaction that reads, then writes after another writer committed, fails at once
    ("database is locked"); BEGIN IMMEDIATE waits its turn (busy_timeout) instead. Postgres
    needs nothing: its writers lock rows, not the database."""
    if is_postgres(session):
        return
    raw = session.connection().connection.driver_connection
    if raw is not None and not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


T = TypeVar("T")
# Postgres gives up one of two transactions that wait on each other (two bulk writes that
# share content, locking the same unique keys in opposite orders); running it again is safe.
RETRY_SQLSTATES = {"40P01", "40001"}  # deadlock_detected, serialization_failure
# Two writers storing the same content, or naming the same new external id, at once (a push
# whose update gives an example the content another push has just stored): the second's
# look-up did not see the first's row, and its write broke the unique key. Run again, it sees
# the row and reports a duplicate, or updates it. (Two concurrent pushes answered 409.)
RETRY_UNIQUE_KEYS = frozenset(
    {"uq_examples_content_hash_dataset_id", "uq_examples_external_id_dataset_id"}
)


def is_transient(exc: DBAPIError) -> bool:
    """A failure that running the transaction again can cure: a Postgres deadlock or
    serialization failure, an example's unique key taken by a concurrent writer (see
    RETRY_UNIQUE_KEYS), or SQLite's lock taken by another writer (a reader's snapshot cannot
    become a writer after someone else wrote; a new transaction can)."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in RETRY_SQLSTATES:
        return True
    if sqlstate == "23505":  # unique_violation
        diag = getattr(exc.orig, "diag", None)
        return getattr(diag, "constraint_name", None) in RETRY_UNIQUE_KEYS
    return "database is locked" in str(exc.orig)


def commit_retrying(session: Session, work: Callable[[], T], attempts: int = 4) -> T:
    """Run `work` and commit it as one transaction, again from the start (after a rollback)
    when the database gave it up for a transient reason (see is_transient)."""
    for attempt in range(1, attempts + 1):
        try:
            result = work()
            session.commit()
            return result
        except DBAPIError as exc:
            session.rollback()
            if not is_transient(exc) or attempt == attempts:
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def get_session(request: Request) -> Iterator[Session]:
    """One session per request. The route commits; this only rolls back and closes."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]
