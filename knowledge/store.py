"""The index on disk: one part per document and a manifest naming them.

A document's part holds its passages, their vectors (passage and sentence level) and their
term counts, so adding a document embeds only its passages and removing one drops only its
part; the searchable index (faiss, BM25) is assembled from the parts when loaded. The
manifest is replaced whole, after the parts it names are written: a reader sees the old
index or the new one. Parts that do not match their checksum are embedded again, and an
index built with another model or passage size is rebuilt. The folder holds nothing but
what the index wrote; only that is ever deleted, and a folder holding anything else is
refused.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ValidationError
from scipy import sparse
from tqdm import tqdm

from knowledge import dense
from knowledge.arrays import read_npz
from knowledge.embedding import Encoder, model_fingerprint
from knowledge.errors import FolderError, IndexCorruptError
from knowledge.lexical import LexicalIndex, TermCounts
from knowledge.models import Document, Passage
from knowledge.passages import split_document
from knowledge.safefiles import TEMP_PREFIX, locked, sync_folder, write_atomic

log = logging.getLogger(__name__)

FORMAT_VERSION = 4  # bump whenever passages, terms or files change meaning
MANIFEST = "manifest.json"
_PARTS = "parts"
_LOCK = ".lock"
_PART_NAME = re.compile(r"^[0-9a-f]{64}\.npz$")
_FORMER_FILES = frozenset(  # format 2 wrote these beside its manifest
    {"passages.json", "passages.faiss", "passages.npy", "sentences.npy", "lexical.npz"}
)
_BATCH = 64
_SETTING = "index_dir"


class BuildKey(BaseModel):
    """Everything every part depends on: any difference makes the whole index stale."""

    format_version: int
    model: str
    max_passage_words: int
    versions: dict[str, str]


class PartEntry(BaseModel):
    doc_id: str
    file: str
    sha256: str
    passages: int
    sentences: int


class Manifest(BaseModel):
    key: BuildKey
    parts: list[PartEntry]


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


@dataclass(frozen=True)
class Part:
    """One document's share of the index."""

    passages: list[Passage]
    passage_vectors: npt.NDArray[np.float32]
    sentence_vectors: npt.NDArray[np.float32]
    terms: TermCounts


def build_key(model: str, max_passage_words: int) -> BuildKey:
    return BuildKey(
        format_version=FORMAT_VERSION,
        model=model_fingerprint(model),
        max_passage_words=max_passage_words,
        versions={
            name: metadata.version(name)
            for name in ("little-giants-bot", "faiss-cpu", "sentence-transformers", "numpy")
            if _installed(name)
        },
    )


def part_name(key: BuildKey, doc: Document) -> str:
    """The part's file name: a digest of what its content depends on."""
    digest = hashlib.sha256(key.model_dump_json().encode())
    digest.update(f"\0{doc.doc_id}\0{doc.body}".encode())
    return f"{digest.hexdigest()}.npz"


def load_or_build(
    directory: Path,
    key: BuildKey,
    documents: list[Document],
    encoder: Callable[[], Encoder],
    *,
    progress: bool = False,
    force: bool = False,
) -> tuple[PassageIndex, str]:
    """The index of `documents` in `directory`, with what was done: "loaded" when it was
    there; else it is built, or updated by embedding only the documents it lacked."""
    check_folder(directory)
    if not force and directory.is_dir():
        with locked(directory / _LOCK, exclusive=False):
            try:
                return load_index(directory, key, documents), "loaded"
            except (FileNotFoundError, IndexCorruptError):
                pass  # written below, under the writer's lock
    status = sync(directory, key, documents, encoder, progress=progress, force=force, verify=True)
    with locked(directory / _LOCK, exclusive=False):
        return load_index(directory, key, documents), status


def read_index(directory: Path, key: BuildKey, documents: list[Document]) -> PassageIndex:
    """`load_index` under the readers' lock: never a part a writer is deleting."""
    with locked(directory / _LOCK, exclusive=False):
        return load_index(directory, key, documents)


