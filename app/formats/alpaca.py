"""Alpaca: {instruction, input, output} plus LLaMA-Factory's optional `system` and `history`.

The user turn is `instruction + "\\n" + input` (just `instruction` when input is empty), as
LLaMA-Factory builds it. A non-empty input is kept in the layout hints so dump() can split the
turn back exactly; an absent or null input is remembered too. `history` [[q, a], ...] becomes
earlier user/assistant turns; `system` a leading system message; `id` the external id.
"""

from typing import Any

from app.canonical import CanonicalExample, Message
from app.formats import FormatError
from app.formats import fields as f

NAME = "alpaca"
SEPARATOR = "\n"
_MAPPED = ("instruction", "output")


def sniff(record: dict[str, Any]) -> bool:
    """Alpaca records have an instruction and an output."""
    return "instruction" in record and "output" in record


def parse(record: dict[str, Any]) -> CanonicalExample:
    """Turn an alpaca record into a canonical example."""
    used = set(_MAPPED)
    hints: dict[str, Any] = {}
    messages: list[Message] = []
    if record.get("system") is not None:
        messages.append(f.message("system", record["system"], "system"))
        used.add("system")
    messages += _history(record, used, hints)
    instruction = f.text(record, "instruction")
    extra = record.get("input")
    if extra is None:
        hints["input"] = None
    elif type(extra) is not str:
        raise FormatError(f"input: expected a string, got {f.kind(extra)}")
    else:
        used.add("input")
        if extra:
            hints["input"] = extra
    prompt = f.join_prompt(instruction, extra or "", SEPARATOR)
    messages.append(f.message("user", prompt, "instruction"))
    messages.append(f.message("assistant", record.get("output", f.MISSING), "output"))
    external_id = f.external_id(record, used)
    return f.example(record, used, messages, fmt=NAME, hints=hints, external_id=external_id)


def _history(record: dict[str, Any], used: set[str], hints: dict[str, Any]) -> list[Message]:
    pairs = record.get("history")
    if pairs is None:
        return []
    if not isinstance(pairs, list):
        raise FormatError(
            f"history: expected a list of [question, answer] pairs, got {f.kind(pairs)}"
        )
    used.add("history")
    if not pairs:
        hints["history"] = True
    messages = []
    for index, pair in enumerate(pairs):
        if not isinstance(pair, list) or len(pair) != 2:
            raise FormatError(f"history[{index}]: expected a [question, answer] pair")
        messages.append(f.message("user", pair[0], f"history[{index}][0]"))
        messages.append(f.message("assistant", pair[1], f"history[{index}][1]"))
    return messages


def dump(example: CanonicalExample) -> dict[str, Any]:
    """Write a canonical example as an alpaca record."""
    f.refuse_extras(example, NAME)
    hints = f.layout(example, NAME)
    out = f.unmapped(example)
    messages = example.messages
    if messages[0].role == "system":
        out["system"] = messages[0].content
        messages = messages[1:]
    turns = _pairs(messages)
    if len(turns) > 1 or hints.get("history"):
        out["history"] = [[q.content, a.content] for q, a in turns[:-1]]
    prompt, answer = turns[-1]
    extra = hints.get("input", "")
    if extra is None:
        out["instruction"] = prompt.content
    else:
        out["instruction"], out["input"] = f.split_prompt(prompt.content, extra, SEPARATOR)
    out["output"] = answer.content
    return out


def _pairs(messages: list[Message]) -> list[tuple[Message, Message]]:
    roles = [m.role for m in messages]
    if not roles or len(roles) % 2 or roles != ["user", "assistant"] * (len(roles) // 2):
        raise FormatError(f"messages: {NAME} needs alternating user/assistant turns, got {roles}")
    return list(zip(messages[::2], messages[1::2], strict=True))
