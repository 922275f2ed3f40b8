"""A real Sift server and headless Chromium for the browser tests.

The server runs uvicorn in a thread on a free port against a fresh SQLite database migrated by
Alembic and loaded with the demo data. Responses carry the Content-Security-Policy the app will
enforce, so a page that needs inline script or style fails here first.
"""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from sqlalchemy import update
from sqlalchemy.orm import Session
from starlette.middleware.base import RequestResponseEndpoint

from app import dbschema
from app.auth.cookies import SESSION_COOKIE
from app.config import Settings
from app.db import make_engine
from app.demo import load_demo
from app.main import create_app
from app.models import Example
from app.services import accounts, datasets
from tests.auth.clients import make_user

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'"
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

if not CHROMIUM.exists():
    pytest.skip(
        "browser tests need Debian's Chromium at /usr/bin/chromium "
        "(apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    sync_playwright,
)

# A few demo examples moved through review, so badges and the status bar show a real mix.
REVIEWED = {
    "accepted": ["demo-002", "demo-003", "demo-004", "demo-011", "demo-012", "demo-014"],
    "rejected": ["demo-031", "demo-033", "demo-049"],
    "needs_changes": ["demo-007", "demo-044"],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _with_csp(app: FastAPI) -> FastAPI:
    @app.middleware("http")
    async def content_security_policy(
        request: Request, call_next: RequestResponseEndpoint
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        return response

    return app


@dataclass(frozen=True)
class LiveServer:
    """A running Sift: its base URL and the session cookie of a signed-in admin."""

    url: str
    session_token: str


def _demo_database(tmp: Path) -> tuple[str, str]:
    """A migrated SQLite database with the demo data and an admin; returns (url, session)."""
    url = f"sqlite:///{tmp / 'browser.db'}"
    dbschema.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        load_demo(session)
        for status, external_ids in REVIEWED.items():
            session.execute(
                update(Example).where(Example.external_id.in_(external_ids)).values(status=status)
            )
        datasets.create_dataset(
            session,
            None,
            "support-drafts",
            "Support replies (drafts)",
            "Customer-support answers waiting to be imported.",
        )
        admin = make_user(session, "admin", "admin")
        token = accounts.start_session(session, admin, "127.0.0.1", "browser tests").token
        session.commit()
    engine.dispose()
    return url, token


@contextmanager
def serve(tmp: Path, secret: str, run_worker: bool = False) -> Iterator[LiveServer]:
    """Sift with the demo data, served by uvicorn in a thread for as long as the block runs."""
    url, token = _demo_database(tmp)
    settings = Settings(database_url=url, home=tmp, secret_key=secret * 48, run_worker=run_worker)
    config = uvicorn.Config(
        _with_csp(create_app(settings)),
        host="127.0.0.1",
        port=_free_port(),
        log_level="warning",
        ws="none",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{config.port}", token)
    finally:
        server.should_exit = True
        thread.join(timeout=40)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A running Sift with the demo data."""
    with serve(tmp_path_factory.mktemp("browser"), "b") as server:
        yield server


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """The Playwright driver."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Debian Chromium."""
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@dataclass
class PageLog:
    """What a page said: console errors/warnings, uncaught errors, dialogs opened."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Everything that should not happen on a healthy page."""
        return self.console + self.errors + self.dialogs


@pytest.fixture
def page_log() -> PageLog:
    """The log of the test's page."""
    return PageLog()


def new_context(browser: Browser, server: LiveServer, **options: Any) -> BrowserContext:
    """A browser context (desktop viewport) signed in as the admin."""
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 800}, **options
    )
    context.add_cookies(
        [{"name": SESSION_COOKIE, "value": server.session_token, "url": server.url}]
    )
    return context


@pytest.fixture
def page(browser: Browser, live_server: LiveServer, page_log: PageLog) -> Iterator[Page]:
    """A fresh page of a signed-in admin whose console is checked after the test."""
    context = new_context(browser, live_server)
    tab = context.new_page()
    tab.set_default_timeout(5_000)

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            page_log.console.append(f"{message.type}: {message.text}")

    def on_dialog(dialog: Dialog) -> None:
        page_log.dialogs.append(f"dialog {dialog.type}: {dialog.message}")
        dialog.dismiss()

    tab.on("console", on_console)
    tab.on("pageerror", lambda exc: page_log.errors.append(f"pageerror: {exc}"))
    tab.on("dialog", on_dialog)
    yield tab
    context.close()
    assert page_log.problems() == []


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
