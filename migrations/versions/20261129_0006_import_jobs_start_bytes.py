"""Import jobs: how far the file was read when the job's current run started.

A resumed job goes on from where an earlier run stopped; the pace of the current run (bytes a
second, and so the time left) counts only what it read itself.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch:
        batch.add_column(
            sa.Column("start_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch:
        batch.drop_column("start_bytes")
