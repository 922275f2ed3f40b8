"""Datasets and their examples as JSON: the twins of the dataset and example pages."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from app.auth.deps import CurrentUser, require
from app.auth.permissions import Action, Caller
from app.db import SessionDep
from app.schemas import BigId, DatasetIn, DatasetOut, ExampleOut, ExamplePage
from app.services import browse, datasets

router = APIRouter(tags=["datasets"])


@router.get("/datasets")
def list_datasets(session: SessionDep, caller: CurrentUser) -> list[DatasetOut]:
    """The datasets you may see, with their example counts per review status."""
    return [DatasetOut.of(s) for s in datasets.visible_summaries(session, caller)]


@router.post("/datasets", status_code=status.HTTP_201_CREATED)
def create_dataset(
    body: DatasetIn, session: SessionDep, caller: Annotated[Caller, require(Action.manage)]
) -> DatasetOut:
    """Create a dataset (leads and admins; not with a token limited to one dataset)."""
    dataset = datasets.create_dataset(
        session, caller, body.slug, body.name, body.description, body.guidelines
    )
    session.commit()
    return DatasetOut.of(datasets.summarise(session, [dataset])[0])


@router.get("/datasets/{slug}")
def get_dataset(slug: str, session: SessionDep, caller: CurrentUser) -> DatasetOut:
    """One dataset with its counts."""
    dataset = datasets.visible_dataset(session, caller, slug)
    return DatasetOut.of(datasets.summarise(session, [dataset])[0])


@router.get("/datasets/{slug}/examples")
def list_examples(
    request: Request,
    slug: str,
    session: SessionDep,
    caller: CurrentUser,
    q: Annotated[str, Query(max_length=1000, description="words, all of which must appear")] = "",
    status: Annotated[str | None, Query(description="review status")] = None,
    language: Annotated[str | None, Query(description="ISO 639-1 code")] = None,
    cursor: Annotated[str | None, Query(description="`next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=browse.MAX_LIMIT)] = 50,
) -> ExamplePage:
    """A keyset page of a dataset's examples, optionally searched and filtered. `total`
    counts the matches exactly up to 10,000 (`SIFT_EXACT_COUNT_LIMIT`); past that it is an
    estimate from a sample, and `total_exact` is false."""
    dataset = datasets.visible_dataset(session, caller, slug)
    filters = browse.make_filters(q, status, language)
    count_up_to = request.app.state.settings.exact_count_limit
    listing = browse.list_examples(session, dataset, filters, cursor, limit, count_up_to)
    assert listing.total is not None
    return ExamplePage(
        items=[ExampleOut.of(e) for e in listing.page.items],
        next=listing.page.next,
        total=listing.total.value,
        total_exact=listing.total.exact,
    )


@router.get("/datasets/{slug}/examples/{example_id}")
def get_example(
    slug: str, example_id: BigId, session: SessionDep, caller: CurrentUser
) -> ExampleOut:
    """One example."""
    dataset = datasets.visible_dataset(session, caller, slug)
    return ExampleOut.of(browse.get_example(session, dataset, example_id))
