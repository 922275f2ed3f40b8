"""The migrations build the models' schema exactly, and go down and up again cleanly."""

import os
import subprocess
import sys
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


def test_servers_starting_together_all_migrate_cleanly(backend: str, empty_url: str) -> None:
    """Each app container runs `sift db upgrade` as it starts: on a new Postgres database, all
    but one failed (the version table "already exists") and their containers exited."""
    if backend != "postgres":
        pytest.skip("SQLite is one machine's file: its servers are not started apart")
    env = {**os.environ, "SIFT_DATABASE_URL": empty_url}
    upgrades = [
        subprocess.Popen(
            [sys.executable, "-m", "app", "db", "upgrade"],
            env=env,
            cwd=Path(__file__).resolve().parents[1],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=120)[1] for p in upgrades]
    assert [p.returncode for p in upgrades] == [0, 0, 0], [err[-500:] for err in errors]
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        assert "examples" in inspect(conn).get_table_names()
    engine.dispose()
