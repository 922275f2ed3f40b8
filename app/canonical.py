"""The canonical example every format converts to and from, and its content hash.

A conversation is a list of messages; each message has a `role` and a string `content`
and may carry any per-message extras a format knows (`name`, `weight`, `tool_calls`,
`tool_call_id`, ...), kept as extra keys so they round-trip. Preference and ranking data put
the shared prompt in `messages` and the competing responses in `alternatives`.
"""

import hashlib
import json
import unicodedata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")


def check_text(value: str) -> str:
    """Refuse text that cannot be stored faithfully: NUL bytes and lone surrogates."""
    if "\x00" in value:
        raise ValueError("contains a NUL byte (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"is not valid Unicode (lone surrogate at character {exc.start})") from exc
    return value


class Message(BaseModel):
    """One turn. Extra keys (name, weight, tool_calls, tool_call_id, ...) are kept as given."""

    model_config = ConfigDict(extra="allow")

    role: Role
    content: str = Field(strict=True)

    _check_content = field_validator("content")(check_text)


class Alternative(BaseModel):
    """A candidate response to the prompt in `messages`: chosen/rejected, or ranked (1 = best)."""

    model_config = ConfigDict(extra="allow")

    messages: list[Message] = Field(min_length=1)
    label: Literal["chosen", "rejected"] | None = None
    rank: int | None = None
    score: float | None = None


class CanonicalExample(BaseModel):
    """An instruction-data example in the one shape Sift stores, whatever format it came in."""

    model_config = ConfigDict(extra="forbid")

    messages: list[Message] = Field(min_length=1)
    alternatives: list[Alternative] = Field(default_factory=list)
    tools: list[Any] | None = None
    label: bool | None = None
    external_id: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict)


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def _hashable_message(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "content": _normalise(data["content"])}


def content_hash(example: CanonicalExample, messages: list[dict[str, Any]] | None = None) -> str:
    """A 128-bit hex digest of the example's content (messages, alternatives, tools, label).

    Metadata and external_id are left out, so the same conversation imported twice under
    different ids or sources is recognised as one. Text is NFC-normalised and stripped.
    `messages` may pass the example's messages already dumped (the ingest path has them).
    """
    if messages is None:
        messages = [m.model_dump() for m in example.messages]
    payload = {
        "m": [_hashable_message(m) for m in messages],
        "a": [
            {
                **alt.model_dump(exclude={"messages"}),
                "messages": [_hashable_message(m.model_dump()) for m in alt.messages],
            }
            for alt in example.alternatives
        ],
        "t": example.tools,
        "l": example.label,
    }
    encoded = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(encoded.encode("utf-8"), digest_size=16).hexdigest()
