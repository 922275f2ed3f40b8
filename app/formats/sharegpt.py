"""ShareGPT, with LLaMA-Factory's extensions.

{conversations: [{from, value}], system?, tools?, id?} where `from` is human/user -> user,
gpt/assistant -> assistant, system, function_call -> assistant with `tool_calls`,
observation/tool -> tool. A `from` other than the usual one for its role (user, assistant,
tool) is kept as a message extra. `tools` may be a list or a JSON string (kept a string on dump).
Preference: `chosen` and `rejected` objects {from, value}. Ranked: `responses` [{from, value}]
with `ranking` [int], ranking[i] the rank of responses[i] (1 = best, ties allowed).
A boolean `label` is the KTO label; `id` is the external id.

Turns may also be {role, content} messages, as LLaMA-Factory reads them with role_tag and
content_tag set and as many datasets on the Hugging Face hub write them: when the first turn
has a `role` and no `from`, every turn of the record (conversations, chosen, rejected,
responses) is an OpenAI-style message, and is written back so. LMSYS-Chat-1M and WildChat
name the list `conversation`, and LLaMA-Factory's preference sets with OpenAI tags `messages`
(beside chosen and rejected objects): these are read, and written back, the same way.
"""

import json
from collections.abc import Callable
from typing import Any

from app.canonical import Alternative, CanonicalExample, Message
from app.formats import FormatError
from app.formats import fields as f
from app.formats.chat import dump_message, parse_message
from app.formats.tool_calls import calls_from_text, calls_to_text

NAME = "sharegpt"
ROLE_OF = f.SHAREGPT_ROLE_OF
FROM_OF: dict[str, str] = {
    "user": "human",
    "assistant": "gpt",
    "system": "system",
    "tool": "observation",
}


def sniff(record: dict[str, Any]) -> bool:
    """ShareGPT records have conversations (or a `conversation` list: LMSYS-Chat, WildChat; or
    `messages` with chosen and rejected objects: LLaMA-Factory's preference set with OpenAI
    tags)."""
    return _key(record) is not None


def _key(record: dict[str, Any]) -> str | None:
    if "conversations" in record:
        return "conversations"
    if isinstance(record.get("conversation"), list):
        return "conversation"
    pair = isinstance(record.get("chosen"), dict) and isinstance(record.get("rejected"), dict)
    return "messages" if pair and isinstance(record.get("messages"), list) else None


def parse(record: dict[str, Any]) -> CanonicalExample:
    """Turn a ShareGPT record into a canonical example."""
    key = _key(record) or "conversations"
    used = {key}
    hints: dict[str, Any] = {} if key == "conversations" else {"key": key}
    messages: list[Message] = []
    if record.get("system") is not None:
        messages.append(f.message("system", record["system"], "system"))
        used.add("system")
        hints["system"] = True
    turns = f.objects(record.get(key, f.MISSING), key)
    chat = "from" not in turns[0] and "role" in turns[0]
    if chat:
        hints["turns"] = "role_content"
    parse_one = parse_message if chat else parse_turn
    messages += [parse_one(turn, f"{key}[{i}]") for i, turn in enumerate(turns)]
    tools = _tools(record, used, hints)
    alternatives = _pair(record, used, parse_one) + _ranked(record, used, parse_one)
    label = f.label_of(record, used)
    external_id = f.external_id(record, used)
    return f.example(
        record,
        used,
        messages,
        fmt=NAME,
        hints=hints,
        alternatives=alternatives,
        tools=tools,
        label=label,
        external_id=external_id,
    )


def parse_turn(turn: dict[str, Any], path: str) -> Message:
    """One {from, value} turn as a message; other keys of the turn become message extras."""
    source = turn.get("from")
    role = ROLE_OF.get(source) if isinstance(source, str) else None
    if role is None:
        shown = "missing" if source is None else f"unknown role {source!r}"
        raise FormatError(f"{path}.from: {shown}")
    extras = {k: v for k, v in turn.items() if k not in ("from", "value")} if len(turn) > 2 else {}
    for key in ("role", "content", "tool_calls"):
        if key in extras:
            raise FormatError(f"{path}.{key}: clashes with the canonical message field {key!r}")
    for key in f.RESERVED_MARKERS:
        if key in extras:
            raise FormatError(f"{path}.{key}: this key is reserved for Sift's layout hints")
    value = turn.get("value", f.MISSING)
    if source == "function_call" and isinstance(value, str):
        calls = calls_from_text(value)
        if calls is not None:
            return f.message(role, "", f"{path}.value", {**extras, "tool_calls": calls})
    if source != FROM_OF[role]:
        extras["from"] = source
    return f.message(role, value, f"{path}.value", extras)


def _tools(record: dict[str, Any], used: set[str], hints: dict[str, Any]) -> list[Any] | None:
    value = record.get("tools")
    if not isinstance(value, str):
        return f.tools_list(record, "tools", used, "tools")
    used.add("tools")
    if not value:  # LLaMA-Factory's "no tools" beside records that have some
        hints["tools_empty"] = True
        return None
    try:
        tools = json.loads(value, parse_constant=_not_json)
    except ValueError as exc:
        raise FormatError(f"tools: not valid JSON ({exc})") from None
    if not isinstance(tools, list):
        raise FormatError(f"tools: expected a JSON list of tools, got {f.kind(tools)}")
    hints["tools_string"] = True
    if json.dumps(tools, ensure_ascii=False) != value:
        hints["tools_text"] = value
    return tools


