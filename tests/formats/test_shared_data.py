"""Real public datasets in ../shared/data: every record is read, parsed and dumped back exactly."""

from pathlib import Path

import pytest

from app.formats import FORMATS, detect
from app.formats.containers import read_records
from app.formats.records import BadRecord

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".parquet", ".gz", ".zst")
FILES = sorted(p for p in DATA.glob("*") if p.suffix in SUFFIXES) if DATA.is_dir() else []
# The file name prefix says which format a file is in (see ../shared/data/MANIFEST.md).
EXPECTED = {
    "alpaca": "alpaca",
    "alpaca-history": "alpaca",
    "sharegpt": "sharegpt",
    "sharegpt-tools": "sharegpt",
    "pref-sharegpt": "sharegpt",
    "messages-kto": "trl",
}

pytestmark = pytest.mark.shared_data


@pytest.mark.parametrize("path", FILES or [None], ids=[p.name for p in FILES] or ["absent"])
def test_every_record_round_trips(path: Path | None) -> None:
    if path is None:
        pytest.skip("../shared/data not found: real-data tests skipped")
    fmt = None
    count = 0
    for item in read_records(path):
        assert not isinstance(item, BadRecord), item
        fmt = fmt or detect(item.data)
        module = FORMATS[fmt]
        assert module.dump(module.parse(item.data)) == item.data, f"record {item.number}"
        count += 1
    assert count > 0
    prefix = path.name.split("_", 1)[0]
    assert fmt == EXPECTED.get(prefix, fmt)
