"""An index's sentences in another model's space, cached per document on disk.

Another model (the multilingual one of knowledge/crosslingual.py, the bigger English one of
knowledge/mpnet.py) embeds every sentence of the index once. The vectors are kept in a
cache folder, one file per document, keyed by the model and the document's sentences, so a
changed document is embedded again and the others are only read. When too many sentences
are missing to embed while a question waits, a background thread makes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from knowledge.arrays import read_npy
from knowledge.errors import KnowledgeError
from knowledge.safefiles import write_atomic
from knowledge.store import PassageIndex

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]


class Embedder(Protocol):
    """A model that embeds questions and the collection's sentences into one space."""

    model_id: str  # part of every cache key
    dimension: int

    def sentences(self, texts: list[str]) -> FloatArray: ...

    def query(self, text: str) -> FloatArray: ...


@dataclass(frozen=True)
class Space:
    """The index's sentences in a model's space, in the index's order, and each passage's
    vector (the normalised mean of its sentences')."""

    sentences: FloatArray
    passages: FloatArray


class SentenceSpace:
    """One index's sentences in one model's space, made on first need."""

    def __init__(
        self,
        index: PassageIndex,
        sentence_text: Callable[[int, int], str],
        cache_dir: Path,
        embedder: Embedder,
        name: str,
    ) -> None:
        self.embedder = embedder
        self._index = index
        self._sentence_text = sentence_text
        self._cache_dir = cache_dir
        self._name = name  # of its background thread
        self._groups: list[tuple[str, list[str]]] | None = None
        self._space: Space | None = None
        self._lock = threading.Lock()
        self._background: threading.Thread | None = None

    def texts(self) -> list[str]:
        """The index's sentences, in order."""
        with self._lock:
            groups = self._sentence_groups()
        return [text for _, texts in groups for text in texts]

    def cache_files(self) -> list[Path]:
        """Where this index's vectors are cached, one file per document, made or not: the
        cache may hold other collections' files too."""
        with self._lock:
            groups = self._sentence_groups()
        return [self._cache_dir / f"{key}.npy" for key, _ in groups]

    def ready(self, sync_limit: int) -> Space | None:
        """The vectors, made now when at most `sync_limit` sentences are missing; otherwise
        None, with a background thread making them."""
        with self._lock:
            if self._space is not None:
                return self._space
            groups = self._sentence_groups()
            missing = sum(len(texts) for key, texts in groups if not self._cached(key))
            if missing > sync_limit:
                self._start_background(groups)
                return None
            making = self._background
        if making is not None:  # already being made: wait for it rather than make them twice
            making.join()
            return self._space
        return self._load_all(groups)

    def prepare(self) -> Space:
        """Embed (or read from the cache) every sentence now, whatever their number."""
        with self._lock:
            groups = self._sentence_groups()
        return self._load_all(groups)

    def _start_background(self, groups: list[tuple[str, list[str]]]) -> None:
        """(Call with the lock.)"""
        if self._background is None:
            self._background = threading.Thread(
                target=self._make, args=(groups,), name=self._name, daemon=True
            )
            self._background.start()

    def _make(self, groups: list[tuple[str, list[str]]]) -> None:
        """The background thread: the model, then the vectors, so that both are ready when
        questions first see the vectors. A failure is a warning, and the vectors stay missing
        (questions do without them)."""
        try:
            self.embedder.query("warm-up")
            self._load_all(groups)
        except (OSError, KnowledgeError) as exc:
            log.warning("%s sentence vectors not made: %s", self._name, exc)

    def _sentence_groups(self) -> list[tuple[str, list[str]]]:
        """The index's sentences by document, with their cache keys (call with the lock)."""
        if self._groups is None:
            runs = _document_sentences(self._index, self._sentence_text)
            self._groups = [(self._key(texts), texts) for texts in runs]
        return self._groups

    def _key(self, texts: list[str]) -> str:
        digest = hashlib.sha256(self.embedder.model_id.encode())
        for text in texts:
            digest.update(b"\x00" + text.encode("utf-8"))
        return digest.hexdigest()

    def _load_all(self, groups: list[tuple[str, list[str]]]) -> Space:
        parts = [self._load(key, texts) for key, texts in groups]
        dimension = self.embedder.dimension
        vectors = np.concatenate(parts) if parts else np.zeros((0, dimension), dtype=np.float32)
        space = Space(vectors, _passage_vectors(self._index, vectors, dimension))
        with self._lock:
            self._space = space
        return space

    def _cached(self, key: str) -> bool:
        return (self._cache_dir / f"{key}.npy").is_file()

    def _load(self, key: str, texts: list[str]) -> FloatArray:
        path = self._cache_dir / f"{key}.npy"
        with contextlib.suppress(OSError, ValueError):
            vectors = read_npy(path)
            if vectors.shape[0] == len(texts):
                return np.asarray(vectors, dtype=np.float32)
        vectors = self.embedder.sentences(texts).reshape(len(texts), -1)
        _save(path, vectors)
        return vectors


def _passage_vectors(index: PassageIndex, sentences: FloatArray, dimension: int) -> FloatArray:
    """Each passage's vector: the normalised mean of its sentences' vectors."""
    if not len(sentences):
        return np.zeros((0, dimension), dtype=np.float32)
    sums = np.add.reduceat(sentences, index.sentence_start[:-1], axis=0)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return np.asarray(sums / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def _document_sentences(
    index: PassageIndex, sentence_text: Callable[[int, int], str]
) -> list[list[str]]:
    """The sentences of the index in order, in runs of one document each."""
    runs: list[list[str]] = []
    current: str | None = None
    for passage, info in enumerate(index.passages):
        if info.doc_id != current:
            runs.append([])
            current = info.doc_id
        start, end = index.sentence_start[passage], index.sentence_start[passage + 1]
        runs[-1].extend(sentence_text(passage, int(s)) for s in range(start, end))
    return runs


def _save(path: Path, vectors: FloatArray) -> None:
    """Write atomically; a cache that cannot be written is only slower next time."""
    buffer = io.BytesIO()
    np.save(buffer, vectors, allow_pickle=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, buffer.getvalue())
    except OSError as exc:
        log.warning("sentence vectors not cached in %s: %s", path.parent, exc)
