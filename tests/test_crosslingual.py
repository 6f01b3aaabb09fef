"""Questions in Chinese and Russian answered from the English articles by the multilingual
model; unrelated ones get a note in their language; sentence vectors cached per document."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from knowledge import AnswerKind, Engine, EngineConfig, crosslingual


@pytest.mark.parametrize(
    ("question", "language", "fact"),
    [
        ("入选的小巨人企业能从政府拿到多少钱？分几年发放？", "zh", "6 million yuan"),
        ("Смогут ли эти компании со временем стать крупными игроками?", "ru", "national champions"),
    ],
)
def test_a_question_in_another_language_is_answered_from_the_english_text(
    engine: Engine, question: str, language: str, fact: str
) -> None:
    answer = engine.answer(question)
    assert answer.kind is AnswerKind.ANSWERED
    assert answer.language == language
    assert any(fact in c.text for c in answer.citations[:3]), answer.citations
    for citation in answer.citations:
        doc = next(d for d in engine.documents if d.doc_id == citation.doc_id)
        assert doc.body[citation.start : citation.end] == citation.text


def test_unrelated_questions_in_another_language_get_the_note(engine: Engine) -> None:
    for question in ("Какая сегодня погода в Москве?", "Как приготовить борщ?"):
        answer = engine.answer(question)
        assert answer.kind is AnswerKind.OTHER_LANGUAGE
        assert answer.language == "ru"
        assert not answer.citations


def test_sentence_vectors_are_cached_per_document_and_reused(
    engine: Engine, tmp_path: Path
) -> None:
    config = engine.config.model_copy(update={"crosslingual_dir": tmp_path / "xl"})
    first = Engine(config, engine.documents, engine.encoder, engine.index, "loaded")
    question = "入选的小巨人企业能从政府拿到多少钱？"
    expected = first.answer(question)
    cached = sorted(p.name for p in (tmp_path / "xl").iterdir())
    assert len(cached) == len(engine.documents)
    assert all(name.endswith(".npy") for name in cached)
    again = Engine(config, engine.documents, engine.encoder, engine.index, "loaded")
    assert again.answer(question) == expected
    assert sorted(p.name for p in (tmp_path / "xl").iterdir()) == cached


def test_a_large_collection_embeds_in_the_background_and_declines_meanwhile(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crosslingual, "SYNC_LIMIT", 0)
    config = engine.config.model_copy(update={"crosslingual_dir": tmp_path / "xl"})
    fresh = Engine(config, engine.documents, engine.encoder, engine.index, "loaded")
    question = "入选的小巨人企业能从政府拿到多少钱？"
    assert fresh.answer(question).kind is AnswerKind.OTHER_LANGUAGE  # not ready yet
    background = next(t for t in threading.enumerate() if t.name == "crosslingual")
    background.join(timeout=300)
    assert fresh.answer(question).kind is AnswerKind.ANSWERED


def test_without_the_setting_other_languages_get_the_note(engine: Engine) -> None:
    config = engine.config.model_copy(update={"crosslingual": False})
    plain = Engine(config, engine.documents, engine.encoder, engine.index, "loaded")
    answer = plain.answer("入选的小巨人企业能从政府拿到多少钱？")
    assert answer.kind is AnswerKind.OTHER_LANGUAGE
    assert EngineConfig().crosslingual
