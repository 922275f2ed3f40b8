"""Datasets and examples, with the search index (tsvector GIN on Postgres, FTS5 on SQLite).

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# FTS5 splits only on spaces and control characters: the Python analyzer did the rest.
FTS5_TOKENIZER = "unicode61 remove_diacritics 0 categories 'L* M* N* P* S* Co'"


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("guidelines", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_datasets"),
        sa.UniqueConstraint("slug", name="uq_datasets_slug"),
    )
    op.create_table(
        "examples",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("messages", JSON, nullable=False),
        sa.Column("alternatives", JSON, nullable=True),
        sa.Column("tools", JSON, nullable=True),
        sa.Column("label", sa.Boolean(), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_examples"),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name="fk_examples_dataset_id_datasets",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("dataset_id", "external_id", name="uq_examples_dataset_id_external_id"),
        sa.UniqueConstraint(
            "dataset_id", "content_hash", name="uq_examples_dataset_id_content_hash"
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected', 'needs_changes')",
            name="ck_examples_status",
        ),
    )
    op.create_index("ix_examples_dataset_status_id", "examples", ["dataset_id", "status", "id"])
    op.create_index("ix_examples_dataset_language_id", "examples", ["dataset_id", "language", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE examples ADD COLUMN search_vector tsvector")
        op.execute(
            "CREATE INDEX ix_examples_search ON examples USING gin (search_vector)"
            " WITH (fastupdate = on)"
        )
    else:
        op.execute(
            f'CREATE VIRTUAL TABLE example_fts USING fts5(body, tokenize = "{FTS5_TOKENIZER}")'
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE example_fts")
    op.drop_table("examples")
    op.drop_table("datasets")
