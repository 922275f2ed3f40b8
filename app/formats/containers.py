"""Read records from JSON, JSONL/NDJSON, CSV/TSV or Parquet files, plain, gzip or zstd; write JSONL.

Readers stream: memory holds a chunk (JSON), a line (JSONL), a row (CSV) or a record batch
(Parquet), never the file. A record that cannot be read is yielded as a BadRecord naming its
line or record number, and reading goes on wherever the container allows it.
"""

import base64
import codecs
import csv
import datetime
import decimal
import gzip
import io
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import PurePath
from typing import IO, TYPE_CHECKING, Any, Protocol, cast

import orjson
import zstandard

from app.formats import FormatError
from app.formats.fields import kind
from app.formats.json_array import BAD_BYTES, DECODER, TOO_LONG_NUMBER, iter_json_array
from app.formats.records import BadRecord, Item, Line, Record

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CONTAINERS = ("json", "jsonl", "csv", "tsv", "parquet")
EXTENSIONS = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
PARQUET_MAGIC = b"PAR1"
PARQUET_BATCH = 1024
_BUFFER = 1 << 16
# Digits as "1", every other byte a space: 19 ones in a row is a number past 64 bits (a table
# lookup and a substring search take 1.3 microseconds a line, the regex \d{19} took 13).
_DIGIT_TABLE = bytes(0x31 if 0x30 <= c <= 0x39 else 0x20 for c in range(256))
_LONG_DIGITS = b"1" * 19

Source = str | os.PathLike[str] | IO[bytes]


class _Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def read_records(
    source: Source,
    container: str | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    found: set[str] | None = None,
) -> Iterator[Record | BadRecord]:
    """Stream the records of a file (path or binary file object), detecting how it is stored.

    `container` forces one of CONTAINERS; `columns` maps CSV/TSV/Parquet column names, and a
    JSON record's top-level keys, to record field paths ("a" -> "output", "m" ->
    "input.messages"); other columns and keys keep their names. `found` collects the mapped
    names the file has: a column missing from a table's header is an error, but a JSON key
    may be missing from any record, and from all of them only by mistake (see parse_lines).
    """
    # Without `lines`, a JSONL file's lines come parsed: no Line is yielded.
    items = _open(source, container, columns, lines=False, found=found)
    return cast(Iterator[Record | BadRecord], items)


def read_records_or_lines(
    source: Source,
    container: str | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    found: set[str] | None = None,
) -> Iterator[Item]:
    """read_records(), but a JSONL file yields its lines unparsed (see Line, read_line): the
    mapped keys they hold are found where they are parsed."""
    return _open(source, container, columns, lines=True, found=found)


def _open(
    source: Source,
    container: str | None,
    columns: Mapping[str, str] | None,
    lines: bool,
    found: set[str] | None,
) -> Iterator[Item]:
    if container is not None and container not in CONTAINERS:
        raise FormatError(f"container: unknown {container!r}; known: {', '.join(CONTAINERS)}")
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as stream:
            yield from _read(stream, os.fspath(source), container, columns or {}, lines, found)
    else:
        name = getattr(source, "name", None)
        name = name if isinstance(name, str) else None
        yield from _read(source, name, container, columns or {}, lines, found)


def loads_plain(data: bytes) -> Any:
    """The value of plain, strict JSON (valid UTF-8, no NaN, no lone surrogates, no BOM),
    parsed by orjson in a fraction of the json module's time; None for anything else, which
    the careful readers then read or report as before. Text with 19 digits in a row is left
    to them too: orjson turns integers past 64 bits into floats."""
    if _LONG_DIGITS in data.translate(_DIGIT_TABLE):
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def parquet_row_count(path: str | os.PathLike[str]) -> int | None:
    """The rows of a Parquet file, from its footer; None for any other file (or one whose
    footer cannot be read: the reader reports that)."""
    with open(path, "rb") as stream:
        if stream.read(len(PARQUET_MAGIC)) != PARQUET_MAGIC:
            return None
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, ValueError):
        return None


def detect_container(head: bytes, name: str | None = None) -> str:
    """The container of a (decompressed) file from its first bytes, else its file name."""
    start = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if start.startswith(b"["):
        return "json"
    if start.startswith(b"{"):
        return "jsonl"
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    suffix = _suffix(name)
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    first_line = head.split(b"\n", 1)[0]
    return "tsv" if b"\t" in first_line else "csv"


def write_jsonl(records: Iterable[dict[str, Any]], stream: IO[bytes]) -> int:
    """Write records as UTF-8 JSON lines; returns how many were written."""
    count = 0
    for record in records:
        line = json.dumps(record, ensure_ascii=False)
        try:
            data = line.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: \u-escape them instead of failing
            data = json.dumps(record).encode("ascii")
        stream.write(data + b"\n")
        count += 1
    return count


