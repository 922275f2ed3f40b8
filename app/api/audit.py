"""The audit log as JSON (admins only): the twin of the audit page."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.deps import AdminUser
from app.auth.schemas import AuditEventOut, AuditPageOut
from app.db import SessionDep
from app.services import audit

router = APIRouter(tags=["audit"])


@router.get("/audit")
def list_audit_events(
    session: SessionDep,
    caller: AdminUser,
    action: Annotated[str | None, Query(max_length=64, description="e.g. login.failed")] = None,
    actor: Annotated[str | None, Query(max_length=80, description="username")] = None,
    target: Annotated[str | None, Query(max_length=300, description="e.g. dataset:demo")] = None,
    cursor: Annotated[str | None, Query(description="`next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_LIMIT)] = 50,
) -> AuditPageOut:
    """Audit events newest first, filtered by exact action, actor or target."""
    page = audit.list_events(session, audit.make_filters(action, actor, target), cursor, limit)
    return AuditPageOut(items=[AuditEventOut.of(e) for e in page.items], next=page.next)
