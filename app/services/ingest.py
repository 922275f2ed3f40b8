"""Ingest: records in any known format become validated canonical examples, stored in batches.

The same steps serve the REST bulk push, the CLI import and background import jobs:
`prepare_batch` (pure CPU: parse, validate, stage; runs in worker processes for big files)
then `store_prepared` (one transaction, in the caller's session).
"""

import gc
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.canonical import CanonicalExample
from app.config import Settings
from app.formats import FormatError, detect, parse_record
from app.formats.containers import parse_lines
from app.formats.records import BadRecord, Item, Record
from app.models import Dataset
from app.repositories import StagedRow
from app.services.examples import stage_examples, store_staged

MAX_REPORTED = 1000  # rejected / duplicate items listed in a report (all are counted)
MAX_DEPTH = 32


@dataclass(frozen=True)
class Limits:
    """Upper bounds on what one example may hold (documented in the README)."""

    max_messages: int = 1_000
    max_message_chars: int = 200_000
    max_metadata_chars: int = 100_000  # also: a message's other fields, one by one; tools
    max_example_chars: int = 2_000_000  # everything an example holds, together
    max_depth: int = MAX_DEPTH

    @classmethod
    def of(cls, settings: Settings) -> "Limits":
        """The limits configured in settings."""
        return cls(max_messages=settings.max_messages, max_message_chars=settings.max_message_chars)


@dataclass(frozen=True)
class Problem:
    """An item not stored: its line/record number (or index) and why."""

    number: int
    reason: str


COUNTS = ("received", "created", "updated", "unchanged", "duplicates", "rejected")


@dataclass
class IngestReport:
    """Counts of what happened to every item, with the rejected and duplicate ones listed."""

    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[Problem] = field(default_factory=list)
    duplicate_items: list[Problem] = field(default_factory=list)
    # What went in but may not be what was meant (a mapped key that no record has).
    warnings: list[str] = field(default_factory=list)
    # How many of each it lists: a file's report lists the first MAX_REPORTED (it is kept
    # with the job and shown on its page); a push lists every item (at most MAX_BULK_ITEMS),
    # for a client to know each one that did not go in.
    listed: int = field(default=MAX_REPORTED, repr=False, compare=False)

    def reject(self, problem: Problem) -> None:
        """Count an invalid item and list it (up to `listed`)."""
        self.rejected += 1
        if len(self.errors) < self.listed:
            self.errors.append(problem)

    def duplicate(self, problem: Problem) -> None:
        """Count an item that was already stored and list it (up to `listed`)."""
        self.duplicates += 1
        if len(self.duplicate_items) < self.listed:
            self.duplicate_items.append(problem)

    def merge(self, other: "IngestReport") -> None:
        """Add another batch's report to this one."""
        for name in ("received", "created", "updated", "unchanged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for problem in other.errors:
            self.reject(problem)
        self.rejected += other.rejected - len(other.errors)
        for problem in other.duplicate_items:
            self.duplicate(problem)
        self.duplicates += other.duplicates - len(other.duplicate_items)
        self.warnings += [w for w in other.warnings if w not in self.warnings]

    @classmethod
    def combined(cls, *reports: "IngestReport") -> "IngestReport":
        """A new report adding up several (earlier runs of a job, the batches so far)."""
        total = cls()
        for report in reports:
            total.merge(report)
        return total

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "IngestReport":
        """The report that as_dict() wrote (as kept in an import job's row)."""
        report = cls()
        for name in COUNTS:
            setattr(report, name, int(data.get(name, 0)))
        report.errors = [Problem(e["index"], e["error"]) for e in data.get("errors", [])]
        report.duplicate_items = [
            Problem(d["index"], d["reason"]) for d in data.get("duplicate_items", [])
        ]
        report.warnings = [str(w) for w in data.get("warnings", [])]
        return report

    def counts(self) -> dict[str, int]:
        """The counts alone (for the audit log)."""
        return {name: getattr(self, name) for name in COUNTS}

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            **self.counts(),
            "errors": [{"index": p.number, "error": p.reason} for p in self.errors],
            "duplicate_items": [
                {"index": p.number, "reason": p.reason} for p in self.duplicate_items
            ],
            "warnings": self.warnings,
        }


