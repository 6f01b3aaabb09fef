"""Hybrid retrieval: dense and lexical candidates, weighted fusion, relevance, diversity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from knowledge import dense
from knowledge.store import PassageIndex
from knowledge.text import expected_answer

CANDIDATES = 40


@dataclass(frozen=True)
class Weights:
    """How the signals combine; the defaults were measured on the question sets
    (`python -m benchmarks.fusion`, BENCHMARKS.md).

    Ranking mixes dense similarity with BM25 (relative to the best passage); the relevance
    gate mixes dense similarity with the share of the question's terms a passage holds,
    an absolute measure.
    """

    dense: float = 0.8
    lexical: float = 0.2
    gate_dense: float = 0.65
    gate_coverage: float = 0.35
    min_relevance: float = 0.365
    min_focus_similarity: float = 0.3
    keep_ratio: float = 0.7
    redundancy: float = 0.85
    answer_type_bonus: float = 0.05
    same_source_penalty: float = 0.05


@dataclass(frozen=True)
class Hit:
    """One ranked passage and the signals behind its score."""

    passage: int
    sentence: int  # global index of the best-matching sentence
    score: float
    dense: float
    coverage: float


def rank(
    index: PassageIndex, query_vector: npt.NDArray[np.float32], query: str, weights: Weights
) -> list[Hit]:
    """Candidates from both sides, scored by a weighted sum of dense similarity and BM25."""
    ids, unknown = index.lexical.term_ids(query)
    bm25 = index.lexical.scores(ids)
    _, dense_ids = dense.search(index.dense, query_vector[None, :], CANDIDATES)
    lexical_ids = _top(bm25, CANDIDATES)
    candidates = np.unique(np.concatenate([dense_ids[0][dense_ids[0] >= 0], lexical_ids]))
    if candidates.size == 0:
        return []
    best_sentence, similarity = _sentence_match(index, candidates, query_vector)
    passage_similarity = index.passage_vectors[candidates] @ query_vector
    dense_score = np.maximum(similarity, passage_similarity)
    top_bm25 = float(bm25.max(initial=0.0))
    lexical = bm25[candidates] / top_bm25 if top_bm25 > 0 else np.zeros(candidates.size)
    coverage = index.lexical.coverage(ids, unknown, candidates)
    fused = weights.dense * dense_score + weights.lexical * lexical * coverage
    answer_type = expected_answer(query)
    if answer_type is not None:
        has_type = [bool(answer_type.search(index.passages[c].text)) for c in candidates]
        fused = fused + weights.answer_type_bonus * np.asarray(has_type, dtype=np.float32)
    order = np.argsort(-fused)
    return [
        Hit(
            passage=int(candidates[i]),
            sentence=int(best_sentence[i]),
            score=float(fused[i]),
            dense=float(dense_score[i]),
            coverage=float(coverage[i]),
        )
        for i in order
    ]


def relevance(hit: Hit, weights: Weights) -> float:
    """An absolute measure of how well the best passage speaks to the question."""
    return weights.gate_dense * hit.dense + weights.gate_coverage * hit.coverage


def addresses(
    index: PassageIndex, hit: Hit, focus_vector: npt.NDArray[np.float32], weights: Weights
) -> bool:
    """Whether the hit's passage is close to the question's focus (its words without names)."""
    candidate = np.asarray([hit.passage], dtype=np.int64)
    _, sentence_similarity = _sentence_match(index, candidate, focus_vector)
    passage_similarity = float(index.passage_vectors[hit.passage] @ focus_vector)
    similarity = max(float(sentence_similarity[0]), passage_similarity)
    return similarity >= weights.min_focus_similarity


def select(index: PassageIndex, hits: list[Hit], weights: Weights, limit: int) -> list[Hit]:
    """The best hits, preferring other sources and skipping near-duplicates (MMR-style)."""
    if not hits:
        return []
    floor = hits[0].score * weights.keep_ratio
    pool = [hit for hit in hits if hit.score >= floor]
    chosen: list[Hit] = []
    per_source: dict[str, int] = {}
    while pool and len(chosen) < limit:
        best = max(pool, key=lambda h: _adjusted(index, h, per_source, weights))
        pool.remove(best)
        vector = index.sentence_vectors[best.sentence]
        if all(
            float(vector @ index.sentence_vectors[c.sentence]) < weights.redundancy for c in chosen
        ):
            chosen.append(best)
            doc_id = index.passages[best.passage].doc_id
            per_source[doc_id] = per_source.get(doc_id, 0) + 1
    return chosen


def _adjusted(index: PassageIndex, hit: Hit, per_source: dict[str, int], weights: Weights) -> float:
    repeats = per_source.get(index.passages[hit.passage].doc_id, 0)
    return hit.score - weights.same_source_penalty * repeats


def _sentence_match(
    index: PassageIndex, candidates: npt.NDArray[np.int64], query_vector: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """For each candidate passage, its best sentence (global index) and that similarity."""
    starts = index.sentence_start[candidates]
    lengths = index.sentence_start[candidates + 1] - starts
    group = np.repeat(np.arange(candidates.size), lengths)
    members = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    members += np.repeat(starts, lengths)
    sims = index.sentence_vectors[members] @ query_vector
    order = np.lexsort((-sims, group))
    first = order[np.r_[0, np.flatnonzero(np.diff(group[order])) + 1]]
    return members[first], sims[first]


def _top(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
    """Indices of the `k` highest positive scores, in no particular order."""
    top = np.argpartition(-scores, k)[:k] if scores.size > k else np.arange(scores.size)
    return top[scores[top] > 0]
