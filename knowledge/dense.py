"""The dense side: a faiss inner-product index whose type follows the corpus size."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

# One query at a time: threads only add hand-offs, and hurt when the other core is busy.
faiss.omp_set_num_threads(1)

# Up to this many vectors an exact scan stays within a few milliseconds on two cores.
EXACT_LIMIT = 20_000
# Lists searched per query: an eighth of them keeps recall high and a query near 1 ms at 100k.
_PROBE_SHARE = 8


def build_index(vectors: npt.NDArray[np.float32]) -> faiss.Index:
    """Exact search for small corpora, an inverted-file index above EXACT_LIMIT vectors."""
    count, dimension = vectors.shape
    index: faiss.Index
    if count <= EXACT_LIMIT:
        index = faiss.IndexFlatIP(dimension)
    else:
        lists = int(4 * np.sqrt(count))
        inverted = faiss.IndexIVFFlat(
            faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT
        )
        sample = vectors[np.random.default_rng(0).choice(count, min(count, lists * 40), False)]
        inverted.train(sample)
        inverted.nprobe = max(1, lists // _PROBE_SHARE)
        index = inverted
    index.add(vectors)
    return index


def search(
    index: faiss.Index, queries: npt.NDArray[np.float32], k: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Scores and ids of the `k` nearest vectors of each query (ids -1 where fewer exist)."""
    scores, ids = index.search(queries, min(k, index.ntotal))
    return scores, ids


def save_index(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_index(path: Path) -> faiss.Index:
    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexIVF):
        index.nprobe = max(1, index.nlist // _PROBE_SHARE)
    return index
