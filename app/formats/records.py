"""What the container readers yield: a record, or a per-record error to report and skip."""

from typing import Any, NamedTuple


class Record(NamedTuple):
    """A parsed record; `number` is its 1-based line (JSONL, CSV/TSV) or index (JSON, Parquet)."""

    number: int
    data: dict[str, Any]


class BadRecord(NamedTuple):
    """A record that could not be read; `reason` says why and where."""

    number: int
    reason: str
