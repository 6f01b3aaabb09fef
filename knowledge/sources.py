"""The names people give a document's source: its publisher's, and their initials.

Readers see each excerpt's publisher in the answer, and then ask about it ("what does the
SCMP piece say about robots?"); those names are the collection's own, not names it has never
heard of (knowledge/spelling.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from knowledge.models import DocumentInfo

# The small words names keep inside them, and a run of capitalised words with them.
_SMALL = ("of", "for", "and", "on", "the", "&")
_WORD = r"[A-Z][\w&'’-]*"
_NAME = re.compile(rf"{_WORD}(?:\s+(?:(?:{'|'.join(map(re.escape, _SMALL))})\s+)*{_WORD})*")
_MIN_INITIALS = 3  # "BI" or "AT" would stand for too much


def publisher_names(publisher: str) -> frozenset[str]:
    """The capitalised names in `publisher`, and the initials of those of three words or
    more: "Asia Times, from ORCA" gives Asia Times and ORCA; "South China Morning Post",
    itself and SCMP."""
    names = set()
    for match in _NAME.finditer(publisher):
        name = match.group()
        names.add(name)
        words = [w for w in name.split() if w.lower() not in _SMALL]
        if len(words) >= _MIN_INITIALS:
            names.add("".join(w[0] for w in words).upper())
    return frozenset(names)


def source_names(documents: Iterable[DocumentInfo]) -> list[str]:
    """Every document's publisher names, sorted."""
    return sorted({name for doc in documents for name in publisher_names(doc.publisher)})
