"""Shared pieces of every format: field readers, message building, layout hints, errors.

Metadata holds every input field a format does not map, at top level, so dump() writes it
back. Where a format needs to remember *how* a record was laid out (alpaca's input split,
a ShareGPT `tools` given as a JSON string, TRL's plain-text form ...), the hints go under
metadata["_layout"] = {"format": name, ...}; only that format's dump() reads them. Keeping
layout out of the messages keeps the content hash about content.
"""

from typing import Any, Literal

from pydantic import ValidationError

from app.canonical import Alternative, CanonicalExample, Message, Role
from app.formats import FormatError

LAYOUT = "_layout"
ID_KEY = "id"
MAX_ID_CHARS = 200
_TYPE_NAMES: dict[type, str] = {str: "string", list: "list", dict: "object"}


# What a reader passes for a field the record does not have (`record.get(key, MISSING)`), so
# that the error says "missing" rather than "got null".
MISSING: Any = object()


def kind(value: Any) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return _TYPE_NAMES.get(type(value)) or type(value).__name__


def text(record: dict[str, Any], key: str, path: str | None = None) -> str:
    """The string at record[key]; a FormatError naming the path when missing or not a string."""
    try:
        value = record[key]
    except KeyError:
        raise FormatError(f"{path or key}: missing") from None
    if type(value) is not str:
        raise FormatError(f"{path or key}: expected a string, got {kind(value)}")
    return value


def objects(value: Any, path: str) -> list[dict[str, Any]]:
    """A non-empty list of JSON objects, else a FormatError naming the path."""
    if value is MISSING:
        raise FormatError(f"{path}: missing")
    if not isinstance(value, list):
        raise FormatError(f"{path}: expected a list of messages, got {kind(value)}")
    if not value:
        raise FormatError(f"{path}: empty conversation")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise FormatError(f"{path}[{index}]: expected an object, got {kind(item)}")
    return value


def message(role: Role, content: Any, path: str, extras: dict[str, Any] | None = None) -> Message:
    """A validated message; `path` names the content field in the source record."""
    if type(content) is not str:
        shown = "missing" if content is MISSING else f"expected a string, got {kind(content)}"
        raise FormatError(f"{path}: {shown}")
    try:
        if extras:
            return Message.model_validate({**extras, "role": role, "content": content})
        return Message(role=role, content=content)
    except ValidationError as exc:
        raise FormatError(f"{path}: {reason(exc)}") from None


def reason(exc: ValidationError) -> str:
    """The first pydantic error's message, without pydantic's 'Value error, ' prefix."""
    return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")


def error_path(exc: ValidationError) -> str:
    """The dotted field path of the first pydantic error, list indices in brackets."""
    path = ""
    for part in exc.errors()[0]["loc"]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def alternative(
    messages: list[Message],
    label: Literal["chosen", "rejected"] | None = None,
    rank: int | None = None,
) -> Alternative:
    """A competing response: chosen/rejected, or ranked (1 = best)."""
    return Alternative(messages=messages, label=label, rank=rank)


def tools_list(record: dict[str, Any], key: str, used: set[str], path: str) -> list[Any] | None:
    """A list of tool schemas, or None when absent or null (a null stays in metadata)."""
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise FormatError(f"{path}: expected a list of tools, got {kind(value)}")
    used.add(key)
    return value


_LABEL_TEXT = {"true": True, "false": False}


def label_of(record: dict[str, Any], used: set[str]) -> bool | None:
    """A KTO `label`: a boolean, or the text true or false (any case), which is what a CSV
    or Parquet string column holds; any other label stays in metadata."""
    value = record.get("label")
    if isinstance(value, str):
        value = _LABEL_TEXT.get(value.strip().lower(), value)
    if type(value) is not bool:
        return None
    used.add("label")
    return value


def label_out(example: CanonicalExample) -> Any:
    """The label as the source wrote it: its text when it came as text."""
    text = example.metadata.get(LAYOUT, {}).get("label_text")
    if isinstance(text, str) and _LABEL_TEXT.get(text.strip().lower()) is example.label:
        return text
    return example.label


def external_id(record: dict[str, Any], used: set[str]) -> str | None:
    """The record's `id` when it is text: it names an example, which a later item with the
    same id updates. An empty id is no id (a CSV's empty cell: each such record replaced the
    last), and an id of more than 200 characters is an error naming it. A number, or any
    other value, stays in metadata: it is most often a row number, and two files numbered
    from 0 (train and test, say) would overwrite each other's examples."""
    value = record.get(ID_KEY)
    if type(value) is not str or value == "":
        return None
    if len(value) > MAX_ID_CHARS:
        raise FormatError(f"{ID_KEY}: {len(value)} characters, more than {MAX_ID_CHARS}")
    used.add(ID_KEY)
    return value


