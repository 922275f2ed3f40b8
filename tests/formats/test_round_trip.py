"""Every fixture record of every format parses and dumps back to exactly itself."""

import copy
from typing import Any

import pytest

from app.canonical import CanonicalExample, content_hash
from app.formats import FORMATS, detect, dump_record, parse_record

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
