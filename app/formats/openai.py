"""OpenAI fine-tuning formats: chat and preference (DPO).

Chat: {messages: [{role, content, name?, weight?, tool_calls?, tool_call_id?}], tools?}.
Preference: {input: {messages, tools?, ...}, preferred_output: [...], non_preferred_output: [...]};
other `input` keys (parallel_tool_calls, ...) are kept as metadata["input"]. A boolean `label`
is the KTO label (LLaMA-Factory's messages + label shape); `id` is the external id.
"""

from typing import Any

from app.canonical import Alternative, CanonicalExample, Message
from app.formats import FormatError
from app.formats import fields as f
from app.formats.chat import dump_messages, parse_messages

NAME = "openai"
_PREFERENCE = ("preferred_output", "non_preferred_output")


def sniff(record: dict[str, Any]) -> bool:
    """Chat records have messages (and no KTO label, and not chosen and rejected: UltraFeedback
    keeps the chosen conversation as `messages` too); preference records a preferred_output."""
    if "preferred_output" in record:
        return True
    pair = "chosen" in record and "rejected" in record
    return "messages" in record and "label" not in record and not pair


def parse(record: dict[str, Any]) -> CanonicalExample:
    """Turn an OpenAI chat or preference record into a canonical example."""
    alternatives: list[Alternative] = []
    extra: dict[str, Any] = {}
    if "messages" in record or "input" not in record:
        used = {"messages"}
        messages = parse_messages(record.get("messages", f.MISSING), "messages")
        tools = f.tools_list(record, "tools", used, "tools")
    else:
        used = {"input", *_PREFERENCE}
        messages, tools, rest = _preference_input(record.get("input"))
        alternatives = _outputs(record)
        extra = {"input": rest} if rest else {}
    label = f.label_of(record, used)
    external_id = f.external_id(record, used)
    return f.example(
        record,
        used,
        messages,
        fmt=NAME,
        extra=extra,
        alternatives=alternatives,
        tools=tools,
        label=label,
        external_id=external_id,
    )


def _preference_input(value: Any) -> tuple[list[Message], list[Any] | None, dict[str, Any]]:
    if not isinstance(value, dict):
        raise FormatError(f"input: expected an object, got {f.kind(value)}")
    used = {"messages"}
    messages = parse_messages(value.get("messages", f.MISSING), "input.messages")
    tools = f.tools_list(value, "tools", used, "input.tools")
    return messages, tools, {k: v for k, v in value.items() if k not in used}


def _outputs(record: dict[str, Any]) -> list[Alternative]:
    chosen, rejected = (parse_messages(record.get(key, f.MISSING), key) for key in _PREFERENCE)
    return [f.alternative(chosen, "chosen"), f.alternative(rejected, "rejected")]


def dump(example: CanonicalExample) -> dict[str, Any]:
    """Write a canonical example as an OpenAI chat record, or a preference one if it has a pair."""
    out = f.unmapped(example)
    messages = dump_messages(example.messages)
    if example.alternatives:
        chosen, rejected = f.chosen_rejected(example, NAME)
        extra = out.pop("input", None)
        given = extra if isinstance(extra, dict) else {}
        out["input"] = {**given, "messages": messages}
        if example.tools is not None:
            out["input"]["tools"] = example.tools
        out["preferred_output"] = dump_messages(chosen.messages)
        out["non_preferred_output"] = dump_messages(rejected.messages)
    else:
        out["messages"] = messages
        if example.tools is not None:
            out["tools"] = example.tools
    if example.label is not None:
        out["label"] = f.label_out(example)
    return out
