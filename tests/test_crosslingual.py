"""Questions in Chinese and Russian answered from the English articles by the multilingual
model; unrelated ones get a note in their language; sentence vectors cached per document."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from bot import messages
from bot.render import telegram, terminal
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


QUESTION = "入选的小巨人企业能从政府拿到多少钱？"


@pytest.fixture
def all_but_one(engine: Engine, tmp_path: Path) -> Engine:
    """An engine like the session's whose cache holds every document's vectors but one."""
    engine.prepare_other_languages()
    # The session's cache may hold documents other tests added; these are the engine's own.
    assert engine._crosslingual is not None
    cached = engine._crosslingual.space.cache_files()
    assert len(cached) == len(engine.documents) and all(path.is_file() for path in cached)
    folder = tmp_path / "xl"
    folder.mkdir()
    for path in cached[1:]:
        shutil.copy2(path, folder / path.name)
    config = engine.config.model_copy(update={"crosslingual_dir": folder})
    return Engine(config, engine.documents, engine.encoder, engine.index, "loaded")


def test_sentence_vectors_are_cached_per_document_and_reused(
    engine: Engine, all_but_one: Engine
) -> None:
    folder = all_but_one.config.crosslingual_dir
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert all_but_one.answer(QUESTION) == engine.answer(QUESTION)
    after = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert len(after) == len(engine.documents)  # the missing one made and kept
    assert {name: after[name] for name in before} == before  # the others only read


def test_a_large_collection_embeds_in_the_background_and_declines_meanwhile(
    all_but_one: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crosslingual, "SYNC_LIMIT", 0)
    assert all_but_one.answer(QUESTION).kind is AnswerKind.OTHER_LANGUAGE  # not ready yet
    background = next(t for t in threading.enumerate() if t.name == "crosslingual")
    background.join(timeout=300)
    assert not background.is_alive()
    assert all_but_one.answer(QUESTION).kind is AnswerKind.ANSWERED


def test_without_the_setting_other_languages_get_the_note(engine: Engine) -> None:
    config = engine.config.model_copy(update={"crosslingual": False})
    plain = Engine(config, engine.documents, engine.encoder, engine.index, "loaded")
    answer = plain.answer("入选的小巨人企业能从政府拿到多少钱？")
    assert answer.kind is AnswerKind.OTHER_LANGUAGE
    assert EngineConfig().crosslingual


def test_excerpts_found_across_languages_carry_a_note_in_that_language(engine: Engine) -> None:
    answer = engine.answer("入选的小巨人企业能从政府拿到多少钱？分几年发放？")
    html = "\n".join(telegram.answer_messages(answer))
    assert messages.CROSS_LANGUAGE["zh"] in html
    assert messages.CROSS_LANGUAGE["zh"] in terminal.render_answer(answer, color=False)
    english = engine.answer("How much money do Little Giants get from the government?")
    assert messages.CROSS_LANGUAGE["en"] not in "\n".join(telegram.answer_messages(english))
