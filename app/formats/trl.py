"""TRL dataset types: prompt-completion, preference, unpaired preference (KTO).

Each of prompt/completion/chosen/rejected is a string ("standard" form: the prompt becomes one
user message, each response one assistant message) or a message list ("conversational" form).
Conversational prompt-completion: messages = prompt + completion. Preference: messages =
prompt, alternatives = chosen and rejected. With no `prompt` key (implicit prompt), chosen
and rejected are full conversations and their shared leading messages become the prompt; so
too when `prompt` is text beside conversations (TRL's maybe_extract_prompt does the same),
the text then kept in metadata unless it is the prompt's one turn (UltraFeedback, whose
`messages` repeat the chosen conversation: both are written back from the pair). Two texts
with no prompt in Anthropic's HH-RLHF form share their beginning, up to its last
'Assistant:', as the prompt. With no shared beginning, `messages` beside chosen and rejected
lists is the prompt.
KTO: prompt/completion plus a boolean `label`; LLaMA-Factory's KTO {messages, label} too.
`tools` is the tool list, `id` the external id.
"""

from typing import Any

from app.canonical import CanonicalExample, Message
from app.formats import FormatError
from app.formats import fields as f
from app.formats.chat import dump_messages, parse_messages

NAME = "trl"


def sniff(record: dict[str, Any]) -> bool:
    """TRL records: prompt + completion/chosen, chosen + rejected, or messages + label."""
    if "prompt" in record:
        return "completion" in record or "chosen" in record
    if "chosen" in record and "rejected" in record:
        return "conversations" not in record and "instruction" not in record
    return "messages" in record and "label" in record


def parse(record: dict[str, Any]) -> CanonicalExample:
    """Turn a TRL (or LLaMA-Factory KTO) record into a canonical example."""
    hints: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    if "messages" in record and "prompt" not in record and "chosen" not in record:
        used = {"messages"}
        hints["messages"] = True
        messages = parse_messages(record["messages"], "messages")
    elif "chosen" in record or "rejected" in record:
        used = {"prompt", "chosen", "rejected"}
        messages, fields["alternatives"] = _preference(record, hints)
        if hints.get("implicit_prompt") and not hints.get("prompt_text"):
            used.discard("prompt")  # a text prompt beside whole conversations stays as given
        if hints.get("messages_chosen") or hints.get("prompt_key") == "messages":
            used.add("messages")
    else:
        used = {"prompt", "completion"}
        messages = _prompt_completion(record, hints)
    fields["tools"] = f.tools_list(record, "tools", used, "tools")
    fields["label"] = f.label_of(record, used)
    fields["external_id"] = f.external_id(record, used)
    return f.example(record, used, messages, fmt=NAME, hints=hints, **fields)


def _standard(record: dict[str, Any]) -> bool:
    return isinstance(record.get("prompt"), str)


def _responses(record: dict[str, Any], key: str, standard: bool) -> list[Message]:
    if standard:
        value = record.get(key, f.MISSING)
        if value is f.MISSING:
            raise FormatError(f"{key}: missing")
        if type(value) is not str:
            raise FormatError(f"{key}: expected a string like prompt, got {f.kind(value)}")
        return [f.message("assistant", value, key)]
    return parse_messages(record.get(key, f.MISSING), key)


def _prompt(record: dict[str, Any], standard: bool) -> list[Message]:
    if standard:
        return [f.message("user", record["prompt"], "prompt")]
    return parse_messages(record.get("prompt", f.MISSING), "prompt")


def _prompt_completion(record: dict[str, Any], hints: dict[str, Any]) -> list[Message]:
    standard = _standard(record)
    prompt = _prompt(record, standard)
    completion = _responses(record, "completion", standard)
    if standard:
        hints["standard"] = True
    elif len(completion) != 1:
        hints["completion"] = len(completion)
    return prompt + completion


def _preference(record: dict[str, Any], hints: dict[str, Any]) -> tuple[list[Message], list[Any]]:
    standard = _standard(record)
    conversations = isinstance(record.get("chosen"), list) and isinstance(
        record.get("rejected"), list
    )
    if "prompt" not in record or (standard and conversations):
        # A text prompt with chosen and rejected as whole conversations (UltraFeedback's
        # binarized set): TRL takes the prompt from the conversations, as Sift does.
        return _implicit(record, hints)
    if standard:
        hints["standard"] = True
    chosen = _responses(record, "chosen", standard)
    rejected = _responses(record, "rejected", standard)
    alternatives = [f.alternative(chosen, "chosen"), f.alternative(rejected, "rejected")]
    return _prompt(record, standard), alternatives


