"""Postgres: keep example rows of up to 8 kB whole and uncompressed in the table.

An example row (messages, metadata, search vector) is typically 2-4 kB. Past 2 kB Postgres
tries to compress it on every write, which cost about 30 microseconds a row of the bulk
import's database time (measured at 50,000 synthetic examples: 133 down to 101 with the
search index left out), for little space: search vectors hardly compress. Rows larger than
8 kB are still compressed and moved out of line as before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE examples SET (toast_tuple_target = 8160)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE examples RESET (toast_tuple_target)")
