"""Misspelled question words corrected against the collection's own vocabulary.

A word is corrected only when neither the collection nor an English dictionary knows it,
and never into a name: "patnets" becomes "patents", but an unknown company stays itself. A
word the collection spells the other way, British or American, is spelt its way: the model
reads "programme" and "program" as different words.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from importlib import resources

from symspellpy import SymSpell, Verbosity

from knowledge.models import Document
from knowledge.sources import source_names
from knowledge.text import american_spelling, terms

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_MIN_LENGTH = 4
# Longer "words" are never slips of a real one, and their edits cost seconds to list.
_MAX_LENGTH = 30


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The 82,765 words of symspellpy's English frequency list."""
    text = resources.files("symspellpy").joinpath("frequency_dictionary_en_82_765.txt")
    return frozenset(line.split(" ", 1)[0] for line in text.read_text("utf-8").splitlines())


def _one_edit(word: str) -> set[str]:
    """Every string one deletion, transposition, replacement or insertion away."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return deletes | transposes | replaces | inserts


class SpellingCorrector:
    """Built from the collection's texts; `correct` returns the question with fixes."""

    def __init__(self, texts: list[str]) -> None:
        words = [w for text in texts for w in _WORD.findall(text)]
        self._english = english_words()
        self._collection = frozenset(w.lower() for w in words)
        self._known = self._collection | self._english
        self._stems = frozenset(terms(" ".join(texts)))
        # Each word's one spelling (American) -> the collection's, its commonest if several
        self._spelt: dict[str, str] = {}
        for word, _ in Counter(w.lower() for w in words).most_common():
            self._spelt.setdefault(american_spelling(word), word)
        self._symspell = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        # Only words the collection writes in lower case somewhere: names never are.
        lower_case = Counter(w for w in words if w.islower())
        for word, count in lower_case.items():
            if len(word) >= _MIN_LENGTH and word.isascii():
                self._symspell.create_dictionary_entry(word, count)
        # And the words it writes only capitalised (names), to tell a slip of a known name
        # from a name it never uses.
        self._names = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for word in self._collection - lower_case.keys():
            if len(word) >= _MIN_LENGTH and word.isascii():
                self._names.create_dictionary_entry(word, 1)

    @classmethod
    def for_documents(cls, documents: list[Document]) -> SpellingCorrector:
        """Over the documents' titles and text, and the names of their sources ("SCMP")."""
        return cls([f"{doc.title}\n{doc.body}" for doc in documents] + source_names(documents))

    def unknown_names(self, question: str) -> int:
        """How many capitalised words after the first the collection never uses, nor a word
        one or two slips from them: "Canada" and "IBM" count, "Semiconducter" does not."""
        return sum(
            1 for match in list(_WORD.finditer(question))[1:] if self._unknown_name(match.group())
        )

    def _unknown_name(self, word: str) -> bool:
        lower = word.lower()
        if not word[0].isupper() or lower in self._collection:
            return False
        if len(word) < _MIN_LENGTH or not word.isascii():
            return True
        distance = 2 if len(word) > 7 else 1
        return not any(
            words.lookup(lower, Verbosity.CLOSEST, max_edit_distance=distance)
            for words in (self._symspell, self._names)
        )

    def correct(self, question: str) -> str:
        return _WORD.sub(lambda m: self._fixed(m.group(), m.start() == 0), question)

    def _collection_spelling(self, lower: str) -> str | None:
        """The collection's spelling of a word it writes only the other way ("programme":
        "program"), if so."""
        if lower in self._collection:
            return None
        spelt = self._spelt.get(american_spelling(lower))
        return spelt if spelt != lower else None

    def _fixed(self, word: str, first: bool) -> str:
        lower = word.lower()
        too_short_or_long = not _MIN_LENGTH <= len(word) <= _MAX_LENGTH
        # A name (capitalised inside the question) is never changed, nor a non-ASCII word
        if too_short_or_long or not word.isascii() or (word[0].isupper() and not first):
            return word
        if spelt := self._collection_spelling(lower):
            return spelt
        if lower in self._known:
            return word
        found = self._symspell.lookup(lower, Verbosity.CLOSEST, max_edit_distance=1)
        if found:
            return str(found[0].term)
        # One slip from an English word: that word, if the collection uses its stem
        # ("subsidys": subsidy, as in subsidies); else not a collection word two edits away
        # ("statred" is not "state"), and no other English word, as those include names.
        english = sorted(w for w in _one_edit(lower) if w in self._english)
        stemmed = [w for w in english if (t := terms(w)) and t[0] in self._stems]
        if stemmed:
            return stemmed[0]
        if len(word) > 5 and not english:
            found = self._symspell.lookup(lower, Verbosity.CLOSEST, max_edit_distance=2)
        return str(found[0].term) if found else word
