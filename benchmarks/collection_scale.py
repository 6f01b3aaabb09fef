"""A grown collection: add generated documents one at a time, then answer questions.

    .venv/bin/python -m benchmarks.collection_scale [--documents 200] [--words 3000] [--keep DIR]

Each document is ~3,000 words of English made from the bundled articles' words (Zipf-ranked)
around one made-up fact, written as a .txt file and added with `knowledge.collection.add`
(what `python -m bot add` runs), so every add embeds only its own passages. Printed: the time
per add as the collection grows, the index size on disk, the time to load the grown index
(what a worker's reload costs), peak memory, and warm answer latency over questions about the
facts (each asked once: no query cache), with how many were answered from their document.
`--keep DIR` builds the grown collection in DIR and keeps it; run again with the same DIR, it
skips the adds and measures the answers only (for profiling the engine at this size).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks._common import (
    ms,
    peak_rss_mb,
    print_footer,
    print_header,
)
from knowledge import AnswerKind, Engine, EngineConfig, collection
from knowledge.corpus import load_corpus
from knowledge.embedding import Encoder
from knowledge.ingest import read_file

SYLLABLES = ("ka", "lo", "mi", "ren", "tav", "zu", "qui", "bel", "dor", "fen", "sa", "vo")
PRODUCTS = ("valves", "sensors", "bearings", "lenses", "gearboxes", "pumps", "drones", "chips")


def name(rng: np.random.Generator) -> str:
    return "".join(rng.choice(SYLLABLES, rng.integers(2, 4))).capitalize()


def document(
    rng: np.random.Generator, words: list[str], weights: np.ndarray, size: int
) -> tuple[str, str, str]:
    """A text of about `size` words with one fact in its middle, the question it answers and
    the fact's number."""
    company, city = f"{name(rng)} {name(rng)} Works", name(rng)
    product, count, year = (
        rng.choice(PRODUCTS),
        int(rng.integers(100, 99_999)),
        int(rng.integers(1990, 2025)),
    )
    fact = f"The {company} of {city} made {count:,} {product} in {year}."
    question = f"How many {product} did the {company} make in {year}?"
    sentences, total = [], 0
    while total < size:
        length = int(rng.integers(12, 28))
        chosen = rng.choice(len(words), length, p=weights)
        sentence = " ".join(words[i] for i in chosen)
        sentences.append(f"{sentence[0].upper()}{sentence[1:]}.")
        total += length
    sentences.insert(len(sentences) // 2, fact)
    paragraphs = [" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5)]
    title = f"Report {len(sentences)}: {company}"
    return f"{title}\n\n" + "\n\n".join(paragraphs) + "\n", question, f"{count:,}"


def vocabulary() -> tuple[list[str], np.ndarray]:
    counts = Counter(
        w for doc in load_corpus() for w in re.findall(r"[A-Za-z][A-Za-z'-]*", doc.body)
    )
    words = [w for w, _ in counts.most_common()]
    weights = 1.0 / np.arange(1, len(words) + 1) ** 1.05
    return words, weights / weights.sum()


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


Facts = tuple[list[str], list[str]]  # the questions, and the figure each answer holds


def grow(config: EngineConfig, encoder: Encoder, root: Path, documents: int, words: int) -> Facts:
    """Add `documents` generated documents one at a time; print the time per add."""
    rng = np.random.default_rng(7)
    vocab, weights = vocabulary()
    Engine.load(config, encoder=encoder)  # the bundled articles' index
    questions, answers, seconds = [], [], []
    for number in range(documents):
        text, question, count = document(rng, vocab, weights, words)
        path = root / f"report-{number:03d}.txt"
        path.write_text(text, encoding="utf-8")
        started = time.perf_counter()
        doc = read_file(
            path, max_file_bytes=config.max_file_bytes, max_text_chars=config.max_text_chars
        )
        collection.add(config, [doc], lambda: encoder)
        seconds.append(time.perf_counter() - started)
        questions.append(question)
        answers.append(count)
        if (number + 1) % 50 == 0:
            print(f"added {number + 1}: the last 50 took {np.mean(seconds[-50:]):.2f} s each")
    print(f"add, per document (p50 / p95 / p99, ms): {ms(seconds)}; total {sum(seconds):.0f} s")
    return questions, answers


def measure(config: EngineConfig, encoder: Encoder, facts: Facts) -> Engine:
    """Load the grown index, then time warm answers to the facts' questions."""
    started = time.perf_counter()
    engine = Engine.load(config, encoder=encoder)
    load_seconds = time.perf_counter() - started
    print(
        f"collection: {len(engine.documents)} documents, "
        f"{len(engine.index.passages):,} passages, "
        f"{len(engine.index.sentence_vectors):,} sentences"
    )
    print(
        f"index on disk: {folder_size(config.index_dir) / 2**20:.1f} MiB "
        f"(collection folder {folder_size(config.collection_dir) / 2**20:.1f} MiB)"
    )
    print(f"loading the grown index (a reload): {load_seconds:.2f} s")
    for number in range(20):  # warm-up, with questions of their own (answers are cached)
        engine.answer(f"What did the works make in warm-up round {number}?")
    latencies, right = [], 0
    for question, count in zip(*facts, strict=True):
        started = time.perf_counter()
        answer = engine.answer(question)
        latencies.append(time.perf_counter() - started)
        right += answer.kind is AnswerKind.ANSWERED and count in answer.citations[0].text
    print(f"warm answer latency (p50 / p95 / p99, ms): {ms(latencies)}")
    print(f"answered from the right document, first citation: {right}/{len(facts[0])}")
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--words", type=int, default=3000)
    parser.add_argument("--keep", type=Path, help="build in DIR and keep it; reuse it if built")
    args = parser.parse_args()
    print_header(f"collection scale: {args.documents} documents of ~{args.words} words")
    root = args.keep or Path(tempfile.mkdtemp(prefix="collection-scale-"))
    kept = root / "facts.json"
    try:
        config = EngineConfig(collection_dir=root / "collection", index_dir=root / "index")
        encoder = Encoder(config.model)
        if kept.exists():
            print(f"reusing the collection grown in {root}")
            questions, answers = json.loads(kept.read_text(encoding="utf-8"))
            facts = (questions, answers)
        else:
            root.mkdir(parents=True, exist_ok=True)
            facts = grow(config, encoder, root, args.documents, args.words)
            if args.keep:
                kept.write_text(json.dumps(facts), encoding="utf-8")
        engine = measure(config, encoder, facts)
        if not args.keep:
            started = time.perf_counter()
            collection.remove(config, [engine.documents[-1].doc_id], lambda: encoder)
            print(f"remove one document: {1000 * (time.perf_counter() - started):.0f} ms")
        print(f"peak memory (RSS): {peak_rss_mb():.0f} MiB")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print_footer()


if __name__ == "__main__":
    main()
