"""The collection: the bundled articles, less those removed, plus the documents a team added.

Added documents are curated Markdown files with front matter in the collection folder, for
people to read and edit; `removed.txt` there lists the bundled documents taken out. A change
is whole or not at all: its new files are written aside, then a plan naming every file it
writes or deletes (the commit), then the files are moved in. A crash before the plan leaves
the collection as it was; after it, the next reader or writer finishes the change. Writers
hold an exclusive lock, so two changes never interleave; readers a shared one, so they never
see half of one. The index follows in the same lock: adding embeds only the new documents,
removing drops only their parts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml
from pydantic import BaseModel

from knowledge.config import EngineConfig
from knowledge.corpus import load_corpus, load_document
from knowledge.embedding import Encoder
from knowledge.errors import CorpusError, FolderError, IngestError
from knowledge.ingest import same_text
from knowledge.models import Document
from knowledge.passages import split_document
from knowledge.safefiles import locked, sync_folder, write_atomic
from knowledge.store import build_key, prepare, sync

EncoderFactory = Callable[[], Encoder]
REMOVED = "removed.txt"
_LOCK = ".lock"
_PLAN = ".change.json"
_STAGING = ".change"
_SETTING = "collection_dir"
_FEW_PASSAGES = 20
_REMOVED_HEADER = "# Bundled documents taken out of the collection, one doc_id a line.\n"


class Listing(BaseModel):
    """A document as `documents --json` shows it."""

    doc_id: str
    title: str
    publisher: str
    published: str | None
    source: str
    passages: int
    bundled: bool


def read_documents(corpus_dir: Path, folder: Path, max_text_chars: int) -> list[Document]:
    """Bundled documents less the removed ones, plus the added ones (which replace a bundled
    one of the same doc_id), sorted by doc_id; `source` says where each came from."""
    removed = _removed(folder)
    documents = {
        doc.doc_id: doc.model_copy(update={"source": str(corpus_dir / f"{doc.doc_id}.md")})
        for doc in load_corpus(corpus_dir)
        if doc.doc_id not in removed
    }
    for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
        doc = load_document(path)
        documents[doc.doc_id] = doc if doc.source else doc.model_copy(update={"source": str(path)})
    for doc in documents.values():
        if len(doc.body) > max_text_chars:
            raise CorpusError(
                f"{doc.source}: {len(doc.body):,} characters of text, over the limit of "
                f"{max_text_chars:,}"
            )
    if not documents:
        raise CorpusError(f"{folder}: every document was removed; add one or edit {REMOVED}")
    return [documents[doc_id] for doc_id in sorted(documents)]


@contextlib.contextmanager
def reading(folder: Path, *, wait: bool = True) -> Iterator[bool]:
    """The readers' lock; yields False if `wait` is False and a change is being written.
    A change a crash interrupted is finished (or undone) first."""
    if not folder.is_dir():
        yield True
        return
    if _interrupted(folder):
        with (
            contextlib.suppress(OSError),
            locked(folder / _LOCK, exclusive=True, wait=wait) as held,
        ):
            if held:
                _recover(folder)
    with locked(folder / _LOCK, exclusive=False, wait=wait) as held:
        yield held


def listing(documents: list[Document], bundled_dir: Path, max_passage_words: int) -> list[Listing]:
    return [
        Listing(
            doc_id=doc.doc_id,
            title=doc.title,
            publisher=doc.publisher,
            published=doc.published,
            source=doc.source or "",
            passages=len(split_document(doc, max_passage_words)),
            bundled=Path(doc.source or "").parent == bundled_dir,
        )
        for doc in documents
    ]


def add(
    config: EngineConfig,
    new: list[Document],
    encoder: EncoderFactory,
    *,
    progress: bool = False,
) -> list[Listing]:
    """Store `new` (all or none) and index them; IngestError for a duplicate."""
    with _writing(config.collection_dir) as folder:
        current = read_documents(config.corpus_dir, folder, config.max_text_chars)
        _refuse_duplicates(current, new)
        taken = {doc.doc_id for doc in current} | _bundled_ids(config.corpus_dir)
        files: dict[str, bytes] = {}
        for doc in new:
            doc_id = _unique(doc.doc_id, taken)
            taken.add(doc_id)
            files[f"{doc_id}.md"] = to_markdown(doc)
        staged = _stage(folder, files)
        stored = [load_document(path) for path in staged]  # as every reader will see them
        documents = sorted([*current, *stored], key=lambda doc: doc.doc_id)
        key = build_key(config.model, config.max_passage_words)
        passages = sum(len(split_document(doc, config.max_passage_words)) for doc in stored)
        progress = progress and passages > _FEW_PASSAGES  # a bar only where there is a wait
        prepare(config.index_dir, key, stored, encoder, progress=progress)
        _commit(folder, list(files), [])
        sync(config.index_dir, key, documents, encoder, progress=progress)
    return listing(stored, config.corpus_dir, config.max_passage_words)


def remove(config: EngineConfig, doc_ids: list[str], encoder: EncoderFactory) -> list[Listing]:
    """Take documents out (all or none): added ones are deleted, bundled ones recorded in
    `removed.txt`; their parts leave the index. IngestError for an unknown doc_id."""
    with _writing(config.collection_dir) as folder:
        current = read_documents(config.corpus_dir, folder, config.max_text_chars)
        by_id = {doc.doc_id: doc for doc in current}
        unknown = [doc_id for doc_id in doc_ids if doc_id not in by_id]
        if unknown:
            raise IngestError(f"no document with doc_id {unknown[0]!r} in the collection")
        gone = set(doc_ids)
        if gone >= set(by_id):
            raise IngestError("that would remove every document; add another one first")
        bundled = _bundled_ids(config.corpus_dir) & gone
        deletes = [f"{d}.md" for d in sorted(gone) if (folder / f"{d}.md").exists()]
        files = {}
        if bundled:
            lines = sorted(_removed(folder) | bundled)
            files[REMOVED] = (_REMOVED_HEADER + "".join(f"{d}\n" for d in lines)).encode()
        _stage(folder, files)
        _commit(folder, list(files), deletes)
        key = build_key(config.model, config.max_passage_words)
        remaining = [doc for doc in current if doc.doc_id not in gone]
        sync(config.index_dir, key, remaining, encoder)
    return listing([by_id[d] for d in doc_ids], config.corpus_dir, config.max_passage_words)


def to_markdown(doc: Document) -> bytes:
    """The document as a curated Markdown file: YAML front matter, then the body."""
    meta = doc.model_dump(exclude={"doc_id", "body"})
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{front}---\n\n{doc.body}\n".encode()


# --- writing -------------------------------------------------------------------------------
@contextlib.contextmanager
def _writing(folder: Path) -> Iterator[Path]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with locked(folder / _LOCK, exclusive=True):
            _recover(folder)
            yield folder
    except OSError as exc:
        raise FolderError(_SETTING, f"{folder}: cannot write there ({exc.strerror})") from None


def _stage(folder: Path, files: dict[str, bytes]) -> list[Path]:
    staging = folder / _STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    paths = []
    for name, data in files.items():
        paths.append(staging / name)
        write_atomic(paths[-1], data)
    return paths


def _commit(folder: Path, writes: list[str], deletes: list[str]) -> None:
    write_atomic(folder / _PLAN, json.dumps({"write": writes, "delete": deletes}).encode())
    _finish(folder)


def _finish(folder: Path) -> None:
    """Carry out a committed plan; safe to run again after a crash part-way."""
    plan = json.loads((folder / _PLAN).read_text(encoding="utf-8"))
    for name in plan["write"]:
        staged = folder / _STAGING / name
        if staged.exists():
            os.replace(staged, folder / name)
    for name in plan["delete"]:
        (folder / name).unlink(missing_ok=True)
    sync_folder(folder)
    (folder / _PLAN).unlink()
    shutil.rmtree(folder / _STAGING, ignore_errors=True)
    sync_folder(folder)


def _recover(folder: Path) -> None:
    if (folder / _PLAN).exists():
        _finish(folder)
    elif (folder / _STAGING).exists():
        shutil.rmtree(folder / _STAGING)


def _interrupted(folder: Path) -> bool:
    return (folder / _PLAN).exists() or (folder / _STAGING).exists()


def _refuse_duplicates(current: list[Document], new: list[Document]) -> None:
    seen = {same_text(doc): f"{doc.doc_id!r}, already in the collection" for doc in current}
    for doc in new:
        text = same_text(doc)
        if text in seen:
            raise IngestError(f"{doc.source}: same text as {seen[text]}")
        seen[text] = f"{doc.source}"


def _unique(doc_id: str, taken: set[str]) -> str:
    candidate, number = doc_id, 2
    while candidate in taken:
        candidate = f"{doc_id}-{number}"
        number += 1
    return candidate


def _bundled_ids(corpus_dir: Path) -> set[str]:
    return {path.stem for path in corpus_dir.glob("*.md")}


def _removed(folder: Path) -> set[str]:
    try:
        lines = (folder / REMOVED).read_text(encoding="utf-8").split("\n")
    except FileNotFoundError:
        return set()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}
