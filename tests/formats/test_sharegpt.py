"""ShareGPT: roles, system field, tools as JSON text, tool calls, preference and ranked lists."""

import json
import re
from typing import Any

import pytest

from app.canonical import CanonicalExample, Message, content_hash
from app.formats import FormatError, openai, sharegpt

from .cases import load_cases

CASES = load_cases("sharegpt")


def test_roles_map_and_usual_names_leave_no_trace() -> None:
    example = sharegpt.parse(CASES["plain_with_id"])
    assert [m.role for m in example.messages] == ["user", "assistant", "user", "assistant"]
    assert all(not m.model_extra for m in example.messages)
    assert example.external_id == "identity_0"
    assert example.metadata == {}


def test_unusual_role_names_are_kept_on_the_message() -> None:
    example = sharegpt.parse(CASES["user_assistant_tool_names"])
    assert [m.role for m in example.messages] == ["user", "assistant", "tool", "assistant"]
    assert [(m.model_extra or {}).get("from") for m in example.messages] == [
        "user",
        "assistant",
        "tool",
        None,
    ]


def test_system_field_becomes_the_first_message() -> None:
    example = sharegpt.parse(CASES["system_field_and_turn"])
    assert [(m.role, m.content) for m in example.messages[:2]] == [
        ("system", "Outer."),
        ("system", "Inner."),
    ]


def test_tools_string_is_parsed_and_function_calls_become_tool_calls() -> None:
    example = sharegpt.parse(CASES["tools_string_and_calls"])
    assert example.tools is not None and example.tools[0]["name"] == "convert_currency"
    call = example.messages[1]
    assert (call.role, call.content) == ("assistant", "")
    assert call.model_extra == {
        "tool_calls": [
            {
                "type": "function",
                "function": {
                    "name": "convert_currency",
                    "arguments": '{"amount": 100, "from": "USD", "to": "EUR"}',
                },
            }
        ]
    }
    assert example.messages[2].role == "tool"


def test_empty_tools_string_is_an_empty_list() -> None:
    assert sharegpt.parse(CASES["tools_empty_string"]).tools == []


def test_function_call_text_that_would_not_round_trip_is_kept_as_text() -> None:
    message = sharegpt.parse(CASES["function_call_raw_text"]).messages[1]
    assert message.role == "assistant"
    assert message.content.startswith('{"arguments"')
    assert message.model_extra == {"from": "function_call"}


def test_parallel_calls_give_two_tool_calls() -> None:
    message = sharegpt.parse(CASES["parallel_calls"]).messages[1]
    assert len((message.model_extra or {})["tool_calls"]) == 2


def test_preference_pair_is_prompt_plus_labelled_alternatives() -> None:
    example = sharegpt.parse(CASES["preference_pair"])
    assert [m.role for m in example.messages] == ["system", "user"]
    assert [(a.label, a.messages[0].content) for a in example.alternatives] == [
        ("chosen", "Mars."),
        ("rejected", "The Moon."),
    ]


def test_ranked_responses_carry_their_rank() -> None:
    example = sharegpt.parse(CASES["ranked_responses"])
    assert [(a.rank, a.messages[0].content) for a in example.alternatives] == [
        (1, "A cat."),
        (3, "A rock."),
        (1, "A dog."),
    ]


def test_boolean_label_is_kto_and_other_labels_stay_metadata() -> None:
    assert sharegpt.parse(CASES["kto_label"]).label is False
    example = sharegpt.parse(CASES["turn_extras_and_form_feed"])
    assert example.label is None
    assert example.metadata == {"lang": "en", "label": "spam"}
    assert example.messages[0].content == "Page\fbreak"
    assert example.messages[1].model_extra == {"weight": 0, "markdown": "**Noted.**"}


def test_same_conversation_hashes_the_same_as_openai() -> None:
    shared = sharegpt.parse(CASES["system_field"])
    chat = openai.parse(
        {
            "messages": [
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
            ]
        }
    )
    assert content_hash(shared) == content_hash(chat)


