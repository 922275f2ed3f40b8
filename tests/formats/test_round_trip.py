"""Every fixture record of every format parses and dumps back to exactly itself."""

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.canonical import CanonicalExample, content_hash
from app.formats import FORMATS, FormatError, detect, dump_record, parse_record
from app.services.ingest import Limits, parse_item
from tests.generated import generated_cases, json_values

from .cases import all_cases

CASES = all_cases()


@pytest.mark.parametrize(("fmt", "case", "record"), CASES, ids=[f"{f}-{c}" for f, c, _ in CASES])
def test_round_trip_is_exact(fmt: str, case: str, record: dict[str, Any]) -> None:
    original = copy.deepcopy(record)
    example = FORMATS[fmt].parse(record)
    assert isinstance(example, CanonicalExample)
    assert FORMATS[fmt].dump(example) == original
    assert record == original  # parse does not mutate its input
    content_hash(example)  # the canonical form hashes


@pytest.mark.parametrize(("fmt", "case", "record"), CASES, ids=[f"{f}-{c}" for f, c, _ in CASES])
def test_detect_names_the_fixture_format(fmt: str, case: str, record: dict[str, Any]) -> None:
    assert detect(record) == fmt
    assert dump_record(parse_record(record), fmt) == record


@pytest.mark.parametrize(("fmt", "case", "record"), CASES, ids=[f"{f}-{c}" for f, c, _ in CASES])
def test_example_survives_json_storage(fmt: str, case: str, record: dict[str, Any]) -> None:
    stored = parse_record(record).model_dump(mode="json")  # what the database keeps
    assert dump_record(CanonicalExample.model_validate(stored), fmt) == record


# Generated variants of every fixture record (Hypothesis): its texts replaced by generated ones
# (empty, whitespace at the ends, line breaks, CJK, emoji, control characters) and fields the
# format does not know added; whatever ingest accepts must dump back to exactly the record,
# also after the canonical example is dumped to JSON and read back.
TEXT_KEYS = {
    "instruction", "input", "output", "system", "content", "value", "context", "response",
    "prompt", "completion", "chosen", "rejected", "category",
}  # fmt: skip
new_texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "\n", " padded ", "line\nbreak\n", "学生\u3000的", "🦘", "\t"]),
)


def _vary(value: Any, key: str | None, data: st.DataObject) -> Any:
    if isinstance(value, str) and key in TEXT_KEYS:
        return data.draw(st.one_of(st.just(value), new_texts), label=f"{key}")
    if isinstance(value, list):
        return [_vary(item, key, data) for item in value]
    if isinstance(value, dict):
        return {k: _vary(v, k, data) for k, v in value.items()}
    return value


extra_fields = st.dictionaries(
    st.text(min_size=1, max_size=8).map(lambda k: f"x_{k}"), json_values, max_size=2
)


@generated_cases(300)
@given(case=st.sampled_from(CASES), data=st.data(), extra=extra_fields)
def test_generated_variants_round_trip_exactly(
    case: tuple[str, str, dict[str, Any]], data: st.DataObject, extra: dict[str, Any]
) -> None:
    fmt, _, fixture = case
    record = {**_vary(copy.deepcopy(fixture), None, data), **extra}
    original = copy.deepcopy(record)
    try:
        example = parse_item(record, fmt, Limits())  # the format, and ingest's own checks
    except FormatError:
        return  # refused with a message naming the field: tested elsewhere, case by case
    assert FORMATS[fmt].dump(example) == original
    stored = example.model_dump(mode="json")
    assert FORMATS[fmt].dump(CanonicalExample.model_validate(stored)) == original
