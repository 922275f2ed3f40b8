"""/docs is served from Sift's own static files, with no inline script."""

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient


def test_docs_page_uses_local_swagger_and_no_inline_script(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    soup = BeautifulSoup(response.text, "html.parser")
    scripts = soup.find_all("script")
    assert scripts and all("/static/" in s.get("src", "") for s in scripts)
    assert not [s for s in scripts if s.string and s.string.strip()]
    assert soup.select_one("#swagger-ui")["data-spec-url"] == "/openapi.json"
    assert "Content-Security-Policy" in response.headers
    spec = client.get("/openapi.json").json()
    assert "/api/v1/datasets/{slug}/examples:bulk" in spec["paths"]