def load_index(directory: Path, key: BuildKey, documents: list[Document]) -> PassageIndex:
    """The index as it is; FileNotFoundError when absent, IndexCorruptError when it does not
    match `documents` and `key` or a part is damaged."""
    manifest = _read_manifest(directory)
    if manifest.key != key:
        raise IndexCorruptError(f"stale ({_difference(manifest.key, key)} changed)")
    wanted = [part_name(key, doc) for doc in documents]
    if [entry.file for entry in manifest.parts] != wanted:
        raise IndexCorruptError("documents changed")
    return assemble([_read_part(directory, entry.file, entry)[0] for entry in manifest.parts])


def check_folder(directory: Path) -> None:
    """Refuse a folder the index cannot use, or one holding files it did not write."""
    try:
        if directory.exists() and not directory.is_dir():
            raise FolderError(_SETTING, f"{directory} is a file, not a folder")
        foreign = [entry.name for entry in _entries(directory) if not _written_here(entry)]
    except OSError as exc:
        raise FolderError(_SETTING, f"{directory}: cannot read it ({exc.strerror})") from None
    if foreign:
        raise FolderError(
            _SETTING,
            f"{directory} holds files the index did not write ({', '.join(sorted(foreign)[:3])}); "
            "the index deletes only its own files, so give it an empty or new folder",
        )


def assemble(parts: list[Part]) -> PassageIndex:
    """The searchable index over every part, in order: faiss and BM25 from stored vectors and
    term counts, nothing embedded or tokenised again."""
    passages = [p for part in parts for p in part.passages]
    passage_vectors = _stack([part.passage_vectors for part in parts])
    return PassageIndex(
        passages=passages,
        dense=dense.build_index(passage_vectors),
        passage_vectors=passage_vectors,
        sentence_vectors=_stack([part.sentence_vectors for part in parts]),
        sentence_start=_sentence_start(passages),
        lexical=LexicalIndex.from_counts(TermCounts.stack([part.terms for part in parts])),
    )


def embed_parts(
    documents: list[Document], encoder: Encoder, max_passage_words: int, progress: bool
) -> list[Part]:
    """Split and embed documents, all their texts in one pass through the encoder."""
    split = [split_document(doc, max_passage_words) for doc in documents]
    texts: list[str] = []
    for doc, passages in zip(documents, split, strict=True):
        texts += [p.text for p in passages]
        texts += [doc.body[s:e] for p in passages for s, e in p.sentences]
    vectors = _encode_with_progress(encoder, texts, progress)
    parts, cursor = [], 0
    for passages in split:
        count, sentences = len(passages), sum(len(p.sentences) for p in passages)
        parts.append(
            Part(
                passages=passages,
                passage_vectors=vectors[cursor : cursor + count],
                sentence_vectors=vectors[cursor + count : cursor + count + sentences],
                terms=TermCounts.of([p.text for p in passages]),
            )
        )
        cursor += count + sentences
    return parts


# --- writing -------------------------------------------------------------------------------
def sync(
    directory: Path,
    key: BuildKey,
    documents: list[Document],
    encoder: Callable[[], Encoder],
    *,
    progress: bool = False,
    force: bool = False,
    verify: bool = False,
) -> str:
    """Make the manifest name a part for each of `documents`, embedding only those that have
    none (or, with `verify`, a damaged one); delete what is no longer named. Says what it did."""
    with _writing(directory):
        old, reason = _usable_manifest(directory, key, force)
        have = {entry.file: entry for entry in old.parts} if old else {}
        entries: dict[str, PartEntry] = {}
        missing = []
        for doc in documents:
            name = part_name(key, doc)
            try:
                entries[name] = _existing(directory, name, have.get(name), verify)
            except (FileNotFoundError, IndexCorruptError) as exc:
                if name in have:
                    reason = reason or f"repaired ({exc})"
                missing.append(doc)
        entries |= _embed_and_write(directory, key, missing, encoder, progress)
        manifest = Manifest(key=key, parts=[entries[part_name(key, doc)] for doc in documents])
        if manifest != old:
            write_atomic(directory / MANIFEST, manifest.model_dump_json(indent=1).encode())
        _delete_leftovers(directory, set(entries))
    return reason or _change(old, manifest, len(missing))


