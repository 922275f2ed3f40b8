"""Dolly: {instruction, context, response, category}.

The user turn is `instruction + "\\n\\n" + context` (just `instruction` when context is empty);
a non-empty context is kept in the layout hints so dump() splits the turn back exactly.
`category` and any other field stay in metadata; `id` is the external id.
"""

from typing import Any

from app.canonical import CanonicalExample
from app.formats import FormatError
from app.formats import fields as f

NAME = "dolly"
SEPARATOR = "\n\n"


def sniff(record: dict[str, Any]) -> bool:
    """Dolly records have an instruction and a response."""
    return "instruction" in record and "response" in record


def parse(record: dict[str, Any]) -> CanonicalExample:
    """Turn a dolly record into a canonical example."""
    used = {"instruction", "response"}
    hints: dict[str, Any] = {}
    instruction = f.text(record, "instruction")
    context = record.get("context")
    if context is None:
        hints["context"] = None
    elif type(context) is not str:
        raise FormatError(f"context: expected a string, got {f.kind(context)}")
    else:
        used.add("context")
        if context:
            hints["context"] = context
    messages = [
        f.message("user", f.join_prompt(instruction, context or "", SEPARATOR), "instruction"),
        f.message("assistant", record.get("response", f.MISSING), "response"),
    ]
    external_id = f.external_id(record, used)
    return f.example(record, used, messages, fmt=NAME, hints=hints, external_id=external_id)


def dump(example: CanonicalExample) -> dict[str, Any]:
    """Write a canonical example as a dolly record."""
    f.refuse_extras(example, NAME)
    roles = [m.role for m in example.messages]
    if roles != ["user", "assistant"]:
        raise FormatError(f"messages: {NAME} needs one user and one assistant turn, got {roles}")
    prompt, answer = example.messages
    hints = f.layout(example, NAME)
    out = f.unmapped(example)
    context = hints.get("context", "")
    if context is None:
        out["instruction"] = prompt.content
    else:
        out["instruction"], out["context"] = f.split_prompt(prompt.content, context, SEPARATOR)
    out["response"] = answer.content
    return out
