"""The role x action matrix of docs/security.md, checked through HTTP for every role.

Roles: admin, lead, an annotator who is a member of the dataset, an annotator who is not, and
nobody. A dataset the caller may not see answers 404 (never 403: its existence is not told).
"""

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Dataset, DatasetMember, Example, User
from tests.auth.clients import ClientFactory, make_user
from tests.factories import chat, make_dataset, store

ROLES = ["admin", "lead", "member", "outsider", "anonymous"]


@dataclass(frozen=True)
class Case:
    """One request and the status each role gets."""

    method: str
    url: str
    expect: dict[str, int]
    body: Any = None
    form: dict[str, str] | None = None


def statuses(admin: int, lead: int, member: int, outsider: int, anonymous: int) -> dict[str, int]:
    return dict(zip(ROLES, (admin, lead, member, outsider, anonymous), strict=True))


VIEW = statuses(200, 200, 200, 404, 401)
VIEW_PAGE = statuses(200, 200, 200, 404, 303)
MANAGE_DS = statuses(200, 200, 403, 404, 401)
ADMIN = statuses(200, 403, 403, 403, 401)
ADMIN_PAGE = statuses(200, 403, 403, 403, 303)
EVERYONE = statuses(200, 200, 200, 200, 401)

CASES: dict[str, Case] = {
    # view: browse and search
    "list datasets": Case("GET", "/api/v1/datasets", EVERYONE),
    "dataset page": Case("GET", "/datasets/ds", VIEW_PAGE),
    "dataset json": Case("GET", "/api/v1/datasets/ds", VIEW),
    "search examples": Case("GET", "/api/v1/datasets/ds/examples?q=quokka", VIEW),
    "example page": Case("GET", "/datasets/ds/examples/{example}", VIEW_PAGE),
    "example json": Case("GET", "/api/v1/datasets/ds/examples/{example}", VIEW),
    # manage: datasets and members
    "create dataset": Case(
        "POST", "/api/v1/datasets", statuses(201, 201, 403, 403, 401), {"slug": "fresh"}
    ),
    "new dataset page": Case("GET", "/datasets/new", statuses(200, 200, 403, 403, 303)),
    # A form post: anonymous browsers have no session, so the CSRF check refuses them first.
    "create dataset form": Case(
        "POST",
        "/datasets/new",
        statuses(303, 303, 403, 403, 403),
        form={"name": "Fresh", "slug": "fresh"},
    ),
    "members page": Case("GET", "/datasets/ds/members", statuses(200, 200, 403, 404, 303)),
    "members json": Case("GET", "/api/v1/datasets/ds/members", MANAGE_DS),
    "add member": Case(
        "POST",
        "/api/v1/datasets/ds/members",
        statuses(201, 201, 403, 404, 401),
        {"username": "bystander"},
    ),
    "remove member": Case(
        "DELETE", "/api/v1/datasets/ds/members/bystander", statuses(204, 204, 403, 404, 401)
    ),
    # import: push samples
    "push examples": Case(
        "POST",
        "/api/v1/datasets/ds/examples:bulk",
        statuses(200, 200, 403, 404, 401),
        [{"instruction": "Pushed?", "output": "Yes."}],
    ),
    # admin: users and the audit log
    "users json": Case("GET", "/api/v1/users", ADMIN),
    "users page": Case("GET", "/admin/users", ADMIN_PAGE),
    "create user": Case(
        "POST",
        "/api/v1/users",
        statuses(201, 403, 403, 403, 401),
        {"username": "newbie", "role": "annotator", "password": "a-long-password"},
    ),
    "change role": Case(
        "PATCH", "/api/v1/users/bystander", statuses(200, 403, 403, 403, 401), {"role": "lead"}
    ),
    "audit json": Case("GET", "/api/v1/audit", ADMIN),
    "audit page": Case("GET", "/admin/audit", ADMIN_PAGE),
    # everyone signed in: their own account and tokens
    "me": Case("GET", "/api/v1/me", EVERYONE),
    "account page": Case("GET", "/account", statuses(200, 200, 200, 200, 303)),
    "own tokens": Case("GET", "/api/v1/tokens", EVERYONE),
    "create own token": Case(
        "POST",
        "/api/v1/tokens",
        statuses(201, 201, 201, 201, 401),
        {"name": "mine", "scopes": ["read"]},
    ),
    "token for a service account": Case(
        "POST",
        "/api/v1/tokens",
        statuses(201, 201, 403, 403, 401),
        {"name": "bot", "scopes": ["write"], "user": "robot"},
    ),
}


@dataclass
class World:
    """A dataset with one example, a bystander and a service account."""

    dataset: Dataset
    example_id: int
    bystander: User


@pytest.fixture
def world(session: Session) -> World:
    ds = make_dataset(session, "ds", name="Quokkas")
    (example_id,) = store(session, ds, chat("What is a quokka?", "A marsupial.")).created
    bystander = make_user(session, "bystander", "annotator", member_of=[ds])
    make_user(session, "robot", "lead", service=True)
    return World(ds, example_id, bystander)


def client_for(role: str, clients: ClientFactory, world: World) -> TestClient:
    if role == "anonymous":
        return clients.anonymous()
    if role == "member":
        return clients.signed_in("annotator", member_of=[world.dataset])
    if role == "outsider":
        return clients.signed_in("annotator")
    return clients.signed_in(role)


def snapshot(session: Session) -> tuple[int, ...]:
    """Row counts a refused request must leave alone."""
    models: list[type[Any]] = [Dataset, Example, DatasetMember, User]
    return tuple(int(session.scalar(select(func.count()).select_from(m)) or 0) for m in models)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(CASES))
def test_role_can_or_cannot(
    name: str, role: str, clients: ClientFactory, world: World, session: Session
) -> None:
    case = CASES[name]
    client = client_for(role, clients, world)
    before = snapshot(session)
    kwargs: dict[str, Any] = {"follow_redirects": False}
    if case.body is not None:
        kwargs["json"] = case.body
    if case.form is not None:
        kwargs["data"] = case.form
    url = case.url.format(example=world.example_id)
    response = client.request(case.method, url, **kwargs)
    assert response.status_code == case.expect[role], response.text
    if response.status_code == 303 and role == "anonymous":
        assert response.headers["location"].startswith("/login?next=")
    if response.status_code >= 400:
        assert snapshot(session) == before


def test_annotator_sees_only_member_datasets(
    clients: ClientFactory, world: World, session: Session
) -> None:
    make_dataset(session, "hidden", name="Hidden")
    member = client_for("member", clients, world)
    assert [d["slug"] for d in member.get("/api/v1/datasets").json()] == ["ds"]
    outsider = client_for("outsider", clients, world)
    assert outsider.get("/api/v1/datasets").json() == []
    lead = client_for("lead", clients, world)
    assert {d["slug"] for d in lead.get("/api/v1/datasets").json()} == {"ds", "hidden"}
