"""The API reference at /docs works under the enforced Content-Security-Policy."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def test_swagger_ui_lists_the_api_from_local_files(page: Page) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Sift")
    bulk = page.locator(".opblock-summary-path", has_text="/examples:bulk")
    expect(bulk.first).to_be_visible()
    base = page.url.split("/docs")[0]
    assert all(url.startswith(base) for url in requests), "everything is served by Sift itself"
    screenshot(page, "08-api-docs")
