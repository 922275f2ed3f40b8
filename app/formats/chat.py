"""OpenAI-style message lists ({role, content, ...}), shared by the openai and trl formats.

Every key besides role and content (name, weight, tool_calls, tool_call_id, ...) is kept on
the message as given. An assistant message with tool_calls may leave content out or set it
to null; it is stored as "" and dump() leaves it out again, writing null where the source had
null (message extra `content_null`) and "" where the source had "" (`content_empty`).
"""

from typing import Any

from pydantic import ValidationError

from app.canonical import ROLES, Message
from app.formats import FormatError
from app.formats import fields as f


def parse_messages(value: Any, path: str) -> list[Message]:
    """Validate a non-empty list of OpenAI-style messages; errors name the field path."""
    return [parse_message(item, f"{path}[{i}]") for i, item in enumerate(f.objects(value, path))]


def parse_message(item: dict[str, Any], path: str) -> Message:
    """One OpenAI-style message; errors name the field path."""
    role = item.get("role")
    if role not in ROLES:
        shown = "missing" if role is None else f"unknown role {role!r}"
        raise FormatError(f"{path}.role: {shown}")
    for marker in f.RESERVED_MARKERS:
        if marker in item:
            raise FormatError(f"{path}.{marker}: this key is reserved for Sift's layout hints")
    content = item.get("content", f.MISSING)
    if type(content) is not str:
        if role != "assistant" or not item.get("tool_calls") or content not in (None, f.MISSING):
            shown = (
                "missing" if content is f.MISSING else f"expected a string, got {f.kind(content)}"
            )
            raise FormatError(f"{path}.content: {shown}")
        item = {**item, "content": ""}
        if content is None:
            item["content_null"] = True
    elif not content and item.get("tool_calls"):
        item = {**item, "content_empty": True}
    try:
        return Message.model_validate(item)
    except ValidationError as exc:
        raise FormatError(f"{path}.{f.error_path(exc)}: {f.reason(exc)}") from None


def dump_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """OpenAI-style message dicts, content written back as the source had it."""
    return [dump_message(m) for m in messages]


def dump_message(message: Message) -> dict[str, Any]:
    """One OpenAI-style message dict."""
    data = message.model_dump()
    null = data.pop("content_null", False)
    empty = data.pop("content_empty", False)
    if not message.content and data.get("tool_calls"):
        if null:
            data["content"] = None
        elif not empty:
            del data["content"]
    return data
