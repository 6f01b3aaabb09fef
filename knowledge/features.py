"""What the learned ranking and relevance gate see: signals per candidate passage.

Every signal is about how a passage relates to the question, never about particular
words, so what is learned carries over to new questions and collections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from knowledge import dense
from knowledge.spaces import Space
from knowledge.store import PassageIndex

CANDIDATES = 40
_ALL_HELD = 0.999  # a coverage that holds every term, give or take rounding
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

CANDIDATE_FEATURES = (
    "sentence",  # the question's similarity to the passage's best sentence
    "passage",  # ... and to the whole passage
    "sentence_subject",  # the same, for the question with the collection's subject added
    "passage_subject",
    "focus",  # the similarity of the question without the names it mentions
    "bm25",  # log(1 + BM25)
    "bm25_share",  # BM25 relative to the best passage's
    "coverage",  # share of the question's term weight the passage holds
    "focus_coverage",  # ... of its terms other than names
    "answer_type",  # the question asks for a year or number and the passage has one
    "about_names",  # it asks only what the names it mentions are, and the passage holds them
    "sentence_gap",  # how far below the best candidate's sentence similarity
    "passage_gap",
)
# Two more models' view (the multilingual e5 of knowledge/crosslingual.py, the bigger English
# mpnet of knowledge/mpnet.py), appended to the signals above for the questions the first
# ranking is unsure of (ranking.Ranking.second).
SECOND_FEATURES = (
    "e5_sentence",  # e5's similarity of the question to the passage's best sentence
    "e5_passage",  # ... and to the passage (the mean of its sentences' vectors)
    "mpnet_sentence",
    "mpnet_passage",
)
QUESTION_FEATURES = (
    "terms",  # log(1 + number of question terms)
    "unknown",  # share of question terms the collection never uses
    "names",  # whether the question names something the collection knows
    "asks_type",  # whether the question asks for a year or a number
    "unknown_names",  # log(1 + capitalised words, after the first, the collection never uses)
)


@dataclass(frozen=True)
class Query:
    """A question prepared for search: its terms, vectors and expected answer form."""

    text: str
    vector: FloatArray
    subject_vector: FloatArray
    focus_vector: FloatArray
    focus_text: str
    answer_type: re.Pattern[str] | None
    unknown_names: int = 0  # capitalised words that are not the collection's, nor slips of them
    names_text: str = ""  # the names it mentions that the collection knows
    asks_only_names: bool = False  # ... and it asks nothing beyond them ("merics?")

    @property
    def has_names(self) -> bool:
        return bool(self.names_text)


@dataclass(frozen=True)
class Candidates:
    """Candidate passages of one question with their best sentences and signals."""

    passages: IntArray
    sentences: IntArray
    features: FloatArray  # one row per candidate, columns as CANDIDATE_FEATURES
    question: FloatArray  # QUESTION_FEATURES


def candidates(index: PassageIndex, query: Query) -> Candidates:
    """Dense neighbours of the question (with and without the subject) and BM25's best."""
    ids, unknown = index.lexical.term_ids(query.text)
    focus_ids, focus_unknown = index.lexical.term_ids(query.focus_text)
    bm25 = index.lexical.scores(ids)
    vectors = np.stack([query.vector, query.subject_vector])
    _, dense_ids = dense.search(index.dense, vectors, CANDIDATES)
    found = np.concatenate([dense_ids.ravel(), _top(bm25, CANDIDATES)])
    passages = np.unique(found[found >= 0])
    total_terms = ids.size + unknown
    question = np.asarray(
        [
            np.log1p(total_terms),
            unknown / total_terms if total_terms else 1.0,
            float(query.has_names),
            float(query.answer_type is not None),
            np.log1p(query.unknown_names),
        ],
        dtype=np.float32,
    )
    if passages.size == 0:
        empty = np.zeros((0, len(CANDIDATE_FEATURES)), dtype=np.float32)
        return Candidates(passages, passages, empty, question)
    sentences, sentence = sentence_match(index, passages, query.vector)
    _, sentence_subject = sentence_match(index, passages, query.subject_vector)
    _, sentence_focus = sentence_match(index, passages, query.focus_vector)
    passage = index.passage_vectors[passages] @ query.vector
    passage_subject = index.passage_vectors[passages] @ query.subject_vector
    focus = np.maximum(sentence_focus, index.passage_vectors[passages] @ query.focus_vector)
    top_bm25 = float(bm25.max(initial=0.0))
    raw = bm25[passages]
    if query.answer_type is None:
        answer_type = np.zeros(passages.size, dtype=np.float32)
    else:
        pattern = query.answer_type
        answer_type = np.asarray(
            [bool(pattern.search(index.passages[p].text)) for p in passages], dtype=np.float32
        )
    if query.asks_only_names:
        name_ids, names_unknown = index.lexical.term_ids(query.names_text)
        held = index.lexical.coverage(name_ids, names_unknown, passages)
        about_names = (held > _ALL_HELD).astype(np.float32)
    else:
        about_names = np.zeros(passages.size, dtype=np.float32)
    features = np.column_stack(
        [
            sentence,
            passage,
            sentence_subject,
            passage_subject,
            focus,
            np.log1p(raw),
            raw / top_bm25 if top_bm25 > 0 else np.zeros(passages.size),
            index.lexical.coverage(ids, unknown, passages),
            index.lexical.coverage(focus_ids, focus_unknown, passages),
            answer_type,
            about_names,
            sentence - sentence.max(),
            passage - passage.max(),
        ]
    ).astype(np.float32)
    return Candidates(passages, sentences, features, question)


def with_second_view(
    index: PassageIndex, found: Candidates, views: list[tuple[FloatArray, Space]]
) -> Candidates:
    """The candidates with SECOND_FEATURES appended: each view is the question's vector in
    a model's space and the index's sentences and passages in it."""
    columns = [found.features]
    for query, space in views:
        _, sentence = sentence_match(index, found.passages, query, space.sentences)
        columns += [sentence[:, None], (space.passages[found.passages] @ query)[:, None]]
    features = np.hstack(columns).astype(np.float32)
    return Candidates(found.passages, found.sentences, features, found.question)


def sentence_match(
    index: PassageIndex,
    passages: IntArray,
    vector: FloatArray,
    sentence_vectors: FloatArray | None = None,
) -> tuple[IntArray, FloatArray]:
    """For each passage, its best sentence (global index) and that similarity; in another
    model's space when given its `sentence_vectors` (rows as the index's sentences)."""
    starts = index.sentence_start[passages]
    lengths = index.sentence_start[passages + 1] - starts
    group = np.repeat(np.arange(passages.size), lengths)
    members = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    members += np.repeat(starts, lengths)
    vectors = index.sentence_vectors if sentence_vectors is None else sentence_vectors
    sims = vectors[members] @ vector
    order = np.lexsort((-sims, group))
    first = order[np.r_[0, np.flatnonzero(np.diff(group[order])) + 1]]
    return members[first], sims[first]


def _top(scores: FloatArray, k: int) -> IntArray:
    """Indices of the `k` highest positive scores, in no particular order."""
    top = np.argpartition(-scores, k)[:k] if scores.size > k else np.arange(scores.size)
    return top[scores[top] > 0]
