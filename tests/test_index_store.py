"""The index on disk: one part per document; loaded when it matches, brought up to date by
embedding only what changed, repaired when a part is damaged, never served bad."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from knowledge import AnswerKind, Engine, EngineConfig, IndexCorruptError
from knowledge.corpus import load_corpus
from knowledge.embedding import TUNED_MODEL, Encoder
from knowledge.lexical import LexicalIndex
from knowledge.passages import MAX_PASSAGE_WORDS
from knowledge.store import FORMAT_VERSION, BuildKey, build_key, load_index
from tests.support.data import CORPUS_DIR, SMALL_CORPUS, CountingEncoder

# Two short documents keep each rebuild to a second or two.
QUESTION = "Which product of Kofon Motion Group is used for peeling crayfish?"
EXPECTED = "Kofon Motion Group produces machines for peeling crayfish"


def _copy_corpus(target: Path, names: tuple[str, ...] = SMALL_CORPUS) -> Path:
    target.mkdir(parents=True)
    for name in names:
        shutil.copy(CORPUS_DIR / name, target / name)
    return target


def _config(root: Path, corpus: Path) -> EngineConfig:
    return EngineConfig(
        corpus_dir=corpus, index_dir=root / "index", collection_dir=root / "collection"
    )


@pytest.fixture(scope="module")
def pristine(encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """A small-corpus engine whose freshly built index the tests copy and damage."""
    root = tmp_path_factory.mktemp("store")
    engine = Engine.load(_config(root, _copy_corpus(root / "corpus")), encoder=encoder)
    assert engine.index_status == "built (no index yet)"
    return engine


def _copy_of(pristine: Engine, tmp_path: Path) -> EngineConfig:
    index_dir = tmp_path / "index"
    shutil.copytree(pristine.config.index_dir, index_dir)
    return pristine.config.model_copy(update={"index_dir": index_dir})


def _key() -> BuildKey:
    return build_key(TUNED_MODEL, MAX_PASSAGE_WORDS)


def _parts(index_dir: Path) -> list[Path]:
    return sorted((index_dir / "parts").iterdir())


def _assert_answers_like(engine: Engine, pristine: Engine) -> None:
    answer = engine.answer(QUESTION)
    assert answer.kind is AnswerKind.ANSWERED
    assert EXPECTED in answer.citations[0].text
    expected = pristine.answer(QUESTION)
    assert [(c.doc_id, c.start, c.end, c.highlight) for c in answer.citations] == [
        (c.doc_id, c.start, c.end, c.highlight) for c in expected.citations
    ]
    for citation in answer.citations:
        doc = next(d for d in engine.documents if d.doc_id == citation.doc_id)
        assert doc.body[citation.start : citation.end] == citation.text


def test_built_then_loaded(pristine: Engine, encoder: Encoder) -> None:
    index_dir = pristine.config.index_dir
    assert {p.name for p in index_dir.iterdir()} == {"manifest.json", "parts", ".lock"}
    assert len(_parts(index_dir)) == len(SMALL_CORPUS)
    counting = CountingEncoder(encoder)
    again = Engine.load(pristine.config, encoder=counting)  # type: ignore[arg-type]
    assert again.index_status == "loaded"
    assert counting.texts == []
    assert again.index.passages == pristine.index.passages
    np.testing.assert_array_equal(again.index.sentence_vectors, pristine.index.sentence_vectors)
    _assert_answers_like(again, pristine)


def test_bm25_from_stored_counts_equals_a_fresh_build(pristine: Engine) -> None:
    fresh = LexicalIndex.build([p.text for p in pristine.index.passages])
    assembled = pristine.index.lexical
    assert assembled.vocabulary == fresh.vocabulary
    np.testing.assert_allclose(assembled.idf, fresh.idf, rtol=1e-6)
    np.testing.assert_allclose(assembled.weights.toarray(), fresh.weights.toarray(), rtol=1e-5)


def test_an_edited_document_alone_is_embedded_again(
    pristine: Engine, encoder: Encoder, tmp_path: Path
) -> None:
    corpus = _copy_corpus(tmp_path / "corpus")
    config = _copy_of(pristine, tmp_path).model_copy(update={"corpus_dir": corpus})
    assert Engine.load(config, encoder=encoder).index_status == "loaded"

    path = corpus / "future-industry-leader-2025.md"
    new = "In Hubei, the Zorblax Widget Works builds submarine periscopes for lake ferries."
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + f"\n\n{new}\n", "utf-8")

    counting = CountingEncoder(encoder)
    updated = Engine.load(config, encoder=counting)  # type: ignore[arg-type]
    assert updated.index_status == "updated (1 embedded, 1 dropped)"
    edited = [p for p in updated.index.passages if p.doc_id == "future-industry-leader-2025"]
    assert counting.texts[: len(edited)] == [p.text for p in edited]
    assert len(counting.texts) == len(edited) + sum(len(p.sentences) for p in edited)
    assert len(_parts(config.index_dir)) == len(SMALL_CORPUS)  # the old part is gone
    answer = updated.answer("What does the Zorblax Widget Works build?")
    assert answer.kind is AnswerKind.ANSWERED
    assert answer.citations[0].text == new
    assert Engine.load(config, encoder=encoder).index_status == "loaded"


def test_changed_passage_size_makes_the_whole_index_stale(
    pristine: Engine, encoder: Encoder, tmp_path: Path
) -> None:
    config = _copy_of(pristine, tmp_path).model_copy(update={"max_passage_words": 30})
    engine = Engine.load(config, encoder=encoder)
    assert engine.index_status == "built (stale: max_passage_words changed)"
    assert len(_parts(config.index_dir)) == len(SMALL_CORPUS)


def _truncate_part(index_dir: Path) -> None:
    path = _parts(index_dir)[0]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_vector_bytes(index_dir: Path) -> None:
    path = _parts(index_dir)[-1]
    data = bytearray(path.read_bytes())
    for offset in range(len(data) // 2, len(data) // 2 + 100):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _garbage_manifest(index_dir: Path) -> None:
    (index_dir / "manifest.json").write_bytes(b"\x00{not json at all\xff")


def _delete_part(index_dir: Path) -> None:
    _parts(index_dir)[0].unlink()


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "truncated part": _truncate_part,
    "flipped bytes in a part": _flip_vector_bytes,
    "garbage manifest.json": _garbage_manifest,
    "deleted part": _delete_part,
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corruption_is_detected_and_repaired(
    pristine: Engine, encoder: Encoder, tmp_path: Path, corrupt: Callable[[Path], None]
) -> None:
    config = _copy_of(pristine, tmp_path)
    documents = load_corpus(config.corpus_dir)
    corrupt(config.index_dir)
    with pytest.raises(IndexCorruptError):
        load_index(config.index_dir, _key(), documents)

    engine = Engine.load(config, encoder=encoder)
    assert engine.index_status.startswith(("built (", "repaired ("))
    assert engine.index_status != "built (no index yet)"
    _assert_answers_like(engine, pristine)
    assert Engine.load(config, encoder=encoder).index_status == "loaded"


def _rewrite_checksums(index_dir: Path) -> None:
    """Make the manifest agree with damaged files, so only reading them can tell."""
    import hashlib  # noqa: PLC0415

    manifest_path = index_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for entry in manifest["parts"]:
        data = (index_dir / "parts" / entry["file"]).read_bytes()
        entry["sha256"] = hashlib.sha256(data).hexdigest()
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")


def test_damage_behind_valid_checksums_is_still_refused(
    pristine: Engine, encoder: Encoder, tmp_path: Path
) -> None:
    config = _copy_of(pristine, tmp_path)
    documents = load_corpus(config.corpus_dir)
    part = _parts(config.index_dir)[0]
    with np.load(part) as arrays:
        saved = dict(arrays)
    saved["sentence_vectors"] = saved["sentence_vectors"][:-3]
    with part.open("wb") as handle:
        np.savez(handle, **saved)
    _rewrite_checksums(config.index_dir)
    with pytest.raises(IndexCorruptError, match="disagree"):
        load_index(config.index_dir, _key(), documents)
    engine = Engine.load(config, encoder=encoder)
    assert engine.index_status.startswith("repaired (")
    _assert_answers_like(engine, pristine)


def test_missing_index_is_not_found_and_stale_key_is_refused(
    pristine: Engine, tmp_path: Path
) -> None:
    documents = load_corpus(pristine.config.corpus_dir)
    with pytest.raises(FileNotFoundError):
        load_index(tmp_path / "absent", _key(), documents)
    config = _copy_of(pristine, tmp_path)
    stale = _key().model_copy(update={"model": "another-model"})
    with pytest.raises(IndexCorruptError, match="stale"):
        load_index(config.index_dir, stale, documents)
    with pytest.raises(IndexCorruptError, match="documents changed"):
        load_index(config.index_dir, _key(), documents[:1])
    assert load_index(config.index_dir, _key(), documents).passages == pristine.index.passages


def test_an_index_of_the_former_format_is_replaced_and_its_files_deleted(
    pristine: Engine, encoder: Encoder, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    former = ("passages.json", "passages.faiss", "passages.npy", "sentences.npy", "lexical.npz")
    for name in former:
        (index_dir / name).write_bytes(b"format 2")
    manifest = {"key": {"format_version": 2}, "passages": 1, "sentences": 1, "files": {}}
    (index_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    config = pristine.config.model_copy(update={"index_dir": index_dir})
    engine = Engine.load(config, encoder=encoder)
    assert engine.index_status == f"built (index format 2 is now {FORMAT_VERSION})"
    assert not [name for name in former if (index_dir / name).exists()]
    _assert_answers_like(engine, pristine)
