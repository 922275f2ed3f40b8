"""Stream the objects of a top-level JSON array in chunks, never holding the whole file.

Text is decoded incrementally with `surrogateescape`, so bytes that are not UTF-8 show up as
lone surrogates in the one record that holds them: that record is reported and the reader
goes on. A syntax error ends the array (there is no safe place to resume), reported with
its line and column.
"""

import codecs
import json
import re
import sys
from collections.abc import Iterator
from typing import IO, Any

from app.formats import FormatError
from app.formats.fields import kind
from app.formats.records import BadRecord, Record

CHUNK = 1 << 20
MAX_RECORD_CHARS = 64 << 20
DECODER = json.JSONDecoder(strict=False)
_SPACE = re.compile(r"[ \t\n\r]*")
BAD_BYTES = re.compile("[\udc80-\udcff]")

# Python converts integers of at most this many digits (a guard against slow conversions).
TOO_LONG_NUMBER = f"a number of more than {sys.get_int_max_str_digits()} digits"


class _Invalid(Exception):
    """Invalid JSON at a position of the buffer."""


class _Buffer:
    """Decoded text read so far, a cursor into it, and the line number of its start."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._decode = codecs.getincrementaldecoder("utf-8-sig")("surrogateescape").decode
        self.text = ""
        self.pos = 0
        self.eof = False
        self._first_line = 1

    def more(self, size: int = CHUNK) -> bool:
        """Append the next chunk of text; False at end of file."""
        if self.eof:
            return False
        data = self._stream.read(size)
        self.eof = not data
        self.text += self._decode(data, final=self.eof)
        return True

    def peek(self) -> str:
        """The next non-whitespace character ("" at end of file), cursor moved onto it."""
        while True:
            match = _SPACE.match(self.text, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.text) or not self.more():
                return self.text[self.pos : self.pos + 1]

    def value(self) -> tuple[Any, int]:
        """Decode the JSON value at the cursor, reading more text while it may be cut short."""
        while True:
            try:
                value, end = DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof or not self._maybe_cut(exc):
                    raise _Invalid(f"{self.where(exc.pos)}: invalid JSON ({exc.msg})") from None
                self.more(max(CHUNK, len(self.text) - self.pos))
                continue
            except RecursionError:
                raise _Invalid(f"{self.where(self.pos)}: JSON nested too deep") from None
            except ValueError:  # an integer of more digits than Python converts
                raise _Invalid(f"{self.where(self.pos)}: {TOO_LONG_NUMBER}") from None
            if end < len(self.text) or self.eof:
                return value, end
            self.more()  # a number at the very end of the buffer may go on

    def _maybe_cut(self, exc: json.JSONDecodeError) -> bool:
        if len(self.text) - self.pos > MAX_RECORD_CHARS:
            return False
        return exc.msg.startswith("Unterminated string") or exc.pos >= len(self.text) - 8

    def where(self, index: int) -> str:
        """'line L, column C' for a position of the buffer."""
        line = self._first_line + self.text.count("\n", 0, index)
        column = index - self.text.rfind("\n", 0, index)
        return f"line {line}, column {column}"

    def drop_read(self) -> None:
        """Forget text before the cursor once it is large, keeping line numbers right."""
        if self.pos > CHUNK:
            self._first_line += self.text.count("\n", 0, self.pos)
            self.text = self.text[self.pos :]
            self.pos = 0


_REST = "the rest of the file cannot be read"


def iter_json_array(stream: IO[bytes]) -> Iterator[Record | BadRecord]:
    """Yield each element of the array as a Record (or a BadRecord), numbered from 1.

    An element that is not valid JSON leaves no way to tell where the next one starts: that
    is a FormatError, raised after the records before it, so that an import of the file
    fails saying where it broke (it had passed as a success with one bad record, the rest of
    the file silently unread). So is a file that is not an array, ends inside it, or goes on
    after it."""
    buffer = _Buffer(stream)
    first = buffer.peek()
    if first != "[":
        if first:
            raise FormatError(f"{buffer.where(buffer.pos)}: expected a JSON array '['")
        return
    buffer.pos += 1
    if buffer.peek() == "]":
        buffer.pos += 1
        _nothing_after(buffer)
        return
    number = 0
    while True:
        number += 1
        buffer.drop_read()
        if not buffer.peek():
            where = buffer.where(buffer.pos)
            raise FormatError(f"record {number}, {where}: the file ends inside the array")
        start = buffer.pos
        try:
            value, buffer.pos = buffer.value()
        except _Invalid as exc:
            raise FormatError(f"record {number}, {exc}; {_REST}") from None
        yield _checked(number, value, buffer, start)
        after = buffer.peek()
        buffer.pos += 1
        if after == "]":
            _nothing_after(buffer)
            return
        if after != ",":
            where = buffer.where(buffer.pos - 1)
            if not after:
                raise FormatError(f"record {number + 1}, {where}: the file ends inside the array")
            raise FormatError(f"record {number + 1}, {where}: expected ',' or ']'; {_REST}")


def _nothing_after(buffer: _Buffer) -> None:
    """Refuse text after the array (two arrays one after the other, say: the second was
    dropped without a word)."""
    if buffer.peek():
        where = buffer.where(buffer.pos)
        raise FormatError(
            f"{where}: more text after the array; a JSON file holds one array (JSONL holds one"
            " record a line)"
        )


def _checked(number: int, value: Any, buffer: _Buffer, start: int) -> Record | BadRecord:
    if BAD_BYTES.search(buffer.text, start, buffer.pos):
        return BadRecord(number, f"record {number}, {buffer.where(start)}: invalid UTF-8")
    return element_record(number, value)


def element_record(number: int, value: Any) -> Record | BadRecord:
    """Element `number` (from 1) of an array: a Record, or a BadRecord if not an object."""
    if not isinstance(value, dict):
        return BadRecord(number, f"record {number}: expected a JSON object, got {kind(value)}")
    return Record(number, value)
