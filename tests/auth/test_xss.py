"""Hostile text in every field the account pages render stays text: no script, no handler,
no javascript: link, and the CSP and friends are on every response."""

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.headers import CONTENT_SECURITY_POLICY, attachment_headers, safe_filename
from app.models import Dataset
from app.services.audit import record_audit
from tests.auth.clients import ClientFactory, form_token, make_token, make_user
from tests.factories import make_dataset
from tests.web.html import executable_parts, one, parse

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(1)</script>",
    "[x](javascript:alert(1))",
    '"><svg onload=alert(1)>',
    "javascript:alert(1)",
    "' onmouseover='alert(1)",
]
HOSTILE = " ".join(PAYLOADS)


def clean(soup: BeautifulSoup) -> None:
    assert executable_parts(soup) == []


@pytest.fixture
def hostile_dataset(session: Session) -> Dataset:
    return make_dataset(session, "xss", name=HOSTILE[:200], description=HOSTILE, guidelines=HOSTILE)


def test_dataset_names_on_account_token_member_and_user_pages(
    client: TestClient, clients: ClientFactory, session: Session, hostile_dataset: Dataset
) -> None:
    member = clients.signed_in("annotator", username="ann", member_of=[hostile_dataset])
    for browser, url in [
        (member, "/account"),
        (member, "/tokens"),
        (client, "/datasets/xss/members"),
        (client, "/admin/users/ann"),
    ]:
        soup = parse(browser.get(url))
        clean(soup)
        assert HOSTILE[:200] in soup.get_text()


def test_token_names_and_new_secret_page(
    client: TestClient, session: Session, hostile_dataset: Dataset
) -> None:
    page = client.get("/tokens")
    response = client.post(
        "/tokens",
        data={"name": HOSTILE[:100], "scopes": ["read"], "csrf_token": form_token(page)},
    )
    soup = parse(response)
    clean(soup)
    assert HOSTILE[:100] in one(soup, ".new-token h2").get_text()
    clean(parse(client.get("/tokens")))


def test_failed_sign_in_names_in_the_audit_log_and_the_form(
    client: TestClient, clients: ClientFactory, session: Session
) -> None:
    visitor = clients.anonymous()
    page = visitor.get("/login")
    response = visitor.post(
        "/login",
        data={
            "username": HOSTILE[:80],
            "password": "wrong-password",
            "next": HOSTILE,
            "csrf_token": form_token(page),
        },
    )
    soup = parse(response)
    clean(soup)
    assert one(soup, "#login-username")["value"] == HOSTILE[:80]
    record_audit(session, "<b>x</b>", "</script>", HOSTILE, {"why": PAYLOADS, HOSTILE: 1})
    audit = parse(client.get("/admin/audit"))
    clean(audit)
    assert HOSTILE[:80].lower() in audit.get_text()
    filtered = parse(client.get("/admin/audit", params={"action": HOSTILE[:64]}))
    clean(filtered)


def test_error_messages_echoing_input(
    client: TestClient, session: Session, hostile_dataset: Dataset
) -> None:
    page = client.get("/datasets/xss/members")
    response = client.post(
        "/datasets/xss/members", data={"username": HOSTILE[:80], "csrf_token": form_token(page)}
    )
    assert response.status_code == 404
    clean(parse(response))
    users = client.get("/admin/users")
    created = client.post(
        "/admin/users",
        data={"username": HOSTILE[:80], "role": "annotator", "csrf_token": form_token(users)},
    )
    assert created.status_code == 422
    soup = parse(created)
    clean(soup)
    assert one(soup, "#new-username")["value"] == HOSTILE[:80]
    clean(parse(client.get(f"/datasets/{HOSTILE[:50]}")))


def test_setup_form_echo(anon_client: TestClient) -> None:
    page = anon_client.get("/setup")
    response = anon_client.post(
        "/setup",
        data={
            "username": HOSTILE[:80],
            "password": "long-enough-password",
            "password_again": "long-enough-password",
            "csrf_token": form_token(page),
        },
    )
    assert response.status_code == 422
    clean(parse(response))


@pytest.mark.parametrize(
    "url", ["/login", "/datasets", "/api/v1/datasets", "/static/app.css", "/nowhere"]
)
def test_security_headers_on_every_response(
    client: TestClient, anon_client: TestClient, url: str
) -> None:
    for browser in (client, anon_client):
        headers = browser.get(url, follow_redirects=False).headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"


def test_csp_is_exactly_the_policy_asked_for() -> None:
    assert CONTENT_SECURITY_POLICY == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


def test_hsts_only_over_https(clients: ClientFactory, settings: object) -> None:
    plain = clients.anonymous()
    assert "strict-transport-security" not in plain.get("/login").headers
    secure = clients.anonymous()
    secure.base_url = secure.base_url.copy_with(scheme="https")  # type: ignore[attr-defined]
    assert secure.get("/login").headers["strict-transport-security"].startswith("max-age=")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("demo-train.jsonl", 'attachment; filename="demo-train.jsonl"'),
        ("../../etc/passwd", 'attachment; filename="passwd"'),
        ('a"b\r\nSet-Cookie: x=1.jsonl', 'attachment; filename="a_b_Set-Cookie_ x=1.jsonl"'),
        ("", 'attachment; filename="download"'),
        (
            "数据 v1.jsonl",
            "attachment; filename=\"__ v1.jsonl\"; filename*=UTF-8''%E6%95%B0%E6%8D%AE%20v1.jsonl",
        ),
    ],
)
def test_attachment_headers(given: str, expected: str) -> None:
    headers = attachment_headers(given)
    assert headers["Content-Disposition"] == expected
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "\n" not in headers["Content-Disposition"] and "\r" not in expected


def test_safe_filename_strips_paths_and_dots() -> None:
    assert safe_filename("..\\..\\boot.ini") == "boot.ini"
    assert safe_filename("...") == "download"
    assert len(safe_filename("x" * 500)) == 150


def test_token_secret_never_rendered_after_creation(client: TestClient, session: Session) -> None:
    user = make_user(session, "robot", "lead", service=True)
    _, secret = make_token(session, user, ["read"])
    assert secret not in client.get("/tokens").text
    assert secret not in client.get("/api/v1/tokens").text
    assert secret not in client.get("/admin/audit").text
