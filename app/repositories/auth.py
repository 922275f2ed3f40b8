"""SQL for accounts: users, members, login sessions, API tokens, login throttles, audit events."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload

from app.db import is_postgres
from app.models import (
    ApiToken,
    AuditEvent,
    Dataset,
    DatasetMember,
    LoginSession,
    LoginThrottle,
    User,
)
from app.repositories.examples import encode_cursor

# --- users ---------------------------------------------------------------------------------


def get_user_by_name(session: Session, username: str) -> User | None:
    """The user with this username (already normalised to lower case), if any."""
    return session.scalars(select(User).where(User.username == username)).one_or_none()


def any_users(session: Session) -> bool:
    """True once the first account exists."""
    return bool(session.scalar(select(exists().select_from(User))))


def list_users(session: Session) -> list[User]:
    """Every user, by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def add_user(session: Session, user: User) -> User:
    """Stage a new user and flush so its id is known."""
    session.add(user)
    session.flush()
    return user


def lock_user_creation(session: Session) -> None:
    """Serialise first-admin creation on Postgres (SQLite serialises writers already)."""
    if is_postgres(session):
        session.execute(select(func.pg_advisory_xact_lock(0x51F7_0001)))


# --- dataset members -----------------------------------------------------------------------


def is_member(session: Session, dataset_id: int, user_id: int) -> bool:
    """True when the user is a member of the dataset."""
    return session.get(DatasetMember, (dataset_id, user_id)) is not None


def member_datasets(session: Session, user_id: int) -> list[Dataset]:
    """The datasets the user is a member of, by name."""
    return list(
        session.scalars(
            select(Dataset)
            .join(DatasetMember, DatasetMember.dataset_id == Dataset.id)
            .where(DatasetMember.user_id == user_id)
            .order_by(Dataset.name, Dataset.id)
        )
    )


def list_members(session: Session, dataset_id: int) -> list[DatasetMember]:
    """The dataset's members with their users loaded, by username."""
    return list(
        session.scalars(
            select(DatasetMember)
            .join(User, User.id == DatasetMember.user_id)
            .options(joinedload(DatasetMember.user))
            .where(DatasetMember.dataset_id == dataset_id)
            .order_by(User.username)
        )
    )


def add_member(session: Session, dataset_id: int, user_id: int) -> bool:
    """Make the user a member; False when they already were."""
    if is_member(session, dataset_id, user_id):
        return False
    session.add(DatasetMember(dataset_id=dataset_id, user_id=user_id))
    session.flush()
    return True


def remove_member(session: Session, dataset_id: int, user_id: int) -> bool:
    """Remove the membership; False when there was none."""
    result = session.execute(
        delete(DatasetMember).where(
            DatasetMember.dataset_id == dataset_id, DatasetMember.user_id == user_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- login sessions ------------------------------------------------------------------------


def add_login_session(session: Session, login: LoginSession) -> LoginSession:
    """Stage a new login session and flush."""
    session.add(login)
    session.flush()
    return login


def get_login_session(session: Session, token_hash: str) -> LoginSession | None:
    """The login session with this token digest, its user loaded."""
    return session.scalars(
        select(LoginSession)
        .options(joinedload(LoginSession.user))
        .where(LoginSession.token_hash == token_hash)
    ).one_or_none()


def delete_login_session(session: Session, token_hash: str) -> None:
    """End one login session."""
    session.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash))


def delete_user_sessions(session: Session, user_id: int) -> int:
    """End every login session of the user; returns how many there were."""
    result = session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_expired_sessions(session: Session, now: datetime) -> None:
    """Forget login sessions past their expiry."""
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now))


# --- API tokens ----------------------------------------------------------------------------


def add_token(session: Session, token: ApiToken) -> ApiToken:
    """Stage a new API token and flush."""
    session.add(token)
    session.flush()
    return token


def get_token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    """The API token with this digest, its user and dataset loaded."""
    return session.scalars(
        select(ApiToken)
        .options(joinedload(ApiToken.user), joinedload(ApiToken.dataset))
        .where(ApiToken.token_hash == token_hash)
    ).one_or_none()


def get_token(session: Session, token_id: int) -> ApiToken | None:
    """The API token with this id, its user and dataset loaded."""
    return session.scalars(
        select(ApiToken)
        .options(joinedload(ApiToken.user), joinedload(ApiToken.dataset))
        .where(ApiToken.id == token_id)
    ).one_or_none()


def list_tokens(session: Session, user_ids: list[int] | None) -> list[ApiToken]:
    """Tokens of these users (every token when None), newest first, user and dataset loaded."""
    stmt = select(ApiToken).options(joinedload(ApiToken.user), joinedload(ApiToken.dataset))
    if user_ids is not None:
        stmt = stmt.where(ApiToken.user_id.in_(user_ids))
    return list(session.scalars(stmt.order_by(ApiToken.id.desc())))


# --- login throttles -----------------------------------------------------------------------


def get_throttles(session: Session, keys: list[str]) -> list[LoginThrottle]:
    """The throttle rows that exist for these keys."""
    return list(session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))))


def locked_throttle(session: Session, key: str, now: datetime) -> LoginThrottle:
    """The throttle row for the key, created if missing and locked for update.

    Insert-or-nothing first so concurrent first failures on two app servers do not collide.
    """
    insert = postgresql.insert if is_postgres(session) else sqlite.insert
    session.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0, last_failure_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    stmt = select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
    return session.scalars(stmt.execution_options(populate_existing=True)).one()


def clear_throttle(session: Session, key: str) -> None:
    """Forget the failures counted against the key."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


# --- audit events --------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    """What the audit log may be narrowed by (fields come from this allowlist only)."""

    action: str | None = None
    actor: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class AuditPage:
    """Audit events newest first, and the cursor of the next (older) page."""

    items: list[AuditEvent]
    next: str | None


def add_audit_event(session: Session, event: AuditEvent) -> AuditEvent:
    """Stage an audit event and flush."""
    session.add(event)
    session.flush()
    return event


def page_audit_events(
    session: Session, filters: AuditFilters, before: int | None, limit: int
) -> AuditPage:
    """A keyset page of audit events, newest first (limit+1 fetched to know if more follow)."""
    stmt = select(AuditEvent)
    if filters.action:
        stmt = stmt.where(AuditEvent.action == filters.action)
    if filters.actor:
        stmt = stmt.where(AuditEvent.actor == filters.actor)
    if filters.target:
        stmt = stmt.where(AuditEvent.target == filters.target)
    if before is not None:
        stmt = stmt.where(AuditEvent.id < before)
    rows = list(session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows, encode_cursor(rows[-1].id) if more and rows else None)