def test_openai_tool_calls_dump_as_function_call_turns() -> None:
    example = openai.parse(
        {
            "messages": [
                {"role": "user", "content": "Ping"},
                {
                    "role": "assistant",
                    "content": "Let me check.",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "ping", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "content": "pong"},
            ]
        }
    )
    turns = sharegpt.dump(example)["conversations"]
    assert turns[1:] == [
        {"from": "gpt", "value": "Let me check."},
        {"from": "function_call", "value": '{"name": "ping", "arguments": {}}'},
        {"from": "observation", "value": "pong"},
    ]


def test_changed_tools_are_written_as_a_fresh_json_string() -> None:
    example = sharegpt.parse(CASES["tools_string_odd_spacing"])
    example.tools = [{"name": "other"}]
    assert sharegpt.dump(example)["tools"] == json.dumps([{"name": "other"}])


def test_role_content_turns_are_the_same_conversation_as_from_value_ones() -> None:
    """Hub datasets often write ShareGPT turns as {role, content} (LLaMA-Factory reads them
    with role_tag and content_tag): every such record was refused ("conversations[0].from:
    missing"). They parse to the same messages, so the same conversation in both shapes is
    one example, and each is written back in its own shape."""
    chat = CASES["role_content_turns"]
    plain = {
        "system": "Be brief.",
        "conversations": [
            {"from": "human", "value": "Hi"},
            {"from": "gpt", "value": "Hello.", "weight": 0},
            {"from": "human", "value": "Bye"},
            {"from": "gpt", "value": "Bye!"},
        ],
    }
    from_chat, from_plain = sharegpt.parse(chat), sharegpt.parse(plain)
    assert from_chat.messages == from_plain.messages
    assert [m.role for m in from_chat.messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert content_hash(from_chat) == content_hash(from_plain)
    assert sharegpt.dump(from_chat) == chat and sharegpt.dump(from_plain) == plain
    pair = sharegpt.parse(CASES["role_content_pair"])
    assert [(a.messages[0].content, a.label) for a in pair.alternatives] == [
        ("This one.", "chosen"),
        ("No.", "rejected"),
    ]


def conversation(*turns: dict[str, Any]) -> dict[str, Any]:
    return {"conversations": list(turns)}


HI = {"from": "human", "value": "Hi"}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            conversation(HI, {"from": "gpt", "value": "x"}, {"from": "bot", "value": "y"}),
            "conversations[2].from: unknown role 'bot'",
        ),
        (conversation({"value": "x"}), "conversations[0].from: missing"),
        (
            conversation(HI, {"from": "gpt", "value": 4}),
            "conversations[1].value: expected a string, got number",
        ),
        (conversation(HI, {"from": "gpt"}), "conversations[1].value: missing"),
        (
            conversation(HI, {"from": "gpt", "value": None}),
            "conversations[1].value: expected a string, got null",
        ),
        (conversation(), "conversations: empty conversation"),
        ({"conversations": "hi"}, "conversations: expected a list of messages, got string"),
        (conversation("hi"), "conversations[0]: expected an object, got string"),
        (
            conversation(HI, {"from": "gpt", "value": "a\x00"}),
            "conversations[1].value: contains a NUL byte",
        ),
        (conversation({**HI, "role": "user"}), "conversations[0].role: clashes with"),
        # {role, content} turns, decided by the first turn, hold for the whole record.
        (
            conversation({"role": "user", "content": "Hi"}, {"from": "gpt", "value": "x"}),
            "conversations[1].role: missing",
        ),
        (
            conversation({"role": "human", "content": "Hi"}),
            "conversations[0].role: unknown role 'human'",
        ),
        (
            conversation({"role": "user", "content": ["Hi"]}),
            "conversations[0].content: expected a string, got list",
        ),
        (
            {**conversation({"role": "user", "content": "Hi"}), "chosen": "yes", "rejected": "no"},
            "chosen: expected a {role, content} object, got string",
        ),
        ({**conversation(HI), "tools": "[oops"}, "tools: not valid JSON"),
        ({**conversation(HI), "tools": "{}"}, "tools: expected a JSON list of tools, got object"),
        ({**conversation(HI), "tools": 3}, "tools: expected a list of tools, got number"),
        (
            {**conversation(HI), "chosen": {"from": "gpt", "value": "a"}},
            "rejected: missing",
        ),
        (
            {
                **conversation(HI),
                "chosen": {"from": "bot", "value": "a"},
                "rejected": {"from": "gpt", "value": "b"},
            },
            "chosen.from: unknown role 'bot'",
        ),
        (
            {**conversation(HI), "responses": [HI], "ranking": [1, 2]},
            "ranking: expected a list of 1 ranks",
        ),
        (
            {**conversation(HI), "responses": [HI], "ranking": [0]},
            "ranking[0]: expected a whole number >= 1",
        ),
        (
            {**conversation(HI), "responses": [{"from": "gpt", "value": None}], "ranking": [1]},
            "responses[0].value: expected a string",
        ),
        (
            {**conversation(HI), "id": "x" * 201, "system": 5},
            "system: expected a string, got number",
        ),
        # Python's json reads NaN, which JSON has not: stored, the tool's default became null.
        (
            {**conversation(HI), "tools": '[{"name": "f", "default": NaN}]'},
            "tools: not valid JSON (NaN is not JSON)",
        ),
        # Sift's own layout hints: accepted here, they were dropped when written back.
        (
            conversation(HI, {"from": "function_call", "value": "{}", "content_null": True}),
            "conversations[1].content_null: this key is reserved for Sift's layout hints",
        ),
        # Both shapes of preference: stored, the example could not be written back.
        (
            {
                **conversation(HI),
                "chosen": {"from": "gpt", "value": "a"},
                "rejected": {"from": "gpt", "value": "b"},
                "responses": [{"from": "gpt", "value": "a"}],
                "ranking": [1],
            },
            "responses: a record holds one chosen and one rejected response, or a ranked list",
        ),
    ],
)
def test_errors_name_the_field(record: dict[str, Any], message: str) -> None:
    with pytest.raises(FormatError, match="^" + re.escape(message)):
        sharegpt.parse(record)


