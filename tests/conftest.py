"""Test fixtures: the same suite on SQLite and on Postgres, schema built by Alembic.

Each test runs inside one outer transaction that is rolled back; the app under test joins it
through savepoints, so a route's commit is real to the route and gone after the test.
"""

import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

from app import dbschema
from app.config import Settings
from app.db import get_session, make_engine
from app.main import create_app
from tests.auth.clients import ClientFactory, make_user, sign_in

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_ran_backends: set[str] = set()
_created_databases: list[str] = []  # Postgres databases this run made, dropped when it ends


def _postgres_admin_url() -> str | None:
    url = os.environ.get("SIFT_TEST_POSTGRES_URL")
    if url:
        return Settings(database_url=url).database_url
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return DEFAULT_PG
    except OSError:
        if os.environ.get("SIFT_TEST_REQUIRE_POSTGRES") == "1":
            raise RuntimeError(
                "Postgres is required (SIFT_TEST_REQUIRE_POSTGRES=1) but unreachable"
            ) from None
        return None


POSTGRES_ADMIN_URL = _postgres_admin_url()
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_ADMIN_URL else [])


def fresh_database_url(backend: str, name: str, tmp_dir: Path) -> str:
    """An empty database of the backend (a new SQLite file, or a re-created Postgres database)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / (name + '.db')}"
    assert POSTGRES_ADMIN_URL is not None
    name = f"{name}_{os.getpid()}"  # parallel runs on one server never drop each other's
    _as_admin(_drop(name), f'CREATE DATABASE "{name}"')
    if name not in _created_databases:
        _created_databases.append(name)
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop the Postgres databases this run made (named by its process id, so a server that
    runs the suite again and again would otherwise keep them all)."""
    if _created_databases:
        _as_admin(*map(_drop, _created_databases))


def _drop(database: str) -> str:
    return f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'


def _as_admin(*statements: str) -> None:
    """Run statements on the Postgres server's admin database, outside any transaction."""
    assert POSTGRES_ADMIN_URL is not None
    admin = make_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    admin.dispose()


def pytest_report_header() -> str:
    """Say up front which databases the suite will run on."""
    skipped = "" if POSTGRES_ADMIN_URL else " (postgres: no server on 127.0.0.1:5432, skipped)"
    return f"sift database backends: {', '.join(BACKENDS)}{skipped}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say at the end which databases the suite really ran on."""
    ran = ", ".join(sorted(_ran_backends)) or "none"
    terminalreporter.write_line(f"sift database backends that ran: {ran}")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this run of the test."""
    name: str = request.param
    _ran_backends.add(name)
    return name


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated to head by Alembic, one per backend for the whole session."""
    url = fresh_database_url(backend, "sift_test", tmp_path_factory.mktemp(backend))
    dbschema.upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The engine of the session's test database."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        if connection.dialect.name == "sqlite":
            # pysqlite opens no transaction for a SAVEPOINT, so releasing the app's savepoint
            # would commit for real: open the outer transaction explicitly.
            connection.exec_driver_sql("BEGIN")
        db = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield db
        finally:
            db.close()
            if transaction.is_active:
                transaction.rollback()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings pointing at the test database, with a throwaway home and secret."""
    return Settings(
        database_url=database_url,
        home=tmp_path,
        secret_key="test-secret-" + "x" * 40,
        run_worker=False,
    )


@pytest.fixture
def app(settings: Settings, session: Session) -> FastAPI:
    """The app, every request joined to the test's transaction."""
    application = create_app(settings)

    def _session() -> Iterator[Session]:
        yield session

    application.dependency_overrides[get_session] = _session
    return application


@pytest.fixture
def client(app: FastAPI, session: Session) -> Iterator[TestClient]:
    """An HTTP client for the app, signed in as the admin "admin" (CSRF header included)."""
    with TestClient(app) as c:
        yield sign_in(c, session, make_user(session, "admin", "admin"))


@pytest.fixture
def clients(app: FastAPI, session: Session) -> Iterator[ClientFactory]:
    """More clients: clients.anonymous(), clients.signed_in("annotator", member_of=[ds]),
    clients.bearer("lead", ["read", "write"], dataset=ds). See tests/auth/clients.py."""
    with ExitStack() as stack:
        yield ClientFactory(app, session, stack)


@pytest.fixture
def anon_client(clients: ClientFactory) -> TestClient:
    """A browser nobody signed in with."""
    return clients.anonymous()


@pytest.fixture
def lead_client(clients: ClientFactory) -> TestClient:
    """A browser signed in as the lead "lead" (leads see every dataset)."""
    return clients.signed_in("lead", username="lead")


@pytest.fixture
def annotator_client(clients: ClientFactory) -> TestClient:
    """A browser signed in as the annotator "annotator", a member of no dataset yet."""
    return clients.signed_in("annotator", username="annotator")
