"""POST/GET /api/v1/datasets/{slug}/imports: uploading a file starts a job one can watch."""

import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.auth.clients import ClientFactory
from tests.factories import make_dataset

URL = "/api/v1/datasets/ds/imports"
LINES = "".join(
    json.dumps({"instruction": f"q{i}", "output": f"a{i}"}) + "\n" for i in range(3)
).encode()


def test_upload_creates_a_queued_job_with_the_file_saved(
    client: TestClient, session: Session, app: FastAPI
) -> None:
    make_dataset(session, "ds")
    response = client.post(
        URL,
        files={"file": ("my data.jsonl", LINES, "application/octet-stream")},
        data={"format": "alpaca", "columns": "", "atomic": "true"},
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["status"], job["filename"], job["size_bytes"]) == (
        "queued",
        "my data.jsonl",
        len(LINES),
    )
    assert job["options"]["atomic"] is True and job["progress"] == 0
    saved = list(Path(app.state.settings.uploads).iterdir())
    assert [p.read_bytes() for p in saved] == [LINES]
    assert response.headers["Location"] == job["url"]
    assert client.get(job["url"]).json()["id"] == job["id"]
    assert [j["id"] for j in client.get(URL).json()] == [job["id"]]


def test_bad_options_name_the_field(client: TestClient, session: Session) -> None:
    make_dataset(session, "ds")
    files = {"file": ("x.csv", b"q,a\n1,2\n", "text/csv")}
    bad = client.post(URL, files=files, data={"format": "nope"})
    assert bad.status_code == 422 and bad.json()["error"].startswith("format")
    bad = client.post(URL, files=files, data={"columns": "q->instruction"})
    assert bad.status_code == 422 and bad.json()["error"].startswith("columns")
    assert client.post(URL, data={"format": "alpaca"}).status_code == 422


def test_only_importers_of_visible_datasets(clients: ClientFactory, session: Session) -> None:
    ds = make_dataset(session, "ds")
    other = make_dataset(session, "other")
    files = {"file": ("x.jsonl", LINES, "application/octet-stream")}
    annotator = clients.signed_in("annotator", member_of=[ds])
    assert annotator.post(URL, files=files).status_code == 403
    assert clients.bearer("lead", ["read"]).post(URL, files=files).status_code == 403
    restricted = clients.bearer("lead", ["write"], dataset=other)
    assert restricted.post(URL, files=files).status_code == 404
    assert restricted.get(URL + "/1").status_code == 404
    assert clients.bearer("lead", ["write"]).post(URL, files=files).status_code == 202


@pytest.mark.parametrize(
    ("columns", "error"),
    [
        ("q=meta\ns=meta.source", "columns: 'meta' is both a field and the group of 'meta.source'"),
        ("q=output\ns=output", "columns: two columns give the field 'output'"),
        # Postgres' JSON column cannot keep a NUL: this was a 500 there.
        ("q=instruction\x00", "columns: contains a NUL byte (\\u0000)"),
    ],
)
def test_a_column_mapping_that_cannot_work_is_refused_naming_the_field(
    client: TestClient, session: Session, columns: str, error: str
) -> None:
    make_dataset(session, "ds")
    response = client.post(
        "/api/v1/datasets/ds/imports",
        files={"file": ("a.csv", b"q,s\nhi,x\n", "text/csv")},
        data={"columns": columns},
    )
    assert response.status_code == 422
    assert response.json()["error"] == error
