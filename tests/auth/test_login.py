"""First-run setup, signing in and out, throttling, sessions and their cookies."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.auth.cookies import SESSION_COOKIE
from app.config import Settings
from app.models import LoginSession, LoginThrottle, User
from app.models.types import utcnow
from app.repositories import auth as repo
from app.services import accounts
from tests.auth.clients import PASSWORD, ClientFactory, form_token, make_token, make_user
from tests.web.html import one, parse

NEW_PASSWORD = "another-long-password"


def login(client: TestClient, username: str, password: str, next: str = "/") -> object:
    token = form_token(client.get("/login"))
    return client.post(
        "/login",
        data={"username": username, "password": password, "next": next, "csrf_token": token},
        follow_redirects=False,
    )


def set_cookie_header(response: object) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    (cookie,) = [h for h in headers if h.startswith(f"{SESSION_COOKIE}=")]
    return str(cookie)


# --- first run -----------------------------------------------------------------------------


def test_fresh_install_has_no_account_and_no_default_secret(session: Session) -> None:
    assert accounts.needs_setup(session)
    assert Settings.model_fields["secret_key"].default == ""
    with pytest.raises(ValueError, match="SIFT_SECRET_KEY"):
        Settings(mode="production", secret_key="")


def test_setup_page_creates_the_first_admin_and_signs_them_in(
    anon_client: TestClient, session: Session
) -> None:
    assert anon_client.get("/datasets", follow_redirects=False).headers["location"] == "/setup"
    assert anon_client.get("/login", follow_redirects=False).headers["location"] == "/setup"
    page = anon_client.get("/setup")
    assert one(parse(page), "form[action='/setup']")
    response = anon_client.post(
        "/setup",
        data={
            "username": "Root",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "csrf_token": form_token(page),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    cookie = set_cookie_header(response)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    root = repo.get_user_by_name(session, "root")
    assert root is not None and root.role == "admin"
    assert anon_client.get("/api/v1/me").json()["user"]["username"] == "root"
    # Once an account exists, setup is closed.
    assert anon_client.get("/setup", follow_redirects=False).headers["location"] == "/login"


def test_setup_form_reports_bad_input_and_creates_nothing(
    anon_client: TestClient, session: Session
) -> None:
    page = anon_client.get("/setup")
    data = {"username": "root", "password": "short", "password_again": "short"}
    response = anon_client.post("/setup", data={**data, "csrf_token": form_token(page)})
    assert response.status_code == 422
    assert "at least 10 characters" in one(parse(response), ".form-error").get_text()
    data = {"username": "root", "password": PASSWORD, "password_again": PASSWORD + "x"}
    response = anon_client.post("/setup", data={**data, "csrf_token": form_token(page)})
    assert response.status_code == 422
    assert accounts.needs_setup(session)


def test_setup_post_is_refused_once_an_account_exists(
    anon_client: TestClient, session: Session
) -> None:
    page = anon_client.get("/setup")
    make_user(session, "first", "admin")
    response = anon_client.post(
        "/setup",
        data={
            "username": "intruder",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "csrf_token": form_token(page),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/login"
    assert repo.get_user_by_name(session, "intruder") is None


# --- signing in and out --------------------------------------------------------------------


def test_sign_in_goes_back_to_the_page_asked_for_then_sign_out(
    anon_client: TestClient, session: Session
) -> None:
    make_user(session, "ann", "annotator")
    redirect = anon_client.get("/account", follow_redirects=False)
    assert redirect.headers["location"] == "/login?next=%2Faccount"
    response = login(anon_client, "ANN ", PASSWORD, next="/account")
    assert (response.status_code, response.headers["location"]) == (303, "/account")  # type: ignore[attr-defined]
    assert one(parse(anon_client.get("/account")), "h1").get_text() == "ann"
    cookie = anon_client.cookies[SESSION_COOKIE]
    token = form_token(anon_client.get("/account"))
    out = anon_client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.headers["location"] == "/login"
    assert session.scalar(select(func.count()).select_from(LoginSession)) == 0
    anon_client.cookies.set(SESSION_COOKIE, cookie)  # the old cookie is worth nothing now
    assert anon_client.get("/api/v1/me").status_code == 401


def test_wrong_password_and_unknown_user_get_the_same_answer(
    anon_client: TestClient, session: Session
) -> None:
    make_user(session, "ann", "annotator")
    wrong = login(anon_client, "ann", "not-the-password")
    unknown = login(anon_client, "nobody", "not-the-password")
    for response in (wrong, unknown):
        assert response.status_code == 401  # type: ignore[attr-defined]
        error = one(parse(response), ".form-error").get_text()  # type: ignore[arg-type]
        assert error == "Wrong username or password"
    assert SESSION_COOKIE not in anon_client.cookies


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_next_never_leaves_the_site(anon_client: TestClient, session: Session, target: str) -> None:
    make_user(session, "ann", "annotator")
    assert login(anon_client, "ann", PASSWORD, next=target).headers["location"] == "/"  # type: ignore[attr-defined]


def test_service_and_disabled_accounts_cannot_sign_in(
    anon_client: TestClient, session: Session
) -> None:
    make_user(session, "robot", "lead", service=True)
    off = make_user(session, "off", "annotator")
    off.is_active = False
    session.flush()
    assert login(anon_client, "robot", "").status_code == 422  # type: ignore[attr-defined]
    assert login(anon_client, "off", PASSWORD).status_code == 401  # type: ignore[attr-defined]


# --- throttling ----------------------------------------------------------------------------


def test_account_is_locked_after_repeated_failures_with_a_clear_message(
    anon_client: TestClient, session: Session
) -> None:
    make_user(session, "ann", "annotator")
    for _ in range(accounts.ACCOUNT_FREE_FAILURES):
        assert login(anon_client, "ann", "wrong-password").status_code == 401  # type: ignore[attr-defined]
    locked = login(anon_client, "ann", PASSWORD)  # even the right password waits
    assert locked.status_code == 429  # type: ignore[attr-defined]
    assert int(locked.headers["retry-after"]) > 0  # type: ignore[attr-defined]
    message = one(parse(locked), ".form-error").get_text()  # type: ignore[arg-type]
    assert message.startswith("Too many failed sign-in attempts for this account. Try again in")
    # The lock lives in the database (any app server sees it) and ends on its own.
    throttle = session.get(LoginThrottle, "user:ann")
    assert throttle is not None and throttle.locked_until is not None
    session.execute(update(LoginThrottle).values(locked_until=utcnow() - timedelta(seconds=1)))
    assert login(anon_client, "ann", PASSWORD).status_code == 303  # type: ignore[attr-defined]
    assert session.get(LoginThrottle, "user:ann") is None  # success clears the account's count


def test_lock_grows_with_each_further_failure(session: Session) -> None:
    make_user(session, "ann", "annotator")
    locks = []
    for _ in range(accounts.ACCOUNT_FREE_FAILURES + 3):
        session.execute(update(LoginThrottle).values(locked_until=None))
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate(session, "ann", "wrong-password", "10.0.0.1")
        throttle = session.get(LoginThrottle, "user:ann")
        assert throttle is not None
        session.refresh(throttle)
        if throttle.locked_until is not None:
            locks.append(throttle.locked_until - throttle.last_failure_at)
    assert locks == [
        timedelta(seconds=30),
        timedelta(seconds=60),
        timedelta(seconds=120),
        timedelta(seconds=240),
    ]


def test_address_is_locked_after_many_failures_across_accounts(session: Session) -> None:
    for i in range(accounts.ADDRESS_FREE_FAILURES):
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate(session, f"guess{i}", "wrong-password", "10.9.9.9")
    make_user(session, "ann", "annotator")
    with pytest.raises(accounts.TooManyAttempts, match="your address"):
        accounts.authenticate(session, "ann", PASSWORD, "10.9.9.9")
    assert accounts.authenticate(session, "ann", PASSWORD, "10.0.0.2").username == "ann"


# --- sessions ------------------------------------------------------------------------------


def test_changing_password_ends_every_other_session(
    clients: ClientFactory, session: Session
) -> None:
    here = clients.signed_in("annotator", username="ann")
    user = repo.get_user_by_name(session, "ann")
    assert user is not None
    elsewhere = clients.anonymous()
    assert login(elsewhere, "ann", PASSWORD).status_code == 303  # type: ignore[attr-defined]
    page = here.get("/account")
    response = here.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
            "csrf_token": form_token(page),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/account?changed=true"
    here.headers.pop("X-CSRF-Token")  # bound to the old session
    assert here.get("/api/v1/me").status_code == 200  # this browser got a new session
    assert elsewhere.get("/api/v1/me").status_code == 401
    assert elsewhere.get("/account", follow_redirects=False).status_code == 303
    assert login(clients.anonymous(), "ann", NEW_PASSWORD).status_code == 303  # type: ignore[attr-defined]


def test_changing_password_needs_the_current_one(
    annotator_client: TestClient, session: Session
) -> None:
    response = annotator_client.post(
        "/account/password",
        data={
            "current_password": "wrong-current",
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert response.status_code == 422
    assert "current password" in one(parse(response), ".form-error").get_text()
    assert annotator_client.get("/api/v1/me").status_code == 200


def test_admin_password_reset_and_disabling_end_sessions_and_tokens(
    client: TestClient, clients: ClientFactory, session: Session
) -> None:
    victim = clients.signed_in("lead", username="lee")
    user = repo.get_user_by_name(session, "lee")
    assert user is not None
    _, secret = make_token(session, user, ["read"])
    reset = client.patch("/api/v1/users/lee", json={"password": NEW_PASSWORD})
    assert reset.status_code == 200
    assert victim.get("/api/v1/me").status_code == 401
    bearer = clients.anonymous()
    bearer.headers["Authorization"] = f"Bearer {secret}"
    assert bearer.get("/api/v1/me").status_code == 200  # a reset leaves tokens alone
    assert client.patch("/api/v1/users/lee", json={"active": False}).status_code == 200
    assert bearer.get("/api/v1/me").status_code == 401  # a disabled account's tokens stop


def test_the_last_admin_cannot_be_demoted_or_disabled(client: TestClient) -> None:
    assert client.patch("/api/v1/users/admin", json={"role": "lead"}).status_code == 409
    assert client.patch("/api/v1/users/admin", json={"active": False}).status_code == 409


def test_sessions_expire(annotator_client: TestClient, session: Session) -> None:
    session.execute(update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert annotator_client.get("/api/v1/me").status_code == 401


def test_cookie_is_secure_over_https(
    clients: ClientFactory, session: Session, settings: Settings
) -> None:
    make_user(session, "ann", "annotator")
    browser = clients.anonymous()
    browser.base_url = browser.base_url.copy_with(scheme="https")  # type: ignore[attr-defined]
    response = login(browser, "ann", PASSWORD)
    cookie = set_cookie_header(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_cookie_is_secure_when_settings_say_https(
    clients: ClientFactory, session: Session, settings: Settings
) -> None:
    settings.https = True
    make_user(session, "ann", "annotator")
    response = login(clients.anonymous(), "ann", PASSWORD)
    assert "Secure" in set_cookie_header(response)


def test_session_is_stored_as_a_hash(annotator_client: TestClient, session: Session) -> None:
    cookie = annotator_client.cookies[SESSION_COOKIE]
    stored = list(session.scalars(select(LoginSession.token_hash)))
    assert cookie not in stored and len(stored) == 1 and len(stored[0]) == 64
    assert session.scalar(
        select(User.password_hash).where(User.username == "annotator")
    ).startswith("$argon2id$")
