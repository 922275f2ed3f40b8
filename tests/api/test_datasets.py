"""The JSON twins of the dataset list, example list and example pages."""

import base64
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import repositories
from app.config import Settings
from tests.auth.clients import ClientFactory
from tests.factories import chat, make_dataset, store


def test_create_and_list_datasets_with_counts(client: TestClient, session: Session) -> None:
    created = client.post("/api/v1/datasets", json={"slug": "chat", "name": "Chat"})
    assert created.status_code == 201
    ds = make_dataset(session, "other")
    store(session, ds, chat("a", "b"), chat("c", "d"))
    listed = {d["slug"]: d for d in client.get("/api/v1/datasets").json()}
    assert listed["chat"]["total"] == 0
    assert listed["other"]["counts"] == {
        "pending": 2,
        "accepted": 0,
        "rejected": 0,
        "needs_changes": 0,
    }


def test_bad_dataset_input_names_the_field(client: TestClient) -> None:
    response = client.post("/api/v1/datasets", json={"slug": "Not OK"})
    assert response.status_code == 422
    assert response.json()["error"].startswith("slug:")
    response = client.post("/api/v1/datasets", json={"name": "no slug"})
    assert response.status_code == 422
    assert "slug" in response.json()["error"]
    client.post("/api/v1/datasets", json={"slug": "taken"})
    assert client.post("/api/v1/datasets", json={"slug": "taken"}).status_code == 409


def test_example_pages_follow_next_cursor(client: TestClient, session: Session) -> None:
    ds = make_dataset(session)
    ids = store(session, ds, *[chat(f"q{i}", f"a{i}") for i in range(5)]).created
    seen, url = [], "/api/v1/datasets/ds/examples?limit=2"
    while url:
        body = client.get(url).json()
        assert body["total"] == 5
        seen += [item["id"] for item in body["items"]]
        url = body["next"] and f"/api/v1/datasets/ds/examples?limit=2&cursor={body['next']}"
    assert seen == ids


def test_example_json_has_messages_status_and_version(client: TestClient, session: Session) -> None:
    ds = make_dataset(session)
    (example_id,) = store(session, ds, chat("Hi <b>", "Hello", metadata={"source": "x"})).created
    body = client.get(f"/api/v1/datasets/ds/examples/{example_id}").json()
    assert body["messages"][0] == {"role": "user", "content": "Hi <b>"}
    assert (body["status"], body["version"], body["metadata"]) == ("pending", 1, {"source": "x"})


def test_search_and_filters(client: TestClient, session: Session) -> None:
    ds = make_dataset(session)
    ids = store(
        session, ds, chat("quokka facts", "They smile"), chat("数据库是什么", "存储")
    ).created
    q = client.get("/api/v1/datasets/ds/examples", params={"q": "数据库"}).json()
    assert [i["id"] for i in q["items"]] == [ids[1]] and q["total"] == 1
    by_lang = client.get("/api/v1/datasets/ds/examples", params={"language": "zh"}).json()
    assert [i["id"] for i in by_lang["items"]] == [ids[1]]


def test_bad_queries_are_4xx_not_500(client: TestClient, session: Session) -> None:
    make_dataset(session)
    base = "/api/v1/datasets/ds/examples"
    assert client.get(base, params={"cursor": "garbage"}).status_code == 422
    huge = repositories.encode_cursor(10**20)  # a well-formed cursor past any id
    assert client.get(base, params={"cursor": huge}).status_code == 422
    assert client.get(base, params={"status": "bogus"}).json()["error"].startswith("status:")
    assert client.get(base, params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/datasets/nope/examples").status_code == 404
    assert client.get(f"{base}/999999").status_code == 404
    assert client.get(f"{base}/not-a-number").status_code == 422
    assert client.get(f"{base}/89538514281273577439232").status_code == 422
    assert client.get("/api/v1/datasets/ds/imports/99999999999").status_code == 422
    for data in ({"after": 1, "many": "yes"}, {"after": True}, {"after": False, "many": True}):
        tampered = base64.urlsafe_b64encode(json.dumps(data).encode())
        answer = client.get(base, params={"cursor": tampered.decode(), "q": "hello"})
        assert answer.status_code == 422 and answer.json()["error"].startswith("cursor:")


def test_nul_bytes_anywhere_are_refused_not_500(client: TestClient, session: Session) -> None:
    make_dataset(session, "ds")
    assert client.get("/api/v1/datasets/d%00s/examples").status_code == 400
    bad = client.get("/api/v1/datasets/ds/examples?language=e%00n")
    assert bad.status_code == 400 and "NUL" in bad.json()["error"]
    assert client.get("/datasets/d%00s").status_code == 400
    body = client.post("/api/v1/datasets", json={"slug": "ok", "description": "x\u0000y"})
    assert body.status_code == 422 and body.json()["error"].startswith("body.description")
    assert client.get("/api/v1/datasets/ok").status_code == 404


def test_a_concurrent_duplicate_is_a_conflict_not_500(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:

    make_dataset(session, "taken")
    # As if another request created it between our check and our insert.
    monkeypatch.setattr(repositories, "get_dataset", lambda _session, _slug: None)
    response = client.post("/api/v1/datasets", json={"slug": "taken"})
    assert response.status_code == 409 and "clashes" in response.json()["error"]


def test_a_token_limited_to_one_dataset_cannot_create_others(
    clients: ClientFactory, session: Session
) -> None:
    ds = make_dataset(session, "ds")
    limited = clients.bearer("lead", ["write"], dataset=ds)
    assert limited.post("/api/v1/datasets", json={"slug": "other"}).status_code == 403
    assert (
        clients.bearer("lead", ["write"])
        .post("/api/v1/datasets", json={"slug": "other"})
        .status_code
        == 201
    )


def test_total_is_an_estimate_past_the_exact_count_limit(
    client: TestClient, session: Session, settings: Settings, backend: str
) -> None:
    ds = make_dataset(session)
    store(session, ds, *[chat(f"q{i} quokka", f"a{i}") for i in range(5)])
    body = client.get("/api/v1/datasets/ds/examples?limit=2").json()
    assert (body["total"], body["total_exact"]) == (5, True)

    settings.exact_count_limit = 3
    body = client.get("/api/v1/datasets/ds/examples?limit=2").json()
    assert len(body["items"]) == 2 and body["next"]
    if backend == "postgres":
        assert body["total_exact"] is False and body["total"] >= 4
    else:  # SQLite counts what its indexes answer
        assert (body["total"], body["total_exact"]) == (5, True)
    # A search past the limit is estimated on both, here from a sample of all the data.
    body = client.get("/api/v1/datasets/ds/examples", params={"q": "quokka", "limit": 2}).json()
    assert (body["total"], body["total_exact"]) == (5, False)
    assert len(body["items"]) == 2 and body["next"]
