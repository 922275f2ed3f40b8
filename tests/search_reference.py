"""What a search should find, worked out without the analyzer: the reference the search tests
hold both databases to."""

import unicodedata


def _is_word_char(c: str) -> bool:
    return c.isalnum() and not ("\u2e80" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7af")


def contains(text: str, word: str) -> bool:
    """The reference: a CJK word anywhere in the text; another word as a whole word."""
    text = unicodedata.normalize("NFKC", text).lower()
    if not _is_word_char(word[0]):
        return word in text
    start = text.find(word)
    while start != -1:
        end = start + len(word)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not _is_word_char(before) and not _is_word_char(after):
            return True
        start = text.find(word, start + 1)
    return False
