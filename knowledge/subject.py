"""The collection's subject, from its documents' titles: what a question that names no
subject is taken to be about ("who runs the programme?" in a group about Little Giants)."""

from __future__ import annotations

import re
from collections import Counter

from knowledge.models import Document
from knowledge.text import terms

_WORD = re.compile(r"[^\W\d_][\w’'-]*")


def collection_subject(documents: list[Document]) -> str:
    """The title words that at least half of the titles share (at least two titles when
    there are several), in the order the title holding most of them has them."""
    titles = [doc.title for doc in documents]
    shared: Counter[str] = Counter()
    for title in titles:
        shared.update(set(terms(title)))
    needed = max(2, (len(titles) + 1) // 2) if len(titles) > 1 else 1
    common = {term for term, count in shared.items() if count >= needed}
    if not common:
        return ""
    best = max(titles, key=lambda t: len(common & set(terms(t))))
    words: list[str] = []
    for match in _WORD.finditer(best):
        word = re.sub(r"[’']s$", "", match.group().strip("’'-"))
        found = terms(word)
        if found and found[0] in common and word not in words:
            words.append(word)
    return " ".join(words)
