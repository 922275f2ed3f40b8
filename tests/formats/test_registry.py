"""The registry: detection, parse_record, dump_record and their errors."""

import re

import pytest

from app.formats import FORMATS, FormatError, detect, dump_record, parse_record


def test_every_format_module_offers_the_same_functions() -> None:
    assert set(FORMATS) == {"alpaca", "dolly", "openai", "sharegpt", "trl"}
    for module in FORMATS.values():
        assert callable(module.parse) and callable(module.dump) and callable(module.sniff)


def test_detect_lists_what_it_saw_when_nothing_matches() -> None:
    with pytest.raises(
        FormatError, match=r"^record: no known format has the keys answer, question;"
    ):
        detect({"question": "q", "answer": "a"})


def test_records_must_be_objects() -> None:
    with pytest.raises(FormatError, match=r"^record: expected a JSON object, got list"):
        parse_record([1, 2])
    with pytest.raises(FormatError, match=r"^record: expected a JSON object, got string"):
        detect("text")


def test_explicit_format_skips_detection() -> None:
    example = parse_record(
        {"instruction": "i", "input": "", "output": "o", "response": "r"}, "alpaca"
    )
    assert example.metadata == {"response": "r"}


def test_unknown_format_names_are_errors() -> None:
    with pytest.raises(FormatError, match=re.escape("format: unknown format 'yaml'")):
        parse_record({"messages": []}, "yaml")


def test_cross_format_export() -> None:
    example = parse_record({"instruction": "Say hi", "input": "", "output": "Hi"})
    assert dump_record(example, "sharegpt") == {
        "conversations": [{"from": "human", "value": "Say hi"}, {"from": "gpt", "value": "Hi"}]
    }
    assert dump_record(example, "openai") == {
        "messages": [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi"}]
    }


def test_hub_shapes_are_detected_as_what_they_hold() -> None:
    """UltraFeedback's binarized set keeps the chosen conversation as `messages` too: it was
    read as a plain chat, its preference pair left in metadata (and with --format trl it was
    refused: 'chosen: expected a string like prompt'). LMSYS-Chat-1M and WildChat name their
    list `conversation`: no format took them."""
    ask = {"role": "user", "content": "What is 2+2?"}
    good, bad = {"role": "assistant", "content": "4"}, {"role": "assistant", "content": "5"}
    ultra = {
        "prompt": "What is 2+2?",
        "chosen": [ask, good],
        "rejected": [ask, bad],
        "messages": [ask, good],
        "score_chosen": 9.0,
    }
    assert detect(ultra) == "trl"
    example = parse_record(ultra)
    assert [(m.role, m.content) for m in example.messages] == [("user", "What is 2+2?")]
    assert [(a.label, a.messages[0].content) for a in example.alternatives] == [
        ("chosen", "4"),
        ("rejected", "5"),
    ]
    assert "score_chosen" in example.metadata  # prompt and messages: written back from the pair
    assert dump_record(example, "trl") == ultra
    chat = {
        "conversation": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
    }
    assert detect(chat) == "sharegpt"
    example = parse_record({**chat, "model": "vicuna-13b"})
    assert [m.role for m in example.messages] == ["user", "assistant"]
    assert example.metadata["model"] == "vicuna-13b"
    assert dump_record(example, "sharegpt") == {**chat, "model": "vicuna-13b"}
    # LLaMA-Factory's preference set with OpenAI tags: messages, then chosen/rejected objects.
    factory = {"messages": chat["conversation"][:1], "chosen": good, "rejected": bad}
    assert detect(factory) == "sharegpt"
    example = parse_record(factory)
    assert [(a.label, a.messages[0].content) for a in example.alternatives] == [
        ("chosen", "4"),
        ("rejected", "5"),
    ]
    assert dump_record(example, "sharegpt") == factory
    with pytest.raises(FormatError, match=r"^conversation\[1\]\.role: missing"):
        parse_record({"conversation": [{"role": "user", "content": "Hi"}, {"content": "x"}]})