def _suffix(name: str | None) -> str:
    if not name:
        return ""
    path = PurePath(name.lower())
    if path.suffix in (".gz", ".gzip", ".zst", ".zstd"):
        path = path.with_suffix("")
    return path.suffix


def _read(
    raw: IO[bytes],
    name: str | None,
    container: str | None,
    columns: Mapping[str, str],
    lines: bool,
    found: set[str] | None,
) -> Iterator[Item]:
    start = raw.tell() if raw.seekable() else None
    stream = _buffered(raw)
    magic = stream.peek(4)[:4]
    compressed = magic.startswith(GZIP_MAGIC) or magic == ZSTD_MAGIC
    if magic.startswith(GZIP_MAGIC):
        stream = _buffered(gzip.GzipFile(fileobj=stream, mode="rb"))
    elif magic == ZSTD_MAGIC:
        stream = io.BufferedReader(_ZstdReader(stream), buffer_size=_BUFFER)
    seekable = None if compressed or start is None else (raw, start)
    try:
        yield from _dispatch(stream, container, name, columns, seekable, lines, found)
    except (EOFError, gzip.BadGzipFile, zlib.error, zstandard.ZstdError) as exc:
        raise FormatError(f"file: compressed data is truncated or corrupt ({exc})") from None


def _dispatch(
    stream: io.BufferedReader,
    container: str | None,
    name: str | None,
    columns: Mapping[str, str],
    seekable: tuple[IO[bytes], int] | None,
    lines: bool,
    found: set[str] | None,
) -> Iterator[Item]:
    container = container or detect_container(stream.peek(_BUFFER), name)
    if container == "json":
        rename = renamer(columns, "record", found)
        records = iter_json_array(stream)
        yield from records if rename is None else (rename(item) for item in records)
    elif container == "jsonl":
        # A JSONL file's lines are mapped where they are parsed (see parse_lines).
        yield from (
            _jsonl_lines(stream) if lines else parse_lines(_jsonl_lines(stream), columns, found)
        )
    else:
        if found is not None:  # a table has every mapped column: its header is checked
            found.update(columns)
        if container == "parquet":
            yield from _iter_parquet(stream, seekable, columns)
        else:
            yield from _iter_csv(stream, "\t" if container == "tsv" else ",", columns)


class _RawReader(io.RawIOBase):
    """Any binary reader seen as raw I/O, so io.BufferedReader can give it peek()."""

    def __init__(self, stream: _Readable) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "WriteableBuffer") -> int:
        data = self._stream.read(len(memoryview(buffer)))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)


class _ZstdReader(io.RawIOBase):
    """zstd frames decompressed one after another; data ending inside a frame is an EOFError.

    (zstandard's own stream_reader returns a truncated file's data without complaint.)
    """

    def __init__(self, source: _Readable) -> None:
        self._source = source
        self._zstd = zstandard.ZstdDecompressor()
        self._frame = self._zstd.decompressobj()
        self._out = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "WriteableBuffer") -> int:
        while not self._out:
            data = self._source.read(_BUFFER)
            if not data:
                if not self._frame.eof:
                    raise EOFError("zstd data ends inside a frame")
                return 0
            self._out = memoryview(self._decompress(data))
        view = memoryview(buffer).cast("B")
        size = min(len(view), len(self._out))
        view[:size] = self._out[:size]
        self._out = self._out[size:]
        return size

    def _decompress(self, data: bytes) -> bytes:
        out = b""
        while data:
            if self._frame.eof:
                self._frame = self._zstd.decompressobj()
            out += self._frame.decompress(data)
            data = self._frame.unused_data if self._frame.eof else b""
        return out


def _buffered(stream: _Readable) -> io.BufferedReader:
    """A peekable reader over the stream; closing it leaves the stream open."""
    return io.BufferedReader(_RawReader(stream), buffer_size=_BUFFER)


def _jsonl_lines(stream: IO[bytes]) -> Iterator[Line]:
    """A JSONL file's lines, blank ones left out: they hold no record, and must not count
    towards a batch (the format is told from the first batch's records)."""
    for number, line in enumerate(stream, 1):
        if not line.isspace():
            yield Line(number, line)


def parse_lines(
    items: Iterable[Item], columns: Mapping[str, str] | None = None, found: set[str] | None = None
) -> Iterator[Record | BadRecord]:
    """The items with their JSONL lines parsed (a line that is blank after all left out) and
    their keys mapped by `columns` (the records of other containers come mapped already);
    the mapped keys they hold are added to `found`."""
    rename = renamer(columns or {}, "line", found)
    for item in items:
        if not isinstance(item, Line):
            yield item
        elif (record := read_line(item)) is not None:
            yield record if rename is None else rename(record)


