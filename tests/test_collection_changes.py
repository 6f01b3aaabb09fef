"""Changes of the collection in process: only new passages are embedded, a crash leaves the
collection and index as before or as after, two changes at once are serialised, and running
engines (a thread's or worker processes') answer from a change within a batch."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import pytest

from bot.serving.workers import EngineWorkers
from knowledge import AnswerKind, Document, Engine, EngineConfig, collection
from knowledge.embedding import Encoder
from knowledge.ingest import read_file
from tests.support.data import CORPUS_DIR, SMALL_CORPUS, CountingEncoder

FACTS = {
    "quibble": (
        "The Quibble Institute in Ushuaia studies hedgehog migration across Patagonia. "
        "Its founder, Ada Quibble, counted 412 hedgehogs crossing the Beagle Channel in 2019.",
        "How many hedgehogs did Ada Quibble count crossing the Beagle Channel?",
    ),
    "zorblax": (
        "Zorblax Widget Works builds brass periscopes for lake ferries in Hubei. "
        "The company sold 37 periscopes to ferry operators on Dongting Lake in 2023.",
        "How many periscopes did Zorblax sell to ferry operators on Dongting Lake?",
    ),
}


@pytest.fixture
def config(tmp_path: Path) -> EngineConfig:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in SMALL_CORPUS:
        shutil.copy(CORPUS_DIR / name, corpus / name)
    return EngineConfig(
        corpus_dir=corpus, collection_dir=tmp_path / "collection", index_dir=tmp_path / "index"
    )


@pytest.fixture
def engine(config: EngineConfig, encoder: Encoder) -> Engine:
    return Engine.load(config, encoder=encoder)


def _document(config: EngineConfig, tmp_path: Path, name: str) -> Document:
    path = tmp_path / f"{name}.txt"
    path.write_text(FACTS[name][0] + "\n", encoding="utf-8")
    return read_file(
        path, max_file_bytes=config.max_file_bytes, max_text_chars=config.max_text_chars
    )


def _doc_ids(config: EngineConfig) -> list[str]:
    with collection.reading(config.collection_dir):
        docs = collection.read_documents(
            config.corpus_dir, config.collection_dir, config.max_text_chars
        )
    return [doc.doc_id for doc in docs]


def _answered_from(engine: Engine, name: str) -> bool:
    answer = engine.answer(FACTS[name][1])
    return answer.kind is AnswerKind.ANSWERED and FACTS[name][0].split(". ")[1][:30] in (
        answer.citations[0].text
    )


def test_adding_embeds_only_the_new_passages_and_removing_none(
    config: EngineConfig, engine: Engine, encoder: Encoder, tmp_path: Path
) -> None:
    counting = CountingEncoder(encoder)
    (listing,) = collection.add(config, [_document(config, tmp_path, "quibble")], lambda: counting)  # type: ignore[arg-type, return-value]
    fresh = engine.refreshed()
    assert fresh is not engine and fresh.index_status == "loaded"
    new = [p for p in fresh.index.passages if p.doc_id == listing.doc_id]
    assert len(new) == listing.passages
    assert counting.texts == [p.text for p in new] + [
        fresh._by_id[listing.doc_id].body[s:e] for p in new for s, e in p.sentences
    ]
    assert _answered_from(fresh, "quibble")

    counting.texts.clear()
    collection.remove(config, [listing.doc_id], lambda: counting)  # type: ignore[arg-type, return-value]
    after = fresh.refreshed()
    assert counting.texts == []
    assert len(after.index.passages) == len(engine.index.passages)
    assert not _answered_from(after, "quibble")
    assert after.refreshed() is after  # nothing changed since: no reload


def _fail(*args: object, **kwargs: object) -> None:
    raise RuntimeError("injected crash")


@pytest.mark.parametrize("step", ["knowledge.store.embed_parts", "knowledge.collection._commit"])
def test_a_crash_before_the_commit_leaves_everything_as_before(
    config: EngineConfig,
    encoder: Encoder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
) -> None:
    engine = Engine.load(config, encoder=encoder)
    before = _doc_ids(config)
    manifest = (config.index_dir / "manifest.json").read_bytes()
    docs = [_document(config, tmp_path, "quibble"), _document(config, tmp_path, "zorblax")]
    with monkeypatch.context() as patch:
        patch.setattr(step, _fail)
        with pytest.raises(RuntimeError, match="injected"):
            collection.add(config, docs, lambda: encoder)
    assert _doc_ids(config) == before
    assert (config.index_dir / "manifest.json").read_bytes() == manifest
    assert not (config.collection_dir / ".change").exists()  # undone by the reader
    reloaded = engine.refreshed()
    assert reloaded.index_status == "loaded"
    assert not _answered_from(reloaded, "quibble")


def test_a_crash_after_the_commit_is_finished_by_the_next_reader(
    config: EngineConfig,
    engine: Engine,
    encoder: Encoder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_finish = collection._finish
    docs = [_document(config, tmp_path, "quibble"), _document(config, tmp_path, "zorblax")]

    def half_done(folder: Path) -> None:  # the first file moved in, then the crash
        staged = sorted((folder / ".change").iterdir())[0]
        staged.rename(folder / staged.name)
        raise RuntimeError("injected crash")

    with monkeypatch.context() as patch:
        patch.setattr(collection, "_finish", half_done)
        with pytest.raises(RuntimeError, match="injected"):
            collection.add(config, docs, lambda: encoder)
    assert collection._finish is real_finish
    counting = CountingEncoder(encoder)
    after = Engine.load(config, encoder=counting)  # type: ignore[arg-type]
    assert len(_doc_ids(config)) == len(SMALL_CORPUS) + 2  # both, not one
    assert counting.texts == []  # their parts were written before the commit
    assert after.index_status.startswith("updated")
    assert _answered_from(after, "quibble") and _answered_from(after, "zorblax")


def test_two_adds_at_once_are_serialised(
    config: EngineConfig, engine: Engine, encoder: Encoder, tmp_path: Path
) -> None:
    docs = [_document(config, tmp_path, name) for name in FACTS]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def add(doc: Document) -> None:
        start.wait()
        try:
            collection.add(config, [doc], lambda: encoder)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(doc,)) for doc in docs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    fresh = engine.refreshed()
    assert len(fresh.documents) == len(SMALL_CORPUS) + 2
    assert all(_answered_from(fresh, name) for name in FACTS)


def test_worker_processes_answer_from_a_change_made_elsewhere(
    config: EngineConfig, engine: Engine, encoder: Encoder, tmp_path: Path
) -> None:
    question = FACTS["quibble"][1]

    async def scenario() -> None:
        workers = EngineWorkers(config, 1)
        try:
            await workers.start()
            (before,) = await workers.answer_many([question])
            assert before.kind is AnswerKind.NOT_COVERED
            # Another process (the command line) adds a document...
            await asyncio.to_thread(
                collection.add, config, [_document(config, tmp_path, "quibble")], lambda: encoder
            )
            (after,) = await workers.answer_many([question])  # ...the next batch has it
            assert after.kind is AnswerKind.ANSWERED
            assert "412 hedgehogs" in after.citations[0].text
            assert len(workers.documents) == len(SMALL_CORPUS) + 1
            # ...and a change through the workers themselves.
            (removed,) = await workers.remove([after.citations[0].doc_id])
            assert removed.doc_id == after.citations[0].doc_id
            (gone,) = await workers.answer_many([question])
            assert gone.kind is AnswerKind.NOT_COVERED
            assert len(workers.documents) == len(SMALL_CORPUS)
        finally:
            await workers.close()

    asyncio.run(scenario())
