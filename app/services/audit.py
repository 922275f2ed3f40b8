"""The audit log: who did what, to what, when. Any feature records through `record_audit`.

    from app.services.audit import record_audit

    record_audit(session, caller, "export", f"dataset:{dataset.slug}", {"format": "jsonl"})
    session.commit()  # in the route, with the rest of the unit of work

Actions are dotted verbs ("login", "login.failed", "token.create", "dataset.delete",
"import", "export", ...); the target names the object ("user:alice", "dataset:demo",
"token:12"). Like every service it only adds and flushes: the event is kept exactly when the
work it describes is committed.
"""

from typing import Any

from sqlalchemy.orm import Session

from app.auth.permissions import Caller
from app.errors import InvalidInput
from app.models import AuditEvent, User
from app.repositories import auth as repo
from app.repositories.auth import AuditFilters, AuditPage
from app.repositories.examples import decode_cursor

MAX_LIMIT = 200
# Who acted when no user did: the command line, or a visitor who is not signed in.
OPERATOR = "(cli)"
ANONYMOUS = "(anonymous)"


def record_audit(
    session: Session,
    actor: Caller | User | str | None,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Stage one audit event.

    `actor` is the request's Caller (a token's id and prefix are recorded too), a User, a name
    for who acted without an account (e.g. the username tried in a failed login), or None for
    the operator's command line.
    """
    detail = dict(detail or {})
    actor_id: int | None = None
    if isinstance(actor, Caller):
        if actor.token is not None:
            detail.setdefault("token", {"id": actor.token.id, "prefix": actor.token.prefix})
        actor = actor.user
    if isinstance(actor, User):
        actor_id, name = actor.id, actor.username
    else:
        name = OPERATOR if actor is None else actor
    event = AuditEvent(
        actor_id=actor_id, actor=name[:80], action=action[:64], target=target[:300], detail=detail
    )
    return repo.add_audit_event(session, event)


def make_filters(
    action: str | None = None, actor: str | None = None, target: str | None = None
) -> AuditFilters:
    """Check audit filters (exact matches on these three fields only)."""
    return AuditFilters(
        action=(action or "").strip()[:64] or None,
        actor=(actor or "").strip()[:80] or None,
        target=(target or "").strip()[:300] or None,
    )


def list_events(
    session: Session, filters: AuditFilters, cursor: str | None, limit: int
) -> AuditPage:
    """A page of audit events, newest first."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit", f"must be between 1 and {MAX_LIMIT}")
    try:
        before = decode_cursor(cursor) if cursor else None
    except ValueError as exc:
        raise InvalidInput("cursor", str(exc)) from exc
    return repo.page_audit_events(session, filters, before, limit)
