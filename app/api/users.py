"""Accounts as JSON (admins only): the twin of the users page."""

from fastapi import APIRouter, status

from app.auth.deps import AdminUser
from app.auth.schemas import UserIn, UserOut, UserPatch
from app.db import SessionDep
from app.services import accounts

router = APIRouter(tags=["accounts"])


@router.get("/users")
def list_users(session: SessionDep, caller: AdminUser) -> list[UserOut]:
    """Every account."""
    return [UserOut.of(u) for u in accounts.list_users(session)]


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, session: SessionDep, caller: AdminUser) -> UserOut:
    """Create an account (a service account has no password and signs in only with tokens)."""
    user = accounts.create_user(
        session, caller, body.username, body.role, body.password, service=body.service
    )
    session.commit()
    return UserOut.of(user)


@router.get("/users/{username}")
def get_user(username: str, session: SessionDep, caller: AdminUser) -> UserOut:
    """One account."""
    return UserOut.of(accounts.get_user(session, username))


@router.patch("/users/{username}")
def update_user(username: str, body: UserPatch, session: SessionDep, caller: AdminUser) -> UserOut:
    """Change an account's role, disable or enable it, or reset its password."""
    user = accounts.get_user(session, username)
    if body.role is not None:
        accounts.set_role(session, caller, user, body.role)
    if body.active is not None:
        accounts.set_active(session, caller, user, body.active)
    if body.password is not None:
        accounts.change_password(session, caller, user, body.password)
    session.commit()
    return UserOut.of(user)
