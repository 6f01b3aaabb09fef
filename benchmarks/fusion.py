"""Fusion methods compared on question sets: dense only, BM25 only, RRF, the engine's fusion.

Run from the repo root: `.venv/bin/python -m benchmarks.fusion [QUESTIONS.jsonl ...]`
(default: ../shared/eval/dev.jsonl and benchmarks/calibration.jsonl). Passages count as hits
by the scorer's own test, `score.is_hit`; only questions with gold quotes are scored.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import numpy.typing as npt

from benchmarks._common import print_footer, print_header, print_table
from knowledge import Engine, EngineConfig, retrieval
from knowledge.store import PassageIndex
from knowledge.text import clean_question

DEFAULT_FILES = ("../shared/eval/dev.jsonl", "benchmarks/calibration.jsonl")
SCORER_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
RRF_K = 60
DENSE_WEIGHTS = (0.5, 0.6, 0.7, 0.8)
CUTOFF = 10  # MRR counts ranks up to here

FloatArray = npt.NDArray[np.float32]
Ranker = Callable[[PassageIndex, FloatArray, str], list[int]]


def dense_ranking(index: PassageIndex, vector: FloatArray, text: str) -> list[int]:
    """All passages by the larger of passage and best-sentence cosine, as in `retrieval.rank`."""
    best_sentence = np.maximum.reduceat(index.sentence_vectors @ vector, index.sentence_start[:-1])
    scores = np.maximum(index.passage_vectors @ vector, best_sentence)
    return [int(p) for p in np.argsort(-scores, kind="stable")]


def bm25_ranking(index: PassageIndex, vector: FloatArray, text: str) -> list[int]:
    """Passages with a positive BM25 score, best first."""
    scores = index.lexical.scores(index.lexical.term_ids(text)[0])
    return [int(p) for p in np.argsort(-scores, kind="stable") if scores[p] > 0]


def rrf_ranking(index: PassageIndex, vector: FloatArray, text: str) -> list[int]:
    """Reciprocal rank fusion of the dense and BM25 rankings."""
    fused: defaultdict[int, float] = defaultdict(float)
    for ranking in (dense_ranking(index, vector, text), bm25_ranking(index, vector, text)):
        for rank, passage in enumerate(ranking, 1):
            fused[passage] += 1 / (RRF_K + rank)
    return sorted(fused, key=fused.__getitem__, reverse=True)


def engine_ranking(weights: retrieval.Weights) -> Ranker:
    """The engine's own weighted fusion, `retrieval.rank` (with its answer-type bonus)."""

    def ranking(index: PassageIndex, vector: FloatArray, text: str) -> list[int]:
        return [hit.passage for hit in retrieval.rank(index, vector, text, weights)]

    return ranking


def methods() -> dict[str, Ranker]:
    """Every ranking to compare, by name; the weight variants keep dense + lexical = 1."""
    default = retrieval.Weights()
    variants = {
        f"retrieval.rank, dense {d:.2f} lexical {1 - d:.2f}": engine_ranking(
            dataclasses.replace(default, dense=d, lexical=round(1 - d, 2))
        )
        for d in DENSE_WEIGHTS
    }
    return {
        "dense only": dense_ranking,
        "BM25 only": bm25_ranking,
        f"RRF k={RRF_K}": rrf_ranking,
        f"retrieval.rank, Weights() {default.dense:.2f}/{default.lexical:.2f}": engine_ranking(
            default
        ),
        **variants,
    }


def load_scorer() -> ModuleType:
    """The evaluation's `score` module, for its `is_hit`."""
    sys.path.insert(0, str(SCORER_DIR))
    return importlib.import_module("score")


def load_questions(path: Path) -> list[dict[str, object]]:
    """The questions of a file that have gold quotes (the in-scope ones)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [q for q in map(json.loads, filter(str.strip, lines)) if q["gold"]]


def first_hits(ranking: list[int], hits: set[int]) -> int | None:
    """1-based rank of the first hit within CUTOFF, if any."""
    return next((r for r, p in enumerate(ranking[:CUTOFF], 1) if p in hits), None)


def scores(ranks: list[int | None]) -> list[str]:
    """hit@1, hit@3 and MRR@CUTOFF of first-hit ranks."""
    count = max(1, len(ranks))
    hit1 = sum(r == 1 for r in ranks) / count
    hit3 = sum(r is not None and r <= 3 for r in ranks) / count
    mrr = sum(1 / r for r in ranks if r is not None) / count
    return [f"{hit1:.3f}", f"{hit3:.3f}", f"{mrr:.3f}"]


def file_rows(engine: Engine, scorer: ModuleType, path: Path) -> list[list[str]]:
    """One row per method for the in-scope questions of one file."""
    questions = load_questions(path)
    texts = [clean_question(str(q["question"])) for q in questions]
    vectors = engine.encoder.encode_queries(texts)
    passages = engine.index.passages
    hits = [
        {i for i, p in enumerate(passages) if scorer.is_hit(p.text, q["gold"])} for q in questions
    ]
    reachable = f"{len(questions)} ({sum(map(bool, hits))} with a hit passage)"
    rows = []
    for name, ranker in methods().items():
        rankings = [ranker(engine.index, v, t) for v, t in zip(vectors, texts, strict=True)]
        ranks = [first_hits(r, h) for r, h in zip(rankings, hits, strict=True)]
        rows.append([path.name, reachable, name, *scores(ranks)])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path, default=[Path(f) for f in DEFAULT_FILES])
    files = parser.parse_args().files
    print_header("passage rankings by fusion method (in-scope questions only)")
    scorer = load_scorer()
    with tempfile.TemporaryDirectory(prefix="bench-fusion-") as tmp:
        engine = Engine.load(EngineConfig(index_dir=Path(tmp) / "index"))
    rows = [row for path in files for row in file_rows(engine, scorer, path)]
    header = ["file", "in-scope questions", "method", "hit@1", "hit@3", f"MRR@{CUTOFF}"]
    print_table(header, rows)
    print_footer()


if __name__ == "__main__":
    main()
