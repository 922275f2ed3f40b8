"""The pages in a real browser: HTMX search and load-more, chat turns, no script injection."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import LiveServer, PageLog, new_context, screenshot

pytestmark = pytest.mark.browser


def test_dataset_list_shows_the_demo(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/datasets$"))
    card = page.locator("#dataset-demo")
    expect(card.locator(".dataset-name")).to_have_text("Demo: instruction data")
    expect(card.locator(".dataset-total")).to_contain_text("60")
    expect(card.locator(".status-bar rect")).to_have_count(4)
    screenshot(page, "01-datasets")


def test_search_narrows_results_without_a_reload(page: Page) -> None:
    page.goto("/datasets/demo")
    expect(page.locator(".result-count strong")).to_have_text("60")
    screenshot(page, "02-example-list")
    # A marker on window survives htmx swaps but not a full page load.
    page.evaluate("window.__noReload = true")
    page.locator("#q").fill("recursion")
    expect(page.locator(".result-count strong")).to_have_text("1")
    expect(page).to_have_url(re.compile(r"/datasets/demo\?q=recursion$"))
    expect(page.locator(".example-row")).to_have_count(1)
    assert page.evaluate("window.__noReload") is True
    page.locator("#status").select_option("accepted")
    expect(page.locator(".result-count strong")).to_have_text("0")
    expect(page).to_have_url(re.compile(r"q=recursion&status=accepted$"))
    assert page.evaluate("window.__noReload") is True


def test_load_more_appends_the_next_page(page: Page) -> None:
    page.goto("/datasets/demo")
    rows = page.locator(".example-row")
    expect(rows).to_have_count(50)
    page.evaluate("window.__noReload = true")
    page.get_by_role("link", name="Load more").click()
    expect(rows).to_have_count(60)
    expect(page.locator(".load-more")).to_have_count(0)
    ids = [int(i) for i in rows.evaluate_all("rows => rows.map(r => r.dataset.id)")]
    assert ids == sorted(set(ids)) and len(ids) == 60
    assert page.evaluate("window.__noReload") is True


def test_preference_example_shows_alternatives_side_by_side(page: Page) -> None:
    page.goto("/datasets/demo?q=recursion")
    page.locator(".prompt-link").first.click()
    expect(page.locator("h1")).to_contain_text("Example #")
    columns = page.locator(".alternative")
    expect(columns).to_have_count(2)
    expect(columns.nth(0).locator(".alternative-title")).to_have_text("Chosen")
    expect(columns.nth(1).locator(".alternative-title")).to_have_text("Rejected")
    first, second = columns.nth(0).bounding_box(), columns.nth(1).bounding_box()
    assert first and second and abs(first["y"] - second["y"]) < 2 and second["x"] > first["x"]
    # The raw toggle shows the exact stored text in place of the rendered Markdown.
    turn = columns.nth(0).locator(".turn").first
    expect(turn.locator(".rendered code").first).to_be_visible()
    turn.locator(".raw > summary").click()
    expect(turn.locator(".raw-text")).to_contain_text("**itself**")
    expect(turn.locator(".rendered")).to_be_hidden()
    turn.locator(".raw > summary").click()
    screenshot(page, "03-example-alternatives")


def test_multi_turn_and_tool_calls(page: Page) -> None:
    page.goto("/datasets/demo?q=umbrella+Lisbon")
    page.locator(".prompt-link").first.click()
    roles = page.locator(".conversation .turn").evaluate_all(
        "turns => turns.map(t => t.dataset.role)"
    )
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    expect(page.locator(".tool-call .tool-name")).to_have_text("get_weather_forecast")
    expect(page.locator(".tools")).not_to_have_attribute("open", "")
    screenshot(page, "04-example-tool-calls")
    page.goto("/datasets/demo?q=pancakes+buttermilk")
    page.locator(".prompt-link").first.click()
    expect(page.locator(".conversation .turn")).to_have_count(7)
    screenshot(page, "05-example-multi-turn")


def test_script_in_content_is_text_and_never_runs(page: Page, page_log: PageLog) -> None:
    page.goto("/datasets/demo?q=alert")
    page.locator(".prompt-link").first.click()
    user_turn = page.locator(".conversation .turn-user").first
    expect(user_turn.locator(".rendered")).to_contain_text("<script>alert(1)</script>")
    expect(page.locator("script:not([src])")).to_have_count(0)
    page.wait_for_timeout(100)
    assert page_log.dialogs == []


def test_keyboard_shortcuts(page: Page) -> None:
    page.goto("/datasets/demo")
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    page.goto("/datasets/demo/examples/2")
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(r"/examples/3$"))
    page.keyboard.press("k")
    expect(page).to_have_url(re.compile(r"/examples/2$"))


def test_without_javascript_forms_and_links_still_work(
    browser: Browser, live_server: LiveServer
) -> None:
    context = new_context(browser, live_server, java_script_enabled=False)
    page = context.new_page()
    page.goto("/datasets/demo")
    next_page = page.locator("a.load-more")
    expect(next_page).to_have_text(re.compile("Next page"))
    next_page.click()
    expect(page).to_have_url(re.compile(r"cursor="))
    expect(page.locator(".example-row")).to_have_count(10)
    expect(page.locator(".first-page")).to_be_visible()
    page.locator("#q").fill("recursion")
    page.locator("#q").press("Enter")
    expect(page).to_have_url(re.compile(r"\?q=recursion&status=&language=$"))
    expect(page.locator(".example-row")).to_have_count(1)
    page.locator("details.guidelines summary").click()
    expect(page.locator(".guidelines .prose")).to_be_visible()
    context.close()


def test_unknown_pages_are_404_pages(page: Page, page_log: PageLog) -> None:
    response = page.goto("/datasets/demo/examples/999999")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator(".error-page a.button")).to_have_attribute("href", "/datasets")
    # The browser logs the 404 itself (asserted above); nothing else may appear.
    page_log.console = [m for m in page_log.console if "status of 404" not in m]


@pytest.mark.parametrize("width", [390, 320])
def test_on_a_phone_every_nav_link_shows(page: Page, width: int) -> None:
    """On a phone the nav takes a row of its own: every link lies inside it, with nothing to
    scroll sideways to (it scrolled, and "Audit log" sat past the edge at 390 px), and the
    row lies inside the header, the account's name beside the brand above it."""
    page.set_viewport_size({"width": width, "height": 800})
    page.goto("/datasets")
    links = page.locator(".site-nav a")
    expect(links).to_have_text(["Datasets", "Tokens", "Users", "Audit log"])
    nav = page.locator(".site-nav")
    assert nav.evaluate("n => n.scrollWidth <= n.clientWidth")
    row = nav.bounding_box()
    assert row is not None and row["x"] >= 0 and row["x"] + row["width"] <= width
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        assert box is not None
        assert row["x"] <= box["x"] and box["x"] + box["width"] <= row["x"] + row["width"]
    header = page.locator(".site-header").bounding_box()
    assert header is not None
    assert row["y"] + row["height"] <= header["y"] + header["height"]
    expect(page.locator(".user-name")).to_be_visible()
    screenshot(page, f"phone-nav-{width}")


def test_on_a_phone_the_audit_filters_keep_each_label_by_its_field(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/admin/audit")
    for name in ("action", "actor", "target"):
        label = page.locator(f"label[for=audit-{name}]").bounding_box()
        field = page.locator(f"#audit-{name}").bounding_box()
        assert label is not None and field is not None
        assert label["x"] + label["width"] <= field["x"]  # beside it, on its row
        assert field["y"] <= label["y"] + label["height"] / 2 <= field["y"] + field["height"]
        assert field["x"] + field["width"] <= 390
    screenshot(page, "phone-audit-filters")


@pytest.mark.parametrize(
    "path",
    [
        "/datasets",
        "/datasets/demo",
        "/datasets/demo/examples/1",
        "/datasets/demo/members",
        "/datasets/demo/imports",
        "/datasets/new",
        "/tokens",
        "/account",
        "/admin/users",
        "/admin/audit",
        "/docs",
    ],
)
def test_on_a_phone_no_page_scrolls_sideways(page: Page, path: str) -> None:
    """At 390 px a page is as wide as the screen; wide tables scroll inside their own box
    (the tokens page was 684 px wide: its table's visually hidden header escaped it)."""
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
