"""Alembic environment: the database comes from Sift's settings (or a connection passed in)."""

from typing import Any

from alembic import context
from sqlalchemy import Connection

from app import models  # noqa: F401  (registers every table on Base.metadata)
from app.config import get_settings
from app.db import Base, make_engine

# Search structures are dialect-specific and kept out of the ORM: a tsvector column with a
# GIN index on Postgres, an FTS5 table (and its shadow tables) on SQLite.
UNMAPPED_TABLE_PREFIXES = ("example_fts", "procrastinate_")
UNMAPPED_COLUMNS = {("examples", "search_vector")}


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, _compare: Any) -> bool:
    """Leave the hand-made search structures out of autogenerate's comparison."""
    if type_ == "table" and name and name.startswith(UNMAPPED_TABLE_PREFIXES):
        return False
    if type_ == "column" and (obj.table.name, name) in UNMAPPED_COLUMNS:
        return False
    return not (type_ == "index" and name and name.startswith("ix_examples_search"))


def run(connection: Connection) -> None:
    """Configure the context on a connection and run the migrations in one transaction."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = context.config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
