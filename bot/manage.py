"""The collection commands of `python -m bot`: add, remove, documents."""

from __future__ import annotations

import sys
from pathlib import Path

from bot import messages
from bot.render import jsonl, terminal
from knowledge import Encoder, EngineConfig, IngestError, collection, read_file


def add(config: EngineConfig, paths: list[Path]) -> None:
    """Read every file first, then store them all, or none if any is bad."""
    try:
        documents = [
            read_file(
                path, max_file_bytes=config.max_file_bytes, max_text_chars=config.max_text_chars
            )
            for path in paths
        ]
        added = collection.add(config, documents, _encoder(config), progress=True)
    except IngestError as exc:
        raise IngestError(messages.NOTHING_ADDED.format(reason=exc)) from None
    for listing in added:
        print(terminal.added_line(listing))


def remove(config: EngineConfig, doc_ids: list[str]) -> None:
    try:
        removed = collection.remove(config, doc_ids, _encoder(config))
    except IngestError as exc:
        raise IngestError(messages.NOTHING_REMOVED.format(reason=exc)) from None
    for listing in removed:
        print(messages.REMOVED_DOCUMENT.format(doc_id=listing.doc_id, title=listing.title))


def documents(config: EngineConfig, *, as_json: bool) -> None:
    with collection.reading(config.collection_dir):
        docs = collection.read_documents(
            config.corpus_dir, config.collection_dir, config.max_text_chars
        )
    for listing in collection.listing(docs, config.corpus_dir, config.max_passage_words):
        print(jsonl.document_line(listing) if as_json else terminal.document_line(listing))
    sys.stdout.flush()


def _encoder(config: EngineConfig) -> collection.EncoderFactory:
    """The model, loaded only if something is to be embedded."""
    loaded: list[Encoder] = []

    def load() -> Encoder:
        if not loaded:
            loaded.append(
                Encoder(config.model, config.query_precision, cache_dir=config.model_cache_dir)
            )
        return loaded[0]

    return load
