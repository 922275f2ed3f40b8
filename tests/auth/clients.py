"""Accounts and HTTP clients for tests: signed-in browsers of each role, bearer-token clients.

A signed-in client carries its session cookie and, like base.html does for HTMX, the CSRF
header on every request; drop `client.headers["X-CSRF-Token"]` to test CSRF refusals.
"""

from collections.abc import Iterable
from contextlib import ExitStack
from functools import lru_cache

from bs4 import BeautifulSoup
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from app.auth.cookies import SESSION_COOKIE
from app.auth.crypto import hash_password, sign
from app.auth.csrf import CSRF_HEADER
from app.models import ApiToken, Dataset, User
from app.repositories import auth as repo
from app.services import accounts, tokens

# Test-only password; argon2 is slow on purpose, so it is hashed once per test run.
PASSWORD = "test-password-for-tests-only"


@lru_cache
def password_hash() -> str:
    """The argon2 hash of PASSWORD."""
    return hash_password(PASSWORD)


def make_user(
    session: Session,
    username: str,
    role: str = "annotator",
    *,
    service: bool = False,
    member_of: Iterable[Dataset] = (),
) -> User:
    """An account (password PASSWORD unless a service account), member of some datasets."""
    user = repo.add_user(
        session,
        User(
            username=username,
            role=role,
            password_hash=None if service else password_hash(),
            is_service=service,
            is_active=True,
        ),
    )
    for dataset in member_of:
        repo.add_member(session, dataset.id, user.id)
    return user


def sign_in(client: TestClient, session: Session, user: User) -> TestClient:
    """Give the client a session of the user, and the CSRF header that goes with it."""
    new = accounts.start_session(session, user, "testclient", "pytest")
    client.cookies.set(SESSION_COOKIE, new.token)
    app: FastAPI = client.app  # type: ignore[assignment]
    secret = app.state.settings.resolved_secret_key()
    client.headers[CSRF_HEADER] = sign(secret, "csrf", new.token)
    return client


def make_token(
    session: Session,
    user: User,
    scopes: Iterable[str] = ("read",),
    dataset: Dataset | None = None,
    expires_days: int | None = None,
) -> tuple[ApiToken, str]:
    """A token of the user and its secret."""
    issued = tokens.issue_token(session, None, user, "test", list(scopes), dataset, expires_days)
    return issued.token, issued.secret


def with_bearer(client: TestClient, secret: str) -> TestClient:
    """Send the token on every request (and no cookies, as an API client would)."""
    client.headers["Authorization"] = f"Bearer {secret}"
    return client


class ClientFactory:
    """Makes clients for one test; each is closed (its app lifespan ended) with the test."""

    def __init__(self, app: FastAPI, session: Session, stack: ExitStack) -> None:
        self.app, self.session, self.stack = app, session, stack
        self.count = 0

    def _client(self) -> TestClient:
        return self.stack.enter_context(TestClient(self.app))

    def _user(self, role: str, username: str | None, member_of: Iterable[Dataset]) -> User:
        self.count += 1
        return make_user(self.session, username or f"{role}{self.count}", role, member_of=member_of)

    def anonymous(self) -> TestClient:
        """A browser nobody signed in with."""
        return self._client()

    def signed_in(
        self, role: str, *, username: str | None = None, member_of: Iterable[Dataset] = ()
    ) -> TestClient:
        """A browser signed in as a new user of the role."""
        return sign_in(self._client(), self.session, self._user(role, username, member_of))

    def bearer(
        self,
        role: str,
        scopes: Iterable[str],
        *,
        dataset: Dataset | None = None,
        member_of: Iterable[Dataset] = (),
        expires_days: int | None = None,
    ) -> TestClient:
        """An API client with a token of a new user of the role."""
        user = self._user(role, None, member_of)
        _, secret = make_token(self.session, user, scopes, dataset, expires_days)
        return with_bearer(self._client(), secret)


def form_token(response: Response) -> str:
    """The CSRF token a page's forms carry (the hidden `csrf_token` field)."""
    field = BeautifulSoup(response.text, "html.parser").select_one('input[name="csrf_token"]')
    assert field is not None, "the page has no CSRF field"
    value = field.get("value")
    assert isinstance(value, str) and value
    return value
