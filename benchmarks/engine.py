"""Engine benchmark on the real corpus: index build, cold start, answer latency, throughput, memory.

Run from the repo root: `.venv/bin/python -m benchmarks.engine [--threads N]`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks._common import (
    goal,
    limit_threads,
    ms,
    peak_rss_mb,
    percentiles,
    print_footer,
    print_header,
    print_table,
    threads_option,
)
from knowledge import Engine, EngineConfig
from knowledge.embedding import Encoder
from knowledge.text import terms

BUILDS = 3
COLD_STARTS = 3
WARM_ANSWERS = 600
WARM_UP = 10  # questions answered before timing
CACHED_QUESTIONS, CACHED_ROUNDS = 50, 10
ENCODER_CALLS = 100
BATCH_SIZES = (1, 8, 32)
BATCH_QUESTIONS, BATCH_REPEATS = 64, 3
GOAL_P50_MS, GOAL_P99_MS, GOAL_COLD_S = 15.0, 50.0, 8.0
COLD_QUESTION = "What is a little giant?"

TEMPLATES = (
    "What is {}?",
    "What do the articles say about {}?",
    "How does {} affect the little giants?",
    "Why does {} matter for Chinese SMEs?",
    "who is in charge of {}",
    "When did {} start, and how has it changed since?",
    "Is there any data on {}?",
    "explain {} in simple terms pls",
)
_WORD = re.compile(r"[A-Za-z][A-Za-z-]{3,}")

# Run in a fresh interpreter: load the engine from a built index and answer one question.
_COLD_START = """
import json, sys, time
from pathlib import Path
from benchmarks._common import own_peak_rss_mb
from knowledge import Engine, EngineConfig
imported = time.monotonic()
engine = Engine.load(EngineConfig(index_dir=Path(sys.argv[1])))
loaded = time.monotonic()
kind = engine.answer(sys.argv[2]).kind.value
print(json.dumps({"imported": imported, "loaded": loaded, "answered": time.monotonic(),
                  "status": engine.index_status, "kind": kind,
                  "rss_mb": own_peak_rss_mb()}))
"""


def question_pool(engine: Engine, seed: int = 0) -> Iterator[str]:
    """Endless distinct questions (so none hits the query cache): templates x corpus words."""
    counts = Counter(w for doc in engine.documents for w in _WORD.findall(doc.body) if terms(w))
    base = [t.format(w) for t in TEMPLATES for w, _ in counts.most_common(200)]
    random.Random(seed).shuffle(base)
    for round_ in itertools.count():
        yield from (q if round_ == 0 else f"{q} ({round_})" for q in base)


def take(pool: Iterator[str], count: int) -> list[str]:
    """The next `count` questions of the pool."""
    return list(itertools.islice(pool, count))


def time_builds(encoder: Encoder, root: Path) -> list[float]:
    """Seconds for each `Engine.load` into a fresh index directory (the model given)."""
    durations = []
    for i in range(BUILDS):
        start = time.perf_counter()
        engine = Engine.load(EngineConfig(index_dir=root / f"build-{i}"), encoder=encoder)
        durations.append(time.perf_counter() - start)
        if not engine.index_status.startswith("built"):
            raise RuntimeError(f"expected a fresh build, got {engine.index_status!r}")
    return durations


def cold_start(index_dir: Path) -> dict[str, Any]:
    """Spawn a fresh interpreter that loads the built index and answers one question."""
    spawned = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _COLD_START, str(index_dir), COLD_QUESTION],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold-start process failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["status"] != "loaded":
        raise RuntimeError(f"cold start did not reuse the index: {result['status']!r}")
    result["spawned"] = spawned
    return result


def time_answers(engine: Engine, questions: list[str]) -> tuple[list[float], Counter[str]]:
    """Seconds per `engine.answer`, and how many answers of each kind."""
    durations, kinds = [], Counter[str]()
    for question in questions:
        start = time.perf_counter()
        kinds[engine.answer(question).kind.value] += 1
        durations.append(time.perf_counter() - start)
    return durations, kinds


def time_encoder(encoder: Encoder, questions: list[str]) -> list[float]:
    """Seconds per single-question `encoder.encode_queries`: the model's share of an answer."""
    durations = []
    for question in questions:
        start = time.perf_counter()
        encoder.encode_queries([question])
        durations.append(time.perf_counter() - start)
    return durations


