"""Fixture records for the format tests: tests/fixtures/formats/<format>.json = {case: record}."""

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"


def load_cases(fmt: str) -> dict[str, dict[str, Any]]:
    """The named fixture records of one format."""
    cases: dict[str, dict[str, Any]] = json.loads((FIXTURES / f"{fmt}.json").read_text("utf-8"))
    return cases


def all_cases() -> list[tuple[str, str, dict[str, Any]]]:
    """(format, case, record) for every fixture record of every format."""
    return [
        (path.stem, case, record)
        for path in sorted(FIXTURES.glob("*.json"))
        for case, record in json.loads(path.read_text("utf-8")).items()
    ]
