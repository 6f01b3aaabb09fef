"""From ranked candidates to the excerpts shown: the best, from several sources, no repeats."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from knowledge.features import Candidates
from knowledge.store import PassageIndex

KEEP_RATIO = 0.5  # excerpts at least half as likely to answer as the best one
REDUNDANCY = 0.85  # sentences this similar say the same thing: show one
SAME_SOURCE_PENALTY = 0.05  # prefer another document to a third excerpt of the same one


@dataclass(frozen=True)
class Hit:
    """One ranked passage, its best-matching sentence (global index), and its probability
    of answering the question."""

    passage: int
    sentence: int
    score: float


def hits(
    found: Candidates, order: npt.NDArray[np.int64], scores: npt.NDArray[np.float32]
) -> list[Hit]:
    return [Hit(int(found.passages[i]), int(found.sentences[i]), float(scores[i])) for i in order]


def select(index: PassageIndex, ranked: list[Hit], limit: int) -> list[Hit]:
    """The best hits, preferring other sources and skipping near-duplicates (MMR-style)."""
    if not ranked:
        return []
    floor = ranked[0].score * KEEP_RATIO
    pool = [hit for hit in ranked if hit.score >= floor]
    chosen: list[Hit] = []
    per_source: dict[str, int] = {}
    while pool and len(chosen) < limit:
        best = max(pool, key=lambda h: _adjusted(index, h, per_source))
        pool.remove(best)
        vector = index.sentence_vectors[best.sentence]
        if all(float(vector @ index.sentence_vectors[c.sentence]) < REDUNDANCY for c in chosen):
            chosen.append(best)
            doc_id = index.passages[best.passage].doc_id
            per_source[doc_id] = per_source.get(doc_id, 0) + 1
    return chosen


def _adjusted(index: PassageIndex, hit: Hit, per_source: dict[str, int]) -> float:
    repeats = per_source.get(index.passages[hit.passage].doc_id, 0)
    return hit.score - SAME_SOURCE_PENALTY * repeats
