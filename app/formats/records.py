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


class Line(NamedTuple):
    """A JSONL line read but not parsed yet: a large import sends lines to the processes that
    prepare its batches, which parse them there (a parsed record costs more to send across
    than it does to parse). containers.read_line() turns it into a Record or a BadRecord."""

    number: int
    data: bytes


Item = Record | BadRecord | Line