@dataclass
class PreparedBatch:
    """A batch after the CPU work: staged rows with their record numbers, and the rejects."""

    numbers: list[int]
    rows: list[StagedRow]
    rejected: list[Problem]
    last_number: int
    found: frozenset[str] = frozenset()  # the mapped keys its JSONL lines hold


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_string(text: str, path: str) -> None:
    if "\x00" in text:
        raise FormatError(f"{path or 'record'}: contains a NUL byte (\\u0000)")
    if _SURROGATE.search(text):
        raise FormatError(f"{path or 'record'}: is not valid Unicode (a lone surrogate)")


def _check_values(value: Any, limit: int) -> None:
    """Refuse what no JSON column stores: nesting deeper than `limit`, NaN and infinities
    (Python's parser takes them), NUL bytes and lone surrogates; the error names the field."""
    if _plainly_valid(value, limit):
        return
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        if depth > limit:
            raise FormatError(f"record: JSON nested deeper than {limit} levels")
        if isinstance(item, str):
            _check_string(item, path)
        elif isinstance(item, dict):
            for key in item:
                _check_string(key, f"{path}.{key!r}" if path else repr(key))
            stack.extend((v, depth + 1, f"{path}.{k}" if path else str(k)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            raise FormatError(f"{path or 'record'}: {item} is not a number JSON can hold")


def _plainly_valid(value: Any, limit: int) -> bool:
    """A quick pass for the usual record, with no walk in Python: orjson refuses lone
    surrogates, writes NUL as an escape and NaN as null, and a text with no more brackets
    than `limit` cannot nest deeper. Anything else gets the walk that names the field."""
    try:
        encoded = orjson.dumps(value)
    except TypeError:
        return False
    return (
        b"\\u0000" not in encoded
        and b"null" not in encoded
        and encoded.count(b"[") + encoded.count(b"{") <= limit
    )


def _check_limits(example: CanonicalExample, limits: Limits) -> None:
    """The documented size limits, each error naming the field. Beside the content, a
    message's other fields (name, tool_calls, ...) and the tools were not limited at all: a
    5 MB `name` went in, and one 59 MB example made a 74 MB page of the list API."""
    field_limit = limits.max_metadata_chars
    total = 0
    for path, messages in [("messages", example.messages)] + [
        (f"alternatives[{i}].messages", a.messages) for i, a in enumerate(example.alternatives)
    ]:
        if len(messages) > limits.max_messages:
            raise FormatError(f"{path}: {len(messages)} messages, more than {limits.max_messages}")
        for i, message in enumerate(messages):
            total += len(message.content)
            if len(message.content) > limits.max_message_chars:
                raise FormatError(
                    f"{path}[{i}].content: {len(message.content)} characters, more than "
                    f"{limits.max_message_chars}"
                )
            for key, value in (message.model_extra or {}).items():
                size = _json_chars(value, field_limit)
                total += size
                if size > field_limit:
                    raise FormatError(
                        f"{path}[{i}].{key}: {size} characters, more than {field_limit}"
                    )
    size = _json_chars(example.metadata, field_limit)
    if size > field_limit:
        raise FormatError(
            f"metadata: {size} characters of unmapped fields, more than {field_limit}"
        )
    total += size
    if example.tools is not None:
        size = _json_chars(example.tools, field_limit)
        if size > field_limit:
            raise FormatError(f"tools: {size} characters, more than {field_limit}")
        total += size
    if total > limits.max_example_chars:
        raise FormatError(
            f"record: {total} characters in all, more than {limits.max_example_chars} (a long"
            " conversation may be split into several examples)"
        )


def _json_chars(value: Any, limit: int) -> int:
    """Characters of `value` as JSON (the json module's spacing), counted exactly only when it
    may pass `limit`: orjson's compact UTF-8 bytes are at least half of that."""
    try:
        compact = len(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))
    except TypeError:  # integers past 64 bits
        compact = limit
    return compact if 2 * compact <= limit else len(json.dumps(value, ensure_ascii=False))


def _validation_reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"]).lstrip(".")
    return f"{path or 'record'}: {first['msg']}"


def parse_item(data: Any, fmt: str | None, limits: Limits) -> CanonicalExample:
    """One raw item to a canonical example, or FormatError naming the field and the problem."""
    _check_values(data, limits.max_depth)
    try:
        example = parse_record(data, fmt)
    except ValidationError as exc:
        raise FormatError(_validation_reason(exc)) from None
    _check_limits(example, limits)
    return example


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Preparing a batch makes hundreds of thousands of short-lived lists and dicts, and each
    700 of them set Python's cycle collector going over everything alive; it found nothing to
    free and took 10-20% of the time (measured on 20,000 synthetic examples). Reference
    counting frees all of it; any cycles wait for the collector to run again after."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def prepare_batch(
    items: Sequence[Item],
    fmt: str | None,
    limits: Limits,
    postgres: bool,
    columns: Mapping[str, str] | None = None,
) -> PreparedBatch:
    """Parse, validate and stage a batch; safe to run in a worker process. `columns` maps the
    keys of JSONL lines, which are parsed here (other records come mapped by their reader)."""
    with _cycle_collector_paused():
        return _prepare_batch(items, fmt, limits, postgres, columns)


