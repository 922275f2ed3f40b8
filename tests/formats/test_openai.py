"""OpenAI chat and preference formats: message extras, tool calls, input fields."""

import re
from typing import Any

import pytest

from app.formats import FormatError, openai

from .cases import load_cases

CASES = load_cases("openai")


def test_message_extras_are_kept_as_given() -> None:
    example = openai.parse(CASES["weights_and_names"])
    assert example.messages[0].model_extra == {"name": "ann"}
    assert example.messages[1].model_extra == {"weight": 0}


def test_tool_call_message_without_content_is_stored_empty() -> None:
    example = openai.parse(CASES["tool_calls_no_content"])
    call = example.messages[1]
    assert (call.role, call.content) == ("assistant", "")
    assert set(call.model_extra or {}) == {"tool_calls"}
    assert example.messages[2].model_extra == {"tool_call_id": "call_1"}
    assert example.tools is not None and len(example.tools) == 1
    assert example.metadata == {"parallel_tool_calls": False}


def test_preference_maps_input_and_both_outputs() -> None:
    example = openai.parse(CASES["preference"])
    assert [m.role for m in example.messages] == ["user"]
    assert example.tools == []
    assert [a.label for a in example.alternatives] == ["chosen", "rejected"]
    assert example.metadata == {"input": {"parallel_tool_calls": True}}


def test_kto_label_on_chat_records() -> None:
    record = {"messages": [{"role": "user", "content": "q"}], "label": True}
    example = openai.parse(record)
    assert example.label is True
    assert openai.dump(example) == record


def message_list(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"messages": list(messages)}


USER = {"role": "user", "content": "Hi"}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            message_list(USER, {"role": "developer", "content": "x"}),
            "messages[1].role: unknown role 'developer'",
        ),
        (message_list({"content": "x"}), "messages[0].role: missing"),
        (
            message_list(USER, {"role": "assistant", "content": [{"type": "text"}]}),
            "messages[1].content: expected a string, got list",
        ),
        (message_list(USER, {"role": "assistant"}), "messages[1].content: missing"),
        (
            message_list({"role": "user", "content": None, "tool_calls": [{}]}),
            "messages[0].content: expected a string, got null",
        ),
        (
            message_list({"role": "user", "content": "a\x00b"}),
            "messages[0].content: contains a NUL byte",
        ),
        (
            message_list({**USER, "content_null": True}),
            "messages[0].content_null: this key is reserved",
        ),
        ({"messages": []}, "messages: empty conversation"),
        ({"messages": None}, "messages: expected a list of messages, got null"),
        ({"tools": []}, "messages: missing"),
        ({**message_list(USER), "tools": {}}, "tools: expected a list of tools, got object"),
        ({"input": [], "preferred_output": []}, "input: expected an object, got list"),
        ({"input": {}, "preferred_output": []}, "input.messages: missing"),
        (
            {
                "input": {"messages": [USER]},
                "preferred_output": [{"role": "assistant", "content": "a"}],
            },
            "non_preferred_output: missing",
        ),
        (
            {"input": {"messages": [USER], "tools": "[]"}, "preferred_output": []},
            "input.tools: expected a list of tools, got string",
        ),
        (
            message_list(USER, {"role": "tool", "content": 1}),
            "messages[1].content: expected a string, got number",
        ),
    ],
)
def test_errors_name_the_field(record: dict[str, Any], message: str) -> None:
    with pytest.raises(FormatError, match="^" + re.escape(message)):
        openai.parse(record)


def test_long_ids_are_an_error() -> None:
    """An id of more than 200 characters stayed in metadata, so each push stored it anew."""
    with pytest.raises(FormatError, match=r"^id: 201 characters, more than 200$"):
        openai.parse({**message_list(USER), "id": "x" * 201})
