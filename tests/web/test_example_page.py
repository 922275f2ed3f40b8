"""The example page: chat turns, raw text, tool calls, alternatives, metadata, navigation."""

import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.canonical import CanonicalExample
from app.formats import parse_record
from app.models import Example
from tests.factories import chat, make_dataset, store
from tests.web.html import attr, classes, one, parse, pre_text

ANSWER = "Use **bold**.\n\n```python\ndef f():\n    return  1  # two spaces\n```\n"
TOOL_RESULT = '{"city": "Lisbon", "condition": "light rain", "precipitation": 0.7, "temp": 14}'


def _tool_example() -> CanonicalExample:
    return CanonicalExample.model_validate(
        {
            "messages": [
                {"role": "system", "content": "  Be brief.\n\tIndented line."},
                {"role": "user", "content": "\nUmbrella tomorrow?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "forecast", "arguments": '{"city": "Lisbon"}'},
                        }
                    ],
                },
                {
                    "role": "tool",
                    "tool_call_id": "call_1",
                    "name": "forecast",
                    "content": TOOL_RESULT,
                },
                {"role": "assistant", "content": ANSWER},
            ],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "forecast",
                        "description": "Weather for a city.",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                        },
                    },
                }
            ],
            "external_id": "tool-1",
            "metadata": {"source": "test", "tags": ["a", "b"], "nested": {"k": [1, {"x": None}]}},
        }
    )


def test_turns_show_roles_markdown_and_the_exact_raw_text(
    client: TestClient, session: Session
) -> None:
    ds = make_dataset(session, "chat")
    (example_id,) = store(session, ds, _tool_example()).created
    soup = parse(client.get(f"/datasets/chat/examples/{example_id}"))

    turns = soup.select(".conversation .turn")
    assert [attr(t, "data-role") for t in turns] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    assert [one(t, ".role").get_text() for t in turns] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    assert [classes(t)[1] for t in turns] == [
        "turn-system",
        "turn-user",
        "turn-assistant",
        "turn-tool",
        "turn-assistant",
    ]
    system, user, call, tool, answer = turns
    assert pre_text(one(system, "pre.plain-text")) == "  Be brief.\n\tIndented line."
    assert pre_text(one(user, ".raw pre.raw-text")) == "\nUmbrella tomorrow?"
    assert one(answer, ".rendered strong").get_text() == "bold"
    assert "return  1  # two spaces" in one(answer, ".rendered pre code").get_text()
    raw = one(answer, "details.raw")
    assert not raw.has_attr("open")
    assert pre_text(one(raw, "pre.raw-text")) == ANSWER

    assert call.select_one(".rendered") is None
    assert one(call, ".tool-name").get_text() == "forecast"
    assert one(call, ".tool-call-id").get_text() == "call_1"
    assert json.loads(one(call, ".tool-call pre").get_text()) == {"city": "Lisbon"}

    assert json.loads(one(tool, "pre.tool-output").get_text()) == json.loads(TOOL_RESULT)
    assert pre_text(one(tool, ".raw pre.raw-text")) == TOOL_RESULT
    chips = {attr(c, "data-key"): c.get_text(" ", strip=True) for c in tool.select(".chip")}
    assert chips == {"tool_call_id": "tool_call_id call_1", "name": "name forecast"}


def test_tools_are_collapsed_and_metadata_is_a_table(client: TestClient, session: Session) -> None:
    ds = make_dataset(session, "chat")
    (example_id,) = store(session, ds, _tool_example()).created
    example = session.get(Example, example_id)
    assert example is not None
    soup = parse(client.get(f"/datasets/chat/examples/{example_id}"))

    tools = one(soup, "details.tools")
    assert not tools.has_attr("open")
    assert one(tools, ".tool-schema h3").get_text() == "forecast"
    assert json.loads(one(tools, ".tool-schema pre").get_text()) == (example.tools or [])[0]

    rows = {one(tr, "th").get_text(): one(tr, "td") for tr in soup.select(".metadata tr")}
    assert list(rows) == ["nested", "source", "tags"]  # sorted: JSONB keeps no order
    assert one(rows["source"], ".kv-text").get_text() == "test"
    assert json.loads(rows["tags"].get_text()) == ["a", "b"]
    assert json.loads(rows["nested"].get_text()) == {"k": [1, {"x": None}]}

    facts = one(soup, ".facts")
    assert one(facts, ".fact-external-id").get_text() == "tool-1"
    assert one(facts, ".fact-version").get_text() == "1"
    assert attr(one(facts, ".fact-hash code"), "title") == example.content_hash
    assert one(facts, ".fact-language").get_text() == (example.language or "–")
    assert one(soup, "h1 .badge.status").get_text() == "Pending"
    assert attr(one(soup, ".page-actions a.json-link"), "href") == (
        f"/api/v1/datasets/chat/examples/{example_id}"
    )