def _prepare_batch(
    items: Sequence[Item],
    fmt: str | None,
    limits: Limits,
    postgres: bool,
    columns: Mapping[str, str] | None,
) -> PreparedBatch:
    numbers: list[int] = []
    examples: list[CanonicalExample] = []
    rejected: list[Problem] = []
    found: set[str] = set()
    for item in parse_lines(items, columns, found):
        if isinstance(item, BadRecord):
            rejected.append(Problem(item.number, item.reason))
            continue
        try:
            examples.append(parse_item(item.data, fmt, limits))
            numbers.append(item.number)
        except FormatError as exc:
            rejected.append(Problem(item.number, str(exc)))
    last = items[-1].number if items else 0
    return PreparedBatch(
        numbers, stage_examples(examples, postgres), rejected, last, frozenset(found)
    )


def store_prepared(
    session: Session, dataset: Dataset, batch: PreparedBatch, listed: int = MAX_REPORTED
) -> IngestReport:
    """Write a prepared batch in the caller's transaction and report on every item (listing
    up to `listed` of the rejected and of the duplicates)."""
    report = IngestReport(received=len(batch.numbers) + len(batch.rejected), listed=listed)
    for problem in batch.rejected:
        report.reject(problem)
    result = store_staged(session, dataset, batch.rows)
    report.created = len(result.created)
    report.updated = len(result.updated)
    report.unchanged = len(result.unchanged)
    for index, reason in result.duplicates:
        report.duplicate(Problem(batch.numbers[index], reason))
    return report


def detect_format(items: Sequence[Item], columns: Mapping[str, str] | None = None) -> str | None:
    """The format of the first record one fits (its keys mapped by `columns`), or None when
    no record was readable. A first record that fits none (say, its output left out) no
    longer decides for the whole file: the next that fits does, and the first is reported
    with the rest. When none fits, the FormatError names the first readable record."""
    first: str | None = None  # why the first readable record fits no format
    for item in parse_lines(items, columns):
        if not isinstance(item, Record):
            continue
        try:
            return detect(item.data)
        except FormatError as exc:
            first = first or f"could not tell the format from record {item.number}: {exc}"
    if first is None:
        return None
    raise FormatError(first)


def batched(records: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Consecutive lists of `size` records (the last may be shorter)."""
    batch: list[Item] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
