"""Pydantic shapes of the accounts API: users, tokens, members, the audit log."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.auth.crypto import MAX_PASSWORD_CHARS
from app.auth.permissions import Action, Caller
from app.models import ApiToken, AuditEvent, DatasetMember, User
from app.models.types import utcnow


class UserOut(BaseModel):
    """An account (never its password hash)."""

    username: str
    role: str
    service: bool
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> "UserOut":
        """Build from a stored user."""
        return cls(
            username=user.username,
            role=user.role,
            service=user.is_service,
            active=user.is_active,
            created_at=user.created_at,
        )


class UserIn(BaseModel):
    """A new account: a person with a password, or a service account without one."""

    username: str = Field(max_length=40)
    role: str = Field(max_length=16)
    password: str | None = Field(default=None, max_length=MAX_PASSWORD_CHARS)
    service: bool = False


class UserPatch(BaseModel):
    """Changes to an account; fields left out stay as they are."""

    role: str | None = Field(default=None, max_length=16)
    active: bool | None = None
    password: str | None = Field(default=None, max_length=MAX_PASSWORD_CHARS)


class TokenIn(BaseModel):
    """A token to issue: for yourself, or (lead, admin) for the service account `user`."""

    name: str = Field(max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=3)
    dataset: str | None = Field(default=None, max_length=64)
    expires_days: int | None = Field(default=None, ge=1, le=3650)
    user: str | None = Field(default=None, max_length=40)


class TokenOut(BaseModel):
    """A token as listed: its prefix, never its secret."""

    id: int
    name: str
    prefix: str
    user: str
    scopes: list[str]
    dataset: str | None
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime
    active: bool

    @classmethod
    def of(cls, token: ApiToken) -> "TokenOut":
        """Build from a stored token (user and dataset loaded)."""
        expired = token.expires_at is not None and token.expires_at <= utcnow()
        return cls(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            user=token.user.username,
            scopes=token.scope_list,
            dataset=token.dataset.slug if token.dataset is not None else None,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
            created_at=token.created_at,
            active=token.revoked_at is None and not expired,
        )


class NewTokenOut(TokenOut):
    """A token just issued, with its secret: shown this once, stored nowhere."""

    token: str


class MeOut(BaseModel):
    """Who the caller is, how they authenticated, and what they may do."""

    user: UserOut
    via: Literal["session", "token"]
    token: TokenOut | None
    allowed: list[str]

    @classmethod
    def of(cls, caller: Caller) -> "MeOut":
        """Build from the request's caller."""
        return cls(
            user=UserOut.of(caller.user),
            via="token" if caller.token is not None else "session",
            token=TokenOut.of(caller.token) if caller.token is not None else None,
            allowed=[a.value for a in Action if caller.may(a)],
        )


class MemberIn(BaseModel):
    """A user to add to a dataset's members."""

    username: str = Field(max_length=40)


class MemberOut(BaseModel):
    """A member of a dataset."""

    username: str
    role: str
    added_at: datetime

    @classmethod
    def of(cls, member: DatasetMember) -> "MemberOut":
        """Build from a membership (user loaded)."""
        return cls(username=member.user.username, role=member.user.role, added_at=member.added_at)


class AuditEventOut(BaseModel):
    """One audit event."""

    id: int
    created_at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent) -> "AuditEventOut":
        """Build from a stored event."""
        return cls(
            id=event.id,
            created_at=event.created_at,
            actor=event.actor,
            action=event.action,
            target=event.target,
            detail=event.detail,
        )


class AuditPageOut(BaseModel):
    """A page of audit events, newest first; pass `next` as `cursor` for older ones."""

    items: list[AuditEventOut]
    next: str | None
