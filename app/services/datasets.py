"""Datasets: creation rules and the list with review counts."""

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app import repositories
from app.errors import Conflict, InvalidInput, NotFound
from app.models import STATUS_VALUES, Dataset

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class DatasetSummary:
    """A dataset with its example count per review status."""

    dataset: Dataset
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """All examples in the dataset."""
        return sum(self.counts.values())


def create_dataset(
    session: Session,
    slug: str,
    name: str | None = None,
    description: str = "",
    guidelines: str = "",
) -> Dataset:
    """Create a dataset; the slug must be new and URL-safe."""
    if not SLUG.match(slug):
        raise InvalidInput(
            "slug",
            "use 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit",
        )
    if repositories.get_dataset(session, slug) is not None:
        raise Conflict(f"a dataset with slug {slug!r} already exists")
    dataset = Dataset(
        slug=slug, name=(name or slug).strip()[:200], description=description, guidelines=guidelines
    )
    return repositories.add_dataset(session, dataset)


def get_dataset(session: Session, slug: str) -> Dataset:
    """The dataset with this slug, or NotFound."""
    dataset = repositories.get_dataset(session, slug)
    if dataset is None:
        raise NotFound(f"no dataset {slug!r}")
    return dataset


def summarise(session: Session, datasets: list[Dataset]) -> list[DatasetSummary]:
    """Each dataset with its counts per status (every status present, zero when none)."""
    counts = repositories.status_counts(session, [d.id for d in datasets])
    return [DatasetSummary(d, {s: counts[d.id].get(s, 0) for s in STATUS_VALUES}) for d in datasets]


def list_datasets(session: Session) -> list[DatasetSummary]:
    """Every dataset with its counts."""
    return summarise(session, repositories.list_datasets(session))
