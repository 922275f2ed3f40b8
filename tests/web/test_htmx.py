"""The one helper that reads HTMX headers: page or fragment, Vary, redirects."""

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from starlette.datastructures import Headers

from app.web import htmx


def _request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw})


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({}, False),
        ({"HX-Request": "true"}, True),
        ({"HX-Request": "false"}, False),
        ({"HX-Request": "true", "HX-History-Restore-Request": "true"}, False),
    ],
)
def test_fragment_only_for_htmx_swaps(headers: dict[str, str], fragment: bool) -> None:
    assert htmx.is_fragment_request(_request(headers)) is fragment


def test_redirect_is_303_for_browsers_and_hx_redirect_for_htmx() -> None:
    app = FastAPI()

    @app.get("/go")
    def go(request: Request) -> object:
        return htmx.redirect(request, "/datasets")

    client = TestClient(app)
    plain = client.get("/go", follow_redirects=False)
    assert (plain.status_code, plain.headers["location"]) == (303, "/datasets")
    swapped = client.get("/go", headers={"HX-Request": "true"}, follow_redirects=False)
    assert swapped.status_code == 200
    assert swapped.headers["HX-Redirect"] == "/datasets"
    assert "location" not in swapped.headers
    for response in (plain, swapped):
        assert "HX-Request" in Headers(response.headers).getlist("vary")[0]


def test_home_redirects_to_the_dataset_list(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/datasets")
