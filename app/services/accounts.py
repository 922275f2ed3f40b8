"""Accounts: users and roles, the first admin, sign-in with throttling, sessions, membership.

Every change is recorded in the audit log. Like every service this adds and flushes; the route
(or CLI command) commits.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.auth.crypto import (
    MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
    digest,
    hash_password,
    needs_rehash,
    new_token,
    verify_password,
)
from app.auth.permissions import Caller
from app.errors import Conflict, InvalidInput, NotFound, SiftError
from app.models import ROLE_VALUES, Dataset, DatasetMember, LoginSession, Role, User
from app.models.types import utcnow
from app.repositories import auth as repo
from app.services.audit import record_audit

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
SESSION_LIFETIME = timedelta(days=14)

# Sign-in throttling: after `free` failures in a row a key is locked, 30 s at first and twice
# as long after each further failure, at most 15 min. Failures are forgotten an hour after the
# last one; a success clears the account's count (never the address's, or an attacker with one
# valid account could reset it between guesses).
ACCOUNT_FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 20
FIRST_LOCK = timedelta(seconds=30)
LONGEST_LOCK = timedelta(minutes=15)
FORGET_FAILURES_AFTER = timedelta(hours=1)


class LoginRefused(SiftError):
    """Wrong username or password (which of the two is not said)."""

    status_code = 401


class TooManyAttempts(SiftError):
    """Sign-in is locked for a while after repeated failures."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- users ---------------------------------------------------------------------------------


def normalise_username(username: str) -> str:
    """The stored form of a username: trimmed, lower case."""
    return username.strip().lower()


def check_username(username: str) -> str:
    """The normalised username, or InvalidInput when it breaks the rules."""
    name = normalise_username(username)
    if not USERNAME.match(name):
        raise InvalidInput(
            "username",
            "use 1-40 lower-case letters, digits, '.', '-' or '_', starting with a letter or digit",
        )
    return name


def check_password(password: str, username: str = "") -> None:
    """InvalidInput unless the password is long enough and not the username."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput("password", f"must be at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInput("password", f"must be at most {MAX_PASSWORD_CHARS} characters")
    if username and password.strip().lower() == username.lower():
        raise InvalidInput("password", "must not be the username")


def check_role(role: str) -> Role:
    """The role, or InvalidInput when there is no such role."""
    if role not in ROLE_VALUES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLE_VALUES)}")
    return Role(role)


def needs_setup(session: Session) -> bool:
    """True until the first account exists (the setup page is then shown)."""
    return not repo.any_users(session)


def _new_user(
    session: Session, username: str, role: str, password: str | None, service: bool
) -> User:
    name = check_username(username)
    checked_role = check_role(role)
    if service:
        if password:
            raise InvalidInput("password", "service accounts sign in with tokens, not passwords")
        if checked_role is Role.admin:
            raise InvalidInput("role", "a service account can be a lead or an annotator")
    else:
        if not password:
            raise InvalidInput("password", "is required")
        check_password(password, name)
    if repo.get_user_by_name(session, name) is not None:
        raise Conflict(f"a user named {name!r} already exists")
    return repo.add_user(
        session,
        User(
            username=name,
            role=checked_role.value,
            password_hash=hash_password(password) if password else None,
            is_service=service,
            is_active=True,
        ),
    )


def create_user(
    session: Session,
    actor: Caller | None,
    username: str,
    role: str,
    password: str | None = None,
    *,
    service: bool = False,
) -> User:
    """Create an account: a person with a password, or a service account (tokens only).

    `actor` None is the operator's command line.
    """
    user = _new_user(session, username, role, password, service)
    detail = {"role": user.role, "service": service}
    record_audit(session, actor, "user.create", f"user:{user.username}", detail)
    return user


def create_first_admin(session: Session, username: str, password: str) -> User:
    """Create the first account, an admin, on the setup page; Conflict once any account exists."""
    repo.lock_user_creation(session)
    if not needs_setup(session):
        raise Conflict("Sift is already set up; sign in instead")
    user = _new_user(session, username, Role.admin.value, password, service=False)
    record_audit(session, user, "setup", f"user:{user.username}", {"role": user.role})
    return user


def get_user(session: Session, username: str) -> User:
    """The user with this username, or NotFound."""
    user = repo.get_user_by_name(session, normalise_username(username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def list_users(session: Session) -> list[User]:
    """Every account, by username."""
    return repo.list_users(session)


def _other_active_admins(session: Session, user: User) -> bool:
    return any(
        u.role == Role.admin.value and u.is_active and u.id != user.id
        for u in repo.list_users(session)
    )


def set_role(session: Session, actor: Caller | None, user: User, role: str) -> None:
    """Change a user's role; the last active admin cannot be demoted."""
    new_role = check_role(role)
    if user.role == new_role.value:
        return
    if user.is_service and new_role is Role.admin:
        raise InvalidInput("role", "a service account can be a lead or an annotator")
    if user.role == Role.admin.value and not _other_active_admins(session, user):
        raise Conflict("this is the last admin; make someone else admin first")
    old = user.role
    user.role = new_role.value
    session.flush()
    record_audit(
        session, actor, "user.role", f"user:{user.username}", {"from": old, "to": new_role.value}
    )


