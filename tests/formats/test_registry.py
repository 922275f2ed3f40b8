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