def _implicit(record: dict[str, Any], hints: dict[str, Any]) -> tuple[list[Message], list[Any]]:
    raw_chosen, raw_rejected = record.get("chosen"), record.get("rejected")
    if type(raw_chosen) is str and type(raw_rejected) is str:
        return _implicit_text(raw_chosen, raw_rejected, hints)
    if not isinstance(raw_chosen, list) or not isinstance(raw_rejected, list):
        raise FormatError(
            "prompt: missing (an implicit prompt needs chosen and rejected both message lists"
            " or both text)"
        )
    chosen = parse_messages(raw_chosen, "chosen")
    rejected = parse_messages(raw_rejected, "rejected")
    shared = 0
    limit = min(len(chosen), len(rejected)) - 1
    while shared < limit and raw_chosen[shared] == raw_rejected[shared]:
        shared += 1
    if not shared:
        if "prompt" not in record and isinstance(record.get("messages"), list):
            # The prompt as `messages`, the responses beside it (this shape was read as an
            # OpenAI chat with the pair left in metadata).
            hints["prompt_key"] = "messages"
            alternatives = [f.alternative(chosen, "chosen"), f.alternative(rejected, "rejected")]
            return parse_messages(record["messages"], "messages"), alternatives
        if isinstance(record.get("prompt"), str):
            raise FormatError(
                "prompt: text, but chosen and rejected are message lists that share no prompt"
                " messages; give the prompt as a list of messages, or the responses as text"
            )
        raise FormatError("chosen, rejected: no shared prompt messages (and no prompt key)")
    hints["implicit_prompt"] = True
    prompt = chosen[:shared]
    # UltraFeedback keeps the chosen conversation again as `messages`, and its first turn
    # as `prompt`: said once, and written back from the pair.
    if record.get("messages") == raw_chosen:
        hints["messages_chosen"] = True
    text = record.get("prompt")
    alone = len(prompt) == 1 and prompt[0].role == "user" and not prompt[0].model_extra
    if isinstance(text, str) and alone and prompt[0].content == text:
        hints["prompt_text"] = True
    alternatives = [
        f.alternative(chosen[shared:], "chosen"),
        f.alternative(rejected[shared:], "rejected"),
    ]
    return prompt, alternatives


_ASSISTANT = "Assistant:"


def _implicit_text(
    chosen: str, rejected: str, hints: dict[str, Any]
) -> tuple[list[Message], list[Any]]:
    """Anthropic's HH-RLHF shape: two whole transcripts as text. As in TRL's extract_prompt,
    the prompt is their common beginning, one user message; but it ends right after the last
    'Assistant:' in it (HH's turn marker: replies that both start 'A ...' are not cut after
    the 'A'). Each response keeps at least one character."""
    shared = 0
    limit = min(len(chosen), len(rejected)) - 1
    while shared < limit and chosen[shared] == rejected[shared]:
        shared += 1
    marker = chosen.rfind(_ASSISTANT, 0, shared)
    if marker < 0 or marker + len(_ASSISTANT) > shared:
        # Other texts alike ('The answer is 4.', 'The answer is 5.') would make a prompt up
        # out of the answers; their prompt is in a field of its own, to be mapped.
        raise FormatError(
            "prompt: missing (two texts with no prompt are taken apart only as transcripts"
            " in Anthropic's HH-RLHF form, 'Human: ... Assistant: ...'; map the field that"
            " holds the prompt to prompt)"
        )
    shared = marker + len(_ASSISTANT)
    hints.update(implicit_prompt=True, standard=True)
    alternatives = [
        f.alternative([f.message("assistant", chosen[shared:], "chosen")], "chosen"),
        f.alternative([f.message("assistant", rejected[shared:], "rejected")], "rejected"),
    ]
    return [f.message("user", chosen[:shared], "chosen")], alternatives


def dump(example: CanonicalExample) -> dict[str, Any]:
    """Write a canonical example as a TRL record (conversational unless it came in as text)."""
    hints = f.layout(example, NAME)
    out = f.unmapped(example)
    standard = bool(hints.get("standard"))
    if hints.get("messages"):
        out["messages"] = dump_messages(example.messages)
    elif example.alternatives:
        chosen, rejected = f.chosen_rejected(example, NAME)
        if hints.get("prompt_key") == "messages":
            out["messages"] = dump_messages(example.messages)
            out["chosen"] = dump_messages(chosen.messages)
            out["rejected"] = dump_messages(rejected.messages)
        elif hints.get("implicit_prompt") and standard:
            prompt_text = _text_or_list(example.messages, "user", True, "messages")
            out["chosen"] = prompt_text + _text_or_list(
                chosen.messages, "assistant", True, "chosen"
            )
            out["rejected"] = prompt_text + _text_or_list(
                rejected.messages, "assistant", True, "rejected"
            )
        elif hints.get("implicit_prompt"):
            prompt = dump_messages(example.messages)
            out["chosen"] = prompt + dump_messages(chosen.messages)
            out["rejected"] = prompt + dump_messages(rejected.messages)
            if hints.get("messages_chosen"):
                out["messages"] = out["chosen"]
            if hints.get("prompt_text") and len(example.messages) == 1:
                out["prompt"] = example.messages[0].content
        else:
            out["prompt"] = _text_or_list(example.messages, "user", standard, "messages")
            out["chosen"] = _text_or_list(chosen.messages, "assistant", standard, "chosen")
            out["rejected"] = _text_or_list(rejected.messages, "assistant", standard, "rejected")
    else:
        size = 1 if standard else int(hints.get("completion", 1))
        if len(example.messages) <= size:
            raise FormatError(f"messages: {NAME} needs a prompt before the completion")
        messages = example.messages
        out["prompt"] = _text_or_list(messages[:-size], "user", standard, "messages")
        out["completion"] = _text_or_list(messages[-size:], "assistant", standard, "messages")
    if example.tools is not None:
        out["tools"] = example.tools
    if example.label is not None:
        out["label"] = f.label_out(example)
    return out


def _text_or_list(messages: list[Message], role: str, standard: bool, path: str) -> Any:
    if not standard:
        return dump_messages(messages)
    if len(messages) != 1 or messages[0].role != role:
        raise FormatError(f"{path}: the text form needs a single {role} message here")
    return messages[0].content
