"""The users, user, members and account pages, through their forms."""

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.db import get_session
from app.repositories import auth as repo
from tests.auth.clients import PASSWORD, ClientFactory, form_token, make_user, sign_in
from tests.factories import make_dataset
from tests.web.html import one, parse


def post_form(client: TestClient, page_url: str, url: str, **data: str) -> object:
    token = form_token(client.get(page_url))
    return client.post(url, data={**data, "csrf_token": token}, follow_redirects=False)


def test_admin_creates_people_and_service_accounts(client: TestClient, session: Session) -> None:
    made = post_form(
        client, "/admin/users", "/admin/users", username="Ann", role="annotator", password=PASSWORD
    )
    assert made.headers["location"] == "/admin/users/ann"  # type: ignore[attr-defined]
    post_form(client, "/admin/users", "/admin/users", username="bot", role="lead", service="true")
    bot = repo.get_user_by_name(session, "bot")
    assert bot is not None and bot.is_service and bot.password_hash is None
    rows = parse(client.get("/admin/users")).select(".user-row")
    assert [r["id"] for r in rows] == ["user-admin", "user-ann", "user-bot"]
    refused = post_form(
        client, "/admin/users", "/admin/users", username="eve", role="admin", service="true"
    )
    assert refused.status_code == 422  # type: ignore[attr-defined]


def test_admin_changes_role_disables_and_resets_password(
    client: TestClient, clients: ClientFactory, session: Session
) -> None:
    ann = clients.signed_in("annotator", username="ann")
    page = "/admin/users/ann"
    post_form(client, page, page, role="lead")
    assert one(parse(client.get(page)), ".user-role").get_text() == "lead"
    post_form(client, page, page, active="false")
    assert one(parse(client.get(page)), ".user-state").get_text() == "disabled"
    assert ann.get("/api/v1/me").status_code == 401
    post_form(client, page, page, active="true")
    post_form(client, page, page, password="a-brand-new-password")
    user = repo.get_user_by_name(session, "ann")
    assert user is not None and user.is_active
    weak = post_form(client, page, page, password="short")
    assert weak.status_code == 422  # type: ignore[attr-defined]
    assert "at least 10" in one(parse(weak), ".form-error").get_text()  # type: ignore[arg-type]


def test_admin_cannot_disable_themself(client: TestClient) -> None:
    response = post_form(client, "/admin/users/admin", "/admin/users/admin", active="false")
    assert response.status_code == 409  # type: ignore[attr-defined]


def test_lead_adds_and_removes_members_on_the_page(
    lead_client: TestClient, clients: ClientFactory, session: Session
) -> None:
    make_dataset(session, "ds", name="Chats")
    ann = clients.signed_in("annotator", username="ann")
    assert ann.get("/datasets/ds").status_code == 404
    page = "/datasets/ds/members"
    candidates = [
        o["value"] for o in parse(lead_client.get(page)).select("#member-username option")
    ]
    assert "ann" in candidates
    post_form(lead_client, page, page, username="ann")
    assert [r["id"] for r in parse(lead_client.get(page)).select(".member-row")] == ["member-ann"]
    assert ann.get("/datasets/ds").status_code == 200
    assert "Chats" in ann.get("/datasets").text
    post_form(lead_client, page, "/datasets/ds/members/ann/remove")
    assert ann.get("/datasets/ds").status_code == 404


def test_account_page_lists_what_you_may_do(clients: ClientFactory, session: Session) -> None:
    ds = make_dataset(session, "ds", name="Chats")
    ann = clients.signed_in("annotator", member_of=[ds])
    soup = parse(ann.get("/account"))
    allowed = [li.get_text() for li in soup.select(".allowed-list li")]
    assert allowed == [
        "see datasets, browse and search examples, ratings, revisions and comments",
        "rate, edit and comment on examples",
    ]
    assert [a.get_text() for a in soup.select("section a[href^='/datasets/']")] == ["Chats"]
    assert ann.get("/api/v1/me").json()["allowed"] == ["view", "annotate"]


def test_nav_shows_admin_links_to_admins_only(
    client: TestClient, lead_client: TestClient, anon_client: TestClient, session: Session
) -> None:
    def nav(browser: TestClient, url: str = "/datasets") -> list[str]:
        return [str(a["href"]) for a in parse(browser.get(url)).select(".site-nav a")]

    assert nav(client) == ["/datasets", "/tokens", "/admin/users", "/admin/audit"]
    assert nav(lead_client) == ["/datasets", "/tokens"]
    make_user(session, "someone", "admin")
    soup = parse(anon_client.get("/login"))
    assert soup.select(".logout-form") == [] and soup.select(".user-name") == []
    assert one(parse(client.get("/datasets")), ".user-name")["href"] == "/account"


def test_error_pages_of_a_signed_in_user_render_after_the_session_closed(
    app: FastAPI, session: Session
) -> None:
    """Exception handlers run after get_session rolled back and closed (as in production)."""
    connection = session.connection()

    def closing_session() -> Iterator[Session]:
        request_session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield request_session
        finally:
            request_session.rollback()
            request_session.close()

    app.dependency_overrides[get_session] = closing_session
    admin = make_user(session, "root", "admin")
    with TestClient(app) as browser:
        sign_in(browser, session, admin)
        response = browser.get("/datasets/no-such-dataset")
        assert response.status_code == 404
        soup = parse(response)
        assert one(soup, ".user-name").get_text() == "root"
        assert one(soup, "h1").get_text() == "Not found"


def test_dataset_page_links_members_for_those_who_manage(
    client: TestClient, clients: ClientFactory, session: Session
) -> None:
    ds = make_dataset(session, "ds")
    assert one(parse(client.get("/datasets/ds")), ".members-link")["href"] == "/datasets/ds/members"
    member = clients.signed_in("annotator", member_of=[ds])
    assert parse(member.get("/datasets/ds")).select(".members-link") == []
