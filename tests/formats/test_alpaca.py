"""Alpaca: instruction + input joined into the user turn, history, system, metadata."""

import re
from typing import Any

import pytest

from app.canonical import CanonicalExample, Message
from app.formats import FormatError, alpaca, dolly, sharegpt

from .cases import load_cases

CASES = load_cases("alpaca")


def roles(example: CanonicalExample) -> list[str]:
    return [m.role for m in example.messages]


def test_input_is_joined_to_the_instruction_with_a_newline() -> None:
    example = alpaca.parse(CASES["with_input"])
    assert roles(example) == ["user", "assistant"]
    assert (
        example.messages[0].content == "Translate the sentence into French.\nGood morning, friends."
    )
    assert example.messages[1].content == "Bonjour, les amis."


def test_empty_input_leaves_the_instruction_alone_and_no_hints() -> None:
    example = alpaca.parse(CASES["plain"])
    assert example.messages[0].content == "Give three tips for staying healthy."
    assert example.metadata == {}


def test_system_and_history_become_leading_turns() -> None:
    example = alpaca.parse(CASES["system_and_history"])
    assert roles(example) == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert [m.content for m in example.messages[1:3]] == ["What is 2 + 2?", "4"]


def test_id_maps_to_external_id_and_unknown_fields_stay_in_metadata() -> None:
    example = alpaca.parse(CASES["id_and_unknown_fields"])
    assert example.external_id == "alp-001"
    assert example.metadata == {
        "source": "handwritten",
        "tags": ["geo", "easy"],
        "quality": 4.5,
        "nested": {"a": [1, None]},
    }


def test_a_non_string_id_stays_in_metadata() -> None:
    """A number is most often a row number: two files numbered from 0 would overwrite each
    other's examples."""
    example = alpaca.parse(CASES["numeric_id"])
    assert example.external_id is None
    assert example.metadata == {"id": 17}
    for value in (1.5, True, ["a"]):
        other = alpaca.parse({"instruction": "q", "output": "a", "id": value})
        assert other.external_id is None and other.metadata["id"] == value


def test_an_id_of_more_than_200_characters_is_an_error() -> None:
    """It stayed in metadata without a word, and each push stored the item anew."""
    with pytest.raises(FormatError, match=r"^id: 201 characters, more than 200$"):
        alpaca.parse({"instruction": "q", "output": "a", "id": "x" * 201})


def test_an_empty_or_null_id_is_no_id() -> None:
    """An empty id (a CSV's empty cell) was an id: every such record replaced the last."""
    for value in ("", None):
        record = {"instruction": "q", "output": "a", "id": value}
        example = alpaca.parse(record)
        assert example.external_id is None and example.metadata["id"] == value
        assert alpaca.dump(example) == record


def test_edited_prompt_still_dumps_to_a_valid_record() -> None:
    example = alpaca.parse(CASES["with_input"])
    example.messages[0] = Message(role="user", content="Translate into German.\nGood night.")
    record = alpaca.dump(example)
    assert record["instruction"] == "Translate into German.\nGood night."
    assert record["input"] == ""


def test_a_conversation_from_elsewhere_dumps_with_history() -> None:
    example = CanonicalExample(
        messages=[
            Message(role="user", content="a"),
            Message(role="assistant", content="b"),
            Message(role="user", content="c"),
            Message(role="assistant", content="d"),
        ]
    )
    assert alpaca.dump(example) == {
        "instruction": "c",
        "input": "",
        "output": "d",
        "history": [["a", "b"]],
    }


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"instruction": 3, "output": "x"}, "instruction: expected a string, got number"),
        ({"instruction": "x", "output": None}, "output: expected a string, got null"),
        ({"instruction": "x"}, "output: missing"),
        ({"instruction": "x", "input": ["y"], "output": "z"}, "input: expected a string, got list"),
        ({"instruction": "x", "output": "y", "history": [["q"]]}, "history[0]: expected a"),
        ({"instruction": "x", "output": "y", "history": [["q", 1]]}, "history[0][1]: expected a"),
        ({"instruction": "x", "output": "y", "history": "no"}, "history: expected a list"),
        ({"instruction": "x", "output": "y", "system": 1}, "system: expected a string"),
        ({"instruction": "a\x00b", "output": "y"}, "instruction: contains a NUL byte"),
        ({"instruction": "x", "output": "\ud800"}, "output: is not valid Unicode"),
        ({"instruction": "x", "output": "y", "_layout": {}}, "_layout: this key is reserved"),
    ],
)
def test_errors_name_the_field(record: dict[str, Any], message: str) -> None:
    with pytest.raises(FormatError, match="^" + re.escape(message)):
        alpaca.parse(record)


def test_dump_refuses_what_alpaca_cannot_hold() -> None:
    example = CanonicalExample(
        messages=[Message(role="user", content="q"), Message(role="tool", content="r")]
    )
    with pytest.raises(FormatError, match=r"^messages: alpaca needs alternating user/assistant"):
        alpaca.dump(example)
    labelled = CanonicalExample(messages=[Message(role="user", content="q")], label=True)
    with pytest.raises(FormatError, match=r"^label: alpaca has no place"):
        alpaca.dump(labelled)


@pytest.mark.parametrize("fmt", [alpaca, dolly], ids=["alpaca", "dolly"])
@pytest.mark.parametrize(
    ("extra", "value"),
    [
        ("tool_calls", [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]),
        ("weight", 0),
        ("name", "Ada"),
        ("from", "alice@example.com"),  # not one of ShareGPT's names for a role
        ("weight", True),
    ],
)
def test_a_text_format_refuses_message_parts_it_would_drop(
    fmt: Any, extra: str, value: Any
) -> None:
    """An OpenAI or TRL example written as alpaca or dolly lost its tool calls, a message's
    name and its training weight without a word: the record held the text alone."""
    example = CanonicalExample.model_validate(
        {
            "messages": [
                {"role": "user", "content": "Weather in Oslo?"},
                {"role": "assistant", "content": "Let me check.", extra: value},
            ]
        }
    )
    with pytest.raises(FormatError, match=rf"^messages\[1\]\.{extra}: \w+ has no place for it"):
        fmt.dump(example)


@pytest.mark.parametrize("fmt", [alpaca, dolly], ids=["alpaca", "dolly"])
def test_a_text_format_takes_messages_whose_extras_hold_nothing_it_drops(fmt: Any) -> None:
    """ShareGPT's "user"/"assistant" spellings of its roles, a null refusal and a weight of
    1 (trained on, as by default) lose nothing written as text."""
    chat = sharegpt.parse(
        {
            "conversations": [
                {"from": "user", "value": "Hi?"},
                {"from": "assistant", "value": "Hello."},
            ]
        }
    )
    assert fmt.dump(chat)["instruction"] == "Hi?"
    openai_chat = CanonicalExample.model_validate(
        {
            "messages": [
                {"role": "user", "content": "Hi?", "weight": 1},
                {"role": "assistant", "content": "Hello.", "refusal": None, "weight": 1},
            ]
        }
    )
    assert list(fmt.dump(openai_chat).values())[-1] == "Hello."
