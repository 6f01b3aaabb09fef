"""How train_ranking sees the own questions: folds by passage, per-fold adapters kept, and
engines that load whatever ranking.json holds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydantic
import pytest
from sklearn.linear_model import LogisticRegression

from benchmarks.scoring import Question
from benchmarks.train_encoder import Pair, TuningSettings
from benchmarks.train_ranking import GATE_SIGNS, folds_of, signed_logistic, tuned_once
from knowledge import AnswerKind, Engine
from knowledge.ranking import MODEL_PATH, Ranking

MIIT = "China's Ministry of Industry and Information Technology introduced the policy in 2018."
BATCHES = "Six batches of such companies have been named so far."
TAXES = "SMEs contribute more than half of China's tax revenue."


def question(n: int, gold: str | None) -> Question:
    return Question(
        id=f"t{n}", question=f"question {n}?", gold=(gold,) if gold else (), kind="paraphrase"
    )


def test_folds_by_passage_keep_a_passage_and_the_questions_it_does_not_answer_together() -> None:
    pairs: list[Pair | None] = [
        ("which ministry?", MIIT, True, MIIT),
        ("how many batches?", BATCHES, True, BATCHES),
        ("who is the minister today?", MIIT, False, MIIT),  # closest to the MIIT passage
        ("when did it start?", MIIT, True, MIIT),
        ("share of taxes?", TAXES, True, TAXES),
        None,  # an empty question: a group of its own
        ("batches this year?", BATCHES, True, BATCHES),
    ]
    questions = [question(i, p[1] if p and p[2] else None) for i, p in enumerate(pairs)]
    for seed in (7, 11, 13):
        split = folds_of(questions, pairs, 3, seed, by_passage=True)
        assert sorted(i for fold in split for i in fold) == list(range(len(pairs)))
        fold_of = {i: k for k, fold in enumerate(split) for i in fold}
        assert fold_of[0] == fold_of[2] == fold_of[3]
        assert fold_of[1] == fold_of[6]
        assert len({fold_of[0], fold_of[1], fold_of[4]}) > 1
    by_kind = folds_of(questions, pairs, 3, 7, by_passage=False)
    assert sorted(i for fold in by_kind for i in fold) == list(range(len(pairs)))
    assert max(len(f) for f in by_kind) - min(len(f) for f in by_kind) <= 1


def test_an_adapter_is_tuned_again_only_when_its_questions_or_settings_change(
    tmp_path: Path,
) -> None:
    pairs: list[Pair] = [
        ("Which ministry runs the programme?", MIIT, True, MIIT),
        ("How many batches have been announced?", BATCHES, True, BATCHES),
    ]
    settings = TuningSettings(rank=2, epochs=1, learning_rate=3e-3, batch_size=2)
    adapter = tmp_path / "adapter-0"
    weights = adapter / "adapter_model.safetensors"

    assert tuned_once(pairs, settings, adapter)
    first = weights.stat().st_mtime_ns
    assert not tuned_once(pairs, settings, adapter)
    assert weights.stat().st_mtime_ns == first  # the same questions: kept

    more = [*pairs, ("What share of taxes?", TAXES, True, TAXES)]
    assert tuned_once(more, settings, adapter)
    second = weights.stat().st_mtime_ns
    assert second != first  # another question: tuned again
    assert not tuned_once(list(more), settings, adapter)
    assert weights.stat().st_mtime_ns == second

    assert tuned_once(more, settings.model_copy(update={"rank": 4}), adapter)
    assert weights.stat().st_mtime_ns != second


def test_a_signed_logistic_is_scikit_learns_where_no_sign_binds_and_holds_its_signs() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 3))
    # The first feature helps, the second hurts, the third is noise; the classes unequal.
    y = x @ np.array([2.0, -1.5, 0.0]) + rng.normal(size=400) > 0.8
    reference = LogisticRegression(C=0.5, class_weight="balanced", max_iter=2000).fit(x, y)
    free, bias = signed_logistic(x, y, [0, 0, 0], 0.5)
    assert np.allclose(free, reference.coef_[0], atol=1e-3)
    assert abs(bias - reference.intercept_[0]) < 1e-3
    agreeing, _ = signed_logistic(x, y, [1, -1, 0], 0.5)  # the signs it would learn anyway
    assert np.allclose(agreeing, reference.coef_[0], atol=1e-3)
    held, _ = signed_logistic(x, y, [1, 1, 0], 0.5)  # the second may not go below zero
    assert held[1] == 0.0 and held[0] > 0.5


def test_the_shipped_gates_weights_have_the_signs_the_gate_is_held_to() -> None:
    ranking = Ranking.load()
    for stage in (ranking, ranking.second):
        assert stage is not None
        for name, weight in zip(stage.gate.features, stage.gate.weights, strict=True):
            assert weight * GATE_SIGNS.get(name, 0) >= 0, (name, weight)


def test_an_engine_fitting_a_ranking_loads_whatever_ranking_json_was_fitted_on(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a change to the candidate features, `ranking.json` no longer validates until
    it is fitted again; train_ranking's engines must load all the same to fit it."""
    shipped = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    for field in ("features", "mean", "scale", "weights"):
        shipped["ranker"][field] = shipped["ranker"][field][1:]  # fitted without one feature
    stale = json.dumps(shipped)
    monkeypatch.setattr(Ranking, "load", classmethod(lambda cls: cls.model_validate_json(stale)))
    parts = (engine.config, engine.documents, engine.encoder, engine.index, "loaded")
    with pytest.raises(pydantic.ValidationError, match="other features"):
        Engine(*parts)

    fitting = Engine(*parts, ranking=Ranking.untrained())
    question = "When was the small giants list introduced?"
    assert fitting.candidates_many([question])[0].passages.size  # what a fit reads
    assert fitting.answer(question).kind is AnswerKind.NOT_COVERED  # it has learned nothing
    assert fitting.reloaded().ranking is fitting.ranking