def renamer(
    columns: Mapping[str, str], unit: str, found: set[str] | None = None
) -> Callable[[Record | BadRecord], Record | BadRecord] | None:
    """A function giving a JSON record's top-level keys the fields `columns` maps them to, as
    the columns of a CSV file are (dotted fields nest); None when nothing is mapped. A record
    that holds a mapped field already, or a value where the field's group goes, is bad: the
    one value would replace the other. `unit` names a record in errors: line or record; the
    mapped keys that records hold are added to `found`."""
    if not columns:
        return None
    paths = {source: field_path(target) for source, target in columns.items()}

    def bad(item: Record, problem: str) -> BadRecord:
        return BadRecord(item.number, f"{unit} {item.number}: columns: {problem}")

    def rename(item: Record | BadRecord) -> Record | BadRecord:
        if not isinstance(item, Record):
            return item
        record = item.data
        mapped = [key for key in record if key in paths]
        if not mapped:
            return item
        if found is not None:
            found.update(mapped)
        out = {key: value for key, value in record.items() if key not in paths}
        for source in mapped:
            *groups, name = parts = paths[source]
            node = out
            for depth, group in enumerate(groups, 1):
                node = node.setdefault(group, {})
                if not isinstance(node, dict):
                    where = ".".join(parts[:depth])
                    problem = f"the record's {where!r} is not an object ({kind(node)})"
                    return bad(item, f"{source!r} goes inside {where!r}, but {problem}")
            if name in node:
                field = ".".join(parts)
                return bad(item, f"{source!r} goes to {field!r}, which the record has already")
            node[name] = record[source]
        return Record(item.number, out)

    return rename


