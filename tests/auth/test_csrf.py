"""CSRF: a state-changing request riding on a browser's cookies needs the session's token and
must not come from another site; bearer-token requests are exempt only without a cookie."""

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.cookies import CSRF_COOKIE, SESSION_COOKIE
from app.auth.csrf import CSRF_HEADER
from app.models import Dataset
from tests.auth.clients import PASSWORD, ClientFactory, form_token, make_token, make_user
from tests.web.html import attr, one, parse


def datasets(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Dataset)) or 0)


def create(client: TestClient, **headers: str) -> int:
    return client.post("/api/v1/datasets", json={"slug": "fresh"}, headers=headers).status_code


def test_missing_or_wrong_token_is_refused_and_changes_nothing(
    client: TestClient, session: Session
) -> None:
    token = client.headers.pop(CSRF_HEADER)
    assert create(client) == 403
    wrong = token[:-1] + ("1" if token[-1] == "0" else "0")
    assert create(client, **{CSRF_HEADER: wrong}) == 403
    body = client.post("/api/v1/datasets", json={"slug": "fresh"}).json()
    assert "security token" in body["error"]
    assert datasets(session) == 0
    assert create(client, **{CSRF_HEADER: token}) == 201


def test_form_without_token_gets_a_403_page(client: TestClient, session: Session) -> None:
    client.headers.pop(CSRF_HEADER)
    response = client.post("/admin/users", data={"username": "x", "role": "annotator"})
    assert response.status_code == 403
    assert "reload the page" in one(parse(response), ".error-message").get_text()
    page = client.get("/admin/users")
    data = {
        "username": "xavier",
        "role": "annotator",
        "password": PASSWORD,
        "csrf_token": form_token(page),
    }
    assert client.post("/admin/users", data=data, follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://testserver.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://testserver"},
    ],
)
def test_cross_site_requests_are_refused_even_with_the_token(
    client: TestClient, session: Session, headers: dict[str, str]
) -> None:
    assert create(client, **headers) == 403
    assert datasets(session) == 0


@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": "http://testserver"}, {"Sec-Fetch-Site": "same-origin"}],
)
def test_same_origin_requests_with_the_token_pass(
    client: TestClient, headers: dict[str, str]
) -> None:
    assert create(client, **headers) == 201


def test_token_is_bound_to_the_session(clients: ClientFactory) -> None:
    first = clients.signed_in("lead")
    second = clients.signed_in("lead")
    assert create(second, **{CSRF_HEADER: first.headers[CSRF_HEADER]}) == 403


def test_bearer_without_cookie_is_exempt(clients: ClientFactory, session: Session) -> None:
    api = clients.bearer("lead", ["write"])
    api.get("/api/v1/me")  # picks up the anonymous CSRF cookie: not a credential
    assert CSRF_COOKIE in api.cookies
    assert create(api) == 201


def test_bearer_with_a_session_cookie_is_checked_like_a_browser(
    clients: ClientFactory, session: Session
) -> None:
    browser = clients.signed_in("lead")
    token = browser.headers.pop(CSRF_HEADER)
    user = make_user(session, "bot", "lead")
    _, secret = make_token(session, user, ["write"])
    browser.headers["Authorization"] = f"Bearer {secret}"
    assert create(browser) == 403
    assert create(browser, Origin="https://evil.example", **{CSRF_HEADER: token}) == 403
    assert datasets(session) == 0
    assert create(browser, **{CSRF_HEADER: token}) == 201


def test_anonymous_api_write_gets_401_not_403(anon_client: TestClient) -> None:
    assert create(anon_client) == 401


def test_sign_in_form_is_protected_too(anon_client: TestClient, session: Session) -> None:
    make_user(session, "ann", "annotator")
    data = {"username": "ann", "password": PASSWORD}
    assert anon_client.post("/login", data=data).status_code == 403
    token = form_token(anon_client.get("/login"))
    cross = anon_client.post(
        "/login", data={**data, "csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    assert SESSION_COOKIE not in anon_client.cookies
    ok = anon_client.post("/login", data={**data, "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303


def test_anonymous_csrf_cookie_is_httponly_and_lax(anon_client: TestClient) -> None:
    response = anon_client.get("/login", follow_redirects=False)
    (cookie,) = [c for c in response.headers.get_list("set-cookie") if c.startswith(CSRF_COOKIE)]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_give_htmx_the_token_without_inline_script(client: TestClient) -> None:
    soup = parse(client.get("/datasets"))
    token = attr(one(soup, 'meta[name="csrf-token"]'), "content")
    assert json.loads(attr(one(soup, "body"), "hx-headers")) == {CSRF_HEADER: token}
    assert attr(one(soup, 'form[action="/logout"] input[name="csrf_token"]'), "value") == token
    assert all(script.get("src") for script in soup.find_all("script"))
    # HTMX's header is what a request sends: the sign-out works with it alone.
    client.headers.pop(CSRF_HEADER)
    out = client.post("/logout", headers={CSRF_HEADER: token, "HX-Request": "true"})
    assert out.status_code == 200 and out.headers["HX-Redirect"] == "/login"
