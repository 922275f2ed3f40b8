"""Hypothesis strategies for hostile instruction data: records built from the keys the formats
know (and others), with values of every JSON type in the wrong places, strings with NULs, lone
surrogates, control and CJK characters, and nesting past the limit."""

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def generated_cases(count: int) -> settings:
    """Settings for a test of generated input: `count` cases, the same ones on every run (so
    CI cannot pass by luck), no deadline (each case writes to a real database)."""
    return settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# Keys of every format, and of their messages, so that generated records reach deep into the
# format modules instead of stopping at detection.
RECORD_KEYS = [
    "instruction", "input", "output", "system", "history", "conversations", "tools",
    "messages", "preferred_output", "non_preferred_output", "context", "response",
    "category", "prompt", "completion", "chosen", "rejected", "label", "responses", "ranking",
    "id", "metadata",
]  # fmt: skip
MESSAGE_KEYS = ["role", "content", "from", "value", "weight", "tool_calls", "name", "tool_call_id"]
ROLES = ["user", "assistant", "system", "tool", "human", "gpt", "function_call", "observation"]

texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(ROLES),
    st.sampled_from(["", " ", "\x00", "\ud800", "学生的科学家", "a\u3000b", "x" * 300]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)


def messages_of(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    message = st.dictionaries(st.sampled_from(MESSAGE_KEYS), st.one_of(texts, children), max_size=4)
    return st.lists(message, max_size=4)


json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(RECORD_KEYS), texts), children, max_size=4),
        messages_of(children),
    ),
    max_leaves=20,
)
records = st.dictionaries(
    st.one_of(st.sampled_from(RECORD_KEYS), texts),
    st.one_of(json_values, messages_of(json_values)),
    max_size=5,
)
# Nested deeper than the documented 32 levels.
too_deep = st.integers(min_value=30, max_value=80).map(
    lambda depth: {
        "instruction": "q",
        "output": "a",
        "extra": json.loads("[" * depth + "]" * depth),
    }
)
items = st.lists(st.one_of(records, too_deep, json_values), min_size=0, max_size=6)


def encode(value: Any) -> bytes:
    # ensure_ascii keeps lone surrogates as \\ud800 escapes: valid JSON text the server must judge.
    return json.dumps(value, ensure_ascii=True).encode()