def test_dump_refuses_alternatives_it_cannot_hold() -> None:
    example = CanonicalExample.model_validate(
        {
            "messages": [{"role": "user", "content": "q"}],
            "alternatives": [
                {"messages": [{"role": "assistant", "content": "a"}], "label": "chosen"},
                {"messages": [{"role": "assistant", "content": "b"}], "rank": 2},
            ],
        }
    )
    with pytest.raises(FormatError, match=r"^alternatives: sharegpt holds exactly one chosen"):
        sharegpt.dump(example)
    example.alternatives[0].messages.append(Message(role="assistant", content="c"))
    with pytest.raises(FormatError, match=r"^alternatives: sharegpt holds single-message"):
        sharegpt.dump(example)


def test_empty_tools_text_means_no_tools_and_is_written_back() -> None:
    """LLaMA-Factory writes "tools": "" on records without tools beside records with some
    (and an empty CSV or Parquet cell reads so): such records were refused as invalid JSON."""
    record = {**conversation(HI, {"from": "gpt", "value": "Hello"}), "tools": ""}
    example = sharegpt.parse(record)
    assert example.tools is None and example.metadata.get("tools") is None
    stored = CanonicalExample.model_validate(example.model_dump(mode="json"))
    assert sharegpt.dump(stored) == record


CALL = {"type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}


def test_a_response_with_text_and_calls_is_refused_not_cut_to_its_text() -> None:
    """Such a response is two ShareGPT turns (gpt, then function_call), and chosen holds one:
    the call was dropped without a word."""
    example = openai.parse(
        {
            "input": {"messages": [{"role": "user", "content": "Weather in Oslo?"}]},
            "preferred_output": [
                {"role": "assistant", "content": "Let me check.", "tool_calls": [CALL]}
            ],
            "non_preferred_output": [{"role": "assistant", "content": "No idea."}],
        }
    )
    with pytest.raises(FormatError, match=r"^alternatives: sharegpt holds one turn a response"):
        sharegpt.dump(example)


def test_tool_calls_the_function_call_text_cannot_hold_are_refused() -> None:
    """A call whose function is not an object crashed the export (AttributeError), and one
    that was not an object at all came out as {"name": null, "arguments": null}."""
    for calls in ([{"id": "1", "type": "function", "function": "weather"}], ["weather"]):
        example = openai.parse(
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": None, "tool_calls": calls},
                ]
            }
        )
        with pytest.raises(FormatError, match=r"^tool_calls\[0\]: a function_call turn holds"):
            sharegpt.dump(example)
