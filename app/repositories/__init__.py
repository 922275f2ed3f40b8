"""All SQL lives in this package, one module per area. Functions add and flush; never commit.

The route commits once per request (see STYLE.md).
"""

from app.repositories import auth
from app.repositories.datasets import add_dataset, get_dataset, list_datasets, status_counts
from app.repositories.examples import (
    STAGE_COLUMNS,
    ExampleFilters,
    Page,
    StagedRow,
    Total,
    UpsertOutcome,
    copy_fields,
    count_examples,
    decode_cursor,
    encode_cursor,
    get_example,
    leave_search_merges_elsewhere,
    merge_search_index,
    neighbours,
    page_and_total,
    page_examples,
    read_cursor,
    refresh_statistics,
    upsert_examples,
)

__all__ = [
    "STAGE_COLUMNS",
    "ExampleFilters",
    "Page",
    "StagedRow",
    "Total",
    "UpsertOutcome",
    "add_dataset",
    "auth",
    "copy_fields",
    "count_examples",
    "decode_cursor",
    "encode_cursor",
    "get_dataset",
    "get_example",
    "leave_search_merges_elsewhere",
    "list_datasets",
    "merge_search_index",
    "neighbours",
    "page_and_total",
    "page_examples",
    "read_cursor",
    "refresh_statistics",
    "status_counts",
    "upsert_examples",
]
