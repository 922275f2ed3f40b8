"""Signing in and out in real Chromium, under the enforced CSP: the form posts its CSRF field,
and HTMX sends the CSRF header from <body hx-headers> with no inline script."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.auth.clients import PASSWORD
from tests.browser.conftest import LiveServer, PageLog

pytestmark = pytest.mark.browser


@pytest.fixture
def visitor(browser: Browser, live_server: LiveServer) -> Iterator[tuple[Page, PageLog]]:
    """A tab with no cookies, whose console must stay clean."""
    context = browser.new_context(base_url=live_server.url)
    tab = context.new_page()
    tab.set_default_timeout(5_000)
    log = PageLog()
    tab.on(
        "console", lambda m: log.console.append(m.text) if m.type in ("error", "warning") else None
    )
    tab.on("pageerror", lambda exc: log.errors.append(str(exc)))
    yield tab, log
    context.close()
    assert log.problems() == []


def test_sign_in_then_htmx_sign_out(visitor: tuple[Page, PageLog]) -> None:
    page, _ = visitor
    page.goto("/datasets")
    expect(page).to_have_url("/login?next=%2Fdatasets")
    page.fill("#login-username", "admin")
    page.fill("#login-password", PASSWORD)
    page.click("form.stacked-form button[type=submit]")
    expect(page).to_have_url("/datasets")
    expect(page.locator(".user-name")).to_have_text("admin")
    # An HTMX request is refused without the CSRF header; this one signs out, so it had it.
    page.evaluate("htmx.ajax('POST', '/logout', {swap: 'none'})")
    expect(page).to_have_url("/login")
    page.goto("/datasets")
    expect(page).to_have_url("/login?next=%2Fdatasets")
