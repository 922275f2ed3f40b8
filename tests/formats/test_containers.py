"""Containers: JSON arrays, JSONL, CSV/TSV, Parquet, gzip and zstd all yield the same records."""

import codecs
import csv
import gzip
import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from app.formats import FormatError, json_array
from app.formats.containers import detect_container, read_records, write_jsonl
from app.formats.records import BadRecord, Record

RECORDS: list[dict[str, Any]] = [
    {"instruction": "Give three tips.", "input": "", "output": "1. Eat.\n2. Move.\n3. Sleep."},
    {"instruction": 'Quote "this", please', "input": "a,b\tc", "output": "“done” ✓"},
    {"instruction": "翻译成英文", "input": "你好", "output": "Hello 👋"},
]


def json_bytes(records: list[dict[str, Any]]) -> bytes:
    return json.dumps(records, ensure_ascii=False, indent=2).encode("utf-8")


def jsonl_bytes(records: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    write_jsonl(records, buffer)
    return buffer.getvalue()


def table_bytes(records: list[dict[str, Any]], delimiter: str) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(records[0]), delimiter=delimiter)
    writer.writeheader()
    writer.writerows(records)
    return text.getvalue().encode("utf-8")


def parquet_bytes(records: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(records), buffer, row_group_size=2)
    return buffer.getvalue()


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


FILES: dict[str, Callable[[], bytes]] = {
    "data.json": lambda: json_bytes(RECORDS),
    "compact.json": lambda: json.dumps(RECORDS).encode(),
    "bom.json": lambda: codecs.BOM_UTF8 + json_bytes(RECORDS),
    "data.jsonl": lambda: jsonl_bytes(RECORDS),
    "data.ndjson": lambda: codecs.BOM_UTF8 + jsonl_bytes(RECORDS).replace(b"\n", b"\r\n"),
    "data.csv": lambda: table_bytes(RECORDS, ","),
    "data.tsv": lambda: table_bytes(RECORDS, "\t"),
    "data.parquet": lambda: parquet_bytes(RECORDS),
    "data.json.gz": lambda: gzip.compress(json_bytes(RECORDS)),
    "data.jsonl.gz": lambda: gzip.compress(jsonl_bytes(RECORDS)),
    "data.jsonl.zst": lambda: zstd(jsonl_bytes(RECORDS)),
    "data.csv.zst": lambda: zstd(table_bytes(RECORDS, ",")),
    "data.parquet.gz": lambda: gzip.compress(parquet_bytes(RECORDS)),
}


def records_of(items: list[Record | BadRecord]) -> list[dict[str, Any]]:
    assert all(isinstance(item, Record) for item in items), items
    return [item.data for item in items if isinstance(item, Record)]


