"""Account pages: your account and password, API tokens, users (admins), the audit log
(admins), and a dataset's members (leads, admins). Each has a JSON twin under /api/v1."""

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.auth.deps import AdminUser, CurrentUser
from app.auth.permissions import ACTION_LABELS, Action, Caller
from app.auth.schemas import TokenOut
from app.db import SessionDep
from app.errors import InvalidInput, SiftError
from app.models import ROLE_VALUES, Dataset
from app.schemas import SmallId
from app.services import accounts, audit, datasets, tokens
from app.templating import render
from app.web.auth import Password, signed_in_response
from app.web.htmx import redirect

router = APIRouter()

AUDIT_PAGE_SIZE = 50


# --- your account --------------------------------------------------------------------------


def _account_context(session: SessionDep, caller: Caller, **extra: Any) -> dict[str, Any]:
    member_of = [] if caller.sees_all_datasets else datasets.visible_datasets(session, caller)
    return {
        "nav_section": "account",
        "user": caller.user,
        "allowed": [ACTION_LABELS[a] for a in Action if caller.may(a)],
        "member_of": member_of,
        "error": None,
        "changed": False,
        **extra,
    }


@router.get("/account")
def account_page(
    request: Request, session: SessionDep, caller: CurrentUser, changed: bool = False
) -> HTMLResponse:
    """Who you are, what you may do, and the form to change your password."""
    context = _account_context(session, caller, changed=changed)
    return render(request, "auth/account.html", context)


@router.post("/account/password")
def change_password(
    request: Request,
    session: SessionDep,
    caller: CurrentUser,
    current_password: Password,
    new_password: Password,
    new_password_again: Password,
) -> Response:
    """Change your password: every session ends, this browser gets a new one."""
    try:
        if new_password != new_password_again:
            raise InvalidInput("new_password_again", "the two new passwords differ")
        accounts.change_password(session, caller, caller.user, new_password, current_password)
    except SiftError as exc:
        context = _account_context(session, caller, error=exc.message)
        return render(request, "auth/account.html", context, exc.status_code)
    response = signed_in_response(request, session, caller.user, "/account?changed=true")
    session.commit()
    return response


# --- API tokens ----------------------------------------------------------------------------


def _tokens_context(session: SessionDep, caller: Caller, **extra: Any) -> dict[str, Any]:
    owners = [caller.user]
    if caller.may(Action.manage):
        owners += [u for u in accounts.list_users(session) if u.is_service and u.is_active]
    return {
        "nav_section": "tokens",
        "tokens": [TokenOut.of(t) for t in tokens.list_tokens(session, caller)],
        "owners": owners,
        "datasets": datasets.visible_datasets(session, caller),
        "new_token": None,
        "error": None,
        **extra,
    }


@router.get("/tokens")
def tokens_page(request: Request, session: SessionDep, caller: CurrentUser) -> HTMLResponse:
    """Your API tokens (and service accounts' for leads, everyone's for admins)."""
    return render(request, "auth/tokens.html", _tokens_context(session, caller))


@router.post("/tokens")
def create_token(
    request: Request,
    session: SessionDep,
    caller: CurrentUser,
    name: Annotated[str, Form(max_length=100)],
    scopes: Annotated[list[str] | None, Form(max_length=3)] = None,
    owner: Annotated[str, Form(max_length=40)] = "",
    dataset: Annotated[str, Form(max_length=64)] = "",
    expires_days: Annotated[str, Form(max_length=5)] = "",
) -> HTMLResponse:
    """Issue a token and show its secret, this once."""
    try:
        days = int(expires_days) if expires_days.strip() else None
    except ValueError:
        days = -1
    try:
        if days == -1:
            raise InvalidInput("expires_days", "must be a whole number of days")
        target = tokens.token_owner(session, caller, owner or None)
        restricted: Dataset | None = (
            datasets.visible_dataset(session, caller, dataset, Action.view) if dataset else None
        )
        issued = tokens.create_token(session, caller, target, name, scopes or [], restricted, days)
    except SiftError as exc:
        context = _tokens_context(session, caller, error=exc.message)
        return render(request, "auth/tokens.html", context, exc.status_code)
    session.commit()
    context = _tokens_context(session, caller, new_token=issued)
    response = render(request, "auth/tokens.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/tokens/{token_id}/revoke")
def revoke_token(
    request: Request, token_id: SmallId, session: SessionDep, caller: CurrentUser
) -> Response:
    """Revoke a token; it is refused from now on."""
    tokens.revoke_token(session, caller, tokens.get_token(session, caller, token_id))
    session.commit()
    return redirect(request, "/tokens")


# --- users (admins) ------------------------------------------------------------------------


def _users_context(session: SessionDep, **extra: Any) -> dict[str, Any]:
    return {
        "nav_section": "users",
        "users": accounts.list_users(session),
        "roles": ROLE_VALUES,
        "error": None,
        "form": {},
        **extra,
    }


@router.get("/admin/users")
def users_page(request: Request, session: SessionDep, caller: AdminUser) -> HTMLResponse:
    """Every account, and the form to create one."""
    return render(request, "auth/users.html", _users_context(session))