def read_line(line: Line) -> Record | BadRecord | None:
    """A JSONL line's record, or the reason it is bad; None for a blank line."""
    number, data = line
    value = loads_plain(data)
    if isinstance(value, dict):
        return Record(number, value)
    if number == 1:
        data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadRecord(number, f"line {number}: invalid UTF-8 at byte {exc.start + 1}")
    if not text.strip():
        return None
    try:
        value = DECODER.decode(text.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        return BadRecord(number, f"line {number}: invalid JSON ({exc.msg}, column {exc.colno})")
    except RecursionError:
        return BadRecord(number, f"line {number}: JSON nested too deep")
    except ValueError:  # an integer of more digits than Python converts
        return BadRecord(number, f"line {number}: {TOO_LONG_NUMBER}")
    if not isinstance(value, dict):
        return BadRecord(number, f"line {number}: expected a JSON object, got {kind(value)}")
    return Record(number, value)


def _iter_csv(
    stream: IO[bytes], delimiter: str, columns: Mapping[str, str]
) -> Iterator[Record | BadRecord]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    try:
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = next(reader, None)
        except csv.Error as exc:  # say, a header field longer than the csv module reads
            raise FormatError(f"line 1: the header cannot be read ({exc})") from None
        if header is None:
            return
        _check_mapped(columns, header)
        to_record = _row_builder([columns.get(name, name) for name in header])
        line = reader.line_num
        while True:
            number = line + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield BadRecord(number, f"line {number}: {exc}")
                continue
            finally:
                line = reader.line_num
            if not row:
                continue
            if len(row) != len(header):
                reason = f"expected {len(header)} fields, got {len(row)}"
                yield BadRecord(number, f"line {number}: {reason}")
            elif any(BAD_BYTES.search(cell) for cell in row):
                yield BadRecord(number, f"line {number}: invalid UTF-8")
            else:
                yield Record(number, to_record(row))
    finally:
        text.detach()


def field_path(name: str) -> tuple[str, ...]:
    """A column's place in the record: 'meta.source' is the field source in the group meta. A
    name with an empty part ('e.g.', 'v1.', '.env', 'a..b') is one field named as it is: no
    field may have an empty name."""
    parts = tuple(name.split("."))
    return parts if all(parts) else (name,)


def nesting_clash(paths: Iterable[str]) -> str | None:
    """Why these field paths cannot make one record, or None. A dotted path nests a field in
    a group, so one path may not be both a field and a group ('meta' and 'meta.source'); and
    two columns may not give the same field, where one would silently replace the other.
    Columns with no name (a header's trailing commas) are left out."""
    split = [field_path(path) for path in paths if path]
    seen: set[tuple[str, ...]] = set()
    for parts in split:
        if parts in seen:
            return f"two columns give the field {'.'.join(parts)!r}"
        seen.add(parts)
    groups = {parts[:i]: parts for parts in split for i in range(1, len(parts))}
    for parts in split:
        if parts in groups:
            field, inside = ".".join(parts), ".".join(groups[parts])
            return f"{field!r} is both a field and the group of {inside!r}"
    return None


def _check_mapped(columns: Mapping[str, str], names: list[str]) -> None:
    """A mapping that names a column the file does not have was ignored without a word (a
    typo, or the wrong file): its field was then missing from every record."""
    missing = [source for source in columns if source not in names]
    if missing:
        shown = ", ".join(repr(name) for name in names[:20]) + (", ..." if len(names) > 20 else "")
        which = "is not a column" if len(missing) == 1 else "are not columns"
        listed = ", ".join(repr(name) for name in missing)
        raise FormatError(f"columns: {listed} {which} of the file (it has {shown})")


def _row_builder(paths: list[str]) -> Callable[[list[Any]], dict[str, Any]]:
    """A function turning a row (list of cells) into a record, nesting dotted field paths."""
    clash = nesting_clash(paths)
    if clash is not None:
        raise FormatError(f"columns: {clash}; map one of them to another name")
    split = [field_path(path) for path in paths]
    if all(len(parts) == 1 for parts in split):
        return lambda row: dict(zip(paths, row, strict=True))

    def build(row: list[Any]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for parts, cell in zip(split, row, strict=True):
            node = record
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = cell
        return record

    return build


def _iter_parquet(
    stream: IO[bytes], seekable: tuple[IO[bytes], int] | None, columns: Mapping[str, str]
) -> Iterator[Record | BadRecord]:
    if seekable is not None:
        raw, start = seekable
        raw.seek(start)
        yield from _parquet_rows(raw, columns)
        return
    with tempfile.TemporaryFile() as spool:  # Parquet needs random access: spool to disk
        shutil.copyfileobj(stream, spool, _BUFFER)
        spool.seek(0)
        yield from _parquet_rows(spool, columns)


def _parquet_rows(source: IO[bytes], columns: Mapping[str, str]) -> Iterator[Record | BadRecord]:
    """The rows of a Parquet file; a file pyarrow cannot read (empty, cut short, not Parquet
    at all) is a FormatError naming the file, whether its footer or a later page is broken."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        yield from _parquet_records(pq.ParquetFile(source), columns)
    except (pa.ArrowException, OSError) as exc:
        raise FormatError(f"file: not a readable Parquet file ({exc})") from None


def _parquet_records(parquet: Any, columns: Mapping[str, str]) -> Iterator[Record | BadRecord]:
    schema = parquet.schema_arrow
    _check_mapped(columns, schema.names)
    to_record = _row_builder([columns.get(name, name) for name in schema.names])
    # Columns of types JSON has no value for (timestamps, dates, decimals, binary, ...) are
    # made JSON values as they are read; the usual strings and numbers go through untouched.
    plain = [_json_typed(field.type) for field in schema]
    number = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH):
        values = []
        for name, column, as_is in zip(schema.names, batch.columns, plain, strict=True):
            try:
                cells = column.to_pylist()
            except OverflowError as exc:  # a date past year 9999, which Python cannot hold
                raise FormatError(f"column {name!r}: {exc}") from None
            values.append(cells if as_is else [_json_value(cell) for cell in cells])
        for row in zip(*values, strict=True):
            number += 1
            yield Record(number, to_record(list(row)))


def _json_typed(arrow_type: Any) -> bool:
    """Whether a Parquet column's values come out of pyarrow as JSON values already."""
    import pyarrow.types as t

    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or t.is_boolean(arrow_type):
        return True
    if t.is_integer(arrow_type) or t.is_null(arrow_type):
        return True
    if t.is_list(arrow_type) or t.is_large_list(arrow_type) or t.is_fixed_size_list(arrow_type):
        return _json_typed(arrow_type.value_type)
    if t.is_struct(arrow_type):
        return all(_json_typed(arrow_type.field(i).type) for i in range(arrow_type.num_fields))
    return False


def _json_value(value: Any) -> Any:
    """A cell of another type as JSON: times and dates as ISO 8601 text, decimals as their
    exact digits, durations in seconds, bytes as text when they are UTF-8 without NULs (else
    base64), map entries as [key, value] pairs, and a float NaN (how pandas writes a missing
    value) as null. An infinity stays, for the record to be refused naming its field."""
    if isinstance(value, float):
        return None if value != value else value
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = "\x00"
        return text if "\x00" not in text else base64.b64encode(value).decode("ascii")
    return value
