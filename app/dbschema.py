"""Running the Alembic migrations from code (the CLI and the tests use the same path)."""

from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from app.config import PROJECT_ROOT

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


def alembic_config(url: str, connection: Connection | None = None) -> Config:
    """An Alembic config for this database; with a connection, migrations run on it."""
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database up to `revision`."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database down to `revision` ("base" drops everything)."""
    command.downgrade(alembic_config(url), revision)