def example(
    record: dict[str, Any],
    used: set[str],
    messages: list[Message],
    *,
    fmt: str,
    hints: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    **fields: Any,
) -> CanonicalExample:
    """The canonical example, with every unused record field (plus `extra`) as metadata."""
    if LAYOUT in record:
        raise FormatError(f"{LAYOUT}: this key is reserved for Sift's layout hints")
    metadata = {key: value for key, value in record.items() if key not in used}
    if extra:
        metadata.update(extra)
    # How the label was written, for any format to write it back so.
    shapes: dict[str, Any] = {}
    if "label" in used and isinstance(record["label"], str):
        shapes["label_text"] = record["label"]
    if hints or shapes:
        metadata[LAYOUT] = {"format": fmt, **(hints or {}), **shapes}
    try:
        return CanonicalExample(messages=messages, metadata=metadata, **fields)
    except ValidationError as exc:
        raise FormatError(f"{error_path(exc)}: {reason(exc)}") from None


def layout(example: CanonicalExample, fmt: str) -> dict[str, Any]:
    """The layout hints `fmt` left on the example when it parsed it, else {}."""
    hints = example.metadata.get(LAYOUT)
    if isinstance(hints, dict) and hints.get("format") == fmt:
        return hints
    return {}


def unmapped(example: CanonicalExample) -> dict[str, Any]:
    """A new record holding the metadata fields, layout hints left out, plus the `id`."""
    out = {key: value for key, value in example.metadata.items() if key != LAYOUT}
    if example.external_id is not None:
        out[ID_KEY] = example.external_id
    return out


def refuse_extras(example: CanonicalExample, fmt: str) -> None:
    """Fail when the example has parts a plain instruction/response format cannot hold."""
    if example.alternatives:
        raise FormatError(f"alternatives: {fmt} has no place for competing responses")
    if example.tools is not None:
        raise FormatError(f"tools: {fmt} has no place for tool schemas")
    if example.label is not None:
        raise FormatError(f"label: {fmt} has no place for a KTO label")
    for index, message in enumerate(example.messages):
        # Tool calls, a name, a weight of 0 (not trained on): text alone would leave them
        # behind without a word.
        for key, value in (message.model_extra or {}).items():
            if value is None or (key == "weight" and type(value) is int and value == 1):
                continue
            if key in RESERVED_MARKERS or (key == "from" and value in _SHAREGPT_ROLE_NAMES):
                continue
            raise FormatError(f"messages[{index}].{key}: {fmt} has no place for it")


# Sift's markers of a null or an empty content beside tool calls, kept on a message so that
# it is written back as its source had it: reserved, never taken from a record.
RESERVED_MARKERS = ("content_null", "content_empty")
# ShareGPT's names for its turns' roles; a turn keeps a name other than its role's usual one
# ("user" for "human") as `from`.
SHAREGPT_ROLE_OF: dict[str, Role] = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
    "function_call": "assistant",
    "observation": "tool",
    "tool": "tool",
}
# The names that only say how a message was written, not what it holds (a function_call turn
# kept as text is a call, which plain text would no longer be).
_SHAREGPT_ROLE_NAMES = frozenset(SHAREGPT_ROLE_OF) - {"function_call"}


def chosen_rejected(example: CanonicalExample, fmt: str) -> tuple[Alternative, Alternative]:
    """The chosen and the rejected alternative; a FormatError unless there is one of each."""
    by_label = {alt.label: alt for alt in example.alternatives}
    if len(example.alternatives) != 2 or set(by_label) != {"chosen", "rejected"}:
        raise FormatError(f"alternatives: {fmt} holds exactly one chosen and one rejected response")
    return by_label["chosen"], by_label["rejected"]


def join_prompt(instruction: str, extra: str, separator: str) -> str:
    """The user turn built from an instruction and its optional input/context."""
    return f"{instruction}{separator}{extra}" if extra else instruction


def split_prompt(prompt: str, extra: Any, separator: str) -> tuple[str, str]:
    """Undo join_prompt using the input/context remembered at parse time (if still there)."""
    if isinstance(extra, str) and extra and prompt.endswith(separator + extra):
        return prompt[: -len(separator + extra)], extra
    return prompt, ""
