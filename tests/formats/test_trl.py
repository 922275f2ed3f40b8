"""TRL: standard and conversational prompt-completion, preference, implicit prompts, KTO."""

import re
from typing import Any

import pytest

from app.canonical import CanonicalExample
from app.formats import FormatError, trl

from .cases import load_cases

CASES = load_cases("trl")


def test_standard_prompt_completion_is_a_user_and_an_assistant_turn() -> None:
    example = trl.parse(CASES["standard_prompt_completion"])
    assert [(m.role, m.content) for m in example.messages] == [
        ("user", "The sky is"),
        ("assistant", " blue."),
    ]


def test_conversational_completion_of_several_messages() -> None:
    example = trl.parse(CASES["conversational_multi_message_completion"])
    assert [m.role for m in example.messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    assert example.tools is not None


def test_preference_puts_the_prompt_in_messages() -> None:
    example = trl.parse(CASES["conversational_preference"])
    assert [m.role for m in example.messages] == ["user"]
    assert [(a.label, a.messages[0].content) for a in example.alternatives] == [
        ("chosen", "It is blue."),
        ("rejected", "It is green."),
    ]


def test_implicit_prompt_is_the_shared_leading_messages() -> None:
    example = trl.parse(CASES["implicit_prompt"])
    assert [m.content for m in example.messages] == ["What color is the sky?"]
    assert [len(a.messages) for a in example.alternatives] == [1, 3]


def test_kto_label_and_llamafactory_messages_shape() -> None:
    assert trl.parse(CASES["kto_standard"]).label is False
    example = trl.parse(CASES["llamafactory_kto_messages"])
    assert example.label is True
    assert [m.role for m in example.messages] == ["user", "assistant"]


def test_examples_from_elsewhere_dump_conversational() -> None:
    example = CanonicalExample.model_validate(
        {
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            "label": True,
        }
    )
    assert trl.dump(example) == {
        "prompt": [{"role": "user", "content": "q"}],
        "completion": [{"role": "assistant", "content": "a"}],
        "label": True,
    }


USER = [{"role": "user", "content": "q"}]
ANSWER = [{"role": "assistant", "content": "a"}]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {"prompt": "q", "completion": ANSWER},
            "completion: expected a string like prompt, got list",
        ),
        (
            {"prompt": USER, "completion": "a"},
            "completion: expected a list of messages, got string",
        ),
        ({"prompt": 5, "completion": "a"}, "prompt: expected a list of messages, got number"),
        (
            {"prompt": "q", "chosen": "a", "rejected": None},
            "rejected: expected a string like prompt, got null",
        ),
        ({"chosen": "a", "rejected": "b"}, "prompt: missing (two texts with no prompt"),
        (
            {"chosen": "The answer is 4.", "rejected": "The answer is 5."},
            "prompt: missing (two texts with no prompt",
        ),
        ({"chosen": "a", "rejected": USER}, "prompt: missing (an implicit prompt needs"),
        ({"prompt": "q", "chosen": "a"}, "rejected: missing"),
        ({"chosen": ANSWER, "rejected": USER}, "chosen, rejected: no shared prompt messages"),
        # It said "(and no prompt key)" of a record whose prompt is there, as text.
        (
            {"prompt": "q", "chosen": ANSWER, "rejected": ANSWER},
            "prompt: text, but chosen and rejected are message lists that share no prompt",
        ),
        (
            {"prompt": USER, "completion": [{"role": "bot", "content": "a"}]},
            "completion[0].role: unknown role 'bot'",
        ),
        ({"messages": [], "label": True}, "messages: empty conversation"),
    ],
)
def test_errors_name_the_field(record: dict[str, Any], message: str) -> None:
    with pytest.raises(FormatError, match="^" + re.escape(message)):
        trl.parse(record)


def test_standard_dump_refuses_a_multi_turn_prompt() -> None:
    example = trl.parse(CASES["standard_prompt_completion"])
    example.messages.insert(0, example.messages[0])
    with pytest.raises(FormatError, match=r"^messages: the text form needs a single user message"):
        trl.dump(example)


def test_two_transcripts_as_text_share_their_beginning_as_the_prompt() -> None:
    """Anthropic's HH-RLHF (chosen and rejected whole transcripts, no prompt) was refused:
    'prompt: missing'. The prompt ends after the last 'Assistant:' the two share, so replies
    that begin alike ('A small...', 'A kind...') are not cut after their first word; it is
    written back as the two texts it came as."""
    record = CASES["hh_rlhf_text_pair"]
    example = trl.parse(record)
    assert [(m.role, m.content) for m in example.messages] == [
        ("user", "\n\nHuman: What is a quokka?\n\nAssistant:")
    ]
    assert [(a.label, a.messages[0].content) for a in example.alternatives] == [
        ("chosen", " A small wallaby from Western Australia."),
        ("rejected", " A kind of bird."),
    ]
    assert trl.dump(example) == record


def test_a_kto_label_given_as_text_is_the_label() -> None:
    """A CSV or Parquet string column holds 'true'/'false': the label was left in metadata
    and every undesirable completion became a plain example."""
    for text, label in [("false", False), ("True", True), (" FALSE ", False)]:
        record = {"prompt": "Is the sky green?", "completion": "Yes.", "label": text}
        example = trl.parse(record)
        assert example.label is label and set(example.metadata) <= {"_layout"}
        assert trl.dump(example) == record
    other = trl.parse({"prompt": "q", "completion": "a", "label": "maybe"})
    assert other.label is None and other.metadata["label"] == "maybe"


def test_ultrafeedback_keeps_its_pair_once_and_is_written_back_whole() -> None:
    """UltraFeedback's `messages` (the chosen conversation again) and `prompt` (its first
    turn) were kept in metadata: each example held the chosen answer twice."""
    record = CASES["ultrafeedback_binarized"]
    example = trl.parse(record)
    assert "messages" not in example.metadata and "prompt" not in example.metadata
    assert [(a.label, a.messages[0].content) for a in example.alternatives] == [
        ("chosen", "4"),
        ("rejected", "5"),
    ]
    assert trl.dump(example) == record
    # A prompt that says something else than the first turn is kept as it was.
    other = trl.parse({**record, "prompt": "Something else"})
    assert (
        other.metadata["prompt"] == "Something else"
        and trl.dump(other)["prompt"] == "Something else"
    )


def test_messages_beside_whole_responses_are_the_prompt() -> None:
    """{messages, chosen, rejected} with no shared beginning was read as an OpenAI chat with
    the pair left in metadata, then refused: 'no shared prompt messages'."""
    record = {
        "messages": [{"role": "user", "content": "Pick a colour."}],
        "chosen": [{"role": "assistant", "content": "Blue."}],
        "rejected": [{"role": "assistant", "content": "Loud."}],
    }
    example = trl.parse(record)
    assert [m.content for m in example.messages] == ["Pick a colour."]
    assert [a.messages[0].content for a in example.alternatives] == ["Blue.", "Loud."]
    assert trl.dump(example) == record
