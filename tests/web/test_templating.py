"""Template filters: sanitised Markdown, JSON for display, dates, truncation."""

from datetime import UTC, datetime, timedelta, timezone

from bs4 import BeautifulSoup
from markupsafe import Markup

from app.templating import format_datetime, json_script, markdown, pretty_json, truncate_text
from tests.web.html import attr, one


def _soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def test_markdown_renders_commonmark_and_tables() -> None:
    html = markdown("# Title\n\n**bold** and `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert isinstance(html, Markup)
    soup = _soup(html)
    assert one(soup, "h1").get_text() == "Title"
    assert one(soup, "strong").get_text() == "bold"
    assert one(soup, "code").get_text() == "code"
    assert [td.get_text() for td in soup.select("table td")] == ["1", "2"]
    assert soup.select("[style]") == []


def test_markdown_keeps_single_line_breaks() -> None:
    """Alpaca's instruction and input are joined by one line break, and prompts put options
    on lines of their own; CommonMark ran them into one line ('... interrogative Do you')."""
    soup = _soup(markdown("Classify this sentence.\nDo you agree?\n(A) yes\n(B) no"))
    paragraph = one(soup, "p")
    assert len(paragraph.find_all("br")) == 3
    assert paragraph.get_text() == "Classify this sentence.\nDo you agree?\n(A) yes\n(B) no"


def test_markdown_shows_raw_html_as_text() -> None:
    source = "<script>alert(1)</script> <img src=x onerror=alert(1)> </script>"
    soup = _soup(markdown(source))
    assert soup.find("script") is None and soup.find("img") is None
    assert soup.get_text().strip() == source


def test_markdown_links_are_safe() -> None:
    soup = _soup(markdown("[ok](https://example.com) [mail](mailto:a@b.example)"))
    links = soup.select("a")
    assert [attr(a, "href") for a in links] == ["https://example.com", "mailto:a@b.example"]
    assert all(attr(a, "rel") == "noopener noreferrer nofollow" for a in links)


def test_markdown_drops_script_urls() -> None:
    for source in (
        "[x](javascript:alert(1))",
        "[x](JAVASCRIPT:alert(1))",
        "[x](java\tscript:alert(1))",
        "<javascript:alert(1)>",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
    ):
        soup = _soup(markdown(source))
        assert all(not a.get("href") for a in soup.select("a")), source
        assert soup.get_text().strip(), source  # shown as text, not dropped


def test_markdown_images_become_links() -> None:
    soup = _soup(markdown("![a cat](https://example.com/cat.png)"))
    assert soup.find("img") is None
    assert attr(one(soup, "a"), "href") == "https://example.com/cat.png"
    assert one(soup, "a").get_text() == "image: a cat"


def test_markdown_of_nothing_is_empty() -> None:
    assert markdown("") == Markup("") and markdown(None) == Markup("")


def test_pretty_json_decodes_json_strings_and_keeps_short_values_on_one_line() -> None:
    assert pretty_json({"a": [1, 2]}) == '{"a": [1, 2]}'
    assert pretty_json('{"city": "Lisbon"}') == '{"city": "Lisbon"}'
    assert pretty_json("not json") == "not json"
    assert pretty_json("42") == "42"
    long_value = {"key": "x" * 80}
    assert pretty_json(long_value) == '{\n  "key": "' + "x" * 80 + '"\n}'


def test_json_script_cannot_close_a_script_element() -> None:
    encoded = json_script({"a": "</script><b>&'"})
    assert "<" not in encoded and ">" not in encoded and "'" not in encoded
    assert encoded == '{"a": "\\u003c/script\\u003e\\u003cb\\u003e\\u0026\\u0027"}'


def test_dates_are_shown_in_utc() -> None:
    moment = datetime(2024, 5, 14, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(moment) == "2024-05-14 09:30 UTC"
    assert format_datetime(datetime(2024, 1, 2, tzinfo=UTC), "%Y-%m-%d") == "2024-01-02"
    assert format_datetime(None) == ""


def test_truncate_text_collapses_whitespace() -> None:
    assert truncate_text("a\n\n  b") == "a b"
    assert truncate_text("abcdef", 4) == "abc…"
    assert truncate_text(None) == ""
