"""Follow-up questions: "and how much money do they get?" right after a question about the
programme means a question about the programme, and is searched together with it."""

from __future__ import annotations

import re

from knowledge.text import terms

_LEAD = re.compile(r"^\W*(and|but|so|also|then|what about|how about)\b", re.IGNORECASE)
_POINTERS = frozenset(
    "it its they them their theirs that this those these he him his she her such".split()
)
_WORD = re.compile(r"[^\W\d_]+")
_FEW_TERMS = 3


def is_elliptical(question: str) -> bool:
    """Leans on what came before: starts like a continuation ("and ...", "what about ..."),
    or says little of its own and points back ("when was that?", "why?")."""
    if _LEAD.match(question):
        return True
    words = {w.lower() for w in _WORD.findall(question)}
    content = terms(question)
    return len(content) <= 1 or (len(content) <= _FEW_TERMS and not words.isdisjoint(_POINTERS))


def follow_up(previous: str, question: str) -> str:
    """The question as searched: the one it follows, then itself."""
    return f"{previous.strip()} {question.strip()}"
