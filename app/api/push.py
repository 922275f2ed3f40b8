"""Bulk push of examples for REST clients (token scope `write`)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from app.auth.deps import CurrentUser
from app.auth.permissions import Action
from app.db import SessionDep, commit_retrying
from app.errors import Conflict, InvalidInput
from app.services import datasets, push
from app.services.ingest import Limits

router = APIRouter(tags=["ingest"])
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")

BULK_OPENAPI = {
    "requestBody": {
        "required": True,
        "description": "A JSON array of examples, or NDJSON (one example per line) with "
        "Content-Type: application/x-ndjson. Any supported format (alpaca, sharegpt, openai, "
        "dolly, trl); detected from the first item unless `format` is given.",
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}


async def read_body(request: Request) -> bytes:
    """The raw body, refused with 413 as soon as it passes the configured size."""
    limit: int = request.app.state.settings.max_bulk_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidInput("Content-Length", "is not a number")
        if int(declared) > limit:
            raise push.PayloadTooLarge(f"body: {declared} bytes, more than {limit}; split the push")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise push.PayloadTooLarge(f"body: more than {limit} bytes; split the push")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/datasets/{slug}/examples:bulk", openapi_extra=BULK_OPENAPI)
def push_examples(
    slug: str,
    request: Request,
    body: Annotated[bytes, Depends(read_body)],
    session: SessionDep,
    caller: CurrentUser,
    atomic: Annotated[
        bool, Query(description="reject the whole batch if any item is invalid")
    ] = False,
    format: Annotated[
        str | None, Query(description="skip detection: alpaca, sharegpt, ...")
    ] = None,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> JSONResponse:
    """Store a batch of examples in one transaction; report created, updated, duplicate and
    rejected items (each rejected one with its index and reason)."""
    dataset = datasets.visible_dataset(session, caller, slug, Action.import_)
    settings = request.app.state.settings
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    push_request = push.PushRequest(
        body, content_type in NDJSON_TYPES, format, atomic, idempotency_key
    )
    try:
        outcome = commit_retrying(
            session,
            lambda: push.push_examples(
                session, caller, dataset, push_request, Limits.of(settings), settings.max_bulk_items
            ),
        )
    except IntegrityError:  # the same Idempotency-Key committed by a concurrent twin
        replayed = push.replay(session, caller, dataset, push_request)
        if replayed is None:
            raise Conflict("the push clashed with a concurrent one; retry it") from None
        outcome = replayed
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)