def prepare(
    directory: Path,
    key: BuildKey,
    documents: list[Document],
    encoder: Callable[[], Encoder],
    *,
    progress: bool = False,
) -> None:
    """Write the parts of `documents` before they join the index (the next `sync` uses them)."""
    with _writing(directory):
        parts = directory / _PARTS
        missing = [doc for doc in documents if not (parts / part_name(key, doc)).exists()]
        _embed_and_write(directory, key, missing, encoder, progress)


def _existing(directory: Path, name: str, entry: PartEntry | None, verify: bool) -> PartEntry:
    """The manifest entry of a part already on disk (read and checked if `verify`, or if the
    manifest does not name it yet)."""
    if entry is not None and not verify:
        if not (directory / _PARTS / name).exists():
            raise FileNotFoundError(name)
        return entry
    return _read_part(directory, name, entry)[1]


def _embed_and_write(
    directory: Path,
    key: BuildKey,
    documents: list[Document],
    encoder: Callable[[], Encoder],
    progress: bool,
) -> dict[str, PartEntry]:
    if not documents:
        return {}
    parts = embed_parts(documents, encoder(), key.max_passage_words, progress)
    entries = {}
    for doc, part in zip(documents, parts, strict=True):
        name = part_name(key, doc)
        entries[name] = _write_part(directory, name, doc.doc_id, part)
    return entries


@contextmanager
def _writing(directory: Path) -> Iterator[None]:
    """The writer's lock; any failure to create or write the folder is one FolderError."""
    try:
        (directory / _PARTS).mkdir(parents=True, exist_ok=True)
        with locked(directory / _LOCK, exclusive=True):
            check_folder(directory)  # again: someone may have put files there meanwhile
            yield
    except FolderError:
        raise
    except OSError as exc:
        raise FolderError(_SETTING, f"{directory}: cannot write there ({exc.strerror})") from None


def _usable_manifest(
    directory: Path, key: BuildKey, force: bool
) -> tuple[Manifest | None, str | None]:
    """The current manifest if its parts can be reused, and why not otherwise."""
    if force:
        return None, "built (forced)"
    try:
        manifest = _read_manifest(directory)
    except FileNotFoundError:
        return None, "built (no index yet)"
    except IndexCorruptError as exc:
        log.warning("index at %s not used: %s; rebuilding", directory, exc)
        return None, f"built ({exc})"
    if manifest.key != key:
        return None, f"built (stale: {_difference(manifest.key, key)} changed)"
    return manifest, None


def _change(old: Manifest | None, new: Manifest, embedded: int) -> str:
    if old is None:
        return "built"
    before, after = {e.file for e in old.parts}, {e.file for e in new.parts}
    if before == after:
        return "loaded"
    removed = len(before - after)
    return f"updated ({embedded} embedded, {removed} dropped)"


def _write_part(directory: Path, name: str, doc_id: str, part: Part) -> PartEntry:
    buffer = io.BytesIO()
    counts = part.terms.counts
    np.savez(
        buffer,
        passages=np.frombuffer(
            json.dumps([p.model_dump(mode="json") for p in part.passages]).encode(), np.uint8
        ),
        passage_vectors=part.passage_vectors,
        sentence_vectors=part.sentence_vectors,
        words=np.asarray(part.terms.words, dtype=np.str_),
        counts_data=counts.data,
        counts_indices=counts.indices,
        counts_indptr=counts.indptr,
    )
    data = buffer.getvalue()
    write_atomic(directory / _PARTS / name, data)
    return PartEntry(
        doc_id=doc_id,
        file=name,
        sha256=hashlib.sha256(data).hexdigest(),
        passages=len(part.passages),
        sentences=len(part.sentence_vectors),
    )


def _delete_leftovers(directory: Path, keep: set[str]) -> None:
    """Parts no longer named, temporary files of interrupted writes, format 2's files."""
    deleted = False
    for folder in (directory, directory / _PARTS):
        for entry in folder.iterdir():
            name = entry.name
            ours = name.startswith(TEMP_PREFIX) or (folder == directory and name in _FORMER_FILES)
            if ours or (folder != directory and _PART_NAME.match(name) and name not in keep):
                entry.unlink()
                deleted = True
    if deleted:
        sync_folder(directory / _PARTS)


