"""Language identification on ingest, offline (lingua ships its models in the wheel).

Scripts that name their language (Han, kana, Hangul, Thai, ...) are decided by counting
characters; lingua only has to tell Latin- and Cyrillic-script languages apart, on a short
prefix of the prompt, which keeps detection cheap enough for bulk import.
"""

import re
from functools import lru_cache
from typing import Any

SAMPLE_CHARS = 80
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
)
_LETTER = re.compile(r"[^\W\d_]")

LINGUA_LANGUAGES = [
    "ENGLISH",
    "GERMAN",
    "FRENCH",
    "SPANISH",
    "PORTUGUESE",
    "ITALIAN",
    "DUTCH",
    "SWEDISH",
    "POLISH",
    "CZECH",
    "TURKISH",
    "INDONESIAN",
    "VIETNAMESE",
    "RUSSIAN",
]


@lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, name) for name in LINGUA_LANGUAGES]
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()


def _by_script(sample: str) -> str | None:
    """The language a script alone gives away; "" when lingua must decide; None if no text."""
    letters = len(_LETTER.findall(sample))
    if letters < 3:
        return None
    if _KANA.search(sample):
        return "ja"
    if len(_HANGUL.findall(sample)) * 4 >= letters:
        return "ko"
    if len(_HAN.findall(sample)) * 4 >= letters:
        return "zh"
    for code, pattern in _SCRIPTS:
        if len(pattern.findall(sample)) * 2 >= letters:
            return code
    return ""


def _code(language: Any) -> str | None:
    return None if language is None else str(language.iso_code_639_1.name.lower())


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's main language, or None when there is too little to tell."""
    sample = text[:SAMPLE_CHARS]
    code = _by_script(sample)
    return _code(_detector().detect_language_of(sample)) if code == "" else code


def detect_languages(texts: list[str]) -> list[str | None]:
    """detect_language over a batch, with lingua's share run on all cores."""
    samples = [text[:SAMPLE_CHARS] for text in texts]
    codes = [_by_script(sample) for sample in samples]
    pending = [i for i, code in enumerate(codes) if code == ""]
    if pending:
        found = _detector().detect_languages_in_parallel_of([samples[i] for i in pending])
        for i, language in zip(pending, found, strict=True):
            codes[i] = _code(language)
    return codes