@router.post("/admin/users")
def create_user(
    request: Request,
    session: SessionDep,
    caller: AdminUser,
    username: Annotated[str, Form(max_length=80)],
    role: Annotated[str, Form(max_length=16)],
    password: Password = "",
    service: Annotated[bool, Form()] = False,
) -> Response:
    """Create an account."""
    try:
        user = accounts.create_user(
            session, caller, username, role, password or None, service=service
        )
    except SiftError as exc:
        form = {"username": username, "role": role, "service": service}
        context = _users_context(session, error=exc.message, form=form)
        return render(request, "auth/users.html", context, exc.status_code)
    session.commit()
    return redirect(request, f"/admin/users/{user.username}")


def _user_context(session: SessionDep, username: str, **extra: Any) -> dict[str, Any]:
    user = accounts.get_user(session, username)
    return {
        "nav_section": "users",
        "account": user,
        "roles": ROLE_VALUES,
        "member_of": accounts.member_datasets(session, user),
        "error": None,
        **extra,
    }


@router.get("/admin/users/{username}")
def user_page(
    request: Request, username: str, session: SessionDep, caller: AdminUser
) -> HTMLResponse:
    """One account: role, state, password reset, memberships."""
    return render(request, "auth/user.html", _user_context(session, username))


@router.post("/admin/users/{username}")
def update_user(
    request: Request,
    username: str,
    session: SessionDep,
    caller: AdminUser,
    role: Annotated[str, Form(max_length=16)] = "",
    active: Annotated[str, Form(max_length=5)] = "",
    password: Password = "",
) -> Response:
    """Change the role, disable or enable, or reset the password (ending their sessions).

    Each form on the page sends one of the three; the services refuse before changing anything.
    """
    user = accounts.get_user(session, username)
    try:
        if role:
            accounts.set_role(session, caller, user, role)
        elif active in ("true", "false"):
            accounts.set_active(session, caller, user, active == "true")
        elif password:
            accounts.change_password(session, caller, user, password)
    except SiftError as exc:
        context = _user_context(session, username, error=exc.message)
        return render(request, "auth/user.html", context, exc.status_code)
    session.commit()
    return redirect(request, f"/admin/users/{user.username}")


# --- the audit log (admins) ----------------------------------------------------------------


@router.get("/admin/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    caller: AdminUser,
    action: Annotated[str, Query(max_length=64)] = "",
    actor: Annotated[str, Query(max_length=80)] = "",
    target: Annotated[str, Query(max_length=300)] = "",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """Audit events newest first, filtered by exact action, actor or target."""
    filters = audit.make_filters(action, actor, target)
    page = audit.list_events(session, filters, cursor or None, AUDIT_PAGE_SIZE)
    params = {k: v for k, v in (("action", action), ("actor", actor), ("target", target)) if v}
    older = f"?{urlencode({**params, 'cursor': page.next})}" if page.next else None
    context = {
        "nav_section": "audit",
        "events": page.items,
        "filters": filters,
        "older": older,
        "json_url": "/api/v1/audit" + (f"?{urlencode(params)}" if params else ""),
    }
    return render(request, "auth/audit.html", context)


# --- a dataset's members (leads, admins) ---------------------------------------------------


def _members_context(session: SessionDep, dataset: Dataset, **extra: Any) -> dict[str, Any]:
    members = accounts.list_members(session, dataset)
    member_ids = {m.user_id for m in members}
    candidates = [u for u in accounts.list_users(session) if u.id not in member_ids and u.is_active]
    return {
        "dataset": dataset,
        "members": members,
        "candidates": candidates,
        "error": None,
        **extra,
    }


@router.get("/datasets/{slug}/members")
def members_page(
    request: Request, slug: str, session: SessionDep, caller: CurrentUser
) -> HTMLResponse:
    """Who may see the dataset besides leads and admins; add and remove members."""
    dataset = datasets.visible_dataset(session, caller, slug, Action.manage)
    return render(request, "auth/members.html", _members_context(session, dataset))


@router.post("/datasets/{slug}/members")
def add_member(
    request: Request,
    slug: str,
    session: SessionDep,
    caller: CurrentUser,
    username: Annotated[str, Form(max_length=80)],
) -> Response:
    """Make a user a member of the dataset."""
    dataset = datasets.visible_dataset(session, caller, slug, Action.manage)
    try:
        accounts.grant(session, caller, dataset, accounts.get_user(session, username))
    except SiftError as exc:
        context = _members_context(session, dataset, error=exc.message)
        return render(request, "auth/members.html", context, exc.status_code)
    session.commit()
    return redirect(request, f"/datasets/{dataset.slug}/members")


@router.post("/datasets/{slug}/members/{username}/remove")
def remove_member(
    request: Request, slug: str, username: str, session: SessionDep, caller: CurrentUser
) -> Response:
    """Remove a user from the dataset's members."""
    dataset = datasets.visible_dataset(session, caller, slug, Action.manage)
    accounts.revoke(session, caller, dataset, accounts.get_user(session, username))
    session.commit()
    return redirect(request, f"/datasets/{dataset.slug}/members")
