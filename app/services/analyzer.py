"""The one text analyzer behind search, shared by Postgres and SQLite so both match alike.

Text is NFKC-normalised and lower-cased. Words are runs of letters and digits. Chinese,
Japanese and Korean runs become overlapping character bigrams (a lone character stays a
unigram), as Elasticsearch's CJK analyzer does, so a CJK word of two or more characters is
found as a phrase of bigrams without a word segmenter.

A query is an AND of units: each word is one unit, each CJK run a phrase of its bigrams. So an
example matches a word when the word is one of its tokens, and a CJK word when that word
stands inside one CJK run of its text. Only CJK bigrams carry positions (phrases need them);
a gap separates CJK runs so that no phrase matches across punctuation, words or messages.
"""

import re
import struct
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

_CJK = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uff9f"
    "\U00020000-\U0003134f"
)
_CJK_RUN = re.compile(f"([{_CJK}]+)")
MAX_TOKEN_CHARS = 64
# Longer words are cut into pieces of MAX_TOKEN_CHARS, the same way in texts and queries.
_WORD = re.compile(rf"[^\W_]{{1,{MAX_TOKEN_CHARS}}}")
MAX_POSITION = 16383  # Postgres keeps positions up to this
# Stands between two CJK runs in SQLite's token stream; never produced by a query.
GAP = "_"
# Postgres refuses a tsvector whose lexemes pass 1 MB: an example with more distinct words than
# fit in this budget is searchable by its first ones (16,383 CJK bigrams at most, likewise).
MAX_TSVECTOR_BYTES = 900_000


@dataclass(slots=True)
class Analyzed:
    """An example's tokens: its words (any order) and its CJK bigram stream (ordered)."""

    words: list[str] = field(default_factory=list)
    grams: list[str] = field(default_factory=list)

    def index_words(self) -> list[str]:
        """The distinct words in order of appearance, as many as fit the index's size budget
        (Postgres keeps at most 1 MB of lexemes; SQLite is cut the same way so both agree)."""
        distinct = list(dict.fromkeys(self.words))
        # At most 4 bytes a character, MAX_TOKEN_CHARS characters and 3 bytes of overhead a
        # word: most examples are far below, which the count of words alone tells.
        if len(distinct) * (4 * MAX_TOKEN_CHARS + 3) <= MAX_TSVECTOR_BYTES:
            return distinct
        if 4 * sum(map(len, distinct)) + 3 * len(distinct) <= MAX_TSVECTOR_BYTES:
            return distinct
        kept: list[str] = []
        size = 0
        for word in distinct:
            size += len(word.encode()) + 3
            if size > MAX_TSVECTOR_BYTES:
                break
            kept.append(word)
        return kept

    def add(self, text: str) -> None:
        """Analyze one more text (a message) into this example's tokens."""
        if text.isascii():  # most texts: no CJK, nothing to normalise, words by table lookup
            self.words.extend(_ascii_words(text))
            return
        if not unicodedata.is_normalized("NFKC", text):
            # Full-width ASCII and the ideographic space are what usually stands in the way
            # (Chinese punctuation); a character may always be replaced by its compatibility
            # decomposition before NFKC, and a table lookup is far cheaper than normalising.
            for char in set(_FULLWIDTH_CHAR.findall(text)):
                text = text.replace(char, _FULLWIDTH[char])
            if not unicodedata.is_normalized("NFKC", text):
                text = unicodedata.normalize("NFKC", text)
        parts = _CJK_RUN.split(text.lower())
        for i, part in enumerate(parts):
            if i % 2 == 0:
                self.words.extend(_ascii_words(part) if part.isascii() else _WORD.findall(part))
            else:
                if self.grams:
                    self.grams.append(GAP)
                if len(part) == 1:
                    self.grams.append(part)
                else:
                    self.grams.extend(_PAIR.findall(part))


_FULLWIDTH = {"\u3000": " ", **{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}}
_FULLWIDTH_CHAR = re.compile("[\u3000\uff01-\uff5e]")
_PAIR = re.compile("(?=(..))", re.DOTALL)  # every two neighbouring characters
# ASCII letters and digits, lower-cased; everything else a space (the same words as _WORD).
_ASCII_TABLE = bytes(
    (c | 0x20 if chr(c).isalpha() else c) if c < 128 and chr(c).isalnum() else 0x20
    for c in range(256)
)


# The same bytes as _ASCII_TABLE makes, with every letter and digit an "x": a run of more than
# MAX_TOKEN_CHARS of them is a word to cut (a table lookup and a substring search cost less
# than measuring every word).
_RUN_TABLE = bytes(0x20 if c == 0x20 else 0x78 for c in range(256))
_TOO_LONG = b"x" * (MAX_TOKEN_CHARS + 1)


def _ascii_words(text: str) -> list[str]:
    folded = text.encode().translate(_ASCII_TABLE)
    words = folded.decode().split()
    if len(folded) > MAX_TOKEN_CHARS and _TOO_LONG in folded.translate(_RUN_TABLE):
        return [piece for word in words for piece in _WORD.findall(word)]
    return words


def analyze(texts: Iterable[str]) -> Analyzed:
    """The tokens of every text of an example."""
    result = Analyzed()
    for text in texts:
        result.add(text)
    return result


