"""Hostile text in any field is shown as text and never becomes script, handler or link."""

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.canonical import CanonicalExample
from tests.factories import make_dataset, store
from tests.web.html import executable_parts, one, parse

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "</script>",
    "[x](javascript:alert(1))",
    '"><svg onload=alert(1)>',
    "{{ 7 * 7 }}",
]
HOSTILE = " ".join(PAYLOADS)


@pytest.fixture
def hostile_example(session: Session) -> int:
    """A dataset and example with the payloads in every free-text field."""
    ds = make_dataset(session, "xss", name=HOSTILE[:200], description=HOSTILE, guidelines=HOSTILE)
    example = CanonicalExample.model_validate(
        {
            "messages": [
                {"role": "system", "content": HOSTILE},
                {"role": "user", "content": HOSTILE, "name": HOSTILE},
                {
                    "role": "assistant",
                    "content": HOSTILE,
                    "tool_calls": [
                        {"id": HOSTILE, "function": {"name": HOSTILE, "arguments": HOSTILE}}
                    ],
                },
                {"role": "tool", "content": HOSTILE},
            ],
            "alternatives": [
                {"messages": [{"role": "assistant", "content": HOSTILE}], "label": "chosen"},
                {
                    "messages": [{"role": "assistant", "content": HOSTILE}],
                    "rank": 2,
                    "why": HOSTILE,
                },
            ],
            "tools": [{"type": "function", "function": {"name": HOSTILE, "description": HOSTILE}}],
            "external_id": HOSTILE[:200],
            "metadata": {HOSTILE: HOSTILE, "nested": {"k": HOSTILE}, "list": PAYLOADS},
        }
    )
    (example_id,) = store(session, ds, example).created
    return example_id


def _check(soup: BeautifulSoup) -> str:
    assert executable_parts(soup) == []
    text = soup.get_text()
    return text


@pytest.mark.parametrize(
    "url",
    ["/datasets", "/datasets/xss", "/datasets/xss?q=alert", "/datasets/xss/examples/{id}"],
)
def test_pages_show_payloads_as_text(client: TestClient, hostile_example: int, url: str) -> None:
    response = client.get(url.format(id=hostile_example))
    assert response.status_code == 200
    text = _check(parse(response))
    for payload in PAYLOADS:
        assert payload in text, payload
    # No template injection: the Jinja expression shows as typed (checked above), never as 49
    # next to where it stands (ids elsewhere on the page may contain "49").
    assert "{{ 7 * 7 }} 49" not in text and " 49 {{" not in text


def test_example_page_shows_each_payload_in_every_field(
    client: TestClient, hostile_example: int
) -> None:
    soup = parse(client.get(f"/datasets/xss/examples/{hostile_example}"))
    _check(soup)
    user = one(soup, ".conversation .turn-user")
    assert one(user, ".rendered").get_text(strip=True) == HOSTILE
    assert one(user, ".raw-text").get_text().strip() == HOSTILE
    assert HOSTILE in one(user, ".chip").get_text()
    assert one(soup, ".conversation .turn-system pre").get_text().strip() == HOSTILE
    assert one(soup, ".tool-call .tool-name").get_text() == HOSTILE
    assert one(soup, ".turn-tool pre").get_text().strip() == HOSTILE
    assert all(
        one(alt, ".rendered").get_text(strip=True) == HOSTILE for alt in soup.select(".alternative")
    )
    assert one(soup, ".tool-schema h3").get_text() == HOSTILE
    keys = [th.get_text() for th in soup.select(".metadata th")]
    assert HOSTILE in keys
    assert one(soup, ".fact-external-id").get_text() == HOSTILE[:200]
    assert one(soup, "title").get_text().endswith(HOSTILE[:200] + " · Sift")


def test_guidelines_and_description_stay_text(client: TestClient, hostile_example: int) -> None:
    soup = parse(client.get("/datasets/xss"))
    _check(soup)
    assert one(soup, ".guidelines .prose").get_text(strip=True) == HOSTILE
    assert one(soup, ".lead").get_text() == HOSTILE
    assert one(soup, "h1").get_text() == HOSTILE[:200]


def test_fragments_are_safe_too(client: TestClient, hostile_example: int) -> None:
    response = client.get("/datasets/xss?q=alert", headers={"HX-Request": "true"})
    soup = parse(response)
    _check(soup)
    assert one(soup, ".prompt-link").get_text() == HOSTILE


def test_the_payload_in_a_url_is_escaped_on_error_pages(client: TestClient) -> None:
    response = client.get("/datasets/%3Cimg%20src=x%20onerror=alert(1)%3E")
    assert response.status_code == 404
    soup = parse(response)
    _check(soup)
    assert "<img src=x onerror=alert(1)>" in one(soup, ".error-message").get_text()


def test_the_checker_catches_what_it_should() -> None:
    bad = BeautifulSoup(
        '<script>x</script><script src="//evil"></script><a href=" javascript:x">a</a>'
        '<b onclick="x">b</b><div style="color:red"></div><img src=x><p hx-on:click="x"></p>',
        "html.parser",
    )
    assert len(executable_parts(bad)) == 7
