"""Which language a question is written in, as far as its script tells."""

from __future__ import annotations

import unicodedata

_SCRIPTS = (("CJK", "zh"), ("HIRAGANA", "ja"), ("KATAKANA", "ja"), ("HANGUL", "ko"),
            ("CYRILLIC", "ru"), ("ARABIC", "ar"), ("HEBREW", "he"), ("GREEK", "el"),
            ("DEVANAGARI", "hi"), ("THAI", "th"))  # fmt: skip


def foreign_script(text: str) -> str | None:
    """The language a question in a non-Latin script is most likely in ("zh", "ru", ...),
    when most of its letters are in that script; None for Latin-script text."""
    counts: dict[str, int] = {}
    letters = 0
    for ch in text:
        if not ch.isalpha():
            continue
        letters += 1
        name = unicodedata.name(ch, "")
        for script, language in _SCRIPTS:
            if name.startswith(script):
                counts[language] = counts.get(language, 0) + 1
                break
    if not counts:
        return None
    language, count = max(counts.items(), key=lambda item: item[1])
    return language if count * 2 >= letters else None
