"""Ingest bookkeeping: import jobs (with progress and report) and idempotency keys."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base
from app.models.auth import User
from app.models.core import Dataset
from app.models.types import BigIntPK, JSONType, UTCDateTime, utcnow


class JobStatus(StrEnum):
    """Where an import job stands."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class ImportJob(Base):
    """A file import: what to read, how far it got, and what happened to every record.

    Each committed batch moves `resume_after` to its last record number in the same
    transaction, so a job cut off (killed process, restart) goes on from there.
    """

    __tablename__ = "import_jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="status"),
        Index("ix_import_jobs_status_id", "status", "id"),
        Index("ix_import_jobs_dataset_id_id", "dataset_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(300))
    path: Mapped[str] = mapped_column(String(1000))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    format: Mapped[str | None] = mapped_column(String(32))
    container: Mapped[str | None] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.queued.value)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    # bytes_done when the current run started: more than 0 when it resumed an earlier run.
    start_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    resume_after: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    dataset: Mapped[Dataset] = relationship(lazy="raise")
    created_by: Mapped[User | None] = relationship(lazy="raise")


class IdempotencyKey(Base):
    """The first response to a request sent with an Idempotency-Key, replayed on retries."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
