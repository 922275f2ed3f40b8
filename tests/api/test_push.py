"""POST /api/v1/datasets/{slug}/examples:bulk: what REST clients push, and what they get back."""

import gzip
import json
import re
from typing import Any

import pytest
import zstandard
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Dataset, Example
from tests.auth.clients import ClientFactory
from tests.factories import make_dataset
from tests.generated import encode, generated_cases, items, json_values

URL = "/api/v1/datasets/ds/examples:bulk"


def alpaca(i: int, **extra: Any) -> dict[str, Any]:
    return {"instruction": f"Question {i}?", "input": "", "output": f"Answer {i}.", **extra}


def count(session: Session, ds: Dataset) -> int:
    return int(session.scalar(select(func.count()).where(Example.dataset_id == ds.id)) or 0)


@pytest.fixture
def ds(session: Session) -> Dataset:
    return make_dataset(session, "ds")


@pytest.fixture
def writer(clients: ClientFactory, ds: Dataset) -> TestClient:
    return clients.bearer("lead", ["read", "write"])


def ndjson(*lines: str) -> dict[str, Any]:
    return {
        "content": ("\n".join(lines) + "\n").encode(),
        "headers": {"Content-Type": "application/x-ndjson"},
    }


def test_push_json_array_stores_and_is_searchable(
    writer: TestClient, session: Session, ds: Dataset
) -> None:
    items = [alpaca(i, id=f"ext-{i}") for i in range(3)] + [alpaca(1)]
    body = writer.post(URL, json=items).json()
    assert (body["created"], body["duplicates"], body["rejected"]) == (3, 1, 0)
    assert body["duplicate_items"][0]["index"] == 3
    assert body["format"] == "alpaca"
    found = writer.get("/api/v1/datasets/ds/examples", params={"q": "question 2"}).json()
    assert [i["external_id"] for i in found["items"]] == ["ext-2"]
    again = writer.post(URL, json=[alpaca(0)]).json()
    assert (again["created"], again["duplicates"]) == (0, 1)
    assert count(session, ds) == 3


def test_upsert_on_external_id(writer: TestClient, session: Session, ds: Dataset) -> None:
    writer.post(URL, json=[alpaca(1, id="a")])
    body = writer.post(URL, json=[{**alpaca(1, id="a"), "output": "Better answer."}]).json()
    assert (body["created"], body["updated"]) == (0, 1)
    item = writer.get("/api/v1/datasets/ds/examples").json()["items"][0]
    assert item["messages"][-1]["content"] == "Better answer." and item["version"] == 2
    same = writer.post(URL, json=[{**alpaca(1, id="a"), "output": "Better answer."}]).json()
    assert (same["unchanged"], same["updated"]) == (1, 0)


def test_ndjson_bad_lines_are_reported_and_good_ones_kept(
    writer: TestClient, session: Session, ds: Dataset
) -> None:
    lines = [
        json.dumps(alpaca(0)),
        "{not json",
        json.dumps(
            {"conversations": [{"from": "human", "value": "hi"}, {"from": "bot", "value": "x"}]}
        ),
        json.dumps(alpaca(3)),
    ]
    body = writer.post(URL, **ndjson(*lines)).json()
    assert (body["created"], body["rejected"]) == (2, 2)
    assert [e["index"] for e in body["errors"]] == [1, 2]
    assert "invalid JSON" in body["errors"][0]["error"]
    assert count(session, ds) == 2