# --- reading -------------------------------------------------------------------------------
def _read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST
    if not path.exists():
        raise FileNotFoundError(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IndexCorruptError(f"unreadable manifest: {exc.__class__.__name__}") from exc
    try:
        return Manifest.model_validate_json(raw)
    except ValidationError as exc:
        version = _format_version(raw)
        if version is not None and version != FORMAT_VERSION:  # an upgrade, not damage
            raise IndexCorruptError(f"index format {version} is now {FORMAT_VERSION}") from exc
        raise IndexCorruptError(f"unreadable manifest: {exc.__class__.__name__}") from exc


def _format_version(raw: bytes) -> int | None:
    """The format version a manifest says it has, however little else of it can be read."""
    try:
        version = json.loads(raw)["key"]["format_version"]
    except (ValueError, KeyError, TypeError):
        return None
    return version if isinstance(version, int) else None


def _read_part(directory: Path, name: str, entry: PartEntry | None) -> tuple[Part, PartEntry]:
    """A part and its manifest entry; IndexCorruptError if it does not match `entry`."""
    path = directory / _PARTS / name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if entry is None:
            raise
        raise IndexCorruptError(f"{_PARTS}/{name} ({entry.doc_id}) is missing") from None
    except OSError as exc:
        raise IndexCorruptError(f"{_PARTS}/{name} unreadable ({exc.strerror})") from None
    digest = hashlib.sha256(data).hexdigest()
    if entry is not None and digest != entry.sha256:
        raise IndexCorruptError(f"{_PARTS}/{name} ({entry.doc_id}) does not match its checksum")
    try:
        arrays = read_npz(data)
        raw = json.loads(arrays["passages"].tobytes().decode())
        passages = [Passage.model_validate(item) for item in raw]
        words = [str(word) for word in arrays["words"]]
        counts = sparse.csr_matrix(
            (arrays["counts_data"], arrays["counts_indices"], arrays["counts_indptr"]),
            shape=(len(passages), len(words)),
        )
        part = Part(
            passages=passages,
            passage_vectors=arrays["passage_vectors"],
            sentence_vectors=arrays["sentence_vectors"],
            terms=TermCounts(words=words, counts=counts),
        )
    except (OSError, ValueError, KeyError, ValidationError) as exc:
        raise IndexCorruptError(f"{_PARTS}/{name} unreadable: {exc}") from exc
    found = PartEntry(
        doc_id=passages[0].doc_id if passages else (entry.doc_id if entry else ""),
        file=name,
        sha256=digest,
        passages=len(passages),
        sentences=sum(len(p.sentences) for p in passages),
    )
    sizes = (len(part.passage_vectors), len(part.sentence_vectors))
    if sizes != (found.passages, found.sentences) or (entry is not None and found != entry):
        raise IndexCorruptError(f"{_PARTS}/{name} parts disagree in size")
    return part, found


def _entries(directory: Path) -> list[Path]:
    return list(directory.iterdir()) if directory.is_dir() else []


def _written_here(entry: Path) -> bool:
    """Whether the index could have written this entry of its folder."""
    name = entry.name
    if name in {MANIFEST, _LOCK} or name.startswith(TEMP_PREFIX):
        return True
    if name in _FORMER_FILES:
        return (entry.parent / MANIFEST).exists()
    if name == _PARTS and entry.is_dir() and not entry.is_symlink():
        return all(
            _PART_NAME.match(part.name) or part.name.startswith(TEMP_PREFIX)
            for part in entry.iterdir()
        )
    return False


def _stack(arrays: list[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
    non_empty = [a for a in arrays if len(a)]
    if not non_empty:
        return np.zeros((0, arrays[0].shape[1] if arrays else 1), np.float32)
    return np.ascontiguousarray(np.concatenate(non_empty), dtype=np.float32)


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


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True
