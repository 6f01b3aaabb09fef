"""Search latency at scale: `retrieval.rank` over a synthetic index of 10,000 and 100,000 passages.

Vectors are random unit vectors (no model runs); texts are words of the real corpus sampled
with a Zipf distribution, mixed with synthetic names and numbers. Run from the repo root:
`.venv/bin/python -m benchmarks.search_scale [--threads N]`.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from dataclasses import dataclass

import faiss
import numpy as np
import numpy.typing as npt

from benchmarks._common import (
    goal,
    limit_threads,
    ms,
    peak_rss_mb,
    print_footer,
    print_header,
    print_table,
    threads_option,
)
from knowledge import dense, retrieval
from knowledge.corpus import load_corpus
from knowledge.lexical import LexicalIndex
from knowledge.models import Passage
from knowledge.store import PassageIndex

SIZES = (10_000, 100_000)
DIMENSION = 384
QUERIES, RECALL_QUERIES, K = 300, 200, 10
GOAL_P50_MS = 30.0
ZIPF_EXPONENT = 1.1
NAMES = 50_000
TOKEN_KINDS, TOKEN_SHARES = ("word", "name", "number"), (0.85, 0.10, 0.05)
SENTENCE_WORDS = (8, 30)  # uniform; with 1-3 sentences a passage averages ~38 words
QUERY_NOISE = 0.05  # per coordinate: a query's cosine to its source passage is about 0.7
SYLLABLES = "ka lo mi zhu an ten bei qi rong sha wu hai xin gu ta re po lin da ve".split()

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Query:
    """A synthetic question: its embedding, its words, and where they came from."""

    vector: FloatArray
    text: str
    source: int  # the passage it was made from


def zipf(count: int) -> npt.NDArray[np.float64]:
    """Zipf probabilities over ranks 1..count."""
    weights = 1.0 / np.arange(1, count + 1) ** ZIPF_EXPONENT
    return weights / weights.sum()


def vocabulary(rng: np.random.Generator) -> dict[str, list[str]]:
    """Corpus words by frequency (stop words included, as in real text) and synthetic names."""
    counts = Counter(
        w for doc in load_corpus() for w in re.findall(r"[A-Za-z][A-Za-z'-]*", doc.body)
    )
    names = {"".join(rng.choice(SYLLABLES, rng.integers(2, 5))).capitalize() for _ in range(NAMES)}
    ranked_names = [str(n) for n in rng.permutation(sorted(names))]  # sorted: a fixed order
    return {"word": [w for w, _ in counts.most_common()], "name": ranked_names}


def tokens(rng: np.random.Generator, count: int, vocab: dict[str, list[str]]) -> list[str]:
    """`count` tokens: Zipf-ranked words and names, and random numbers."""
    kinds = rng.choice(len(TOKEN_KINDS), count, p=TOKEN_SHARES)
    out = np.empty(count, dtype=object)
    for kind, pool in vocab.items():
        where = kinds == TOKEN_KINDS.index(kind)
        choice = rng.choice(len(pool), int(where.sum()), p=zipf(len(pool)))
        out[where] = np.asarray(pool, dtype=object)[choice]
    where = kinds == TOKEN_KINDS.index("number")
    out[where] = rng.integers(1, 100_000, int(where.sum())).astype(str)
    return list(out)


def synthetic_passages(rng: np.random.Generator, count: int) -> list[Passage]:
    """Passages of 1-3 sentences with exact sentence offsets into their own text."""
    per_passage = rng.integers(1, 4, count)
    lengths = rng.integers(SENTENCE_WORDS[0], SENTENCE_WORDS[1] + 1, int(per_passage.sum()))
    words = iter(tokens(rng, int(lengths.sum()), vocabulary(rng)))
    sentence_lengths = iter(lengths)
    passages = []
    for i, n in enumerate(per_passage):
        text, spans = "", []
        for _ in range(n):
            sentence = " ".join(next(words) for _ in range(next(sentence_lengths)))
            start = len(text) + (1 if text else 0)
            text = f"{text} {sentence[0].upper()}{sentence[1:]}.".lstrip()
            spans.append((start, len(text)))
        passages.append(
            Passage(doc_id=f"doc-{i // 40}", start=0, end=len(text), sentences=spans, text=text)
        )
    return passages


def unit(vectors: FloatArray) -> FloatArray:
    """The rows scaled to length 1."""
    return np.ascontiguousarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


def build(rng: np.random.Generator, passages: list[Passage]) -> tuple[PassageIndex, float, float]:
    """The index over random sentence vectors (a passage's vector is their normalised mean),
    with the seconds `dense.build_index` and `LexicalIndex.build` took."""
    sentence_start = np.concatenate([[0], np.cumsum([len(p.sentences) for p in passages])])
    sentences = unit(rng.standard_normal((int(sentence_start[-1]), DIMENSION), dtype=np.float32))
    vectors = unit(np.add.reduceat(sentences, sentence_start[:-1]))
    start = time.perf_counter()
    dense_index = dense.build_index(vectors)
    dense_s = time.perf_counter() - start
    lexical = LexicalIndex.build([p.text for p in passages])
    lexical_s = time.perf_counter() - start - dense_s
    index = PassageIndex(
        passages=passages,
        dense=dense_index,
        passage_vectors=vectors,
        sentence_vectors=sentences,
        sentence_start=sentence_start.astype(np.int64),
        lexical=lexical,
    )
    return index, dense_s, lexical_s


def make_queries(rng: np.random.Generator, index: PassageIndex, count: int) -> list[Query]:
    """A perturbed passage vector with 2-5 consecutive words of that passage."""
    queries = []
    for source in rng.choice(len(index.passages), count, replace=False):
        noisy = index.passage_vectors[source] + rng.normal(0, QUERY_NOISE, DIMENSION)
        words = index.passages[source].text.split()
        size = int(rng.integers(2, 6))
        first = int(rng.integers(0, max(1, len(words) - size)))
        text = " ".join(words[first : first + size])
        queries.append(Query(unit(noisy[None, :].astype(np.float32))[0], text, int(source)))
    return queries


def time_rank(index: PassageIndex, queries: list[Query]) -> list[float]:
    """Seconds per `retrieval.rank` call, after a short untimed warm-up."""
    weights = retrieval.Weights()
    for query in queries[:10]:
        retrieval.rank(index, query.vector, query.text, weights)
    durations = []
    for query in queries:
        start = time.perf_counter()
        retrieval.rank(index, query.vector, query.text, weights)
        durations.append(time.perf_counter() - start)
    return durations


def time_stages(index: PassageIndex, queries: list[Query]) -> dict[str, list[float]]:
    """Seconds per query of the main steps of `rank`, each timed alone."""
    stages: dict[str, list[float]] = {"dense.search": [], "BM25 scores": [], "coverage": []}
    for query in queries:
        start = time.perf_counter()
        _, found = dense.search(index.dense, query.vector[None, :], retrieval.CANDIDATES)
        searched = time.perf_counter()
        ids, unknown = index.lexical.term_ids(query.text)
        scores = index.lexical.scores(ids)
        scored = time.perf_counter()
        top = np.argpartition(-scores, retrieval.CANDIDATES)[: retrieval.CANDIDATES]
        candidates = np.unique(np.concatenate([found[0], top]))
        ready = time.perf_counter()
        index.lexical.coverage(ids, unknown, candidates)
        end = time.perf_counter()
        stages["dense.search"].append(searched - start)
        stages["BM25 scores"].append(scored - searched)
        stages["coverage"].append(end - ready)
    return stages


def recall(index: PassageIndex, queries: list[Query]) -> tuple[float, float]:
    """Recall@K of the chosen dense index against exact search, and how often its top K
    holds the query's source passage."""
    exact = faiss.IndexFlatIP(DIMENSION)
    exact.add(index.passage_vectors)
    vectors = np.stack([q.vector for q in queries])
    _, chosen = index.dense.search(vectors, K)
    _, truth = exact.search(vectors, K)
    overlap = [len(set(a) & set(b)) / K for a, b in zip(chosen, truth, strict=True)]
    found = [q.source in row for q, row in zip(queries, chosen, strict=True)]
    return float(np.mean(overlap)), float(np.mean(found))


def describe(index: faiss.Index) -> str:
    """The faiss index type, with its list and probe counts when it is an inverted file."""
    name = type(index).__name__
    if isinstance(index, faiss.IndexIVF):
        return f"{name} (nlist {index.nlist}, nprobe {index.nprobe})"
    return name


def measure(size: int, seed: int = 0) -> list[str]:
    """One column of the table: every figure for a synthetic index of `size` passages."""
    rng = np.random.default_rng(seed)
    index, dense_s, lexical_s = build(rng, synthetic_passages(rng, size))
    queries = make_queries(rng, index, QUERIES)
    latency = time_rank(index, queries)
    stages = time_stages(index, queries)
    rss = peak_rss_mb()  # before `recall` adds an exact index of its own
    recall_at_k, source_found = recall(index, queries[:RECALL_QUERIES])
    p50 = 1000 * float(np.median(latency))
    return [
        f"{len(index.sentence_vectors):,} / {len(index.lexical.vocabulary):,}",
        describe(index.dense),
        f"{dense_s:.1f} s",
        f"{lexical_s:.1f} s",
        f"{ms(latency)} ({goal(p50, GOAL_P50_MS)})",
        " / ".join(f"{1000 * np.median(s):.2f}" for s in stages.values()),
        f"{recall_at_k:.3f}",
        f"{source_found:.3f}",
        f"{rss:.0f} MiB",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    threads_option(parser)
    limit_threads(parser.parse_args().threads)
    print_header("retrieval.rank on synthetic passages (random unit vectors, Zipf texts)")
    labels = [
        "sentences / lexical vocabulary",
        "dense index chosen by dense.build_index",
        "dense build (train + add)",
        "lexical build (LexicalIndex.build)",
        f"rank p50/p95/p99 ms, {QUERIES} queries",
        "  p50 ms: dense.search / BM25 scores / coverage",
        f"dense recall@{K} vs exact flat, {RECALL_QUERIES} q",
        f"source passage in dense top {K}",
        "peak RSS of the process, up to this size",
    ]
    columns = [measure(size) for size in SIZES]
    rows = [[label, *cells] for label, *cells in zip(labels, *columns, strict=True)]
    rows[4].append(f"p50 <= {GOAL_P50_MS:.0f} ms")
    print_table(
        ["passages", *(f"{s:,}" for s in SIZES), "goal"],
        [row + [""] * (len(SIZES) + 2 - len(row)) for row in rows],
    )
    print_footer()


if __name__ == "__main__":
    main()
