"""The browsing pages: datasets, a dataset's examples, one example. HTML twins of /api/v1."""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.auth.deps import CurrentUser
from app.db import SessionDep
from app.models import STATUS_VALUES
from app.schemas import BigId
from app.services import analyzer, browse, datasets
from app.web import presenters
from app.web.htmx import is_fragment_request, redirect, render_page_or_fragment

router = APIRouter()

PAGE_SIZE = 50


def _query(**params: str | None) -> str:
    """A query string of the non-empty parameters, with its leading '?' (or nothing)."""
    kept = {k: v for k, v in params.items() if v}
    return "?" + urlencode(kept) if kept else ""


@router.get("/")
def home(request: Request) -> Response:
    """The start page is the dataset list."""
    return redirect(request, "/datasets")


@router.get("/datasets")
def dataset_list(request: Request, session: SessionDep, caller: CurrentUser) -> HTMLResponse:
    """The datasets you may see, with the mix of their review statuses."""
    context = {"summaries": datasets.visible_summaries(session, caller), "statuses": STATUS_VALUES}
    return render_page_or_fragment(request, "datasets/index.html", "content", context)


@router.get("/datasets/{slug}")
def dataset_page(
    request: Request,
    slug: str,
    session: SessionDep,
    caller: CurrentUser,
    q: Annotated[str, Query(max_length=1000)] = "",
    status: str | None = None,
    language: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    """A dataset's examples: searched, filtered, one keyset page at a time."""
    dataset = datasets.visible_dataset(session, caller, slug)
    filters = browse.make_filters(q, status, language)
    # "Load more" asks with a cursor and appends rows; the search form replaces the results.
    # Appended rows need no counts, languages or totals: those queries are skipped for them.
    block = "rows" if cursor else "results"
    rows_only = block == "rows" and is_fragment_request(request)
    summary = languages = known = None
    if not rows_only:
        summary = datasets.summarise(session, [dataset])[0]
        languages = browse.dataset_languages(session, dataset)
        known = browse.known_total(filters, summary, languages)
    # The page counts what its header and filter choices do not already tell exactly.
    count_up_to = None
    if not rows_only and known is None:
        count_up_to = request.app.state.settings.exact_count_limit
    listing = browse.list_examples(
        session, dataset, filters, cursor or None, PAGE_SIZE, count_up_to
    )
    filter_params = {"q": filters.q, "status": filters.status, "language": filters.language}
    next_page = listing.page.next
    context = {
        "dataset": dataset,
        "filters": filters,
        "statuses": STATUS_VALUES,
        "rows": [presenters.ExampleRow.of(e) for e in listing.page.items],
        "total": known or listing.total,
        "exact_count_limit": request.app.state.settings.exact_count_limit,
        "cursor": cursor or None,
        "filter_query": _query(**filter_params),
        "next_url": f"/datasets/{slug}{_query(**filter_params, cursor=next_page)}"
        if next_page
        else None,
        "first_url": f"/datasets/{slug}{_query(**filter_params)}",
        "json_url": f"/api/v1/datasets/{slug}/examples{_query(**filter_params, cursor=cursor)}",
        "summary": summary,
        "languages": languages,
        "lone_cjk": analyzer.lone_cjk_characters(filters.q) if filters.q else [],
    }
    return render_page_or_fragment(request, "datasets/show.html", block, context)


@router.get("/datasets/{slug}/examples/{example_id}")
def example_page(
    request: Request,
    slug: str,
    example_id: BigId,
    session: SessionDep,
    caller: CurrentUser,
) -> HTMLResponse:
    """One example: its conversation, alternatives, tools and metadata."""
    dataset = datasets.visible_dataset(session, caller, slug)
    example = browse.get_example(session, dataset, example_id)
    prev_id, next_id = browse.example_neighbours(session, dataset, example)
    context = {
        "dataset": dataset,
        "example": example,
        "turns": presenters.turns(example.messages),
        "alternatives": presenters.alternatives(example),
        "metadata": presenters.metadata(example),
        "prev_id": prev_id,
        "next_id": next_id,
        "json_url": f"/api/v1/datasets/{slug}/examples/{example.id}",
    }
    return render_page_or_fragment(request, "examples/show.html", "content", context)
