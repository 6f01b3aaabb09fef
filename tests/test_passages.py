"""Passages are verbatim, bounded, whole sentences within one paragraph."""

from __future__ import annotations

import re

import pytest

from knowledge import Document
from knowledge.corpus import load_corpus
from knowledge.models import Passage
from knowledge.passages import MAX_PASSAGE_WORDS, split_document
from knowledge.text import sentence_spans, word_count
from tests.support.data import CORPUS_DIR

PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@pytest.fixture(scope="module")
def documents() -> list[Document]:
    return load_corpus(CORPUS_DIR)


@pytest.fixture(scope="module")
def passages(documents: list[Document]) -> list[tuple[Document, Passage]]:
    return [(doc, p) for doc in documents for p in split_document(doc)]


def test_every_document_has_passages(documents: list[Document]) -> None:
    for doc in documents:
        assert len(split_document(doc)) >= 3, doc.doc_id


@pytest.mark.parametrize("max_words", [25, MAX_PASSAGE_WORDS, 80])
def test_passages_and_sentences_are_verbatim(documents: list[Document], max_words: int) -> None:
    for doc in documents:
        previous_end = 0
        for p in split_document(doc, max_words):
            assert p.doc_id == doc.doc_id
            assert doc.body[p.start : p.end] == p.text
            assert p.text == p.text.strip() and p.text
            assert p.start >= previous_end, "passages overlap or are out of order"
            previous_end = p.end
            assert p.sentences, "a passage without sentences"
            assert p.sentences[0][0] == p.start
            assert p.sentences[-1][1] == p.end
            cursor = p.start
            for start, end in p.sentences:
                assert cursor <= start < end <= p.end
                sentence = p.text[start - p.start : end - p.start]
                assert sentence == doc.body[start:end]
                assert sentence == sentence.strip()
                cursor = end


def test_passage_length(passages: list[tuple[Document, Passage]]) -> None:
    counts = [word_count(p.text) for _, p in passages]
    too_long = [
        (doc.doc_id, p.text[:60]) for (doc, p), n in zip(passages, counts, strict=True) if n > 80
    ]
    assert not too_long
    within = sum(n <= MAX_PASSAGE_WORDS for n in counts)
    assert within / len(counts) >= 0.95
    assert min(counts) >= 3


def test_passages_never_cross_paragraphs(passages: list[tuple[Document, Passage]]) -> None:
    for doc, p in passages:
        assert not PARAGRAPH_BREAK.search(p.text), (doc.doc_id, p.text[:80])
        assert not p.text.startswith("#"), "headings are not quotable prose"


def test_passages_cover_all_prose(documents: list[Document]) -> None:
    """Every non-space character of every non-heading paragraph is in some sentence."""
    for doc in documents:
        covered = bytearray(len(doc.body))
        for p in split_document(doc):
            for start, end in p.sentences:
                covered[start:end] = b"\x01" * (end - start)
        cursor = 0
        for match in [*PARAGRAPH_BREAK.finditer(doc.body), None]:
            stop = match.start() if match else len(doc.body)
            paragraph = doc.body[cursor:stop]
            if paragraph.strip() and not paragraph.lstrip().startswith("#"):
                missing = [
                    i for i in range(cursor, stop) if not doc.body[i].isspace() and not covered[i]
                ]
                assert not missing, (doc.doc_id, doc.body[missing[0] : missing[0] + 40])
            cursor = match.end() if match else stop


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_abbreviations_and_initials_stay_inside_a_sentence() -> None:
    text = (
        "Officials of the U.S. Commerce Department met Acme Corp. Chief Executive J. R. Smith "
        "on Monday. Mr. Lee of Beta Inc. Asia and Dr. Wu agreed. Prices rose 3.5 percent! "
        "Did they? Yes."
    )
    assert _sentences(text) == [
        "Officials of the U.S. Commerce Department met Acme Corp. Chief Executive J. R. Smith "
        "on Monday.",
        "Mr. Lee of Beta Inc. Asia and Dr. Wu agreed.",
        "Prices rose 3.5 percent!",
        "Did they?",
        "Yes.",
    ]


def test_real_corpus_keeps_corp_inside_its_sentence(documents: list[Document]) -> None:
    doc = next(d for d in documents if "Keanda Electronic Technology Corp." in d.body)
    sentences = [doc.body[s:e] for p in split_document(doc) for s, e in p.sentences]
    keanda = [s for s in sentences if "Keanda" in s]
    assert keanda == [
        "Keanda Electronic Technology Corp., based in tech hub Shenzhen in south China, "
        "manufactures systems and products for rail systems."
    ]


def test_sentence_spans_trim_and_respect_bounds() -> None:
    text = "  One sentence here.   Two sentences here.  \n"
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["One sentence here.", "Two sentences here."]
    inner = sentence_spans(text, 2, 20)
    assert [text[s:e] for s, e in inner] == ["One sentence here."]
    assert sentence_spans("   ") == []


def _document(body: str) -> Document:
    return Document(doc_id="synthetic", title="Synthetic", publisher="Tests", body=body)


def test_a_very_long_sentence_is_cut_at_clause_breaks() -> None:
    clauses = [
        f"the committee number {i} reviewed the annual budget for every provincial program"
        for i in range(15)
    ]
    sentence = "In the first quarter " + ", ".join(clauses[:7]) + "; " + ", ".join(clauses[7:])
    sentence += "."
    body = f"A short opening sentence comes first.\n\n{sentence}\n\nA closing paragraph."
    assert word_count(sentence) >= 150
    doc = _document(body)
    passages = split_document(doc)
    long_start = body.index("In the first quarter")
    pieces = [p for p in passages if long_start <= p.start < long_start + len(sentence)]
    assert len(pieces) >= 3
    for p in pieces:
        assert body[p.start : p.end] == p.text
        assert word_count(p.text) <= MAX_PASSAGE_WORDS
        for start, end in p.sentences:
            assert body[start:end][-1] in ",;.", "cut inside a clause"
    joined = " ".join(body[s:e] for p in pieces for s, e in p.sentences)
    assert joined.split() == sentence.split(), "the pieces must add up to the sentence"
    assert pieces[-1].end == long_start + len(sentence)


def test_short_paragraphs_are_not_merged() -> None:
    doc = _document("One.\n\nTwo is here.\n\n# A heading\n\nThree is the last one.")
    assert [p.text for p in split_document(doc)] == [
        "One.",
        "Two is here.",
        "Three is the last one.",
    ]