def set_active(session: Session, actor: Caller | None, user: User, active: bool) -> None:
    """Disable an account (its sessions end, its tokens stop working) or enable it again."""
    if user.is_active == active:
        return
    if not active:
        if actor is not None and actor.user.id == user.id:
            raise Conflict("you cannot disable your own account")
        if user.role == Role.admin.value and not _other_active_admins(session, user):
            raise Conflict("this is the last admin; make someone else admin first")
        repo.delete_user_sessions(session, user.id)
    user.is_active = active
    session.flush()
    record_audit(
        session, actor, "user.enable" if active else "user.disable", f"user:{user.username}"
    )


def change_password(
    session: Session,
    actor: Caller | None,
    user: User,
    new_password: str,
    current_password: str | None = None,
) -> None:
    """Set a new password and end every session of the user.

    Changing your own password needs the current one; an admin (or the CLI) resetting someone
    else's does not.
    """
    if user.is_service:
        raise InvalidInput("password", "service accounts have no password")
    own = actor is not None and actor.user.id == user.id
    if own and not verify_password(user.password_hash, current_password or ""):
        raise InvalidInput("current_password", "is not your current password")
    check_password(new_password, user.username)
    user.password_hash = hash_password(new_password)
    session.flush()
    ended = repo.delete_user_sessions(session, user.id)
    record_audit(
        session, actor, "password.change", f"user:{user.username}", {"sessions_ended": ended}
    )


# --- signing in ----------------------------------------------------------------------------


def _lock_length(failures: int, free: int) -> timedelta | None:
    if failures < free:
        return None
    lock: timedelta = FIRST_LOCK * (2 ** min(failures - free, 16))
    return min(lock, LONGEST_LOCK)


def _throttle_keys(username: str, address: str | None) -> dict[str, int]:
    keys = {f"user:{username}": ACCOUNT_FREE_FAILURES}
    if address:
        keys[f"addr:{address}"] = ADDRESS_FREE_FAILURES
    return keys


def _refuse_if_locked(session: Session, keys: dict[str, int], now: datetime) -> None:
    for throttle in repo.get_throttles(session, list(keys)):
        if throttle.locked_until is not None and throttle.locked_until > now:
            wait = int((throttle.locked_until - now).total_seconds()) + 1
            minutes = max(1, round(wait / 60))
            whom = "this account" if throttle.key.startswith("user:") else "your address"
            raise TooManyAttempts(
                f"Too many failed sign-in attempts for {whom}. Try again in "
                f"{minutes} minute{'s' if minutes != 1 else ''}.",
                wait,
            )


