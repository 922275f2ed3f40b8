"""Signing in and out, and the first-run setup page that creates the first admin."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.auth.cookies import SESSION_COOKIE, clear_session_cookie, set_session_cookie
from app.auth.crypto import MAX_PASSWORD_CHARS
from app.auth.deps import OptionalUser
from app.db import SessionDep
from app.errors import InvalidInput, SiftError
from app.models import User
from app.services import accounts
from app.templating import render
from app.web.htmx import redirect

router = APIRouter()

SESSION_MAX_AGE = int(accounts.SESSION_LIFETIME.total_seconds())
Username = Annotated[str, Form(max_length=80)]
Password = Annotated[str, Form(max_length=MAX_PASSWORD_CHARS)]


def safe_next(target: str | None) -> str:
    """A local path to go back to after signing in; anything else (another site) becomes /."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def client_address(request: Request) -> str | None:
    """The caller's address as the server saw it (uvicorn applies trusted proxy headers)."""
    return request.client.host if request.client else None


def signed_in_response(request: Request, session: SessionDep, user: User, target: str) -> Response:
    """Open a session for the user (ending this browser's old one) and send the browser on
    with its cookie; the route commits."""
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        accounts.end_session(session, None, old)
    new = accounts.start_session(
        session, user, client_address(request), request.headers.get("user-agent")
    )
    response = redirect(request, target)
    set_session_cookie(request, response, new.token, SESSION_MAX_AGE)
    return response


@router.get("/login")
def login_page(
    request: Request, session: SessionDep, caller: OptionalUser, next: str = "/"
) -> Response:
    """The sign-in form (or setup, before the first account exists)."""
    if caller is not None:
        return redirect(request, safe_next(next))
    if accounts.needs_setup(session):
        return redirect(request, "/setup")
    context = {"next": safe_next(next), "username": "", "error": None, "nav_section": "login"}
    return render(request, "auth/login.html", context)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    username: Username,
    password: Password,
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the credentials (throttled per account and per address) and sign in."""
    try:
        user = accounts.authenticate(session, username, password, client_address(request))
    except (accounts.LoginRefused, accounts.TooManyAttempts) as exc:
        session.commit()  # the failure counts, and is audited, even though sign-in is refused
        context = {
            "next": safe_next(next),
            "username": username,
            "error": exc.message,
            "nav_section": "login",
        }
        response = render(request, "auth/login.html", context, exc.status_code)
        if isinstance(exc, accounts.TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    signed_in = signed_in_response(request, session, user, safe_next(next))
    session.commit()
    return signed_in


@router.post("/logout")
def logout(request: Request, session: SessionDep, caller: OptionalUser) -> Response:
    """End this browser's session."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.end_session(session, caller, token)
        session.commit()
    response = redirect(request, "/login")
    clear_session_cookie(request, response)
    return response


@router.get("/setup")
def setup_page(request: Request, session: SessionDep) -> Response:
    """First run: create the admin account (only while no account exists)."""
    if not accounts.needs_setup(session):
        return redirect(request, "/login")
    return render(
        request, "auth/setup.html", {"username": "", "error": None, "nav_section": "login"}
    )


@router.post("/setup")
def setup(
    request: Request,
    session: SessionDep,
    username: Username,
    password: Password,
    password_again: Password,
) -> Response:
    """Create the first admin and sign them in."""
    if not accounts.needs_setup(session):
        return redirect(request, "/login")
    try:
        if password != password_again:
            raise InvalidInput("password_again", "the two passwords differ")
        user = accounts.create_first_admin(session, username, password)
    except SiftError as exc:
        context = {"username": username, "error": exc.message, "nav_section": "login"}
        return render(request, "auth/setup.html", context, exc.status_code)
    response = signed_in_response(request, session, user, "/")
    session.commit()
    return response
