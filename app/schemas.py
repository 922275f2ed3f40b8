"""Pydantic shapes of what the JSON API sends and receives."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.canonical import check_text
from app.models import Example
from app.services.datasets import DatasetSummary

# Ids in URLs, bounded by their columns so an absurd number is a 422, not a database error.
BigId = Annotated[int, Path(ge=1, le=2**63 - 1)]
SmallId = Annotated[int, Path(ge=1, le=2**31 - 1)]


# Text a client sends: no NUL bytes or lone surrogates (no database stores them faithfully).
Text = Annotated[str, AfterValidator(check_text)]


class DatasetIn(BaseModel):
    """A new dataset."""

    slug: Text = Field(max_length=64)
    name: Text | None = Field(default=None, max_length=200)
    description: Text = Field(default="", max_length=20_000)
    guidelines: Text = Field(default="", max_length=200_000)


class DatasetOut(BaseModel):
    """A dataset with its example counts per review status."""

    slug: str
    name: str
    description: str
    guidelines: str
    counts: dict[str, int]
    total: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, summary: DatasetSummary) -> "DatasetOut":
        """Build from a dataset summary."""
        d = summary.dataset
        return cls(
            slug=d.slug,
            name=d.name,
            description=d.description,
            guidelines=d.guidelines,
            counts=summary.counts,
            total=summary.total,
            created_at=d.created_at,
            updated_at=d.updated_at,
        )


class ExampleOut(BaseModel):
    """An example as stored, with its version for optimistic concurrency."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    external_id: str | None
    messages: list[dict[str, Any]]
    alternatives: list[dict[str, Any]] | None
    tools: list[Any] | None
    label: bool | None
    metadata: dict[str, Any]
    language: str | None
    status: str
    version: int
    content_hash: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, example: Example) -> "ExampleOut":
        """Build from a stored example."""
        return cls(
            id=example.id,
            external_id=example.external_id,
            messages=example.messages,
            alternatives=example.alternatives,
            tools=example.tools,
            label=example.label,
            metadata=example.meta,
            language=example.language,
            status=example.status,
            version=example.version,
            content_hash=example.content_hash,
            created_at=example.created_at,
            updated_at=example.updated_at,
        )


class ExamplePage(BaseModel):
    """A keyset page of examples: pass `next` back as `cursor` for the following page."""

    items: list[ExampleOut]
    next: str | None
    total: int = Field(description="how many examples match (see total_exact)")
    total_exact: bool = Field(
        description="false when total is an estimate (past the exact-count limit)"
    )
