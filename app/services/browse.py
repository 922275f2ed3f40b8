"""Reading examples page by page: the one service behind the example list page and its JSON twin."""

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app import repositories
from app.errors import InvalidInput, NotFound
from app.models import STATUS_VALUES, Dataset, Example
from app.repositories import ExampleFilters, Page, Total
from app.services.datasets import DatasetSummary

MAX_LIMIT = 200


@dataclass(frozen=True)
class ExampleListing:
    """A page of examples with how many match the filters."""

    page: Page
    total: Total | None


def make_filters(
    q: str = "", status: str | None = None, language: str | None = None
) -> ExampleFilters:
    """Check filter values against their allowlists."""
    if status and status not in STATUS_VALUES:
        raise InvalidInput("status", f"must be one of {', '.join(STATUS_VALUES)}")
    if language is not None and len(language) > 16:
        raise InvalidInput("language", "is not a language code")
    return ExampleFilters(q=q.strip()[:1000], status=status or None, language=language or None)


def list_examples(
    session: Session,
    dataset: Dataset,
    filters: ExampleFilters,
    cursor: str | None,
    limit: int,
    count_up_to: int | None,
) -> ExampleListing:
    """One page of a dataset's examples matching the filters, in id order, and how many
    match: counted up to `count_up_to`, estimated past it (no total when None)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit", f"must be between 1 and {MAX_LIMIT}")
    try:
        after, many = repositories.read_cursor(cursor) if cursor else (None, False)
    except ValueError as exc:
        raise InvalidInput("cursor", str(exc)) from exc
    page, total = repositories.page_and_total(
        session, dataset.id, filters, after, limit, count_up_to, many
    )
    return ExampleListing(page, total)


def get_example(session: Session, dataset: Dataset, example_id: int) -> Example:
    """One example of the dataset, or NotFound."""
    example = repositories.get_example(session, dataset.id, example_id)
    if example is None:
        raise NotFound(f"no example {example_id} in dataset {dataset.slug!r}")
    return example


def dataset_languages(session: Session, dataset: Dataset) -> list[tuple[str, int]]:
    """The languages present in the dataset with their example counts, for the filter choices."""
    return repositories.examples.language_counts(session, dataset.id)


def example_neighbours(
    session: Session, dataset: Dataset, example: Example
) -> tuple[int | None, int | None]:
    """Ids of the examples before and after this one in the dataset (None at either end)."""
    return repositories.neighbours(session, dataset.id, example.id)


def known_total(
    filters: ExampleFilters, summary: DatasetSummary, languages: list[tuple[str, int]]
) -> Total | None:
    """The exact count a dataset page has already (its header's counts per status, its
    language choices) for no filter, or a status or a language alone; so that the results
    bar agrees with them, and nothing is counted twice."""
    if filters.q or (filters.status and filters.language):
        return None
    if filters.status:
        return Total(summary.counts.get(filters.status, 0), exact=True)
    if filters.language:
        return Total(dict(languages).get(filters.language, 0), exact=True)
    return Total(summary.total, exact=True)