def throughput(engine: Engine, pool: Iterator[str], size: int) -> float:
    """Median questions per second of `answer_many` in batches of `size`, fresh questions."""
    rates = []
    for _ in range(BATCH_REPEATS):
        questions = take(pool, BATCH_QUESTIONS)
        start = time.perf_counter()
        for i in range(0, len(questions), size):
            engine.answer_many(questions[i : i + size])
        rates.append(len(questions) / (time.perf_counter() - start))
    return statistics.median(rates)


def cold_row(runs: list[dict[str, Any]]) -> list[str]:
    """Median total spawn-to-answer time, with the medians of its phases."""

    def phase(start: str, end: str) -> float:
        return float(statistics.median(r[end] - r[start] for r in runs))

    total = phase("spawned", "answered")
    parts = (
        f"spawn+import {phase('spawned', 'imported'):.2f}, "
        f"Engine.load {phase('imported', 'loaded'):.2f}, "
        f"answer {phase('loaded', 'answered'):.2f}"
    )
    return [
        f"cold start to first answer, median of {len(runs)}",
        f"{total:.2f} s ({parts})",
        f"<= {GOAL_COLD_S:.0f} s {goal(total, GOAL_COLD_S)}",
    ]


def latency_rows(
    warm: list[float], kinds: Counter[str], cached: list[float], encoder: list[float]
) -> list[list[str]]:
    """Table rows for the latency samples (seconds), with the goals for warm answers."""
    p50, _, p99 = percentiles(warm)
    verdict = (
        f"p50 <= {GOAL_P50_MS:.0f} {goal(1000 * p50, GOAL_P50_MS)}, "
        f"p99 <= {GOAL_P99_MS:.0f} {goal(1000 * p99, GOAL_P99_MS)}"
    )
    mix = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    return [
        [f"warm answer p50/p95/p99, {len(warm)} distinct questions", f"{ms(warm)} ms", verdict],
        ["  answer kinds of those", mix, ""],
        [f"cached answer p50/p95/p99, {len(cached)} repeats", f"{ms(cached)} ms", ""],
        [f"encoder.encode_queries alone, 1 question, n={len(encoder)}", f"{ms(encoder)} ms", ""],
    ]


def measure_index(encoder: Encoder) -> tuple[list[float], list[dict[str, Any]], Engine]:
    """Build times, cold starts from the first built index, and an engine loaded from it."""
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        builds = time_builds(encoder, Path(tmp))
        cold = [cold_start(Path(tmp) / "build-0") for _ in range(COLD_STARTS)]
        engine = Engine.load(EngineConfig(index_dir=Path(tmp) / "build-0"), encoder=encoder)
    return builds, cold, engine


def answer_rows(engine: Engine) -> list[list[str]]:
    """Warm, cached and encoder-only latency, then batch throughput, on fresh questions."""
    pool = question_pool(engine)
    engine.warm_second_stage()  # its models load once, as a bot's workers do before answering
    for question in take(pool, WARM_UP):  # warm-up, not timed
        engine.answer(question)
    warm_questions = take(pool, WARM_ANSWERS)
    warm, kinds = time_answers(engine, warm_questions)
    cached, _ = time_answers(engine, warm_questions[:CACHED_QUESTIONS] * CACHED_ROUNDS)
    encoder_only = time_encoder(engine.encoder, take(pool, ENCODER_CALLS))
    rates = [throughput(engine, pool, size) for size in BATCH_SIZES]
    batches = " / ".join(map(str, BATCH_SIZES))
    return [
        *latency_rows(warm, kinds, cached, encoder_only),
        [
            f"answer_many throughput, batch {batches}",
            " / ".join(f"{r:.1f}" for r in rates) + " q/s",
        ],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    threads_option(parser)
    limit_threads(parser.parse_args().threads)
    print_header("Engine on knowledge/corpus (public API)")
    start = time.perf_counter()
    encoder = Encoder(EngineConfig().model)
    model_s = time.perf_counter() - start
    builds, cold, engine = measure_index(encoder)
    rows = answer_rows(engine)
    sizes = f"{len(engine.index.passages)} passages, {len(engine.index.sentence_vectors)} sentences"
    build = f"{statistics.median(builds):.2f} s (min {min(builds):.2f}, max {max(builds):.2f})"
    child_rss = statistics.median(r["rss_mb"] for r in cold)
    rows = [
        ["model load (once, shared)", f"{model_s:.2f} s"],
        [f"index build, median of {BUILDS} ({sizes})", build],
        cold_row(cold),
        *rows,
        [
            "peak RSS: this process / cold-start process",
            f"{peak_rss_mb():.0f} / {child_rss:.0f} MiB",
        ],
    ]
    print_table(["measure", "value", "goal"], [row + [""] * (3 - len(row)) for row in rows])
    print_footer()


if __name__ == "__main__":
    main()
