"""External instruction-data formats: detect one, parse a record into canonical form, dump it back.

Each format module offers `parse(record) -> CanonicalExample`, `dump(example) -> dict` and a
cheap `sniff(record) -> bool`. Every problem with a record is a `FormatError` whose message
starts with the path of the offending field, e.g. "conversations[2].from: unknown role 'bot'".
"""

from typing import Any, Protocol

from app.canonical import CanonicalExample


class FormatError(Exception):
    """A record that does not fit its format; the message names the field path."""


# The format modules import FormatError from this package, so it must exist before they load.
from app.formats import alpaca, dolly, openai, sharegpt, trl  # noqa: E402
from app.formats.fields import kind  # noqa: E402


class Format(Protocol):
    """What every format module provides."""

    def parse(self, record: dict[str, Any]) -> CanonicalExample: ...

    def dump(self, example: CanonicalExample) -> dict[str, Any]: ...

    def sniff(self, record: dict[str, Any]) -> bool: ...


# Sniffing order: the first module whose sniff() accepts a record names its format.
FORMATS: dict[str, Format] = {
    "sharegpt": sharegpt,
    "openai": openai,
    "trl": trl,
    "alpaca": alpaca,
    "dolly": dolly,
}

_EXPECTED = (
    "sharegpt (conversations), openai (messages, or input + preferred_output), "
    "trl (prompt + completion/chosen, chosen + rejected, or messages + label), "
    "alpaca (instruction + output), dolly (instruction + response)"
)


def detect(record: Any) -> str:
    """The name of the first format whose sniff() accepts the record."""
    _require_object(record)
    for name, module in FORMATS.items():
        if module.sniff(record):
            return name
    seen = ", ".join(sorted(map(str, record))[:20]) or "no keys"
    raise FormatError(f"record: no known format has the keys {seen}; expected {_EXPECTED}")


def parse_record(record: Any, fmt: str | None = None) -> CanonicalExample:
    """Parse one raw record in the named format, or in the detected one when fmt is None."""
    _require_object(record)
    return _module(fmt or detect(record)).parse(record)


def dump_record(example: CanonicalExample, fmt: str) -> dict[str, Any]:
    """Write a canonical example as one record of the named format."""
    return _module(fmt).dump(example)


def _module(fmt: str) -> Format:
    try:
        return FORMATS[fmt]
    except KeyError:
        raise FormatError(f"format: unknown format {fmt!r}; known: {', '.join(FORMATS)}") from None


def _require_object(record: Any) -> None:
    if not isinstance(record, dict):
        raise FormatError(f"record: expected a JSON object, got {kind(record)}")