def test_a_json_array_broken_part_way_is_refused_whole(
    writer: TestClient, session: Session, ds: Dataset
) -> None:
    """Past the broken element nothing says where the next one starts: the items before it
    were stored and the body reported as one bad item, though the rest was never read."""
    good = json.dumps([alpaca(i) for i in range(3)])
    body = good[:-1] + ', {"instruction": "x" "output": "y"}, ' + json.dumps(alpaca(9)) + "]"
    response = writer.post(URL, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    detail = response.json()["error"]
    assert detail.startswith("body: record 4, line 1, column ") and "invalid JSON" in detail
    assert detail.endswith("nothing was stored")
    assert count(session, ds) == 0


def test_mixed_formats_use_the_first_items_format(writer: TestClient, ds: Dataset) -> None:
    lines = [json.dumps(alpaca(0)), json.dumps({"messages": [{"role": "user", "content": "x"}]})]
    body = writer.post(URL, **ndjson(*lines)).json()
    assert body["rejected"] == 1 and body["errors"][0]["index"] == 1
    assert body["errors"][0]["error"].startswith("instruction")


def test_atomic_batch_rejects_everything_on_one_bad_item(
    writer: TestClient, session: Session, ds: Dataset
) -> None:
    response = writer.post(URL + "?atomic=true", json=[alpaca(0), {"instruction": 5, "output": ""}])
    assert response.status_code == 422
    body = response.json()
    assert body["stored"] is False and body["errors"][0]["index"] == 1
    assert body["errors"][0]["error"].startswith("instruction")
    assert count(session, ds) == 0
    assert writer.post(URL + "?atomic=true", json=[alpaca(0)]).json()["created"] == 1


def test_idempotent_retry_returns_first_result_and_stores_nothing(
    writer: TestClient, session: Session, ds: Dataset
) -> None:
    headers = {"Idempotency-Key": "push-1"}
    first = writer.post(URL, json=[alpaca(1), alpaca(2)], headers=headers)
    retry = writer.post(URL, json=[alpaca(1), alpaca(2)], headers=headers)
    assert retry.status_code == first.status_code == 200
    assert retry.json() == first.json() and retry.json()["created"] == 2
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert count(session, ds) == 2
    other = writer.post(URL, json=[alpaca(3)], headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["error"]
    assert count(session, ds) == 2
    # An empty key was a key: every later push with one was refused as a different request.
    empty = writer.post(URL, json=[alpaca(4)], headers={"Idempotency-Key": ""})
    assert empty.status_code == 422 and "idempotency-key" in empty.json()["error"].lower()
    assert count(session, ds) == 2


DEEP = json.loads("[" * 40 + "]" * 40)
BAD_ITEMS = [
    ({"messages": []}, "messages: empty conversation"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": 42}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "a\u0000b"}]}, "NUL"),
    ({"messages": [{"role": "user", "content": "\ud800"}]}, "surrogate"),
    ({"messages": [{"role": "user", "content": "x" * 101}]}, "messages[0].content: 101 characters"),
    ({"messages": [{"role": "user", "content": "x"}], "x": DEEP}, "nested deeper"),
    (
        {"messages": [{"role": "user", "content": "x"}], "src": {"a": "b\u0000"}},
        "src.a: contains a NUL",
    ),
    ({"messages": [{"role": "user", "content": "x"}], "k\u0000": 1}, "contains a NUL"),
    (
        {"messages": [{"role": "user", "content": "x", "name": "\udc00"}]},
        "messages[0].name: is not",
    ),
    # A message's other fields and the tools are limited too (a 5 MB name went in).
    (
        {"messages": [{"role": "user", "content": "x", "name": "n" * 100_001}]},
        "messages[0].name: 100003 characters, more than 100000",
    ),
    (
        {"messages": [{"role": "assistant", "content": "", "tool_calls": [{"id": "c",
            "type": "function", "function": {"name": "f", "arguments": "a" * 100_000}}]}]},
        "messages[0].tool_calls: ",
    ),
    (
        {"messages": [{"role": "user", "content": "x"}],
         "tools": [{"type": "function", "function": {"name": "f", "description": "d" * 100_000}}]},
        "tools: ",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("item", "reason"), BAD_ITEMS)
def test_bad_items_name_the_field(
    writer: TestClient,
    app: FastAPI,
    session: Session,
    ds: Dataset,
    item: dict[str, Any],
    reason: str,
) -> None:
    app.state.settings.max_message_chars = 100
    good = {
        "messages": [{"role": "user", "content": "fine"}, {"role": "assistant", "content": "ok"}]
    }
    raw = "[" + json.dumps(good) + "," + json.dumps(item) + "]"
    response = writer.post(
        URL + "?format=openai", content=raw.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["rejected"]) == (1, 1)
    assert body["errors"][0]["index"] == 1
    assert reason in body["errors"][0]["error"]


def test_every_rejected_and_duplicate_item_of_a_push_is_listed(
    writer: TestClient, session: Session, ds: Dataset
) -> None:
    """A push of 3,000 items listed only the first 1,000 it rejected: the client could not
    tell which of the others had not gone in."""
    items = [alpaca(i) if i % 2 else {"instruction": f"no output {i}"} for i in range(3000)]
    body = writer.post(URL + "?format=alpaca", json=items).json()
    assert (body["created"], body["rejected"]) == (1500, 1500)
    assert [e["index"] for e in body["errors"]] == list(range(0, 3000, 2))
    again = writer.post(URL + "?format=alpaca", json=items).json()
    assert again["duplicates"] == len(again["duplicate_items"]) == 1500
    atomic = writer.post(URL + "?format=alpaca&atomic=true", json=items)
    assert atomic.status_code == 422 and len(atomic.json()["errors"]) == 1500


def test_an_example_past_two_million_characters_in_all_is_refused(
    writer: TestClient, session: Session, ds: Dataset
) -> None:
    """Each message under its limit, the whole may still be too much for a page to show."""
    turns = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"{i} " + "x" * 190_000}
        for i in range(11)
    ]
    body = writer.post(URL, json=[{"messages": turns}, {"messages": turns[:2]}]).json()
    assert (body["created"], body["rejected"]) == (1, 1)
    assert re.match(
        r"^record: 20900\d\d characters in all, more than 2000000", body["errors"][0]["error"]
    )
    assert count(session, ds) == 1


def test_nan_and_infinity_are_rejected_by_field(
    writer: TestClient, session: Session, ds: Dataset
) -> None:
    content = b'[{"instruction": "a", "output": "b", "score": NaN}, {"instruction": "c",'
    content += (
        b' "output": "d", "meta": {"x": [1, -Infinity]}}, {"instruction": "e", "output": "f"}]'
    )
    response = writer.post(URL, content=content, headers={"Content-Type": "application/json"})
    body = response.json()
    assert (response.status_code, body["created"], body["rejected"]) == (200, 1, 2)
    assert [e["error"].split(":")[0] for e in body["errors"]] == ["score", "meta.x[1]"]
    assert count(session, ds) == 1


@pytest.mark.parametrize(
    ("last", "created"),
    [("12", 2), ("123456789012345678901234567890", 2), ("NaN", 1)],
    ids=["plain-json", "long-integer", "nan"],
)
def test_non_objects_in_the_array_are_reported_alike_by_either_reader(
    writer: TestClient, session: Session, ds: Dataset, last: str, created: int
) -> None:
    """A plain array is read in one go; one holding a long integer or NaN goes through the
    streaming reader (the integer kept exact). Items are reported the same way either way."""
    item = f'{{"instruction": "z", "output": "y", "n": {last}}}'
    content = f"[{json.dumps(alpaca(0))}, 5, [1], {item}]".encode()
    response = writer.post(URL, content=content, headers={"Content-Type": "application/json"})
    body = response.json()
    assert response.status_code == 200
    assert [(e["index"], e["error"]) for e in body["errors"][:2]] == [
        (1, "record 2: expected a JSON object, got number"),
        (2, "record 3: expected a JSON object, got list"),
    ]
    assert body["created"] == created
    stored = session.scalars(select(Example.meta).where(Example.dataset_id == ds.id)).all()
    assert [m["n"] for m in stored if "n" in m] == ([] if last == "NaN" else [int(last)])


def test_invalid_utf8_line_is_reported(writer: TestClient, ds: Dataset) -> None:
    good = json.dumps(alpaca(0)).encode()
    content = good + b"\n" + b'{"instruction": "caf\xe9", "output": "x"}\n'
    body = writer.post(
        URL, content=content, headers={"Content-Type": "application/x-ndjson"}
    ).json()
    assert body["created"] == 1 and body["errors"][0]["index"] == 1
    assert "UTF-8" in body["errors"][0]["error"]


def test_whole_body_problems_are_4xx(writer: TestClient, app: FastAPI, ds: Dataset) -> None:
    assert writer.post(URL, json={"instruction": "x"}).status_code == 422
    assert (
        writer.post(URL, content=b"", headers={"Content-Type": "application/json"}).status_code
        == 422
    )
    assert writer.post(URL + "?format=nope", json=[alpaca(0)]).json()["error"].startswith("format")
    assert writer.post(URL, json=[{"foo": 1}]).status_code == 422
    app.state.settings.max_bulk_items = 2
    assert writer.post(URL, json=[alpaca(i) for i in range(3)]).status_code == 413
    app.state.settings.max_bulk_bytes = 50
    assert writer.post(URL, json=[alpaca(0)]).status_code == 413


def test_scopes_and_dataset_restrictions(
    clients: ClientFactory, session: Session, ds: Dataset
) -> None:
    other = make_dataset(session, "other")
    assert clients.bearer("lead", ["read"]).post(URL, json=[alpaca(0)]).status_code == 403
    restricted = clients.bearer("lead", ["write"], dataset=other)
    assert restricted.post(URL, json=[alpaca(0)]).status_code == 404
    assert (
        clients.bearer("annotator", ["write"], member_of=[ds])
        .post(URL, json=[alpaca(0)])
        .status_code
        == 403
    )
    assert clients.anonymous().post(URL, json=[alpaca(0)]).status_code == 401
    assert count(session, ds) == 0


def test_a_compressed_body_gets_a_422(writer: TestClient) -> None:
    """A push's size limit holds for what is sent, so a compressed body, which could unpack to
    far more, is refused, whole or cut short (the magic number alone once got a 500)."""
    body = b"".join(json.dumps(alpaca(i)).encode() + b"\n" for i in range(3))
    for compressed in (
        gzip.compress(body),
        zstandard.compress(body),
        b"\x1f\x8b",
        b"\x28\xb5\x2f\xfd",
    ):
        for content_type in ("application/x-ndjson", "application/json"):
            response = writer.post(URL, content=compressed, headers={"Content-Type": content_type})
            assert response.status_code == 422
            assert response.json()["error"].startswith("body: is compressed (gzip or zstd)")


# Generated pushes (Hypothesis, strategies in tests/generated.py): whatever a client sends, the
# answer is a 4xx naming the problem or a report whose counts add up, never a 500, and a refused
# batch stores nothing. Bodies include some that are not JSON at all.
bodies = st.one_of(
    items.map(lambda xs: (encode(xs), "application/json")),
    items.map(lambda xs: (b"\n".join(encode(x) for x in xs) + b"\n", "application/x-ndjson")),
    json_values.map(lambda x: (encode(x), "application/json")),
    st.binary(max_size=200).map(lambda raw: (raw, "application/json")),
    st.binary(max_size=200).map(lambda raw: (raw, "application/x-ndjson")),
)


@generated_cases(150)
@given(body=bodies, atomic=st.booleans(), fmt=st.sampled_from([None, "alpaca", "trl", "bogus"]))
def test_no_push_gets_a_500_and_a_refused_one_stores_nothing(
    writer: TestClient,
    session: Session,
    ds: Dataset,
    body: tuple[bytes, str],
    atomic: bool,
    fmt: str | None,
) -> None:
    content, content_type = body
    before = count(session, ds)
    params: dict[str, Any] = {"atomic": str(atomic).lower()}
    if fmt is not None:
        params["format"] = fmt
    response = writer.post(
        URL, content=content, params=params, headers={"Content-Type": content_type}
    )
    assert response.status_code < 500, response.text
    answer = response.json()
    after = count(session, ds)
    if response.status_code >= 400:
        assert after == before  # nothing of the batch was kept
        if atomic and response.status_code == 422 and "errors" in answer:
            # All or nothing: the report names each bad item, and nothing was created.
            assert answer["errors"] and answer["created"] == 0, answer
        else:
            assert answer["error"], answer  # the message names what is wrong
        return
    counted = ("created", "updated", "unchanged", "duplicates", "rejected")
    assert sum(answer[k] for k in counted) == answer["received"], answer
    assert after - before == answer["created"]
    assert len(answer["errors"]) == answer["rejected"]
    for error in answer["errors"]:
        assert 0 <= error["index"] < answer["received"] and error["error"], error
