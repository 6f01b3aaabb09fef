"""Search latency at scale: the engine's search over a synthetic index of 10,000 and 100,000
passages.

One search is what `Engine._answer` does after encoding: `features.candidates`, the learned
`Ranking.rank` and `confidence`, then `retrieval.hits` and `retrieval.select`. Vectors are
random unit vectors (no model runs; a question's plain, subject and focus vectors are one
vector); texts are words of the real corpus sampled with a Zipf distribution, mixed with
synthetic names and numbers. Run from the repo root:
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
from knowledge import dense, features, retrieval
from knowledge.corpus import load_corpus
from knowledge.lexical import LexicalIndex
from knowledge.models import Passage
from knowledge.ranking import Ranking, probabilities
from knowledge.store import PassageIndex
from knowledge.text import expected_answer

SIZES = (10_000, 100_000)
DIMENSION = 384
QUERIES, RECALL_QUERIES, K = 300, 200, 10
CITATIONS = 6  # EngineConfig.max_citations by default
GOAL_P50_MS = 30.0
ZIPF_EXPONENT = 1.1
NAMES = 50_000
TOKEN_KINDS, TOKEN_SHARES = ("word", "name", "number"), (0.85, 0.10, 0.05)
SENTENCE_WORDS = (8, 30)  # uniform; with 1-3 sentences a passage averages ~38 words
QUERY_NOISE = 0.05  # per coordinate: a query's cosine to its source passage is about 0.7
SYLLABLES = "ka lo mi zhu an ten bei qi rong sha wu hai xin gu ta re po lin da ve".split()

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Question:
    """A synthetic question as the engine searches it, and the passage it was made from."""

    query: features.Query
    source: int


def zipf(count: int) -> npt.NDArray[np.float64]:
    """Zipf probabilities over ranks 1..count."""
    weights = 1.0 / np.arange(1, count + 1) ** ZIPF_EXPONENT
    return np.asarray(weights / weights.sum(), dtype=np.float64)


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


def make_queries(rng: np.random.Generator, index: PassageIndex, count: int) -> list[Question]:
    """A perturbed passage vector with 2-5 consecutive words of that passage; the vector
    stands for the plain, subject and focus vectors alike, the text for the focus text."""
    queries = []
    for source in rng.choice(len(index.passages), count, replace=False):
        noisy = index.passage_vectors[source] + rng.normal(0, QUERY_NOISE, DIMENSION)
        vector = unit(noisy[None, :].astype(np.float32))[0]
        words = index.passages[source].text.split()
        size = int(rng.integers(2, 6))
        first = int(rng.integers(0, max(1, len(words) - size)))
        text = " ".join(words[first : first + size])
        query = features.Query(
            text=text,
            vector=vector,
            subject_vector=vector,
            focus_vector=vector,
            focus_text=text,
            answer_type=expected_answer(text),
        )
        queries.append(Question(query, int(source)))
    return queries


def search(index: PassageIndex, ranking: Ranking, query: features.Query) -> list[retrieval.Hit]:
    """The excerpts chosen for a question, by the steps of `Engine._answer`; `select` runs
    even when the gate would decline, so every question pays for the whole path."""
    found = features.candidates(index, query)
    if found.passages.size == 0:
        return []
    order, logits = ranking.rank(found)
    ranking.answers(found, order, logits)
    return retrieval.select(index, retrieval.hits(found, order, probabilities(logits)), CITATIONS)


def time_search(index: PassageIndex, ranking: Ranking, queries: list[Question]) -> list[float]:
    """Seconds per `search`, after a short untimed warm-up."""
    for question in queries[:10]:
        search(index, ranking, question.query)
    durations = []
    for question in queries:
        start = time.perf_counter()
        search(index, ranking, question.query)
        durations.append(time.perf_counter() - start)
    return durations


def time_stages(
    index: PassageIndex, ranking: Ranking, queries: list[Question]
) -> dict[str, list[float]]:
    """Seconds per query of the main steps of `search`, each timed alone: inside
    `candidates`, its dense search, BM25 scores, coverage and sentence matching (all of it),
    then `candidates` whole, the ranking (`rank` and `confidence`) and `hits` + `select`."""
    names = ("dense.search", "BM25 scores", "coverage", "sentences", "candidates", "ranking")
    stages: dict[str, list[float]] = {name: [] for name in (*names, "select")}
    limit = features.CANDIDATES
    for question in queries:
        query = question.query
        start = time.perf_counter()
        _, found = dense.search(index.dense, np.stack([query.vector, query.subject_vector]), limit)
        searched = time.perf_counter()
        ids, unknown = index.lexical.term_ids(query.text)
        focus_ids, focus_unknown = index.lexical.term_ids(query.focus_text)
        scores = index.lexical.scores(ids)
        scored = time.perf_counter()
        top = np.argpartition(-scores, limit)[:limit]
        passages = np.unique(np.concatenate([found.ravel(), top[scores[top] > 0]]))
        passages = passages[passages >= 0]
        ready = time.perf_counter()
        index.lexical.coverage(ids, unknown, passages)
        index.lexical.coverage(focus_ids, focus_unknown, passages)
        covered = time.perf_counter()
        for vector in (query.vector, query.subject_vector, query.focus_vector):
            features.sentence_match(index, passages, vector)
            index.passage_vectors[passages] @ vector
        matched = time.perf_counter()
        candidates = features.candidates(index, query)
        gathered = time.perf_counter()
        order, logits = ranking.rank(candidates)
        ranking.answers(candidates, order, logits)
        ranked = time.perf_counter()
        retrieval.select(index, retrieval.hits(candidates, order, probabilities(logits)), CITATIONS)
        end = time.perf_counter()
        for name, seconds in zip(
            stages,
            (
                searched - start,
                scored - searched,
                covered - ready,
                matched - covered,
                gathered - matched,
                ranked - gathered,
                end - ranked,
            ),
            strict=True,
        ):
            stages[name].append(seconds)
    return stages


def recall(index: PassageIndex, queries: list[Question]) -> tuple[float, float]:
    """Recall@K of the chosen dense index against exact search, and how often its top K
    holds the query's source passage."""
    exact = faiss.IndexFlatIP(DIMENSION)
    exact.add(index.passage_vectors)
    vectors = np.stack([q.query.vector for q in queries])
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
    ranking = Ranking.load()
    latency = time_search(index, ranking, queries)
    stages = time_stages(index, ranking, queries)
    rss = peak_rss_mb()  # before `recall` adds an exact index of its own
    recall_at_k, source_found = recall(index, queries[:RECALL_QUERIES])
    p50 = 1000 * float(np.median(latency))
    return [
        f"{len(index.sentence_vectors):,} / {len(index.lexical.vocabulary):,}",
        describe(index.dense),
        f"{dense_s:.1f} s",
        f"{lexical_s:.1f} s",
        f"{ms(latency)} ({goal(p50, GOAL_P50_MS)})",
        " / ".join(f"{1000 * np.median(stages[s]):.2f}" for s in list(stages)[:4]),
        " / ".join(f"{1000 * np.median(stages[s]):.2f}" for s in list(stages)[4:]),
        f"{recall_at_k:.3f}",
        f"{source_found:.3f}",
        f"{rss:.0f} MiB",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    threads_option(parser)
    limit_threads(parser.parse_args().threads)
    print_header(
        "candidates + Ranking.rank/confidence + select on synthetic passages"
        " (random unit vectors, Zipf texts)"
    )
    labels = [
        "sentences / lexical vocabulary",
        "dense index chosen by dense.build_index",
        "dense build (train + add)",
        "lexical build (LexicalIndex.build)",
        f"search p50/p95/p99 ms, {QUERIES} queries",
        "  p50 ms: in candidates: dense.search / BM25 scores / coverage / sentences",
        "  p50 ms: candidates / rank + confidence / select",
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
