"""API tokens: shown once and stored hashed, scopes, dataset restriction, expiry, revocation,
last use, and who may issue them for whom."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.models import ApiToken, AuditEvent, Dataset, Example
from app.models.types import utcnow
from tests.auth.clients import ClientFactory, form_token, make_token, make_user, with_bearer
from tests.factories import chat, make_dataset, store
from tests.web.html import one, parse

PUSH = [{"instruction": "Pushed?", "output": "Yes."}]


@pytest.fixture
def ds(session: Session) -> Dataset:
    ds = make_dataset(session, "ds")
    store(session, ds, chat("What is a quokka?", "A marsupial."))
    return ds


def examples(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Example)) or 0)


def bearer(clients: ClientFactory, secret: str) -> TestClient:
    return with_bearer(clients.anonymous(), secret)


def test_token_is_shown_once_and_stored_hashed(
    client: TestClient, clients: ClientFactory, session: Session
) -> None:
    created = client.post("/api/v1/tokens", json={"name": "pipeline", "scopes": ["read"]})
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    secret = created.json()["token"]
    assert secret.startswith("sift_") and len(secret) > 40
    listed = client.get("/api/v1/tokens").json()
    assert [t["prefix"] for t in listed] == [secret[:11]]
    assert "token" not in listed[0] and secret not in client.get("/api/v1/tokens").text
    stored = session.scalars(select(ApiToken)).one()
    assert secret not in (stored.token_hash, stored.prefix, stored.name)
    assert bearer(clients, secret).get("/api/v1/me").json()["via"] == "token"


def test_read_scope_reads_but_cannot_write(
    clients: ClientFactory, session: Session, ds: Dataset
) -> None:
    reader = clients.bearer("lead", ["read"])
    assert reader.get("/api/v1/datasets/ds/examples").status_code == 200
    before = examples(session)
    response = reader.post("/api/v1/datasets/ds/examples:bulk", json=PUSH)
    assert response.status_code == 403
    assert "no scope" in response.json()["error"]
    assert examples(session) == before


def test_write_scope_pushes_but_cannot_read(
    clients: ClientFactory, session: Session, ds: Dataset
) -> None:
    writer = clients.bearer("lead", ["write"])
    assert writer.post("/api/v1/datasets/ds/examples:bulk", json=PUSH).status_code == 200
    assert writer.get("/api/v1/datasets/ds/examples").status_code == 403
    assert examples(session) == 2


def test_scope_cannot_lift_the_role(clients: ClientFactory, session: Session, ds: Dataset) -> None:
    annotator = clients.bearer("annotator", ["read", "write", "export"], member_of=[ds])
    assert annotator.get("/api/v1/datasets/ds").status_code == 200
    assert annotator.post("/api/v1/datasets/ds/examples:bulk", json=PUSH).status_code == 403
    assert annotator.post("/api/v1/datasets", json={"slug": "mine"}).status_code == 403


def test_no_scope_reaches_account_administration(clients: ClientFactory) -> None:
    admin = clients.bearer("admin", ["read", "write", "export"])
    assert admin.get("/api/v1/users").status_code == 403
    assert admin.get("/api/v1/audit").status_code == 403
    made = admin.post("/api/v1/tokens", json={"name": "more", "scopes": ["read"]})
    assert made.status_code == 403 and "cannot create tokens" in made.json()["error"]


def test_dataset_restricted_token_sees_nothing_else(
    clients: ClientFactory, session: Session, ds: Dataset
) -> None:
    other = make_dataset(session, "other")
    (other_example,) = store(session, other, chat("Secret?", "Yes.")).created
    scoped = clients.bearer("admin", ["read", "write"], dataset=ds)
    assert [d["slug"] for d in scoped.get("/api/v1/datasets").json()] == ["ds"]
    assert scoped.get("/api/v1/datasets/ds").status_code == 200
    assert scoped.get("/api/v1/datasets/other").status_code == 404
    assert scoped.get(f"/api/v1/datasets/other/examples/{other_example}").status_code == 404
    before = examples(session)
    assert scoped.post("/api/v1/datasets/other/examples:bulk", json=PUSH).status_code == 404
    assert examples(session) == before
    # Nor may it make a dataset of its own, though its owner (an admin) may.
    refused = scoped.post("/api/v1/datasets", json={"slug": "mine"})
    assert refused.status_code == 403
    assert "limited to one dataset" in refused.json()["error"]
    assert session.scalars(select(Dataset.slug).order_by(Dataset.slug)).all() == ["ds", "other"]
    audited = select(AuditEvent).where(
        AuditEvent.action == "dataset.create", AuditEvent.actor_id.is_not(None)
    )
    assert session.scalars(audited).all() == []


def test_expired_token_is_refused(clients: ClientFactory, session: Session) -> None:
    user = make_user(session, "ann", "annotator")
    token, secret = make_token(session, user, ["read"], expires_days=30)
    assert token.expires_at is not None
    assert timedelta(days=29) < token.expires_at - utcnow() <= timedelta(days=30)
    api = bearer(clients, secret)
    assert api.get("/api/v1/me").status_code == 200
    session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    refused = api.get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert "expired" in refused.json()["error"]


@pytest.mark.parametrize("header", ["Bearer", "Bearer sift_nope", "Basic YTpi", "sift_abc"])
def test_malformed_or_unknown_bearer_is_401(anon_client: TestClient, header: str) -> None:
    assert anon_client.get("/api/v1/me", headers={"Authorization": header}).status_code == 401


def test_revoked_token_is_refused(client: TestClient, clients: ClientFactory) -> None:
    made = client.post("/api/v1/tokens", json={"name": "t", "scopes": ["read"]}).json()
    api = bearer(clients, made["token"])
    assert api.get("/api/v1/me").status_code == 200
    assert client.delete(f"/api/v1/tokens/{made['id']}").status_code == 204
    assert api.get("/api/v1/me").status_code == 401
    listed = client.get("/api/v1/tokens").json()
    assert listed[0]["revoked_at"] is not None and listed[0]["active"] is False


def test_last_use_is_recorded_and_audited_once_an_hour(
    client: TestClient, clients: ClientFactory, session: Session
) -> None:
    made = client.post("/api/v1/tokens", json={"name": "t", "scopes": ["read"]}).json()
    assert made["last_used_at"] is None
    api = bearer(clients, made["token"])
    for _ in range(3):
        api.get("/api/v1/me")
    assert client.get("/api/v1/tokens").json()[0]["last_used_at"] is not None
    uses = session.scalars(select(AuditEvent).where(AuditEvent.action == "token.use")).all()
    assert len(uses) == 1
    assert uses[0].detail["request"] == "GET /api/v1/me"
    assert uses[0].detail["token"]["prefix"] == made["prefix"]


def test_lead_issues_tokens_for_service_accounts_not_for_people(
    lead_client: TestClient, annotator_client: TestClient, session: Session
) -> None:
    make_user(session, "robot", "annotator", service=True)
    make_user(session, "person", "annotator")
    body = {"name": "bot", "scopes": ["write"], "user": "robot"}
    made = lead_client.post("/api/v1/tokens", json=body)
    assert made.status_code == 201 and made.json()["user"] == "robot"
    assert lead_client.post("/api/v1/tokens", json={**body, "user": "person"}).status_code == 403
    assert annotator_client.post("/api/v1/tokens", json=body).status_code == 403
    # The lead sees and may revoke the service account's token; the annotator may not.
    assert [t["user"] for t in lead_client.get("/api/v1/tokens").json()] == ["robot"]
    assert annotator_client.get("/api/v1/tokens").json() == []
    token_id = made.json()["id"]
    assert annotator_client.delete(f"/api/v1/tokens/{token_id}").status_code == 404
    assert lead_client.delete(f"/api/v1/tokens/{token_id}").status_code == 204


def test_admin_cannot_mint_a_token_for_another_person(client: TestClient, session: Session) -> None:
    make_user(session, "person", "lead")
    body = {"name": "x", "scopes": ["read"], "user": "person"}
    assert client.post("/api/v1/tokens", json=body).status_code == 403


def test_token_restricted_to_a_dataset_the_caller_cannot_see_is_404(
    annotator_client: TestClient, session: Session, ds: Dataset
) -> None:
    body = {"name": "x", "scopes": ["read"], "dataset": "ds"}
    assert annotator_client.post("/api/v1/tokens", json=body).status_code == 404
    assert session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_bad_scopes_are_rejected(client: TestClient) -> None:
    response = client.post("/api/v1/tokens", json={"name": "x", "scopes": ["root"]})
    assert response.status_code == 422 and "scopes" in response.json()["error"]


def test_tokens_page_creates_shows_once_and_revokes(
    lead_client: TestClient, clients: ClientFactory, session: Session, ds: Dataset
) -> None:
    make_user(session, "robot", "lead", service=True)
    page = lead_client.get("/tokens")
    owners = [o.get_text() for o in parse(page).select("#token-owner option")]
    assert owners == ["lead", "robot (service account)"]
    response = lead_client.post(
        "/tokens",
        data={
            "name": "nightly push",
            "owner": "robot",
            "scopes": ["read", "write"],
            "dataset": "ds",
            "expires_days": "7",
            "csrf_token": form_token(page),
        },
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    secret = one(parse(response), "#new-token-secret").get_text()
    assert bearer(clients, secret).get("/api/v1/datasets/ds").status_code == 200
    again = parse(lead_client.get("/tokens"))
    assert again.select_one("#new-token-secret") is None
    row = one(again, ".token-row")
    assert one(row, ".token-scopes").get_text() == "read, write"
    assert one(row, ".token-dataset").get_text() == "ds"
    assert one(row, ".token-user").get_text() == "robot"
    assert one(row, ".token-last-used").get_text() != "never"
    revoke = one(row, "form")["action"]
    lead_client.post(str(revoke), data={"csrf_token": form_token(page)})
    assert one(parse(lead_client.get("/tokens")), ".token-state").get_text() == "revoked"
    assert bearer(clients, secret).get("/api/v1/me").status_code == 401


def test_tokens_page_reports_bad_input(lead_client: TestClient) -> None:
    page = lead_client.get("/tokens")
    response = lead_client.post(
        "/tokens", data={"name": "x", "expires_days": "soon", "csrf_token": form_token(page)}
    )
    assert response.status_code == 422
    assert "whole number" in one(parse(response), ".form-error").get_text()
    response = lead_client.post("/tokens", data={"name": "x", "csrf_token": form_token(page)})
    assert response.status_code == 422
    assert "at least one" in one(parse(response), ".form-error").get_text()
