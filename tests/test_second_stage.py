"""English questions the first ranking is unsure of are ranked again with two more models'
view (e5 and all-mpnet-base-v2); a batch from a busy bot is answered without it. The real
models, on the real corpus."""

from __future__ import annotations

import logging
from pathlib import Path

import pydantic
import pytest

from bot.serving.backends import EngineThread, SecondStageBudget
from knowledge import Answer, AnswerKind, Engine, mpnet
from knowledge.ranking import MODEL_PATH, Ranking, lead

# (question, what an excerpt answering it says): the first stage declines it, the second
# stage answers it with that excerpt first
UNSURE = [
    ("How much did SMEs contribute to China's GDP in 2018?", "more than 60%"),
]
SURE = "When was the small giants list introduced?"


@pytest.fixture(scope="module")
def engine(engine: Engine) -> Engine:
    """The session's engine with the second stage on (as shipped), its models loaded."""
    config = engine.config.model_copy(update={"second_stage": True})
    staged = Engine(config, engine.documents, engine.encoder, engine.index, "loaded")
    staged.warm_second_stage(wait=True)
    return staged


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


def test_a_sure_question_whose_two_best_are_close_can_be_ranked_again(engine: Engine) -> None:
    """Above the band, a ranking may escalate a question whose best candidate leads the next
    by less than its `escalate_margin` (sure that something answers, unsure which)."""
    shipped = engine.ranking
    found = engine.candidates_many([SURE])[0]
    order, logits = shipped.rank(found)
    confidence, gap = shipped.confidence(found, order, logits), lead(logits, order)
    assert confidence >= shipped.escalate[1]
    assert not shipped.model_copy(update={"escalate_margin": gap}).escalates(confidence, gap)
    by_lead = shipped.model_copy(update={"escalate_margin": gap + 0.01})
    assert by_lead.escalates(confidence, gap)
    every = shipped.model_copy(update={"escalate": (0.0, 1.01)})
    try:
        engine.ranking = by_lead
        answer = engine.answer(SURE)
        engine.ranking = every
        assert answer == engine.answer(SURE)  # as the second stage answers it
        assert answer != engine.answer_many([SURE], second_stage=False)[0]
    finally:
        engine.ranking = shipped


def test_without_the_setting_the_first_ranking_answers(engine: Engine) -> None:
    question = UNSURE[0][0]
    config = engine.config.model_copy(update={"second_stage": False})
    plain = Engine(config, engine.documents, engine.encoder, engine.index, "loaded")
    assert plain.answer(question) == engine.answer_many([question], second_stage=False)[0]
    assert plain.answer(question) != engine.answer(question)


async def test_a_busy_bot_answers_without_it_once_its_budget_is_spent(engine: Engine) -> None:
    """Each engine gives the second stage to SECOND_STAGE_PER_SECOND questions a second: a
    flooded bot keeps up, a team asking now and then always gets it."""
    question = UNSURE[0][0]
    now = [0.0]
    backend = EngineThread(engine)
    backend.budget = SecondStageBudget(per_second=3, clock=lambda: now[0])
    first_only = _top3(engine.answer_many([question], second_stage=False)[0])
    second = _top3(engine.answer(question))
    assert first_only != second
    answered = [_top3(a) for a in await backend.answer_many([question] * 3)]
    assert answered == [second] * 3  # the budget held three
    assert _top3((await backend.answer_many([question]))[0]) == first_only  # spent
    now[0] += 0.4  # a second of budget is three questions: 0.4 s refills one
    assert _top3((await backend.answer_many([question]))[0]) == second
    assert _top3((await backend.answer_many([question]))[0]) == first_only


def test_the_budget_refills_at_its_rate_up_to_a_second_of_it() -> None:
    now = [0.0]
    budget = SecondStageBudget(per_second=5, clock=lambda: now[0])
    assert budget.allows(["q"] * 5)
    assert not budget.allows(["q"])
    now[0] += 0.2
    assert budget.allows(["q"])
    now[0] += 60.0  # an idle minute refills only a second's worth
    assert budget.allows(["q"] * 5)
    assert not budget.allows(["q"])
    assert not budget.allows(["q"] * 6)  # a batch bigger than the bucket never gets it


def test_a_second_stage_that_cannot_work_is_turned_off_with_one_warning(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Its folder is a file, say: the first stage answers alone; nothing fails."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    config = engine.config.model_copy(update={"second_stage_dir": blocked})
    broken = Engine(config, engine.documents, engine.encoder, engine.index, "loaded")
    question = UNSURE[0][0]
    with caplog.at_level(logging.WARNING, logger="knowledge.engine"):
        broken.warm_second_stage(wait=True)
        answer = broken.answer(question)
    assert _top3(answer) == _top3(engine.answer_many([question], second_stage=False)[0])
    warnings = [r for r in caplog.records if "second stage off" in r.getMessage()]
    assert len(warnings) == 1, caplog.records


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