def test_layout_hints_are_not_shown(client: TestClient, session: Session) -> None:
    """Every imported example showed a metadata row '_layout {"format": ...}' and a tool call
    turn a chip 'content_empty true': what the format modules keep to write the record back
    as it came, not data a reviewer reads."""
    ds = make_dataset(session, "hints")
    record = {
        "messages": [
            {"role": "user", "content": "Ping?"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "c", "type": "function",
                "function": {"name": "ping", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "pong"},
        ],
        "source": "probe",
    }  # fmt: skip
    parsed = parse_record(record, "openai")
    assert "_layout" in parsed.metadata or parsed.messages[1].model_extra
    (example_id,) = store(session, ds, parsed).created
    soup = parse(client.get(f"/datasets/hints/examples/{example_id}"))
    rows = [one(tr, "th").get_text() for tr in soup.select(".metadata tr")]
    assert rows == ["source"]
    assert one(soup, "#metadata-heading .count").get_text() == "1"
    page = soup.get_text()
    assert "content_empty" not in page and "_layout" not in page


def test_preference_pair_shows_chosen_then_rejected_columns(
    client: TestClient, session: Session
) -> None:
    ds = make_dataset(session, "prefs")
    pair = CanonicalExample.model_validate(
        {
            "messages": [{"role": "user", "content": "Say hi"}],
            "alternatives": [
                {"messages": [{"role": "assistant", "content": "Go away"}], "label": "rejected"},
                {"messages": [{"role": "assistant", "content": "Hi!"}], "label": "chosen"},
            ],
        }
    )
    (example_id,) = store(session, ds, pair).created
    soup = parse(client.get(f"/datasets/prefs/examples/{example_id}"))
    assert one(soup, ".conversation .section-title").get_text(" ", strip=True) == "Prompt 1"
    columns = soup.select(".alternative-grid > .alternative")
    assert [classes(c)[1] for c in columns] == ["alternative-chosen", "alternative-rejected"]
    assert [one(c, ".alternative-title").get_text() for c in columns] == [
        "Chosen",
        "Rejected",
    ]
    assert [one(c, ".turn .rendered").get_text(strip=True) for c in columns] == [
        "Hi!",
        "Go away",
    ]


def test_ranked_alternatives_are_in_rank_order(client: TestClient, session: Session) -> None:
    ds = make_dataset(session, "ranks")
    ranked = CanonicalExample.model_validate(
        {
            "messages": [{"role": "user", "content": "Summarise"}],
            "alternatives": [
                {"messages": [{"role": "assistant", "content": f"answer {r}"}], "rank": r}
                for r in (3, 1, 2)
            ]
            + [{"messages": [{"role": "assistant", "content": "scored"}], "score": 0.5}],
        }
    )
    (example_id,) = store(session, ds, ranked).created
    soup = parse(client.get(f"/datasets/ranks/examples/{example_id}"))
    titles = [t.get_text() for t in soup.select(".alternative .alternative-title")]
    assert titles == ["Rank 1", "Rank 2", "Rank 3", "Response 4"]
    assert soup.select(".alternative-score")[0].get_text() == "score 0.5"


def test_prev_and_next_stay_in_the_dataset(client: TestClient, session: Session) -> None:
    ds = make_dataset(session, "chat")
    other = make_dataset(session, "other")
    first, second = store(session, ds, chat("one", "1"), chat("two", "2")).created
    store(session, other, chat("elsewhere", "x"))
    (third,) = store(session, ds, chat("three", "3")).created

    soup = parse(client.get(f"/datasets/chat/examples/{second}"))
    nav = one(soup, ".prev-next")
    assert attr(one(nav, "a[rel=prev]"), "href") == f"/datasets/chat/examples/{first}"
    assert attr(one(nav, "a[rel=next]"), "href") == f"/datasets/chat/examples/{third}"
    soup = parse(client.get(f"/datasets/chat/examples/{first}"))
    assert soup.select_one(".prev-next a[rel=prev]") is None
    assert one(soup, ".prev-next [aria-disabled=true]").get_text() == "← Previous"
    soup = parse(client.get(f"/datasets/chat/examples/{third}"))
    assert soup.select_one(".prev-next a[rel=next]") is None
    crumbs = [attr(a, "href") for a in soup.select(".breadcrumbs a")]
    assert crumbs == ["/datasets", "/datasets/chat"]


def test_unknown_or_foreign_example_is_a_404_page(client: TestClient, session: Session) -> None:
    make_dataset(session, "chat")
    other = make_dataset(session, "other")
    (foreign,) = store(session, other, chat("elsewhere", "x")).created
    for url in (
        f"/datasets/chat/examples/{foreign}",
        "/datasets/chat/examples/999999",
        "/datasets/nope/examples/1",
        f"/datasets/chat/examples/{2**63}",
    ):
        response = client.get(url)
        assert response.status_code in (404, 422), url
        soup = parse(response)
        assert one(soup, ".error-page")
    assert client.get(f"/datasets/chat/examples/{foreign}").status_code == 404
