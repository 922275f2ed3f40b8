"""The REST bulk push: a JSON array or NDJSON body of examples, stored as one transaction."""

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.auth.permissions import Caller
from app.db import is_postgres
from app.errors import InvalidInput, SiftError
from app.formats import FORMATS, FormatError
from app.formats.containers import GZIP_MAGIC, ZSTD_MAGIC, loads_plain, read_records
from app.formats.json_array import element_record
from app.formats.records import BadRecord, Record
from app.models import Dataset, IdempotencyKey
from app.repositories import ingest as ingest_repo
from app.services.audit import record_audit
from app.services.ingest import (
    IngestReport,
    Limits,
    detect_format,
    prepare_batch,
    store_prepared,
)


class PayloadTooLarge(SiftError):
    """The body has more bytes or items than one push may carry."""

    status_code = 413


class IdempotencyMismatch(SiftError):
    """An Idempotency-Key reused for a different request."""

    status_code = 422


@dataclass(frozen=True)
class PushRequest:
    """What a client pushed, and how."""

    body: bytes
    ndjson: bool
    fmt: str | None
    atomic: bool
    idempotency_key: str | None


@dataclass(frozen=True)
class PushOutcome:
    """The response to send: status and JSON body; `replayed` for an idempotent retry."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def _request_hash(dataset: Dataset, request: PushRequest) -> str:
    digest = hashlib.sha256(f"{dataset.id}|{request.fmt}|{request.atomic}|".encode())
    digest.update(request.body)
    return digest.hexdigest()


def _items(request: PushRequest, max_items: int) -> list[Record | BadRecord]:
    container = "jsonl" if request.ndjson else "json"
    if request.body.startswith((GZIP_MAGIC, ZSTD_MAGIC)):
        # The size limit holds for what is sent; a compressed body could unpack to far more.
        raise InvalidInput(
            "body",
            "is compressed (gzip or zstd); a push takes plain JSON or NDJSON, and a compressed "
            "file goes to POST /api/v1/datasets/{slug}/imports",
        )
    if not request.ndjson and not request.body.lstrip()[:1] == b"[":
        raise InvalidInput(
            "body",
            "expected a JSON array of examples (or NDJSON with Content-Type: application/x-ndjson)",
        )
    parsed = None if request.ndjson else loads_plain(request.body)
    read: Iterable[Record | BadRecord]
    if isinstance(parsed, list):  # the usual array, parsed in one go
        read = (element_record(number, value) for number, value in enumerate(parsed, 1))
    else:
        read = read_records(io.BytesIO(request.body), container)
    items: list[Record | BadRecord] = []
    try:
        for item in read:
            items.append(item)
            if len(items) > max_items:
                raise PayloadTooLarge(f"body: more than {max_items} items; split the push")
    except FormatError as exc:  # a JSON array broken part-way: the body is not JSON
        raise InvalidInput("body", f"{exc}; nothing was stored") from None
    # One index space for the response: the item's 0-based position (NDJSON: its line - 1).
    return [
        Record(item.number - 1, item.data)
        if isinstance(item, Record)
        else BadRecord(item.number - 1, item.reason)
        for item in items
    ]


def _resolve_format(items: list[Record | BadRecord], fmt: str | None) -> str | None:
    if fmt is not None:
        if fmt not in FORMATS:
            raise InvalidInput("format", f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
        return fmt
    try:
        return detect_format(items)
    except FormatError as exc:
        raise InvalidInput("body", f"{exc}; or name it with ?format=") from None


def replay(
    session: Session, caller: Caller, dataset: Dataset, request: PushRequest
) -> PushOutcome | None:
    """The stored outcome of an earlier push with the same Idempotency-Key, if there is one."""
    if request.idempotency_key is None:
        return None
    stored = ingest_repo.get_idempotency_key(session, caller.user.id, request.idempotency_key)
    if stored is None:
        return None
    if stored.request_hash != _request_hash(dataset, request):
        raise IdempotencyMismatch(
            "Idempotency-Key: this key was already used for a different request"
        )
    return PushOutcome(stored.status_code, stored.response, replayed=True)


def push_examples(
    session: Session,
    caller: Caller,
    dataset: Dataset,
    request: PushRequest,
    limits: Limits,
    max_items: int,
) -> PushOutcome:
    """Validate and store a pushed batch in the caller's transaction (the route commits)."""
    earlier = replay(session, caller, dataset, request)
    if earlier is not None:
        return earlier
    items = _items(request, max_items)
    fmt = _resolve_format(items, request.fmt)
    batch = prepare_batch(items, fmt, limits, is_postgres(session))
    if request.atomic and batch.rejected:
        report = IngestReport(received=len(items), listed=len(items))
        for problem in batch.rejected:
            report.reject(problem)
        body = {**report.as_dict(), "stored": False, "format": fmt}
        outcome = PushOutcome(422, body)
    else:
        # Every rejected and duplicate item is listed: a client must know each one.
        report = store_prepared(session, dataset, batch, listed=len(items))
        outcome = PushOutcome(200, {**report.as_dict(), "stored": True, "format": fmt})
        record_audit(
            session,
            caller,
            "examples.push",
            f"dataset:{dataset.slug}",
            report.counts(),
        )
    if request.idempotency_key is not None:
        ingest_repo.add_idempotency_key(
            session,
            IdempotencyKey(
                user_id=caller.user.id,
                key=request.idempotency_key,
                request_hash=_request_hash(dataset, request),
                status_code=outcome.status_code,
                response=outcome.body,
            ),
        )
    return outcome
