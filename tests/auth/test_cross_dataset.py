"""A dataset the caller may not see is indistinguishable from one that does not exist, through
every route that names a dataset (including routes added after this test was written), and a
request for it changes nothing."""

from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import Base
from app.models import Dataset
from tests.auth.clients import ClientFactory, make_user
from tests.factories import chat, make_dataset, store


def table_counts(session: Session) -> dict[str, int]:
    """Rows in every mapped table."""
    return {
        table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
        for table in Base.metadata.sorted_tables
    }


def all_routes() -> list[tuple[str, str]]:
    """(method, full path) of every route of the app, included routers walked."""
    from app.main import create_app

    found: list[tuple[str, str]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.extend((method, prefix + route.path) for method in sorted(route.methods))
            elif hasattr(route, "original_router"):  # an included router
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, APIRouter):
                walk(route.routes, prefix)

    walk(create_app().routes, "")
    return found


def dataset_routes() -> list[tuple[str, str]]:
    """(method, path) of every route with a {slug} in its path."""
    return [(method, path) for method, path in all_routes() if "{slug}" in path]


ROUTES = dataset_routes()


def fill(path: str, slug: str, example_id: int) -> str:
    values: dict[str, Any] = {
        "slug": slug,
        "example_id": example_id,
        "username": "bystander",
        "token_id": 1,
    }
    for name in ("revision_id", "rating_id", "comment_id", "export_id", "job_id", "id"):
        values.setdefault(name, 1)
    return path.format_map(values)


@pytest.fixture
def hidden(session: Session) -> tuple[Dataset, int]:
    ds = make_dataset(session, "hidden", name="Hidden", guidelines="secret guidelines")
    (example_id,) = store(session, ds, chat("Secret question?", "Secret answer.")).created
    make_user(session, "bystander", "annotator", member_of=[ds])
    return ds, example_id


def test_every_dataset_route_is_checked() -> None:
    assert len(ROUTES) >= 8, ROUTES


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_outsider_gets_what_a_missing_dataset_gets_and_changes_nothing(
    method: str, path: str, clients: ClientFactory, session: Session, hidden: tuple[Dataset, int]
) -> None:
    _, example_id = hidden
    mine = make_dataset(session, "mine")
    outsider = clients.signed_in("annotator", member_of=[mine])
    before = table_counts(session)
    kwargs: dict[str, Any] = {"follow_redirects": False}
    if method not in ("GET", "HEAD", "DELETE"):
        kwargs["json"] = {}
    seen = outsider.request(method, fill(path, "hidden", example_id), **kwargs)
    missing = outsider.request(method, fill(path, "no-such-dataset", example_id), **kwargs)
    assert seen.status_code == missing.status_code, (seen.text, missing.text)
    assert seen.status_code in (404, 405, 422), seen.text
    assert "Secret" not in seen.text and "secret" not in seen.text
    assert table_counts(session) == before


def test_example_of_another_dataset_is_not_reachable_through_a_visible_one(
    clients: ClientFactory, session: Session, hidden: tuple[Dataset, int]
) -> None:
    _, example_id = hidden
    mine = make_dataset(session, "mine")
    member = clients.signed_in("annotator", member_of=[mine])
    assert member.get(f"/api/v1/datasets/mine/examples/{example_id}").status_code == 404
    assert member.get(f"/datasets/mine/examples/{example_id}").status_code == 404
    assert member.get("/api/v1/datasets/mine/examples?q=secret").json()["total"] == 0


def test_member_removed_loses_access_at_once(
    client: TestClient, clients: ClientFactory, session: Session, hidden: tuple[Dataset, int]
) -> None:
    ds, _ = hidden
    member = clients.signed_in("annotator", username="ann", member_of=[ds])
    assert member.get("/api/v1/datasets/hidden").status_code == 200
    assert client.delete("/api/v1/datasets/hidden/members/ann").status_code == 204
    assert member.get("/api/v1/datasets/hidden").status_code == 404


PUBLIC = {("GET", "/"), ("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}
PUBLIC |= {("GET", "/setup"), ("POST", "/setup")}


@pytest.mark.parametrize(("method", "path"), [r for r in all_routes() if r not in PUBLIC])
def test_every_route_needs_a_signed_in_caller(
    method: str, path: str, anon_client: TestClient, session: Session
) -> None:
    make_user(session, "someone", "admin")  # past first-run setup
    before = table_counts(session)
    kwargs: dict[str, Any] = {"follow_redirects": False}
    if method not in ("GET", "HEAD", "DELETE"):
        kwargs["json"] = {}
    response = anon_client.request(method, fill(path, "ds", 1), **kwargs)
    if path.startswith("/api/"):
        assert response.status_code == 401, response.text
    elif method == "GET":
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    else:  # a cookie-less form post is refused by the CSRF check before anything else
        assert response.status_code == 403
    assert table_counts(session) == before
