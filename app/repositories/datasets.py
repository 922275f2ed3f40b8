"""SQL for datasets."""

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Dataset, Example


def get_dataset(session: Session, slug: str) -> Dataset | None:
    """The dataset with this slug, if any."""
    return session.scalars(select(Dataset).where(Dataset.slug == slug)).one_or_none()


def list_datasets(session: Session) -> list[Dataset]:
    """Every dataset, by name."""
    return list(session.scalars(select(Dataset).order_by(Dataset.name, Dataset.id)))


def status_counts(session: Session, dataset_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per dataset, how many examples are in each review status."""
    counts: dict[int, dict[str, int]] = {i: {} for i in dataset_ids}
    if not dataset_ids:
        return counts
    rows = session.execute(
        select(Example.dataset_id, Example.status, func.count())
        .where(Example.dataset_id.in_(dataset_ids))
        .group_by(Example.dataset_id, Example.status)
    )
    for dataset_id, status, count in rows:
        counts[dataset_id][status] = count
    return counts


def add_dataset(session: Session, dataset: Dataset) -> Dataset:
    """Stage a new dataset and flush so its id is known."""
    session.add(dataset)
    session.flush()
    return dataset
