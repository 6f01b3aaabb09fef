"""What a question asks about, beyond the names it mentions.

A question can name something the documents know ("Keanda") yet ask what they never say
(its head count). Masking the names leaves the question's focus; when nothing of that focus
appears in the best passage, the passage only shares the names, not an answer.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from knowledge.models import Document
from knowledge.spelling import english_words
from knowledge.text import sentence_spans, terms

_WORD = re.compile(r"[^\W\d_][\w'’-]*")
# Verbs that carry no topic of their own: "What does X make?" asks about X, nothing more.
_LIGHT_VERBS = frozenset(
    terms(
        "be do did done make made have had get got give gave given take took taken go went gone "
        "come came happen mean meant use say tell told know knew think thought want need"
    )
)
# Words of chat that ask nothing either: "landsky whats their thing" asks what Landsky is.
_CHAT_FILLER = frozenset(
    terms(
        "wat wut whos thing things stuff deal exactly actually basically really kinda sorta "
        "anyway btw tho hmm ur heard never even"
    )
)
_ASKS_NOTHING = _LIGHT_VERBS | _CHAT_FILLER
_CAPITALISED_SHARE = 0.8


@dataclass(frozen=True)
class Focus:
    """A question split into the names it mentions and the rest."""

    names: tuple[str, ...]
    residual: str

    @property
    def has_names(self) -> bool:
        return bool(self.names)

    @property
    def asks_only_names(self) -> bool:
        """It names something and asks nothing beyond it: "What does FlexBot do?", "merics?"."""
        return self.has_names and not terms(self.residual)


def name_terms(documents: list[Document]) -> frozenset[str]:
    """Terms written capitalised wherever they stand inside a sentence: names, not words. A
    sentence's first word counts too when no English dictionary knows it: "Keanda" may open
    every sentence it is in."""
    english = english_words()
    capitalised: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for doc in documents:
        for start, end in sentence_spans(doc.body):
            words = [m.group() for m in _WORD.finditer(doc.body, start, end)]
            if words and words[0].lower() in english:
                words = words[1:]
            for word in words:
                for term in terms(word):
                    seen[term] += 1
                    capitalised[term] += word[0].isupper()
    return frozenset(t for t, n in seen.items() if capitalised[t] >= _CAPITALISED_SHARE * n)


def split_focus(question: str, names: frozenset[str]) -> Focus:
    """The question's known names (with the capitalised words around them), and the rest."""
    words = question.split()
    is_name = [bool(t := terms(w)) and all(x in names for x in t) for w in words]
    for i in _capitalised_runs_with_a_name(words, is_name):
        is_name[i] = True
    found = tuple(w for w, flag in zip(words, is_name, strict=True) if flag)
    rest = [w for w, flag in zip(words, is_name, strict=True) if not flag]
    kept = " ".join(w for w in rest if not _asks_nothing(w))
    return Focus(names=found, residual=kept)


def _asks_nothing(word: str) -> bool:
    word_terms = terms(word)
    return bool(word_terms) and set(word_terms) <= _ASKS_NOTHING


def _capitalised_runs_with_a_name(words: list[str], is_name: list[bool]) -> list[int]:
    """Positions in runs of capitalised words (after the first word) that hold a known name:
    "Keanda Electronic Technology" is one name even if "Technology" alone is a word."""
    positions: list[int] = []
    run: list[int] = []
    for i, word in enumerate([*words, ""]):
        if i > 0 and word[:1].isupper():
            run.append(i)
            continue
        if any(is_name[j] for j in run):
            positions.extend(run)
        run = []
    return positions
