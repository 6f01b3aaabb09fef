"""The index on disk: loaded when it matches, rebuilt when stale or corrupt, never served bad."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from knowledge import AnswerKind, Engine, EngineConfig, IndexCorruptError
from knowledge.corpus import load_corpus
from knowledge.embedding import BUNDLED_MODEL, Encoder
from knowledge.passages import MAX_PASSAGE_WORDS
from knowledge.store import BuildKey, build_key, load_index
from tests.conftest import CORPUS_DIR

# Two short documents keep each rebuild to a second or two.
SMALL_CORPUS = ("future-industry-leader-2025.md", "two-sessions-little-giants.md")
QUESTION = "Which product of Kofon Motion Group is used for peeling crayfish?"
EXPECTED = "Kofon Motion Group produces machines for peeling crayfish"


def _copy_corpus(target: Path, names: tuple[str, ...] = SMALL_CORPUS) -> Path:
    target.mkdir(parents=True)
    for name in names:
        shutil.copy(CORPUS_DIR / name, target / name)
    return target


@pytest.fixture(scope="module")
def pristine(encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """A small-corpus engine whose freshly built index the tests copy and damage."""
    root = tmp_path_factory.mktemp("store")
    corpus = _copy_corpus(root / "corpus")
    engine = Engine.load(EngineConfig(corpus_dir=corpus, index_dir=root / "index"), encoder=encoder)
    assert engine.index_status == "built (no index yet)"
    return engine


def _copy_of(pristine: Engine, tmp_path: Path) -> EngineConfig:
    index_dir = tmp_path / "index"
    shutil.copytree(pristine.config.index_dir, index_dir)
    return pristine.config.model_copy(update={"index_dir": index_dir})


def _key(config: EngineConfig) -> BuildKey:
    return build_key(load_corpus(config.corpus_dir), BUNDLED_MODEL, MAX_PASSAGE_WORDS)


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
    files = {p.name for p in pristine.config.index_dir.iterdir()}
    assert {
        "manifest.json",
        "passages.json",
        "passages.faiss",
        "passages.npy",
        "sentences.npy",
        "lexical.npz",
    } <= files
    again = Engine.load(pristine.config, encoder=encoder)
    assert again.index_status == "loaded"
    assert len(again.index.passages) == len(pristine.index.passages)
    assert again.index.passages == pristine.index.passages
    np.testing.assert_array_equal(again.index.sentence_vectors, pristine.index.sentence_vectors)
    _assert_answers_like(again, pristine)
    # no staging or retired folders are left next to the index
    siblings = [p.name for p in pristine.config.index_dir.parent.iterdir()]
    assert not [name for name in siblings if name.startswith(".index-")]


def test_edited_document_makes_index_stale_and_rebuilt(
    pristine: Engine, encoder: Encoder, tmp_path: Path
) -> None:
    corpus = _copy_corpus(tmp_path / "corpus")
    index_dir = tmp_path / "index"
    shutil.copytree(pristine.config.index_dir, index_dir)
    config = EngineConfig(corpus_dir=corpus, index_dir=index_dir)
    assert Engine.load(config, encoder=encoder).index_status == "loaded"

    path = corpus / "future-industry-leader-2025.md"
    text = path.read_text(encoding="utf-8")
    new = "In Hubei, the Zorblax Widget Works builds submarine periscopes for lake ferries."
    path.write_text(text.rstrip("\n") + f"\n\n{new}\n", encoding="utf-8")

    rebuilt = Engine.load(config, encoder=encoder)
    assert rebuilt.index_status.startswith("built")
    assert "stale" in rebuilt.index_status
    assert "corpus_hash" in rebuilt.index_status
    assert any(p.text == new for p in rebuilt.index.passages)
    answer = rebuilt.answer("What does the Zorblax Widget Works build?")
    assert answer.kind is AnswerKind.ANSWERED
    assert answer.citations[0].text == new
    assert Engine.load(config, encoder=encoder).index_status == "loaded"


def test_changed_passage_size_makes_index_stale(
    pristine: Engine, encoder: Encoder, tmp_path: Path
) -> None:
    config = _copy_of(pristine, tmp_path).model_copy(update={"max_passage_words": 30})
    engine = Engine.load(config, encoder=encoder)
    assert engine.index_status.startswith("built")
    assert "max_passage_words" in engine.index_status


def _truncate_faiss(index_dir: Path) -> None:
    path = index_dir / "passages.faiss"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_sentence_bytes(index_dir: Path) -> None:
    path = index_dir / "sentences.npy"
    data = bytearray(path.read_bytes())
    for offset in range(len(data) - 200, len(data) - 100):  # in the vectors, past the header
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _garbage_manifest(index_dir: Path) -> None:
    (index_dir / "manifest.json").write_bytes(b"\x00{not json at all\xff")


def _delete_lexical(index_dir: Path) -> None:
    (index_dir / "lexical.npz").unlink()


def _empty_passages(index_dir: Path) -> None:
    (index_dir / "passages.json").write_text("", encoding="utf-8")


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "truncated passages.faiss": _truncate_faiss,
    "flipped bytes in sentences.npy": _flip_sentence_bytes,
    "garbage manifest.json": _garbage_manifest,
    "deleted lexical.npz": _delete_lexical,
    "emptied passages.json": _empty_passages,
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corruption_is_detected_and_rebuilt(
    pristine: Engine, encoder: Encoder, tmp_path: Path, corrupt: Callable[[Path], None]
) -> None:
    config = _copy_of(pristine, tmp_path)
    corrupt(config.index_dir)
    with pytest.raises(IndexCorruptError):
        load_index(config.index_dir, _key(config))

    engine = Engine.load(config, encoder=encoder)
    assert engine.index_status.startswith("built (")
    assert engine.index_status != "built (no index yet)"
    _assert_answers_like(engine, pristine)
    assert Engine.load(config, encoder=encoder).index_status == "loaded"


def _rewrite_checksums(index_dir: Path) -> None:
    """Make the manifest agree with damaged files, so only reading them can tell."""
    from knowledge.store import _sha256  # noqa: PLC0415 - forging a manifest

    manifest_path = index_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"] = {name: _sha256(index_dir / name) for name in manifest["files"]}
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")


def test_damage_behind_valid_checksums_is_still_refused(
    pristine: Engine, encoder: Encoder, tmp_path: Path
) -> None:
    config = _copy_of(pristine, tmp_path)
    index_dir = config.index_dir
    key = _key(config)

    sentences = np.load(index_dir / "sentences.npy")
    np.save(index_dir / "sentences.npy", sentences[:-3])
    _rewrite_checksums(index_dir)
    with pytest.raises(IndexCorruptError):
        load_index(index_dir, key)

    shutil.rmtree(index_dir)
    shutil.copytree(pristine.config.index_dir, index_dir)
    _truncate_faiss(index_dir)
    _rewrite_checksums(index_dir)
    with pytest.raises(IndexCorruptError):
        load_index(index_dir, key)

    shutil.rmtree(index_dir)
    shutil.copytree(pristine.config.index_dir, index_dir)
    (index_dir / "passages.json").write_text('[{"doc_id": 5}]', encoding="utf-8")
    _rewrite_checksums(index_dir)
    with pytest.raises(IndexCorruptError):
        load_index(index_dir, key)

    engine = Engine.load(config, encoder=encoder)
    assert engine.index_status.startswith("built (")
    _assert_answers_like(engine, pristine)


def test_missing_index_is_not_found_and_stale_key_is_refused(
    pristine: Engine, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        load_index(tmp_path / "absent", _key(pristine.config))
    config = _copy_of(pristine, tmp_path)
    stale = build_key(load_corpus(config.corpus_dir)[:1], BUNDLED_MODEL, MAX_PASSAGE_WORDS)
    with pytest.raises(IndexCorruptError, match="stale"):
        load_index(config.index_dir, stale)
    assert load_index(config.index_dir, _key(config)).passages == pristine.index.passages
