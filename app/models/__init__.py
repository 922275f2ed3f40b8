"""All mapped tables; importing this module registers them on Base.metadata."""

from app.models.auth import (
    ROLE_VALUES,
    ApiToken,
    AuditEvent,
    DatasetMember,
    LoginSession,
    LoginThrottle,
    Role,
    User,
)
from app.models.core import STATUS_VALUES, Dataset, Example, ReviewStatus
from app.models.ingest import IdempotencyKey, ImportJob, JobStatus

__all__ = [
    "ROLE_VALUES",
    "STATUS_VALUES",
    "ApiToken",
    "AuditEvent",
    "Dataset",
    "DatasetMember",
    "Example",
    "IdempotencyKey",
    "ImportJob",
    "JobStatus",
    "LoginSession",
    "LoginThrottle",
    "ReviewStatus",
    "Role",
    "User",
]
