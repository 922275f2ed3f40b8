"""The one text analyzer behind search, shared by Postgres and SQLite so both match alike.

Text is NFKC-normalised and lower-cased; words are runs of letters and digits. Chinese,
Japanese and Korean runs become overlapping character bigrams (a lone character stays a
unigram), as Elasticsearch's CJK analyzer does, so a CJK word of two or more characters is
found as a phrase of bigrams without a word segmenter. A gap separates CJK runs so that a
phrase never matches across punctuation, spaces or two messages.
"""

import re
import unicodedata
from collections.abc import Iterable

_CJK = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uff9f"
    "\U00020000-\U0003134f"
)
_TOKEN = re.compile(rf"([{_CJK}]+)|((?:(?![{_CJK}])[^\W_])+)")
MAX_TOKEN_CHARS = 64
# Stands between two CJK runs: never produced from a query, so no phrase can span it.
GAP = "_"


def _cjk_grams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def analyze(text: str) -> list[str]:
    """The token stream of a text, GAP markers included (indexing side)."""
    tokens: list[str] = []
    last_was_cjk = False
    for match in _TOKEN.finditer(unicodedata.normalize("NFKC", text).lower()):
        cjk, word = match.groups()
        if cjk:
            if last_was_cjk:
                tokens.append(GAP)
            tokens.extend(_cjk_grams(cjk))
            last_was_cjk = True
        elif len(word) <= MAX_TOKEN_CHARS:
            tokens.append(word)
            last_was_cjk = False
    return tokens


def analyze_all(texts: Iterable[str]) -> list[str]:
    """Token stream of several texts (messages, alternatives), separated so no phrase spans two."""
    tokens: list[str] = []
    for text in texts:
        part = analyze(text)
        if part:
            if tokens:
                tokens.append(GAP)
            tokens.extend(part)
    return tokens


def query_terms(query: str) -> list[list[str]]:
    """Split a query into terms; each term is a phrase of tokens that must appear in order."""
    terms: list[list[str]] = []
    for word in query.split():
        tokens = [t for t in analyze(word) if t != GAP]
        if tokens and tokens not in terms:
            terms.append(tokens)
    return terms


def to_tsvector_literal(tokens: list[str]) -> str:
    """A Postgres tsvector literal with positions, built without Postgres' own parser."""
    positions: dict[str, list[int]] = {}
    for pos, token in enumerate(tokens, start=1):
        if token != GAP:
            positions.setdefault(token, []).append(min(pos, 16383))
    return " ".join(f"'{tok}':{','.join(map(str, pos[:256]))}" for tok, pos in positions.items())


def to_tsquery_literal(terms: list[list[str]]) -> str:
    """A Postgres tsquery: AND of terms, each term a <-> phrase of its tokens."""
    return " & ".join("(" + " <-> ".join(f"'{tok}'" for tok in term) + ")" for term in terms)


def to_fts5_text(tokens: list[str]) -> str:
    """The text stored in SQLite FTS5 (its tokenizer only splits on spaces here)."""
    return " ".join(tokens)


def to_fts5_query(terms: list[list[str]]) -> str:
    """An FTS5 MATCH expression: AND of quoted phrases."""
    return " AND ".join('"' + " ".join(term) + '"' for term in terms)