def _count_failure(session: Session, keys: dict[str, int], now: datetime) -> None:
    for key, free in keys.items():
        throttle = repo.locked_throttle(session, key, now)
        if now - throttle.last_failure_at > FORGET_FAILURES_AFTER:
            throttle.failures = 0
        throttle.failures += 1
        throttle.last_failure_at = now
        lock = _lock_length(throttle.failures, free)
        throttle.locked_until = now + lock if lock else None
    session.flush()


def authenticate(session: Session, username: str, password: str, address: str | None) -> User:
    """The user these credentials belong to.

    Raises TooManyAttempts while the account or address is locked (the password is then not
    even checked), LoginRefused for a wrong username or password. Both are audited; the route
    must commit even when this raises, so the failure counts.
    """
    name = normalise_username(username)[:80]
    keys = _throttle_keys(name, address)
    now = utcnow()
    try:
        _refuse_if_locked(session, keys, now)
    except TooManyAttempts:
        record_audit(
            session, name, "login.failed", f"user:{name}", {"address": address, "reason": "locked"}
        )
        raise
    user = repo.get_user_by_name(session, name)
    usable = user is not None and user.is_active and not user.is_service
    hashed = user.password_hash if user is not None and usable else None
    if not verify_password(hashed, password[:MAX_PASSWORD_CHARS]) or user is None:
        _count_failure(session, keys, now)
        record_audit(session, name, "login.failed", f"user:{name}", {"address": address})
        raise LoginRefused("wrong username or password")
    repo.clear_throttle(session, f"user:{name}")
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    record_audit(session, user, "login", f"user:{name}", {"address": address})
    return user


# --- sessions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewSession:
    """A login session and the token for the browser's cookie (kept nowhere else)."""

    login: LoginSession
    token: str


def start_session(
    session: Session, user: User, address: str | None, user_agent: str | None
) -> NewSession:
    """Open a login session for the user (and forget expired ones while at it)."""
    now = utcnow()
    repo.delete_expired_sessions(session, now)
    token = new_token()
    login = repo.add_login_session(
        session,
        LoginSession(
            token_hash=digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
            address=address,
            user_agent=(user_agent or "")[:300] or None,
        ),
    )
    return NewSession(login, token)


def resolve_session(session: Session, token: str) -> LoginSession | None:
    """The live login session for a cookie's token, or None (unknown, expired, user disabled)."""
    login = repo.get_login_session(session, digest(token))
    if login is None or login.expires_at <= utcnow() or not login.user.is_active:
        return None
    return login


def end_session(session: Session, caller: Caller | None, token: str) -> None:
    """Sign out: delete the login session behind the cookie."""
    repo.delete_login_session(session, digest(token))
    if caller is not None:
        record_audit(session, caller, "logout", f"user:{caller.user.username}")


# --- dataset membership --------------------------------------------------------------------


def list_members(session: Session, dataset: Dataset) -> list[DatasetMember]:
    """The dataset's members, by username."""
    return repo.list_members(session, dataset.id)


def member_datasets(session: Session, user: User) -> list[Dataset]:
    """The datasets the user is a member of."""
    return repo.member_datasets(session, user.id)


def grant(session: Session, actor: Caller | None, dataset: Dataset, user: User) -> bool:
    """Make the user a member of the dataset; False when they already were."""
    added = repo.add_member(session, dataset.id, user.id)
    if added:
        record_audit(
            session, actor, "member.add", f"dataset:{dataset.slug}", {"user": user.username}
        )
    return added


def revoke(session: Session, actor: Caller | None, dataset: Dataset, user: User) -> bool:
    """Remove the user from the dataset's members; False when they were not one."""
    removed = repo.remove_member(session, dataset.id, user.id)
    if removed:
        record_audit(
            session, actor, "member.remove", f"dataset:{dataset.slug}", {"user": user.username}
        )
    return removed
