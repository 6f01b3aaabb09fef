"""Split documents into quotable passages of whole sentences with exact offsets."""

from __future__ import annotations

import math
import re

from knowledge.models import Document, Passage
from knowledge.text import sentence_spans, word_count

MAX_PASSAGE_WORDS = 60
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_CLAUSE_BREAK = re.compile(r"[;:,–—]\s+")


def split_document(doc: Document, max_words: int = MAX_PASSAGE_WORDS) -> list[Passage]:
    """Passages of whole sentences, never across paragraphs, at most ~`max_words` words."""
    passages: list[Passage] = []
    for start, end in _paragraph_spans(doc.body):
        if doc.body[start] == "#":
            continue  # a heading, not quotable prose
        spans = _cap_sentences(doc.body, sentence_spans(doc.body, start, end), max_words)
        for group in _balanced_groups(doc.body, spans, max_words):
            first, last = group[0][0], group[-1][1]
            passages.append(
                Passage(
                    doc_id=doc.doc_id,
                    start=first,
                    end=last,
                    sentences=tuple(group),
                    text=doc.body[first:last],
                )
            )
    return passages


def _paragraph_spans(body: str) -> list[tuple[int, int]]:
    spans, cursor = [], 0
    for match in _PARAGRAPH_BREAK.finditer(body):
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, len(body)))
    return [(s, e) for s, e in spans if body[s:e].strip()]


def _balanced_groups(
    body: str, spans: list[tuple[int, int]], max_words: int
) -> list[list[tuple[int, int]]]:
    """Consecutive sentences in as few groups as fit, each near the same size."""
    words = [word_count(body[s:e]) for s, e in spans]
    target = sum(words) / max(1, math.ceil(sum(words) / max_words))
    groups: list[list[tuple[int, int]]] = [[]]
    size = 0
    for span, count in zip(spans, words, strict=True):
        if groups[-1] and size + count > max_words and size >= target * 0.5:
            groups.append([])
            size = 0
        groups[-1].append(span)
        size += count
    return [g for g in groups if g]


def _cap_sentences(
    body: str, spans: list[tuple[int, int]], max_words: int
) -> list[tuple[int, int]]:
    """Cut a sentence longer than `max_words` at clause breaks so every piece can be quoted."""
    out: list[tuple[int, int]] = []
    for sentence_start, end in spans:
        start = sentence_start
        while word_count(body[start:end]) > max_words:
            cut = _clause_cut(body, start, end, max_words)
            if cut is None:
                break
            out.append((start, cut))
            start = cut + len(body[cut:end]) - len(body[cut:end].lstrip())
        out.append((start, end))
    return out


def _clause_cut(body: str, start: int, end: int, max_words: int) -> int | None:
    """The last clause break that keeps the first piece within `max_words`."""
    best = None
    for match in _CLAUSE_BREAK.finditer(body, start, end):
        if word_count(body[start : match.start() + 1]) > max_words:
            break
        best = match.start() + 1
    return best
