"""Examples: the unique keys lead with the content hash and the external id, not the dataset.

Before each binary COPY, Postgres looks up which of a batch's content hashes (and external ids)
its dataset holds already. With the dataset first in these keys, the lookup competed with the
indexes that lead with the dataset, and when the planner's statistics put the dataset at a few
rows (a dataset new since the last ANALYZE, or one grown by a large import) it chose to read
the whole dataset once for every item of the batch. Led by the hash, the key answers the
lookup by itself, and the lookup leaves the dataset's indexes out of the choice.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _keys(hash_first: bool) -> None:
    """Replace each unique key by the same two columns in the other order."""
    with op.batch_alter_table("examples") as batch:
        for column in ("content_hash", "external_id"):
            old, new = ("dataset_id", column), (column, "dataset_id")
            if not hash_first:
                old, new = new, old
            batch.drop_constraint("uq_examples_" + "_".join(old), type_="unique")
            batch.create_unique_constraint("uq_examples_" + "_".join(new), list(new))


def upgrade() -> None:
    _keys(hash_first=True)


def downgrade() -> None:
    _keys(hash_first=False)
