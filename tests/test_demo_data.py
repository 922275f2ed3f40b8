"""The shipped demo dataset: every line a valid CanonicalExample, varied and distinct."""

import json
import re
from pathlib import Path

import pytest

from app.canonical import CanonicalExample, content_hash

DEMO_FILE = Path(__file__).resolve().parents[1] / "app" / "demo_examples.jsonl"
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
XSS_PROMPT = "<script>alert(1)</script> What does this HTML do?"


def _all_text(example: CanonicalExample) -> str:
    parts = [m.content for m in example.messages]
    parts += [m.content for alt in example.alternatives for m in alt.messages]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def examples() -> list[CanonicalExample]:
    loaded = []
    with DEMO_FILE.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            assert line.strip(), f"line {number} is blank"
            loaded.append(CanonicalExample.model_validate(json.loads(line)))
    return loaded


def test_count_between_50_and_70(examples: list[CanonicalExample]) -> None:
    assert 50 <= len(examples) <= 70


def test_external_ids_present_and_unique(examples: list[CanonicalExample]) -> None:
    ids = [e.external_id for e in examples]
    assert all(ids)
    assert len(set(ids)) == len(ids)


def test_content_is_unique(examples: list[CanonicalExample]) -> None:
    hashes = [content_hash(e) for e in examples]
    assert len(set(hashes)) == len(hashes)


def test_metadata_shape(examples: list[CanonicalExample]) -> None:
    for e in examples:
        assert e.metadata["source"] == "sift-demo", e.external_id
        assert isinstance(e.metadata["category"], str), e.external_id
        assert isinstance(e.metadata["tags"], list), e.external_id


def test_at_least_15_chinese(examples: list[CanonicalExample]) -> None:
    chinese = [e for e in examples if HAN.search(_all_text(e))]
    assert len(chinese) >= 15


def test_at_least_5_with_alternatives(examples: list[CanonicalExample]) -> None:
    assert sum(1 for e in examples if e.alternatives) >= 5


def test_at_least_8_multi_turn(examples: list[CanonicalExample]) -> None:
    multi = [e for e in examples if len([m for m in e.messages if m.role != "system"]) > 2]
    assert len(multi) >= 8


def test_has_script_for_escaping(examples: list[CanonicalExample]) -> None:
    assert any("<script>" in _all_text(e) for e in examples)
    assert any(m.content == XSS_PROMPT for e in examples for m in e.messages)
