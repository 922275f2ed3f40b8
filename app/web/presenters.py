"""Shapes stored examples into what the page templates show: turns, alternatives, summaries."""

from dataclasses import dataclass, field
from typing import Any

from app.formats.fields import LAYOUT
from app.models import Example

# Message keys shown by the turn itself, or kept only so that an export writes the message as
# its source had it (a null or an empty content beside tool calls); every other key is listed
# as an extra.
_SHOWN_KEYS = frozenset({"role", "content", "tool_calls", "content_null", "content_empty"})


@dataclass(frozen=True)
class Turn:
    """One message as shown: role, exact text, tool calls and the remaining extras."""

    role: str
    content: str
    tool_calls: list[Any] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlternativeView:
    """One competing response: its heading (Chosen, Rejected, Rank 2 ...) and its turns."""

    title: str
    kind: str
    turns: list[Turn]
    score: float | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def turns(messages: list[dict[str, Any]] | None) -> list[Turn]:
    """Stored messages as turns."""
    result = []
    for message in messages or []:
        calls = message.get("tool_calls")
        result.append(
            Turn(
                role=str(message.get("role", "")),
                content=str(message.get("content") or ""),
                tool_calls=list(calls) if isinstance(calls, list) else [],
                extras={k: v for k, v in message.items() if k not in _SHOWN_KEYS and v is not None},
            )
        )
    return result


def metadata(example: Example) -> dict[str, Any]:
    """The metadata a person reads: the source's unmapped fields, without the layout hints
    the format modules keep for writing the record back as it came."""
    return {key: value for key, value in (example.meta or {}).items() if key != LAYOUT}


def _order(alternative: dict[str, Any]) -> tuple[int, float]:
    label = alternative.get("label")
    rank = alternative.get("rank")
    if label == "chosen":
        return (0, 0)
    if label == "rejected":
        return (1, 0)
    return (2, float(rank) if isinstance(rank, int | float) else float("inf"))


def alternatives(example: Example) -> list[AlternativeView]:
    """Competing responses, chosen before rejected and ranked ones best first."""
    views = []
    for index, alt in enumerate(sorted(example.alternatives or [], key=_order), start=1):
        label, rank = alt.get("label"), alt.get("rank")
        if label in ("chosen", "rejected"):
            title, kind = str(label).capitalize(), str(label)
        elif rank is not None:
            title, kind = f"Rank {rank}", "ranked"
        else:
            title, kind = f"Response {index}", "plain"
        score = alt.get("score")
        views.append(
            AlternativeView(
                title=title,
                kind=kind,
                turns=turns(alt.get("messages")),
                score=float(score) if isinstance(score, int | float) else None,
                extras={
                    k: v
                    for k, v in alt.items()
                    if k not in {"messages", "label", "rank", "score"} and v is not None
                },
            )
        )
    return views


@dataclass(frozen=True)
class ExampleRow:
    """An example as one row of the example list."""

    id: int
    prompt: str
    turn_count: int
    language: str | None
    status: str
    alternative_count: int
    has_tools: bool
    external_id: str | None

    @classmethod
    def of(cls, example: Example) -> "ExampleRow":
        """Summarise a stored example."""
        return cls(
            id=example.id,
            prompt=first_prompt(example),
            turn_count=len(example.messages),
            language=example.language,
            status=example.status,
            alternative_count=len(example.alternatives or []),
            has_tools=bool(example.tools),
            external_id=example.external_id,
        )


def first_prompt(example: Example) -> str:
    """The text that best names an example in a list: its first user turn, else its first turn."""
    for message in example.messages:
        if message.get("role") == "user" and str(message.get("content") or "").strip():
            return str(message["content"])
    return str(example.messages[0].get("content") or "") if example.messages else ""