@pytest.mark.parametrize("name", FILES)
def test_every_container_yields_the_same_records(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(FILES[name]())
    assert records_of(list(read_records(path))) == RECORDS
    assert records_of(list(read_records(str(path)))) == RECORDS
    with path.open("rb") as stream:
        assert records_of(list(read_records(stream))) == RECORDS
        assert not stream.closed


@pytest.mark.parametrize("name", [n for n in FILES if ".csv" not in n and ".tsv" not in n])
def test_content_alone_is_enough_to_detect(name: str) -> None:
    stream = io.BytesIO(FILES[name]())
    assert records_of(list(read_records(stream))) == RECORDS


def test_tsv_without_a_name_is_detected_by_its_tabs() -> None:
    stream = io.BytesIO(b"instruction\toutput\nq\ta\n")
    assert records_of(list(read_records(stream))) == [{"instruction": "q", "output": "a"}]


def test_column_mapping_renames_and_nests_fields() -> None:
    data = b"q\ta\tlang\textra\nWhat?\tThat.\ten\tx\n"
    mapping = {"q": "instruction", "a": "output", "lang": "meta.language"}
    items = list(read_records(io.BytesIO(data), "tsv", columns=mapping))
    assert records_of(items) == [
        {"instruction": "What?", "output": "That.", "meta": {"language": "en"}, "extra": "x"}
    ]


def test_column_mapping_applies_to_parquet() -> None:
    data = parquet_bytes([{"q": "What?", "a": "That."}])
    items = list(read_records(io.BytesIO(data), columns={"q": "instruction", "a": "output"}))
    assert records_of(items) == [{"instruction": "What?", "output": "That."}]


def test_parquet_keeps_nested_values() -> None:
    record = {"id": "x", "conversations": [{"from": "human", "value": "Hi"}]}
    assert records_of(list(read_records(io.BytesIO(parquet_bytes([record]))))) == [record]


def test_numbers_are_lines_for_jsonl_and_csv_and_indices_for_arrays() -> None:
    jsonl = b'{"a": 1}\n\n   \n{"a": 2}\n'
    assert [item.number for item in read_records(io.BytesIO(jsonl))] == [1, 4]
    table = b'a,b\n"multi\nline",1\n\nx,2\n'
    items = list(read_records(io.BytesIO(table), "csv"))
    assert [(item.number, records_of([item])) for item in items] == [
        (2, [{"a": "multi\nline", "b": "1"}]),
        (5, [{"a": "x", "b": "2"}]),
    ]
    assert [item.number for item in read_records(io.BytesIO(b'[{"a": 1},\n{"a": 2}]'))] == [1, 2]


def test_bad_jsonl_lines_are_reported_and_skipped() -> None:
    data = b'{"a": 1}\n{"a": \n{"a": "\xff"}\n[1]\n{"a": 5}\n'
    items = list(read_records(io.BytesIO(data), "jsonl"))
    assert items == [
        Record(1, {"a": 1}),
        BadRecord(2, "line 2: invalid JSON (Expecting value, column 7)"),
        BadRecord(3, "line 3: invalid UTF-8 at byte 8"),
        BadRecord(4, "line 4: expected a JSON object, got list"),
        Record(5, {"a": 5}),
    ]


def test_jsonl_values_come_back_exactly_whichever_parser_reads_them() -> None:
    """Lines orjson reads and lines it leaves to the json module give the same values: big
    integers stay integers, a BOM, NaN, tabs inside strings and lone surrogates still read."""
    data = (
        b'\xef\xbb\xbf{"a": 1}\n'
        b'{"a": 123456789012345678901234567890, "b": 18446744073709551615}\n'
        b'{"a": NaN}\n{"a": "x\ty"}\n{"a": "\\ud800"}\n{"a": 0.1, "b": -0.0, "c": [true, null]}\n'
    )
    values = [
        item.data for item in read_records(io.BytesIO(data), "jsonl") if isinstance(item, Record)
    ]
    assert values[0] == {"a": 1}
    assert values[1] == {"a": 123456789012345678901234567890, "b": 18446744073709551615}
    assert isinstance(values[1]["a"], int)
    assert math.isnan(values[2]["a"])
    assert values[3:] == [{"a": "x\ty"}, {"a": "\ud800"}, {"a": 0.1, "b": -0.0, "c": [True, None]}]


def test_bad_array_elements_are_reported_and_reading_goes_on() -> None:
    data = b'[\n{"a": 1},\n{"a": "\xfe"},\n"text",\n{"a": 4}\n]'
    assert list(read_records(io.BytesIO(data))) == [
        Record(1, {"a": 1}),
        BadRecord(2, "record 2, line 3, column 1: invalid UTF-8"),
        BadRecord(3, "record 3: expected a JSON object, got string"),
        Record(4, {"a": 4}),
    ]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b'[{"a": 1},\n {"a" 2}]', "record 2, line 2, column 7: invalid JSON"),
        (b'[{"a": 1},\n {"a": 2}', "record 3, line 2, column 10: the file ends inside the array"),
        (b'[{"a": 1},\n {"a": 2', "record 2, line 2, column 9: invalid JSON"),
        (b'[{"a": 1} {"a": 2}]', "record 2, line 1, column 11: expected ',' or ']'"),
        (b'[{"a": 1},]', "record 2, line 1, column 11: invalid JSON"),
        (b'[{"a": 1}]\n[{"a": 2}]', "line 2, column 1: more text after the array"),
        (b'[{"a": 1}]]', "line 1, column 11: more text after the array"),
    ],
)
def test_a_broken_array_is_an_error_after_the_records_before_it(data: bytes, error: str) -> None:
    """Past a broken element there is no telling where the next one starts. It was one bad
    record, and an import of 2,000 records broken at the 999th 'succeeded' with 998 stored
    and the rest never read; now the file is an error, naming where it broke."""
    read: list[Record | BadRecord] = []
    with pytest.raises(FormatError, match=f"^{re.escape(error)}"):
        read.extend(read_records(io.BytesIO(data), "json"))
    assert read[0] == Record(1, {"a": 1})


