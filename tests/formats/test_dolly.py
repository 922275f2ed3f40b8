"""Dolly: instruction + context joined with a blank line; category kept in metadata."""

import pytest

from app.canonical import CanonicalExample, Message
from app.formats import FormatError, dolly

from .cases import load_cases

CASES = load_cases("dolly")


def test_context_is_joined_with_a_blank_line_and_category_is_metadata() -> None:
    example = dolly.parse(CASES["closed_qa"])
    assert example.messages[0].content.startswith("When was the bridge opened?\n\nThe bridge")
    assert example.messages[1].content == "In 1932."
    assert example.metadata["category"] == "closed_qa"


def test_empty_context_leaves_the_instruction_alone() -> None:
    example = dolly.parse(CASES["open_qa"])
    assert example.messages[0].content == "Why is the sky blue?"
    assert example.metadata == {"category": "open_qa"}


def test_errors_name_the_field() -> None:
    with pytest.raises(FormatError, match=r"^response: expected a string, got number"):
        dolly.parse({"instruction": "x", "context": "", "response": 1})
    with pytest.raises(FormatError, match=r"^context: expected a string, got object"):
        dolly.parse({"instruction": "x", "context": {}, "response": "y"})
    with pytest.raises(FormatError, match=r"^response: missing$"):
        dolly.parse({"instruction": "x", "context": ""})


def test_dump_needs_a_single_exchange() -> None:
    example = CanonicalExample(messages=[Message(role="system", content="s")])
    with pytest.raises(FormatError, match=r"^messages: dolly needs one user and one assistant"):
        dolly.dump(example)
