"""The audit log: what is recorded, by whom, and who may read it."""

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.permissions import Caller
from app.models import AuditEvent
from app.services.audit import OPERATOR, record_audit
from tests.auth.clients import PASSWORD, ClientFactory, form_token, make_token, make_user
from tests.factories import make_dataset
from tests.web.html import one, parse


def actions(session: Session) -> list[tuple[str, str, str]]:
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id))
    return [(e.actor, e.action, e.target) for e in events]


def test_sign_ins_accounts_tokens_and_memberships_are_recorded(
    client: TestClient, clients: ClientFactory, session: Session
) -> None:
    make_dataset(session, "ds")
    client.post(
        "/api/v1/users", json={"username": "ann", "role": "annotator", "password": PASSWORD}
    )
    client.patch("/api/v1/users/ann", json={"role": "lead"})
    client.post("/api/v1/datasets/ds/members", json={"username": "ann"})
    client.delete("/api/v1/datasets/ds/members/ann")
    made = client.post("/api/v1/tokens", json={"name": "t", "scopes": ["read"]}).json()
    client.delete(f"/api/v1/tokens/{made['id']}")
    client.post("/api/v1/datasets", json={"slug": "fresh"})
    visitor = clients.anonymous()
    for password in ("wrong-password", PASSWORD):
        page = visitor.get("/login")
        visitor.post(
            "/login",
            data={"username": "ann", "password": password, "csrf_token": form_token(page)},
        )
    visitor.post("/logout", data={"csrf_token": form_token(visitor.get("/account"))})
    assert actions(session) == [
        (OPERATOR, "dataset.create", "dataset:ds"),
        ("admin", "user.create", "user:ann"),
        ("admin", "user.role", "user:ann"),
        ("admin", "member.add", "dataset:ds"),
        ("admin", "member.remove", "dataset:ds"),
        ("admin", "token.create", f"token:{made['id']}"),
        ("admin", "token.revoke", f"token:{made['id']}"),
        ("admin", "dataset.create", "dataset:fresh"),
        ("ann", "login.failed", "user:ann"),
        ("ann", "login", "user:ann"),
        ("ann", "logout", "user:ann"),
    ]
    role_change = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.role")).one()
    assert role_change.detail == {"from": "annotator", "to": "lead"}
    failed = session.scalars(select(AuditEvent).where(AuditEvent.action == "login.failed")).one()
    assert failed.actor_id is None and failed.detail["address"] == "testclient"


def test_record_audit_names_the_token_and_the_cli(session: Session) -> None:
    user = make_user(session, "robot", "lead", service=True)
    token, _ = make_token(session, user, ["write"])
    event = record_audit(session, Caller(user, token), "import", "dataset:ds", {"created": 3})
    assert (event.actor, event.actor_id) == ("robot", user.id)
    assert event.detail == {"created": 3, "token": {"id": token.id, "prefix": token.prefix}}
    assert record_audit(session, None, "export", "dataset:ds").actor == OPERATOR


def test_only_admins_read_the_log_page_and_json(
    client: TestClient, lead_client: TestClient, session: Session
) -> None:
    for i in range(3):
        record_audit(session, None, "export", f"dataset:d{i}", {"n": i})
    record_audit(session, None, "import", "dataset:d0")
    assert lead_client.get("/api/v1/audit").status_code == 403
    assert lead_client.get("/admin/audit").status_code == 403
    page = client.get("/api/v1/audit", params={"action": "export", "limit": 2}).json()
    assert [e["target"] for e in page["items"]] == ["dataset:d2", "dataset:d1"]
    rest = client.get("/api/v1/audit", params={"action": "export", "cursor": page["next"]}).json()
    assert [e["target"] for e in rest["items"]] == ["dataset:d0"] and rest["next"] is None
    soup = parse(client.get("/admin/audit", params={"target": "dataset:d0"}))
    assert [a.get_text() for a in soup.select(".audit-action")] == ["import", "export"]
    assert one(soup, ".json-link")["href"] == "/api/v1/audit?target=dataset%3Ad0"


def test_bad_cursor_is_reported(client: TestClient) -> None:
    response = client.get("/api/v1/audit", params={"cursor": "nonsense"})
    assert response.status_code == 422 and response.json()["error"].startswith("cursor")