def test_a_file_that_is_not_an_array() -> None:
    with pytest.raises(FormatError, match=r"^line 1, column 1: expected a JSON array '\['$"):
        list(read_records(io.BytesIO(b'"just text"'), "json"))
    assert list(read_records(io.BytesIO(b""))) == []
    assert list(read_records(io.BytesIO(b"[]"))) == []
    for after_empty in (b'[]\n[{"a": 1}]', b"[]]"):  # dropped without a word
        with pytest.raises(FormatError, match=r"more text after the array"):
            list(read_records(io.BytesIO(after_empty), "json"))


def test_bad_csv_rows_are_reported_and_skipped() -> None:
    data = b"a,b\n1,2\n3\n\xff,4\n5,6\n"
    assert list(read_records(io.BytesIO(data), "csv")) == [
        Record(2, {"a": "1", "b": "2"}),
        BadRecord(3, "line 3: expected 2 fields, got 1"),
        BadRecord(4, "line 4: invalid UTF-8"),
        Record(5, {"a": "5", "b": "6"}),
    ]


def test_tiny_chunks_give_the_same_records(monkeypatch: pytest.MonkeyPatch) -> None:
    records = [*RECORDS, {"n": 12345678901234567890, "f": -1.5e-7, "ok": True, "x": None}]
    monkeypatch.setattr(json_array, "CHUNK", 3)
    assert records_of(list(read_records(io.BytesIO(json_bytes(records))))) == records


class CountingReader(io.RawIOBase):
    """A stream that counts how many bytes were read from it."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._data.readinto(buffer)
        self.consumed += count
        return count


@pytest.mark.parametrize("render", [json_bytes, jsonl_bytes])
def test_reading_streams(render: Callable[[list[dict[str, Any]]], bytes]) -> None:
    data = render([{"i": i, "text": "x" * 100} for i in range(50_000)])
    stream = CountingReader(data)
    first = next(iter(read_records(stream)))
    assert first == Record(1, {"i": 0, "text": "x" * 100})
    assert stream.consumed < len(data) / 2


def test_detect_container_from_bytes_and_names() -> None:
    assert detect_container(b"  \n[{") == "json"
    assert detect_container(codecs.BOM_UTF8 + b'{"a"') == "jsonl"
    assert detect_container(b"PAR1....") == "parquet"
    assert detect_container(b"a;b\n", "x.TSV.gz") == "tsv"
    assert detect_container(b"a,b\n") == "csv"


def test_forced_container_and_unknown_container() -> None:
    assert records_of(list(read_records(io.BytesIO(b'{"a": 1}'), "jsonl"))) == [{"a": 1}]
    with pytest.raises(FormatError, match=r"^container: unknown 'xml'"):
        list(read_records(io.BytesIO(b""), "xml"))


def test_write_jsonl_writes_utf8_lines_and_escapes_lone_surrogates() -> None:
    buffer = io.BytesIO()
    assert write_jsonl([{"a": "é"}, {"b": "\ud800"}], buffer) == 2
    assert buffer.getvalue() == b'{"a": "\xc3\xa9"}\n{"b": "\\ud800"}\n'


def test_write_then_read_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    stream: IO[bytes]
    with path.open("wb") as stream:
        write_jsonl(iter(RECORDS), stream)
    assert records_of(list(read_records(path))) == RECORDS


def test_csv_errors_are_reported_and_reading_goes_on() -> None:
    data = b"a,b\n1,2\n" + b"x" * (csv.field_size_limit() + 1) + b",3\n5,6\n"
    items = list(read_records(io.BytesIO(data), "csv"))
    assert items[0] == Record(2, {"a": "1", "b": "2"})
    assert isinstance(items[1], BadRecord) and items[1].reason.startswith("line 3: field larger")
    assert items[2] == Record(4, {"a": "5", "b": "6"})


def test_multi_frame_zstd_reads_every_frame() -> None:
    data = jsonl_bytes(RECORDS)
    blob = zstd(data[:50]) + zstd(data[50:])
    assert records_of(list(read_records(io.BytesIO(blob)))) == RECORDS


@pytest.mark.parametrize("compress", [gzip.compress, zstd])
def test_truncated_compressed_files_are_an_error(compress: Callable[[bytes], bytes]) -> None:
    blob = compress(jsonl_bytes([{"i": i} for i in range(2_000)]))
    with pytest.raises(FormatError, match=r"^file: compressed data is truncated or corrupt"):
        list(read_records(io.BytesIO(blob[: len(blob) // 2])))


def _parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), out)
    return out.getvalue()


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"PAR1 not really", id="magic only"),
        pytest.param(_parquet_bytes([{"i": i} for i in range(100)])[:-20], id="footer cut"),
    ],
)
def test_an_unreadable_parquet_file_is_an_error_naming_the_file(broken: bytes) -> None:
    """pyarrow's own errors (ArrowInvalid, OSError) were let through: the import job died
    with a traceback instead of saying what was wrong."""
    with pytest.raises(FormatError, match=r"^file: not a readable Parquet file \(.+\)"):
        list(read_records(io.BytesIO(broken), "parquet"))


META = "'meta' is both a field and the group of 'meta.source'"


@pytest.mark.parametrize(
    ("data", "columns", "clash"),
    [
        (b"a,b\n1,2\n", {"a": "meta", "b": "meta.source"}, META),
        (b"meta.source,meta\nx,y\n", {}, META),
        (
            b"a,b\n1,2\n",
            {"a": "x.y", "b": "x.y.z"},
            "'x.y' is both a field and the group of 'x.y.z'",
        ),
    ],
)
def test_a_column_cannot_be_both_a_field_and_a_group(
    data: bytes, columns: dict[str, str], clash: str
) -> None:
    """Mapped or as the header has them, 'meta' and 'meta.source' cannot both be fields of a
    record (this was a TypeError from inside the reader)."""
    with pytest.raises(FormatError, match=f"^columns: {re.escape(clash)}"):
        list(read_records(io.BytesIO(data), "csv", columns=columns))
    table = pa.table({"a": ["1"], "b": ["2"]})
    out = io.BytesIO()
    pq.write_table(table, out)
    if columns:
        with pytest.raises(FormatError, match=r"^columns: "):
            list(read_records(io.BytesIO(out.getvalue()), "parquet", columns=columns))


def test_a_column_name_with_an_empty_part_is_one_field_named_as_it_is() -> None:
    """'e.g.' or 'a..b' nested the cell under a field with no name ({'e': {'g': {'': ...}}}),
    which no export could give back under the column's name."""
    data = b"instruction,e.g.,a..b,.env,meta.source\nq,1,2,3,4\n"
    (record,) = records_of(list(read_records(io.BytesIO(data), "csv")))
    assert record == {
        "instruction": "q",
        "e.g.": "1",
        "a..b": "2",
        ".env": "3",
        "meta": {"source": "4"},
    }
    # Kept whole, such a name clashes with nothing that nests.
    with pytest.raises(FormatError, match=r"^columns: two columns give the field 'a\.\.b'"):
        list(read_records(io.BytesIO(b"x,y\n1,2\n"), "csv", columns={"x": "a..b", "y": "a..b"}))


