"""Text primitives: cleaning questions, sentence spans, and lexical terms."""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache

import snowballstemmer

# A sentence ends at . ! or ? (plus closing quotes or brackets) before white space
# and a capital, digit or opening quote.
_BOUNDARY = re.compile(r"[.!?][\"”’')\]]*(?=\s+[\"“‘'(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr inc corp co ltd no vs etc e.g i.e u.s u.k jan feb mar apr "
    "jun jul aug sep sept oct nov dec fig approx dept gov".split()
)
_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)*")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves s t don shall may might must also many much according tell say said whats
    what's hey hi hello please pls thanks thank thx ok okay bot""".split()
)
_stemmer = snowballstemmer.stemmer("english")
_BRITISH_WORDS = {
    "programme": "program",
    "programmes": "programs",
    "labour": "labor",
    "favour": "favor",
    "behaviour": "behavior",
    "centre": "center",
    "centres": "centers",
    "defence": "defense",
    "licence": "license",
    "catalogue": "catalog",
    "analyse": "analyze",
    "analysed": "analyzed",
}
# Applied to documents and questions alike, so a word it wrongly changes still matches itself.
_BRITISH_ISE = re.compile(r"^(\w{3,})is(e|es|ed|ing|ation|ations)$")
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_ANSWER_TYPES = (
    (
        re.compile(r"\b(when|what year|which year|since when)\b", re.IGNORECASE),
        re.compile(rf"\b(1[89]|20)\d\d\b|\b({_MONTHS})\b", re.IGNORECASE),
    ),
    (
        re.compile(
            r"\bhow (many|much|big|large)\b|\bwhat (share|percentage|proportion|number)\b",
            re.IGNORECASE,
        ),
        re.compile(r"\d"),
    ),
)


def clean_question(text: str) -> str:
    """NFKC-normalise, drop control and format characters, collapse white space."""
    text = unicodedata.normalize("NFKC", text)
    kept = "".join(
        " " if unicodedata.category(ch) in {"Cc", "Zl", "Zp"} else ch
        for ch in text
        if unicodedata.category(ch) not in {"Cf", "Co", "Cs", "Cn"} or ch == "\u200d"
    )
    text = " ".join(kept.split())
    return text if text.replace("\u200d", "").strip() else ""


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the sentences of `text[start:end]`, trimmed of surrounding white space."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        if _is_abbreviation(text, cursor, match.start()):
            continue
        spans.append((cursor, match.end()))
        cursor = match.end()
    spans.append((cursor, end))
    return [trimmed for span in spans if (trimmed := _trim(text, *span))[0] < trimmed[1]]


def terms(text: str) -> list[str]:
    """Lexical terms: lower-cased stemmed words without stop words; CJK as characters and pairs."""
    out: list[str] = []
    for word in _WORD.findall(text.lower().replace("’", "'")):
        if _CJK.search(word):
            out.extend(_cjk_terms(word))
        elif word[0].isdigit():
            out.append(word.replace(",", ""))
        elif word not in _STOPWORDS and len(word) > 1:
            out.append(_stem(american_spelling(_latin_folded(word).replace("'", ""))))
    return out


def _latin_folded(word: str) -> str:
    """The word with the accents of its Latin letters dropped, as people type it: "hermès"
    is "hermes"; other scripts are left as they are ("й" stays "й")."""
    return word if word.isascii() else "".join(_folded_letter(c) for c in word)


@lru_cache(maxsize=4096)
def _folded_letter(letter: str) -> str:
    parts = unicodedata.normalize("NFD", letter)
    base, marks = parts[0], parts[1:]
    return base if base.isascii() and all(unicodedata.combining(m) for m in marks) else letter


def expected_answer(question: str) -> re.Pattern[str] | None:
    """What an answer to the question must contain, when its form says: a date, a number."""
    for asks, answer in _ANSWER_TYPES:
        if asks.search(question):
            return answer
    return None


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def american_spelling(word: str) -> str:
    """One spelling for British and American variants: programme, labour, specialise."""
    word = _BRITISH_WORDS.get(word, word)
    return _BRITISH_ISE.sub(r"\1iz\2", word)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def _cjk_terms(run: str) -> list[str]:
    chars = list(run)
    return chars + [a + b for a, b in itertools.pairwise(chars)]


def _is_abbreviation(text: str, sentence_start: int, dot: int) -> bool:
    if text[dot] != ".":
        return False
    word_start = dot
    while word_start > sentence_start and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].lstrip("(\"“‘'").lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_ASIDE = re.compile(r"\([^()]*\)")
_CLAUSE_END = re.compile(r":\s+|\s+[-–—]\s+")
_ASKS = re.compile(
    r"^\W*(what|who|whom|whose|when|where|why|how|which|is|are|was|were|do|does|did|can|"
    r"could|should|will|would|has|have|had|tell|explain|list|name|describe)\b",
    re.IGNORECASE,
)


def with_question_mark(text: str) -> str:
    """A message that asks, read as the question it is: "what does landsky make" with its
    question mark, which the models read as part of a question. Anything else as it is."""
    if not text or text[-1] in ".?!" or not _ASKS.match(text):
        return text
    return f"{text}?"


def question_core(text: str, names: frozenset[str] = frozenset()) -> str:
    """The question without the chat around it: "Quick question: when did it start? Thanks!"
    is searched as "when did it start?". Asides in brackets go; of several sentences or
    clauses, those that ask are kept (all of them when none does), and so are those that
    name something the collection knows (`names`, as terms): "onoff electric - what do they
    make?" is about Onoff Electric."""
    bare = _ASIDE.sub(" ", text).strip() or text
    sentences = [bare[start:end] for start, end in sentence_spans(bare)]
    segments = [c.strip() for s in sentences for c in _CLAUSE_END.split(s) if c.strip()]
    asking = [s.endswith("?") or bool(_ASKS.match(s)) for s in segments]
    if not any(asking) or len(segments) == 1:
        return " ".join(bare.split())
    kept = [s for s, asks in zip(segments, asking, strict=True) if asks or _names_one(s, names)]
    return " ".join(kept)


def _names_one(text: str, names: frozenset[str]) -> bool:
    return any(term in names for term in terms(text))
