"""English questions the first ranking is unsure of are ranked again with two more models'
view (e5 and all-mpnet-base-v2); a batch from a busy bot is answered without it. The real
models, on the real corpus."""

from __future__ import annotations

import pydantic
import pytest

from bot.serving.backends import SECOND_STAGE_BATCH, EngineThread
from knowledge import Answer, AnswerKind, Engine, mpnet
from knowledge.ranking import MODEL_PATH, Ranking

# (question, what an excerpt answering it says): found only by the second stage
UNSURE = [
    (
        "Would leaning on handouts hurt the companies' ability to come up with new things "
        "by themselves?",
        "capacity to innovate independently",
    ),
    ("what made the policy such a big deal all of a sudden", "gained prominence"),
]
SURE = "When was the small giants list introduced?"


def _top3(answer: Answer) -> list[str]:
    return [c.text for c in answer.citations[:3]]


@pytest.mark.parametrize(("question", "fact"), UNSURE, ids=[f for _, f in UNSURE])
def test_an_unsure_question_is_ranked_again_with_the_bigger_models(
    engine: Engine, question: str, fact: str
) -> None:
    first_only = engine.answer_many([question], second_stage=False)[0]
    assert not any(fact in text for text in _top3(first_only))
    answer = engine.answer(question)
    assert answer.kind is AnswerKind.ANSWERED
    assert fact in answer.citations[0].text, _top3(answer)


def test_a_question_the_first_ranking_is_sure_of_is_not(engine: Engine) -> None:
    found = engine.candidates_many([SURE])[0]
    order, logits = engine.ranking.rank(found)
    assert not engine.ranking.escalates(engine.ranking.confidence(found, order, logits))
    assert engine.answer(SURE) == engine.answer_many([SURE], second_stage=False)[0]


def test_without_the_setting_the_first_ranking_answers(engine: Engine) -> None:
    question = UNSURE[0][0]
    config = engine.config.model_copy(update={"second_stage": False})
    plain = Engine(config, engine.documents, engine.encoder, engine.index, "loaded")
    assert plain.answer(question) == engine.answer_many([question], second_stage=False)[0]
    assert plain.answer(question) != engine.answer(question)


async def test_a_busy_bot_answers_a_big_batch_without_it(engine: Engine) -> None:
    """A batch bigger than SECOND_STAGE_BATCH means questions queue: it is answered by the
    first ranking alone, so that the bot keeps up; a smaller one gets the second stage."""
    question = UNSURE[0][0]
    backend = EngineThread(engine)
    crowd = [question, *(f"{SURE} ({n})" for n in range(SECOND_STAGE_BATCH))]
    small = await backend.answer_many(crowd[:SECOND_STAGE_BATCH])
    big = await backend.answer_many(crowd)
    assert _top3(small[0]) == _top3(engine.answer(question))
    first_only = engine.answer_many([question], second_stage=False)[0]
    assert _top3(big[0]) == _top3(first_only) != _top3(small[0])


def test_the_sentence_vectors_are_cached_per_document(engine: Engine) -> None:
    cached = list((engine.config.second_stage_dir / "vectors").glob("*.npy"))
    assert len(cached) >= len(engine.documents)
    assert (engine.config.second_stage_dir / mpnet.MODEL_ID / "modules.json").is_file()


def test_a_second_stage_fitted_on_other_signals_is_refused() -> None:
    shipped = Ranking.load(MODEL_PATH)
    assert shipped.second is not None
    low, high = shipped.escalate
    assert 0 <= low < high <= 1
    data = shipped.model_dump()
    data["second"] = {**data, "second": None}  # a first stage where the second should be
    with pytest.raises(pydantic.ValidationError, match="second stage"):
        Ranking.model_validate(data)