def query_units(query: str) -> list[list[str]]:
    """A query's units: a word is a one-token unit, a CJK run a phrase of bigrams."""
    found = analyze([query])
    units: list[list[str]] = [[w] for w in dict.fromkeys(found.words)]
    phrase: list[str] = []
    for gram in [*found.grams, GAP]:
        if gram == GAP:
            if phrase and phrase not in units:
                units.append(phrase)
            phrase = []
        else:
            phrase.append(gram)
    return units


def to_tsvector_binary(doc: Analyzed) -> bytes:
    """The same tsvector in Postgres' binary wire format (for binary COPY): the server skips
    parsing text, which costs it more than everything else in the staging COPY."""
    words = doc.index_words()
    # Each word: its UTF-8, a NUL, and a zero count of positions (two more NULs).
    data = ("\x00\x00\x00".join(words) + "\x00\x00\x00").encode() if words else b""
    positions: defaultdict[str, list[int]] = defaultdict(list)
    for pos, gram in enumerate(doc.grams[:MAX_POSITION], start=1):
        positions[gram].append(pos)
    positions.pop(GAP, None)
    if not positions:
        return _COUNT(len(words)) + data
    # Each bigram: its UTF-8 (all encoded in one call), a NUL, the count of its positions and
    # the positions (most bigrams of a text occur once).
    names = "\x00".join(positions).encode().split(b"\x00")
    parts = [b""] * (2 * len(names))
    parts[0::2] = names
    parts[1::2] = [_ONE_AT[p[0]] if len(p) == 1 else _positions(p) for p in positions.values()]
    return _COUNT(len(words) + len(positions)) + data + b"".join(parts)


_COUNT = struct.Struct(">i").pack
_ONE = struct.Struct(">BHH").pack  # NUL, one position, the position
# The same for every position, made once: a list lookup costs less than packing (a Chinese
# example has about 240 bigrams, most of them once: 7 of its 70 microseconds here).
_ONE_AT = [_ONE(0, 1, p) for p in range(MAX_POSITION + 1)]


MAX_POSITIONS = 256  # positions Postgres keeps of one lexeme
# NUL, the count of positions and the positions, for each count (formats compiled once).
_MANY = [struct.Struct(f">BH{n}H").pack for n in range(MAX_POSITIONS + 1)]


def _positions(found: list[int]) -> bytes:
    kept = found[:MAX_POSITIONS]
    return _MANY[len(kept)](0, len(kept), *kept)


def lone_cjk_characters(query: str) -> list[str]:
    """The characters of a query that are CJK runs of one character: those are found only
    where they stand alone in a text (an index of character pairs holds no single ones)."""
    units = query_units(query)
    return [u[0] for u in units if len(u) == 1 and len(u[0]) == 1 and _CJK_RUN.match(u[0])]


def to_tsquery_literal(units: list[list[str]]) -> str:
    """A Postgres tsquery: the AND of the units, each a <-> phrase. A word with Greek's σ or
    ς is looked up with each of its sigmas as either (see _sigma_variants), as long as the
    query's MAX_SIGMA_VARIANTS last; past that, words are looked up as written."""
    budget = MAX_SIGMA_VARIANTS
    phrases = []
    for unit in units:
        operands = []
        for token in unit:
            variants = _sigma_variants(token)
            if 1 < len(variants) <= budget:
                budget -= len(variants)
                operands.append("(" + " | ".join(f"'{v}'" for v in variants) + ")")
            else:
                operands.append(f"'{token}'")
        phrases.append("(" + " <-> ".join(operands) + ")")
    return " & ".join(phrases)


MAX_SIGMAS = 6  # a word with more σ/ς is looked up as written
# Variants a whole query may add: a query of a hundred six-sigma words made 7,105 operands,
# 0.3 s a search.
MAX_SIGMA_VARIANTS = 256


def _sigma_variants(token: str) -> list[str]:
    """The token with each of its sigmas as σ or ς (just the token when it has none, or more
    than MAX_SIGMAS). Greek's two lower-case sigmas (σ, and ς at a word's end) are one letter
    to SQLite's FTS5, which folds ς to σ in texts and queries alike, but two to Postgres:
    'οδος' did not find ΟΔΟΣ (kept as 'οδοσ') there."""
    places = [i for i, char in enumerate(token) if char in "σς"]
    if not places or len(places) > MAX_SIGMAS:
        return [token]
    variants = []
    for mask in range(1 << len(places)):
        chars = list(token)
        for bit, place in enumerate(places):
            chars[place] = "ς" if mask >> bit & 1 else "σ"
        variants.append("".join(chars))
    return variants


def to_fts5_text(doc: Analyzed) -> str:
    """The text stored in SQLite FTS5, whose tokenizer only splits it on spaces. A bigram past
    its MAX_POSITIONS-th occurrence stands as a gap, as Postgres keeps no more positions of
    one lexeme: a phrase there is found by neither (SQLite alone found it)."""
    grams = doc.grams[:MAX_POSITION]
    seen: dict[str, int] = {}
    # Only then can a bigram occur more often; Counter tells at C speed whether one does.
    if len(grams) > MAX_POSITIONS and max(Counter(grams).values()) > MAX_POSITIONS:
        grams = list(grams)
        for i, gram in enumerate(grams):
            count = seen[gram] = seen.get(gram, 0) + 1
            if count > MAX_POSITIONS and gram != GAP:
                grams[i] = GAP
    return " ".join(doc.index_words()) + " " + " ".join(grams)


def to_fts5_query(units: list[list[str]]) -> str:
    """An FTS5 MATCH expression: the AND of the units, each a quoted phrase."""
    return " AND ".join('"' + " ".join(unit) + '"' for unit in units)
