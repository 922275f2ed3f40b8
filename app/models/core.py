"""Datasets and their examples: the canonical store every feature reads and writes."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
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
from app.models.types import BigIntPK, JSONType, UTCDateTime, utcnow


class ReviewStatus(StrEnum):
    """Where an example stands in review."""

    pending = "pending"
    accepted = "accepted"
    rejected = "rejected"
    needs_changes = "needs_changes"


STATUS_VALUES = tuple(s.value for s in ReviewStatus)


class Dataset(Base):
    """A named collection of examples with its annotation guidelines."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    guidelines: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    examples: Mapped[list["Example"]] = relationship(
        back_populates="dataset", lazy="raise", passive_deletes=True
    )


class Example(Base):
    """One training example in canonical form.

    `messages` is the conversation (for preference data, the prompt); `alternatives` holds
    competing responses (chosen/rejected pairs or a ranked list); `meta` keeps source, language,
    category, tags and every input field no format maps, so exports give it back.
    """

    __tablename__ = "examples"
    __table_args__ = (
        # Led by the hash (the external id), not the dataset: see migration 0005 and
        # repositories.examples.STORED_HASHES.
        UniqueConstraint("external_id", "dataset_id"),
        UniqueConstraint("content_hash", "dataset_id"),
        Index("ix_examples_dataset_status_id", "dataset_id", "status", "id"),
        Index("ix_examples_dataset_language_id", "dataset_id", "language", "id"),
        CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected', 'needs_changes')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(32))
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    alternatives: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    tools: Mapped[list[Any] | None] = mapped_column(JSONType)
    label: Mapped[bool | None] = mapped_column(Boolean)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    language: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.pending.value)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    dataset: Mapped[Dataset] = relationship(back_populates="examples", lazy="raise")

    # Optimistic concurrency: every UPDATE checks and bumps `version`.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
