"""Creating a dataset from the browser: from the list to the form to the new dataset's import page.

These tests run their own server, so the dataset they create never shows up in the other tests'
pages and screenshots.
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    LiveServer,
    PageLog,
    screenshot,
    serve,
)

pytestmark = pytest.mark.browser

GUIDELINES = """## Accept
- The answer is correct, polite and complete

## Reject
- Made-up order numbers or policies"""


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A running Sift with the demo data, for this module alone."""
    with serve(tmp_path_factory.mktemp("browser-new-dataset"), "n") as server:
        yield server


def test_new_dataset_from_the_list_to_its_import_page(page: Page) -> None:
    page.goto("/datasets")
    page.get_by_role("link", name="New dataset").click()
    expect(page).to_have_url(re.compile(r"/datasets/new$"))
    expect(page.locator("h1")).to_have_text("New dataset")
    expect(page.locator("#dataset-name")).to_be_focused()

    page.locator("#dataset-name").fill("Support chats (März)")
    # app.js suggests the slug from the name while nobody has typed one.
    expect(page.locator("#dataset-slug")).to_have_value("support-chats-marz")
    page.locator("#dataset-description").fill(
        "Customer-support conversations from the March export, before review."
    )
    page.locator("#dataset-guidelines").fill(GUIDELINES)
    screenshot(page, "09-new-dataset")
    page.get_by_role("button", name="Create dataset").click()

    expect(page).to_have_url(re.compile(r"/datasets/support-chats-marz/imports$"))
    expect(page.locator("h1")).to_have_text("Import into Support chats (März)")
    page.get_by_role("link", name="Datasets", exact=True).first.click()
    card = page.locator("#dataset-support-chats-marz")
    expect(card.locator(".dataset-name")).to_have_text("Support chats (März)")


def test_a_taken_slug_is_refused_in_place_and_fixed(page: Page, page_log: PageLog) -> None:
    page.goto("/datasets/new")
    page.locator("#dataset-name").fill("Support drafts again")
    slug = page.locator("#dataset-slug")
    slug.fill("support-drafts")  # the demo's second dataset
    page.locator("#dataset-name").fill("Support drafts, second pass")
    expect(slug).to_have_value("support-drafts")  # a typed slug no longer follows the name
    # A marker on window survives htmx swaps but not a page load.
    page.evaluate("window.__noReload = true")
    page.get_by_role("button", name="Create dataset").click()

    error = page.locator("#dataset-error")
    expect(error).to_contain_text("another dataset has the slug 'support-drafts'")
    expect(slug).to_have_attribute("aria-invalid", "true")
    expect(slug).to_be_focused()
    expect(page.locator("#dataset-name")).to_have_value("Support drafts, second pass")
    expect(page).to_have_url(re.compile(r"/datasets/new$"))
    assert page.evaluate("window.__noReload") is True
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header belongs at the top
    screenshot(page, "10-new-dataset-refused")
    # Chromium logs every 4xx response; this 422 is the refusal the test asked for.
    refusals = [m for m in page_log.console if "status of 422" in m]
    assert len(refusals) == 1, page_log.console
    page_log.console.remove(refusals[0])

    slug.fill("support-drafts-2")
    page.get_by_role("button", name="Create dataset").click()
    expect(page).to_have_url(re.compile(r"/datasets/support-drafts-2/imports$"))
    expect(page.locator("h1")).to_have_text("Import into Support drafts, second pass")
