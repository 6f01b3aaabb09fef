"""The index on disk: build, save with a manifest, load, and rebuild when stale or corrupt."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ValidationError
from tqdm import tqdm

from knowledge import dense
from knowledge.corpus import corpus_hash
from knowledge.embedding import Encoder, model_fingerprint
from knowledge.errors import IndexCorruptError
from knowledge.lexical import LexicalIndex
from knowledge.models import Document, Passage
from knowledge.passages import split_document

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # bump whenever passages, terms or files change meaning
_MANIFEST = "manifest.json"
_FILES = ("passages.json", "passages.faiss", "passages.npy", "sentences.npy", "lexical.npz")
_BATCH = 64


class BuildKey(BaseModel):
    """Everything an index depends on: any difference makes it stale."""

    format_version: int
    model: str
    corpus_hash: str
    max_passage_words: int
    versions: dict[str, str]


class Manifest(BaseModel):
    key: BuildKey
    passages: int
    sentences: int
    files: dict[str, str]


@dataclass(frozen=True)
class PassageIndex:
    """Passages with their dense vectors (passage and sentence level) and BM25 weights.

    The sentences of passage p are rows `sentence_start[p]:sentence_start[p + 1]` of
    `sentence_vectors`; `dense` searches `passage_vectors`.
    """

    passages: list[Passage]
    dense: faiss.Index
    passage_vectors: npt.NDArray[np.float32]
    sentence_vectors: npt.NDArray[np.float32]
    sentence_start: npt.NDArray[np.int64]
    lexical: LexicalIndex

    def sentence_span(self, passage: int, sentence: int) -> tuple[int, int]:
        """The document span of a global sentence index, which passage `passage` holds."""
        return self.passages[passage].sentences[sentence - self.sentence_start[passage]]


def build_key(documents: list[Document], model: str, max_passage_words: int) -> BuildKey:
    return BuildKey(
        format_version=FORMAT_VERSION,
        model=model_fingerprint(model),
        corpus_hash=corpus_hash(documents),
        max_passage_words=max_passage_words,
        versions={
            name: metadata.version(name)
            for name in ("little-giants-bot", "faiss-cpu", "sentence-transformers", "numpy")
            if _installed(name)
        },
    )


def load_or_build(
    directory: Path, key: BuildKey, documents: list[Document], encoder: Encoder, progress: bool
) -> tuple[PassageIndex, str]:
    """The index in `directory` if it matches `key`, else a fresh one saved there; and why."""
    try:
        return load_index(directory, key), "loaded"
    except FileNotFoundError:
        reason = "no index yet"
    except IndexCorruptError as exc:
        reason = str(exc)
        log.warning("index at %s not used: %s; rebuilding", directory, reason)
    index = build_index(documents, encoder, key.max_passage_words, progress)
    save_index(index, directory, key)
    return index, f"built ({reason})"


def build_index(
    documents: list[Document], encoder: Encoder, max_passage_words: int, progress: bool
) -> PassageIndex:
    passages = [p for doc in documents for p in split_document(doc, max_passage_words)]
    bodies = {doc.doc_id: doc.body for doc in documents}
    sentences = [bodies[p.doc_id][s:e] for p in passages for s, e in p.sentences]
    texts = [p.text for p in passages] + sentences
    vectors = _encode_with_progress(encoder, texts, progress)
    return PassageIndex(
        passages=passages,
        dense=dense.build_index(vectors[: len(passages)]),
        passage_vectors=vectors[: len(passages)],
        sentence_vectors=vectors[len(passages) :],
        sentence_start=_sentence_start(passages),
        lexical=LexicalIndex.build([p.text for p in passages]),
    )


def save_index(index: PassageIndex, directory: Path, key: BuildKey) -> None:
    """Write to a sibling temporary folder, then swap it in, so readers never see half an index."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    passages_json = json.dumps([p.model_dump(mode="json") for p in index.passages])
    (staging / "passages.json").write_text(passages_json, encoding="utf-8")
    dense.save_index(index.dense, staging / "passages.faiss")
    np.save(staging / "passages.npy", index.passage_vectors)
    np.save(staging / "sentences.npy", index.sentence_vectors)
    index.lexical.save(staging / "lexical.npz")
    manifest = Manifest(
        key=key,
        passages=len(index.passages),
        sentences=len(index.sentence_vectors),
        files={name: _sha256(staging / name) for name in _FILES},
    )
    (staging / _MANIFEST).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    retired = directory.with_name(f".{directory.name}-old-{os.getpid()}")
    if directory.exists():
        directory.rename(retired)
    staging.rename(directory)
    shutil.rmtree(retired, ignore_errors=True)


def load_index(directory: Path, key: BuildKey) -> PassageIndex:
    """Load and verify; FileNotFoundError when absent, IndexCorruptError when not to be served."""
    manifest_path = directory / _MANIFEST
    if not manifest_path.exists():
        raise FileNotFoundError(manifest_path)
    try:
        manifest = Manifest.model_validate_json(manifest_path.read_bytes())
    except (ValidationError, OSError) as exc:
        raise IndexCorruptError(f"unreadable manifest: {exc.__class__.__name__}") from exc
    if manifest.key != key:
        raise IndexCorruptError(f"stale ({_difference(manifest.key, key)} changed)")
    for name, digest in manifest.files.items():
        path = directory / name
        if not path.exists() or _sha256(path) != digest:
            raise IndexCorruptError(f"{name} is missing or does not match its checksum")
    try:
        return _read(directory, manifest)
    except (OSError, ValueError, RuntimeError, ValidationError) as exc:
        raise IndexCorruptError(f"unreadable index: {exc}") from exc


def _read(directory: Path, manifest: Manifest) -> PassageIndex:
    raw = json.loads((directory / "passages.json").read_text(encoding="utf-8"))
    passages = [Passage.model_validate(item) for item in raw]
    index = PassageIndex(
        passages=passages,
        dense=dense.load_index(directory / "passages.faiss"),
        passage_vectors=np.load(directory / "passages.npy", allow_pickle=False),
        sentence_vectors=np.load(directory / "sentences.npy", allow_pickle=False),
        sentence_start=_sentence_start(passages),
        lexical=LexicalIndex.load(directory / "lexical.npz"),
    )
    sizes = (
        index.dense.ntotal,
        index.lexical.weights.shape[0],
        len(index.passage_vectors),
        len(passages),
    )
    if len(set(sizes)) != 1 or len(index.sentence_vectors) != index.sentence_start[-1]:
        raise IndexCorruptError("index parts disagree in size")
    return index


def _sentence_start(passages: list[Passage]) -> npt.NDArray[np.int64]:
    counts = [len(p.sentences) for p in passages]
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _encode_with_progress(encoder: Encoder, texts: list[str], progress: bool) -> np.ndarray:
    chunks = []
    with tqdm(total=len(texts), desc="Embedding", unit="text", disable=not progress) as bar:
        for start in range(0, len(texts), _BATCH):
            chunks.append(encoder.encode(texts[start : start + _BATCH]))
            bar.update(len(chunks[-1]))
    return np.concatenate(chunks) if chunks else np.zeros((0, encoder.dimension), np.float32)


def _difference(old: BuildKey, new: BuildKey) -> str:
    fields = [name for name in BuildKey.model_fields if getattr(old, name) != getattr(new, name)]
    return ", ".join(fields)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True
