"""BM25 over passages as a sparse term matrix: one column slice and a sum per query."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from knowledge.text import terms

K1 = 1.2
B = 0.75

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class TermCounts:
    """How often each term occurs in each passage: row p, column t is the count of `words[t]`."""

    words: list[str]
    counts: sparse.csr_matrix

    @classmethod
    def of(cls, texts: list[str]) -> TermCounts:
        vocabulary: dict[str, int] = {}
        rows, cols, values = [], [], []
        for row, text in enumerate(texts):
            for term, count in Counter(terms(text)).items():
                rows.append(row)
                cols.append(vocabulary.setdefault(term, len(vocabulary)))
                values.append(count)
        counts = sparse.csr_matrix(
            (
                np.asarray(values, np.int32),
                (np.asarray(rows, np.int64), np.asarray(cols, np.int64)),
            ),
            shape=(len(texts), len(vocabulary)),
            dtype=np.int32,
        )
        return cls(words=list(vocabulary), counts=counts)

    @classmethod
    def stack(cls, parts: list[TermCounts]) -> TermCounts:
        """The rows of every part in order, over the union of their words."""
        vocabulary: dict[str, int] = {}
        blocks = []
        for part in parts:
            ids = np.asarray(
                [vocabulary.setdefault(word, len(vocabulary)) for word in part.words], np.int64
            )
            coo = part.counts.tocoo()
            blocks.append((coo.row, ids[coo.col], coo.data, part.counts.shape[0]))
        offsets = np.cumsum([0] + [block[3] for block in blocks])
        rows = np.concatenate([b[0] + o for b, o in zip(blocks, offsets, strict=False)] or [[]])
        cols = np.concatenate([b[1] for b in blocks] or [[]])
        data = np.concatenate([b[2] for b in blocks] or [[]])
        counts = sparse.csr_matrix(
            (data.astype(np.int32), (rows.astype(np.int64), cols.astype(np.int64))),
            shape=(int(offsets[-1]), len(vocabulary)),
            dtype=np.int32,
        )
        return cls(words=list(vocabulary), counts=counts)


@dataclass(frozen=True)
class LexicalIndex:
    """Eagerly weighted BM25: `weights[p, t]` is term t's BM25 contribution to passage p."""

    vocabulary: dict[str, int]
    idf: FloatArray
    weights: sparse.csc_matrix

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        return cls.from_counts(TermCounts.of(texts))

    @classmethod
    def from_counts(cls, term_counts: TermCounts) -> LexicalIndex:
        """BM25 weights from term counts: no text is read again."""
        coo = term_counts.counts.tocoo()
        n_docs, n_terms = term_counts.counts.shape
        tf = coo.data.astype(np.float32)
        rows_arr, cols_arr = coo.row.astype(np.int64), coo.col.astype(np.int64)
        df = np.bincount(cols_arr, minlength=n_terms).astype(np.float32)
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        lengths = np.asarray(term_counts.counts.sum(axis=1), dtype=np.float32).ravel()
        norm = K1 * (1 - B + B * lengths / max(float(lengths.mean()) if n_docs else 0.0, 1.0))
        values = idf[cols_arr] * tf * (K1 + 1) / (tf + norm[rows_arr])
        weights = sparse.csc_matrix(
            (values, (rows_arr, cols_arr)), shape=(n_docs, n_terms), dtype=np.float32
        )
        vocabulary = {word: i for i, word in enumerate(term_counts.words)}
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
