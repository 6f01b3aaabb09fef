"""BM25 over passages as a sparse term matrix: one column slice and a sum per query."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import sparse

from knowledge.text import terms

K1 = 1.2
B = 0.75

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class LexicalIndex:
    """Eagerly weighted BM25: `weights[p, t]` is term t's BM25 contribution to passage p."""

    vocabulary: dict[str, int]
    idf: FloatArray
    weights: sparse.csc_matrix

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        counts = [Counter(terms(text)) for text in texts]
        vocabulary: dict[str, int] = {}
        for counter in counts:
            for term in counter:
                vocabulary.setdefault(term, len(vocabulary))
        rows, cols, tfs = [], [], []
        for row, counter in enumerate(counts):
            for term, count in counter.items():
                rows.append(row)
                cols.append(vocabulary[term])
                tfs.append(count)
        n_docs = len(texts)
        tf = np.asarray(tfs, dtype=np.float32)
        cols_arr = np.asarray(cols, dtype=np.int64)
        df = np.bincount(cols_arr, minlength=len(vocabulary)).astype(np.float32)
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        lengths = np.asarray([sum(c.values()) for c in counts], dtype=np.float32)
        norm = K1 * (1 - B + B * lengths / max(float(lengths.mean()), 1.0))
        rows_arr = np.asarray(rows, dtype=np.int64)
        values = idf[cols_arr] * tf * (K1 + 1) / (tf + norm[rows_arr])
        weights = sparse.csc_matrix(
            (values, (rows_arr, cols_arr)), shape=(n_docs, len(vocabulary)), dtype=np.float32
        )
        return cls(vocabulary=vocabulary, idf=idf, weights=weights)

    def term_ids(self, query: str) -> tuple[npt.NDArray[np.int64], int]:
        """Known term ids of the query (unique) and how many query terms are unknown."""
        query_terms = set(terms(query))
        ids = [self.vocabulary[t] for t in query_terms if t in self.vocabulary]
        return np.asarray(sorted(ids), dtype=np.int64), len(query_terms) - len(ids)

    def scores(self, ids: npt.NDArray[np.int64]) -> FloatArray:
        """BM25 score of every passage for the given term ids."""
        if ids.size == 0:
            return np.zeros(self.weights.shape[0], dtype=np.float32)
        return np.asarray(self.weights[:, ids].sum(axis=1), dtype=np.float32).ravel()

    def coverage(
        self, ids: npt.NDArray[np.int64], unknown: int, rows: npt.NDArray[np.int64]
    ) -> FloatArray:
        """Share of the query's idf mass that each of `rows` holds (unknown terms count fully)."""
        if ids.size == 0 and unknown == 0:
            return np.zeros(rows.size, dtype=np.float32)
        idf = self.idf[ids]
        total = float(idf.sum()) + unknown * float(self.idf.max(initial=1.0))
        present = (self.weights[:, ids][rows] > 0).astype(np.float32)  # columns first: CSC
        return np.asarray(present @ idf, dtype=np.float32).ravel() / total

    def save(self, path: Path) -> None:
        words = np.asarray(sorted(self.vocabulary, key=self.vocabulary.__getitem__))
        np.savez(
            path,
            words=words,
            idf=self.idf,
            data=self.weights.data,
            indices=self.weights.indices,
            indptr=self.weights.indptr,
            shape=np.asarray(self.weights.shape),
        )

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        with np.load(path, allow_pickle=False) as data:
            shape = tuple(int(x) for x in data["shape"])
            weights = sparse.csc_matrix(
                (data["data"], data["indices"], data["indptr"]), shape=shape
            )
            vocabulary = {str(w): i for i, w in enumerate(data["words"])}
            return cls(vocabulary=vocabulary, idf=data["idf"], weights=weights)