def _not_json(constant: str) -> Any:
    # Python reads NaN and Infinity, which JSON has not: stored, they would turn to null.
    raise ValueError(f"{constant} is not JSON")


TurnParser = Callable[[dict[str, Any], str], Message]


def _pair(record: dict[str, Any], used: set[str], parse_one: TurnParser) -> list[Alternative]:
    if "chosen" not in record and "rejected" not in record:
        return []
    if "responses" in record:
        raise FormatError(
            "responses: a record holds one chosen and one rejected response, or a ranked list"
            " of responses, not both"
        )
    used.update(("chosen", "rejected"))
    pair = []
    for key in ("chosen", "rejected"):
        turn = record.get(key, f.MISSING)
        if turn is f.MISSING:
            raise FormatError(f"{key}: missing")
        if not isinstance(turn, dict):
            shape = "{role, content}" if parse_one is parse_message else "{from, value}"
            raise FormatError(f"{key}: expected a {shape} object, got {f.kind(turn)}")
        pair.append(f.alternative([parse_one(turn, key)], key))
    return pair


def _ranked(record: dict[str, Any], used: set[str], parse_one: TurnParser) -> list[Alternative]:
    if "responses" not in record:
        return []
    used.update(("responses", "ranking"))
    responses = f.objects(record["responses"], "responses")
    ranking = record.get("ranking")
    if not isinstance(ranking, list) or len(ranking) != len(responses):
        raise FormatError(f"ranking: expected a list of {len(responses)} ranks, one per response")
    alternatives = []
    for i, (turn, rank) in enumerate(zip(responses, ranking, strict=True)):
        if type(rank) is not int or rank < 1:
            raise FormatError(f"ranking[{i}]: expected a whole number >= 1, got {rank!r}")
        alternatives.append(f.alternative([parse_one(turn, f"responses[{i}]")], rank=rank))
    return alternatives


def dump(example: CanonicalExample) -> dict[str, Any]:
    """Write a canonical example as a ShareGPT record."""
    hints = f.layout(example, NAME)
    out = f.unmapped(example)
    messages = example.messages
    if hints.get("system") and messages[0].role == "system":
        out["system"] = messages[0].content
        messages = messages[1:]
    turns_of = _chat_turns if hints.get("turns") == "role_content" else dump_turns
    out[hints.get("key", "conversations")] = [turn for m in messages for turn in turns_of(m)]
    if example.tools is not None:
        out["tools"] = _tools_out(example.tools, hints)
    elif hints.get("tools_empty"):
        out["tools"] = ""
    if example.alternatives:
        out.update(_alternatives_out(example, turns_of))
    if example.label is not None:
        out["label"] = f.label_out(example)
    return out


def _chat_turns(message: Message) -> list[dict[str, Any]]:
    return [dump_message(message)]


def dump_turns(message: Message) -> list[dict[str, Any]]:
    """The {from, value} turns for one message (two when it has both text and tool calls)."""
    extras = dict(message.model_extra or {})
    source = extras.pop("from", None)
    calls = extras.pop("tool_calls", None)
    if calls and source is None:
        for marker in f.RESERVED_MARKERS:
            extras.pop(marker, None)
        turn = {**extras, "from": "function_call", "value": calls_to_text(calls)}
        if message.content:
            return [{"from": "gpt", "value": message.content}, turn]
        return [turn]
    if calls:
        extras["tool_calls"] = calls
    return [{**extras, "from": source or FROM_OF[message.role], "value": message.content}]


def _tools_out(tools: list[Any], hints: dict[str, Any]) -> Any:
    if not hints.get("tools_string"):
        return tools
    text = hints.get("tools_text")
    if isinstance(text, str) and json.loads(text) == tools:
        return text
    return json.dumps(tools, ensure_ascii=False)


def _alternatives_out(
    example: CanonicalExample, turns_of: Callable[[Message], list[dict[str, Any]]]
) -> dict[str, Any]:
    alternatives = example.alternatives
    if any(len(alt.messages) != 1 for alt in alternatives):
        raise FormatError(f"alternatives: {NAME} holds single-message responses only")

    def one_turn(alt: Alternative) -> dict[str, Any]:
        turns = turns_of(alt.messages[0])
        if len(turns) != 1:  # text and tool calls: a gpt turn and a function_call turn
            raise FormatError(f"alternatives: {NAME} holds one turn a response, not text and calls")
        return turns[0]

    if all(alt.rank is not None and alt.label is None for alt in alternatives):
        return {
            "responses": [one_turn(alt) for alt in alternatives],
            "ranking": [alt.rank for alt in alternatives],
        }
    chosen, rejected = f.chosen_rejected(example, NAME)
    return {"chosen": one_turn(chosen), "rejected": one_turn(rejected)}