def test_a_mapped_column_the_file_lacks_is_an_error() -> None:
    """`q=instruction` on a file whose column is 'question' was ignored without a word."""
    data = b"question,answer,source\nq,a,s\n"
    has = r"\(it has 'question', 'answer', 'source'\)"
    with pytest.raises(FormatError, match=r"^columns: 'q' is not a column of the file " + has):
        list(read_records(io.BytesIO(data), "csv", columns={"q": "instruction"}))
    out = io.BytesIO()
    pq.write_table(pa.table({"question": ["q"]}), out)
    with pytest.raises(FormatError, match=r"^columns: 'q', 'a' are not columns of the file"):
        list(read_records(io.BytesIO(out.getvalue()), "parquet", columns={"q": "x", "a": "y"}))


def test_a_json_record_keys_are_mapped_and_nest_like_columns() -> None:
    records = [
        {"q": "hi", "msgs": [1], "keep": True},
        {"q": "x", "input": "a string where the group goes", "msgs": []},
        {"other": 1},
    ]
    columns = {"q": "instruction", "msgs": "input.messages"}
    blob = jsonl_bytes(records)
    for container, data, unit in [("jsonl", blob, "line"), ("json", json.dumps(records), "record")]:
        raw = data if isinstance(data, bytes) else data.encode()
        found = list(read_records(io.BytesIO(raw), container, columns=columns))
        assert found[0] == Record(
            1, {"keep": True, "instruction": "hi", "input": {"messages": [1]}}
        )
        assert found[1] == BadRecord(
            2,
            f"{unit} 2: columns: 'msgs' goes inside 'input', but the record's 'input' is not an"
            " object (string)",
        )
        assert found[2] == Record(3, {"other": 1})


