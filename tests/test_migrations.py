"""The migrations build the models' schema exactly, and go down and up again cleanly."""

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app import dbschema, models  # noqa: F401  (registers the tables)
from app.db import Base, make_engine
from tests.conftest import fresh_database_url


@pytest.fixture
def empty_url(backend: str, tmp_path: Path) -> str:
    return fresh_database_url(backend, "sift_test_migrations", tmp_path)


def test_upgrade_downgrade_upgrade_matches_models(empty_url: str) -> None:
    dbschema.upgrade(empty_url)
    dbschema.downgrade(empty_url, "base")
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        left = set(inspect(conn).get_table_names()) - {"alembic_version"}
    assert left == set()
    dbschema.upgrade(empty_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": dbschema.include_object})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []
