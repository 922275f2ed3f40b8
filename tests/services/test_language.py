"""Language detection on ingest: offline, and right on short prompts."""

import pytest

from app.services.language import detect_language, detect_languages


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("What is the capital of France?", "en"),
        ("Write a bash one-liner to rename all .jpeg files in the current folder to .jpg.", "en"),
        ("Wie geht es dir heute? Ich habe eine Frage zum Wetter.", "de"),
        ("Bonjour, pouvez-vous m'aider à écrire une lettre ?", "fr"),
        ("¿Cuál es la mejor manera de aprender a programar?", "es"),
        ("请写一篇关于气候变化的文章", "zh"),
        ("東京の天気はどうですか", "ja"),
        ("오늘 날씨가 어때요?", "ko"),
        ("Привет, как дела?", "ru"),
    ],
)
def test_detects_the_language(text: str, code: str) -> None:
    assert detect_language(text) == code


def test_too_little_text_is_unknown() -> None:
    assert detect_languages(["", "ok", "123 456", "Explain photosynthesis."]) == [
        None,
        None,
        None,
        "en",
    ]
