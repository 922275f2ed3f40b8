"""ShareGPT function_call text <-> OpenAI-style tool_calls.

LLaMA-Factory writes a call as the JSON text {"name": ..., "arguments": {...}} (a list of
those for parallel calls). It becomes tool_calls [{"type": "function", "function": {"name",
"arguments": <JSON text>}}] only when writing those back gives the very same text; otherwise
the turn keeps its text as content.
"""

import contextlib
import json
from typing import Any

from app.formats import FormatError


def calls_from_text(text: str) -> list[dict[str, Any]] | None:
    """OpenAI-style tool_calls for a function_call text, or None if it would not round-trip."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    items = data if isinstance(data, list) else [data]
    if not items or not all(
        isinstance(i, dict) and list(i) == ["name", "arguments"] for i in items
    ):
        return None
    if not all(isinstance(i["name"], str) for i in items):
        return None
    calls = [
        {
            "type": "function",
            "function": {
                "name": i["name"],
                "arguments": json.dumps(i["arguments"], ensure_ascii=False),
            },
        }
        for i in items
    ]
    return calls if calls_to_text(calls) == text else None


def calls_to_text(calls: list[Any]) -> str:
    """The function_call text for OpenAI-style tool_calls; a FormatError (naming the call)
    for a call that is not {"function": {"name": ..., ...}}, which the text cannot hold."""
    items = [_item(call, index) for index, call in enumerate(calls)]
    return json.dumps(items[0] if len(items) == 1 else items, ensure_ascii=False)


def _item(call: Any, index: int) -> dict[str, Any]:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise FormatError(
            f"tool_calls[{index}]: a function_call turn holds calls of the form"
            ' {"function": {"name": ..., "arguments": ...}}'
        )
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        with contextlib.suppress(ValueError):
            arguments = json.loads(arguments)
    return {"name": function.get("name"), "arguments": arguments}
