"""API tokens: issued once, stored as a SHA-256, scoped, optionally limited to a dataset and
an expiry date, revocable, with their last use recorded.

Who may issue: every user for themselves; a lead or admin also for a service account. A
request authenticated by a token cannot issue or revoke tokens.
"""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from app.auth.crypto import digest, new_token
from app.auth.permissions import SCOPE_VALUES, Action, Caller
from app.errors import Forbidden, InvalidInput, NotFound
from app.models import ApiToken, Dataset, Role, User
from app.models.types import utcnow
from app.repositories import auth as repo
from app.services.audit import record_audit

TOKEN_PREFIX = "sift_"
PREFIX_SHOWN = len(TOKEN_PREFIX) + 6
MAX_EXPIRES_DAYS = 3650
# Writing last_used_at on every request would turn reads into writes; a minute is precise
# enough. A "token.use" audit event is written at most once an hour per token.
TOUCH_EVERY = timedelta(minutes=1)
AUDIT_USE_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class NewToken:
    """A token just issued, and its secret (shown to the holder once, stored nowhere)."""

    token: ApiToken
    secret: str


def check_scopes(scopes: list[str]) -> list[str]:
    """The scopes, deduplicated and sorted, or InvalidInput."""
    chosen = sorted(set(scopes))
    if not chosen:
        raise InvalidInput("scopes", f"choose at least one of {', '.join(SCOPE_VALUES)}")
    unknown = [s for s in chosen if s not in SCOPE_VALUES]
    if unknown:
        raise InvalidInput("scopes", f"unknown {', '.join(unknown)}; use {', '.join(SCOPE_VALUES)}")
    return chosen


def issue_token(
    session: Session,
    actor: Caller | None,
    owner: User,
    name: str,
    scopes: list[str],
    dataset: Dataset | None = None,
    expires_days: int | None = None,
) -> NewToken:
    """Issue a token for `owner` without permission checks (the CLI, or after `create_token`)."""
    chosen = check_scopes(scopes)
    if not owner.is_active:
        raise InvalidInput("user", f"{owner.username} is disabled")
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        raise InvalidInput("expires_days", f"must be between 1 and {MAX_EXPIRES_DAYS}")
    label = " ".join(name.split())[:100] or "token"
    secret = new_token(TOKEN_PREFIX)
    now = utcnow()
    token = repo.add_token(
        session,
        ApiToken(
            user=owner,
            created_by_id=actor.user.id if actor is not None else None,
            name=label,
            prefix=secret[:PREFIX_SHOWN],
            token_hash=digest(secret),
            scopes=" ".join(chosen),
            dataset=dataset,
            expires_at=now + timedelta(days=expires_days) if expires_days else None,
            created_at=now,
        ),
    )
    detail: dict[str, object] = {"user": owner.username, "name": label, "scopes": chosen}
    if dataset is not None:
        detail["dataset"] = dataset.slug
    if token.expires_at is not None:
        detail["expires_at"] = token.expires_at.isoformat()
    record_audit(session, actor, "token.create", f"token:{token.id}", detail)
    return NewToken(token, secret)


def may_manage_tokens_of(caller: Caller, owner: User) -> bool:
    """True for your own tokens, a service account's (lead, admin), or anyone's (admin)."""
    if caller.token is not None:
        return False
    if owner.id == caller.user.id or caller.may(Action.admin):
        return True
    return owner.is_service and caller.role in (Role.lead, Role.admin)


def token_owner(session: Session, caller: Caller, username: str | None) -> User:
    """Whom a new token is for: the caller, or a service account they may issue tokens for."""
    if not username or username.strip().lower() == caller.user.username:
        return caller.user
    if caller.role not in (Role.lead, Role.admin):
        raise Forbidden("you can create tokens only for yourself")
    owner = repo.get_user_by_name(session, username.strip().lower())
    if owner is None:
        raise NotFound(f"no user {username!r}")
    return owner


def create_token(
    session: Session,
    caller: Caller,
    owner: User,
    name: str,
    scopes: list[str],
    dataset: Dataset | None = None,
    expires_days: int | None = None,
) -> NewToken:
    """Issue a token for yourself, or (lead, admin) for a service account.

    The dataset, when given, must already have been checked visible to the caller.
    """
    if caller.token is not None:
        raise Forbidden("an API token cannot create tokens; sign in to the web app")
    if owner.id != caller.user.id and not (
        owner.is_service and caller.role in (Role.lead, Role.admin)
    ):
        raise Forbidden("you can create tokens for yourself, or (lead, admin) service accounts")
    return issue_token(session, caller, owner, name, scopes, dataset, expires_days)


def list_tokens(session: Session, caller: Caller) -> list[ApiToken]:
    """The tokens the caller may see: their own, service accounts' (lead), all (admin)."""
    tokens = repo.list_tokens(session, None if caller.token is None else [caller.user.id])
    return [
        t for t in tokens if t.user_id == caller.user.id or may_manage_tokens_of(caller, t.user)
    ]


def list_user_tokens(session: Session, user: User) -> list[ApiToken]:
    """Every token of one user (the CLI's listing)."""
    return repo.list_tokens(session, [user.id])


def list_all_tokens(session: Session) -> list[ApiToken]:
    """Every token (the operator's CLI; never for a request)."""
    return repo.list_tokens(session, None)


def get_token(session: Session, caller: Caller | None, token_id: int) -> ApiToken:
    """A token the caller may manage (any for the CLI's None), or NotFound."""
    token = repo.get_token(session, token_id)
    if token is None or (caller is not None and not may_manage_tokens_of(caller, token.user)):
        raise NotFound(f"no token {token_id}")
    return token


def revoke_token(session: Session, actor: Caller | None, token: ApiToken) -> bool:
    """Revoke the token (from now on it is refused); False when it already was."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    session.flush()
    record_audit(session, actor, "token.revoke", f"token:{token.id}", {"user": token.user.username})
    return True


def resolve_token(session: Session, secret: str) -> ApiToken | None:
    """The live token for a bearer secret, or None (unknown, revoked, expired, user disabled)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = repo.get_token_by_hash(session, digest(secret))
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    if token.expires_at is not None and token.expires_at <= utcnow():
        return None
    return token


def note_use(session: Session, token: ApiToken, what: str) -> bool:
    """Record the token's use (at most once a minute; audited at most once an hour).

    Returns True when something was written and must be committed.
    """
    now = utcnow()
    last = token.last_used_at
    if last is not None and now - last < TOUCH_EVERY:
        return False
    token.last_used_at = now
    session.flush()
    if last is None or now - last >= AUDIT_USE_EVERY:
        record_audit(
            session,
            Caller(token.user, token),
            "token.use",
            f"token:{token.id}",
            {"request": what[:200]},
        )
    return True