def test_parquet_columns_of_types_json_lacks_become_json_values() -> None:
    """A timestamp column failed every record of the file (the JSON encoder met a datetime),
    and so did dates, decimals and binary."""
    import datetime
    import decimal

    table = pa.table(
        {
            "instruction": ["q"],
            "when": [datetime.datetime(2024, 1, 2, 3, 4, 5)],
            "day": pa.array([datetime.date(2024, 1, 2)], pa.date32()),
            "price": pa.array([decimal.Decimal("1.25")]),
            "took": pa.array([datetime.timedelta(seconds=90)], pa.duration("s")),
            "text_bytes": [b"caf\xc3\xa9"],
            "raw": [b"\x00\xff"],
            "tags": [[datetime.date(2024, 1, 3)]],
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    (record,) = records_of(list(read_records(io.BytesIO(out.getvalue()), "parquet")))
    assert record == {
        "instruction": "q",
        "when": "2024-01-02T03:04:05",
        "day": "2024-01-02",
        "price": "1.25",
        "took": 90.0,
        "text_bytes": "café",
        "raw": "AP8=",
        "tags": ["2024-01-03"],
    }
    json.dumps(record)  # every value is JSON


def test_a_parquet_nan_is_a_missing_value() -> None:
    """pandas writes a missing float as NaN, which JSON cannot hold: each record with one was
    refused ("score: nan is not a number JSON can hold"). It is null, in lists and groups too;
    an infinity is still refused by validation, which names the field."""
    nan, inf = float("nan"), float("inf")
    table = pa.table(
        {
            "instruction": ["q1", "q2", "q3"],
            "score": [0.5, nan, inf],
            "scores": [[nan, 1.0], [], None],
            "meta": [{"w": nan}, {"w": 2.0}, {"w": None}],
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    records = records_of(list(read_records(io.BytesIO(out.getvalue()), "parquet")))
    assert records[:2] == [
        {"instruction": "q1", "score": 0.5, "scores": [None, 1.0], "meta": {"w": None}},
        {"instruction": "q2", "score": None, "scores": [], "meta": {"w": 2.0}},
    ]
    assert records[2]["score"] == inf


def test_a_parquet_date_python_cannot_hold_is_an_error_naming_the_column() -> None:
    table = pa.table({"instruction": ["q"], "when": pa.array([253402300800], pa.timestamp("s"))})
    out = io.BytesIO()
    pq.write_table(table, out)
    with pytest.raises(FormatError, match=r"^column 'when': "):
        list(read_records(io.BytesIO(out.getvalue()), "parquet"))


def test_a_broken_deflate_block_is_an_error_not_a_crash() -> None:
    """A valid gzip header then garbage: zlib's own error escaped (a 500 on a push)."""
    blob = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 20
    with pytest.raises(FormatError, match=r"^file: compressed data is truncated or corrupt"):
        list(read_records(io.BytesIO(blob), "jsonl"))


def test_a_number_too_long_for_python_is_a_bad_record() -> None:
    big = b'{"instruction": "q", "output": "a", "n": ' + b"1" * 5000 + b"}"
    lines = list(read_records(io.BytesIO(big + b'\n{"a": 1}\n'), "jsonl"))
    assert lines[0] == BadRecord(1, "line 1: a number of more than 4300 digits")
    assert records_of(lines[1:]) == [{"a": 1}]
    # In an array nothing tells where the element with it ends: the file is an error.
    with pytest.raises(FormatError, match=r"^record 1, .+: a number of more than 4300 digits"):
        list(read_records(io.BytesIO(b"[" + big + b"]"), "json"))


def test_a_csv_header_too_long_to_read_is_an_error() -> None:
    data = b"x" * 140_000 + b",output\nq,a\n"
    with pytest.raises(FormatError, match=r"^line 1: the header cannot be read"):
        list(read_records(io.BytesIO(data), "csv"))


@pytest.mark.parametrize(
    ("data", "columns"),
    [(b"instruction,output,output\nq,a,b\n", {}), (b"q,a\nx,y\n", {"q": "output", "a": "output"})],
)
def test_two_columns_cannot_give_one_field(data: bytes, columns: dict[str, str]) -> None:
    """One would silently replace the other."""
    with pytest.raises(FormatError, match=r"^columns: two columns give the field 'output'"):
        list(read_records(io.BytesIO(data), "csv", columns=columns))


def test_unnamed_columns_are_left_alone() -> None:
    """A header's trailing commas name no field: as many as there are, they clash with nothing."""
    (record,) = records_of(list(read_records(io.BytesIO(b"q,a,,\nx,y,,\n"), "csv")))
    assert (record["q"], record["a"]) == ("x", "y")
