"""Fit the ranking and relevance gate (knowledge/ranking.json) on the own question set.

    python -m benchmarks.train_ranking [--folds 5] [--dry-run]

Regularisation and threshold are chosen by k-fold cross-validation over questions; the
held-out-fold figures are printed, then the model fitted on every question is written
(unless --dry-run). Every question is seen as a new one would be: by a model tuned
without its fold (`cross_fitted`; the shipped adapter is fitted first, by
`benchmarks.train_encoder`). With --scratch, those per-fold adapters are kept there and
reused while their training questions and settings are the same (a rerun then takes minutes,
not the half hour of tuning). dev.jsonl and chat.jsonl are never used here: they are checks.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

from benchmarks.engine import WARM_ANSWERS, WARM_UP, question_pool, take
from benchmarks.scoring import (
    ENGLISH_KINDS,
    Outcome,
    Question,
    is_hit,
    outcome,
    own_questions,
    shown,
    summary,
)
from benchmarks.train_encoder import (
    Pair,
    TuningSettings,
    group_folds,
    shipped_settings,
    stratified_folds,
    training_pairs,
    tune,
    tuned_engine,
)
from bot.render.jsonl import answer_object
from knowledge import Engine, EngineConfig
from knowledge.features import CANDIDATE_FEATURES, Candidates
from knowledge.ranking import (
    MODEL_PATH,
    SECOND_CANDIDATE_FEATURES,
    LinearModel,
    Ranking,
    gate_features,
    gate_row,
    lead,
)

STRENGTHS = (0.03, 0.1, 0.3, 1.0, 3.0)
# Below the learned confidence `floor`, a plainly relevant best passage is declined too;
# chosen by cross-validation, after C and the second stage (1.0: the hand-set gate never
# overrides the learned one).
FLOORS = (0.0, 0.05, 0.1, 0.15, 0.2, 1.0)
DECLINE_WEIGHT = 1.0  # a wrongly answered negative costs as much as a missed answer
FLOOR = 0.1  # the floor while C and the second stage are chosen (an earlier choice)
# Which questions the second stage ranks again: those whose confidence is in [low, high)
# ((0, 0): none), and above the band, those whose best candidate leads the next by less than
# the margin (sure that something answers, unsure which: the first stage's top answer is
# right for 28% of them, the second stage's for 51%).
ESCALATIONS = (
    ((0.0, 0.0), 0.0),
    ((0.05, 0.5), 0.0),
    ((0.05, 0.65), 0.0),
    ((0.05, 0.8), 0.0),
    ((0.05, 0.5), 0.25),
    ((0.05, 0.5), 0.5),
    ((0.05, 0.5), 0.75),
)
# At most this share of the own questions, and of the engine benchmark's, goes to the second
# stage (40-90 ms more each), so that the median answer stays a first-stage one.
MAX_ESCALATED = 0.4
# What the gate knows before it learns: the signs of its weights. A best candidate closer to
# the question, in meaning or in words, never makes it less sure that something answers;
# words and names the collection never uses never make it surer. Left free, it learned the
# opposite for words from the own set, whose paraphrases share no key word with their answer
# by construction, and answered off-topic questions that share none either ("How many
# players are on a rugby union team?"): BENCHMARKS.md, twelfth session.
GATE_SIGNS: dict[str, int] = {
    **dict.fromkeys(
        (
            "best",
            "sentence",
            "passage",
            "sentence_subject",
            "passage_subject",
            "focus",
            "bm25",
            "bm25_share",
            "coverage",
            "focus_coverage",
            "answer_type",
            "e5_sentence",
            "e5_passage",
            "mpnet_sentence",
            "mpnet_passage",
            "about_names",
        ),
        1,
    ),
    "unknown": -1,
    "unknown_names": -1,
}
_TRAINED_ON = "trained-on.sha256"  # beside a per-fold adapter: what it was tuned on


@dataclass(frozen=True)
class Example:
    question: Question
    found: Candidates
    labels: npt.NDArray[np.bool_]  # which candidates hold a gold quote
    viewed: Candidates  # the same candidates with the second model's view


def examples(engine: Engine, questions: Sequence[Question]) -> list[Example]:
    texts = [q.question for q in questions]
    found = engine.candidates_many(texts)
    viewed = engine.second_views(texts, found)
    return [
        Example(
            q,
            f,
            np.asarray(
                [is_hit(engine.index.passages[p].text, q.gold) for p in f.passages], dtype=bool
            ),
            v,
        )
        for q, f, v in zip(questions, found, viewed, strict=True)
    ]


def fit(
    train: Sequence[Example],
    strength: float,
    band: tuple[float, float] = (0.0, 0.0),
    margin: float = 0.0,
    floor: float = FLOOR,
) -> Ranking:
    """The first stage; and the second, for confidences in `band` (and above it, a lead
    under `margin`), unless the band is empty."""
    first = _fit_stage(train, strength, second=False, floor=floor)
    if band[1] <= band[0]:
        return first
    second = _fit_stage(train, strength, second=True, floor=floor)
    return Ranking(
        ranker=first.ranker,
        gate=first.gate,
        threshold=first.threshold,
        floor=floor,
        strength=strength,
        second=second,
        escalate=band,
        escalate_margin=margin,
    )


def _fit_stage(train: Sequence[Example], strength: float, *, second: bool, floor: float) -> Ranking:
    """Ranker on the candidates of answerable questions, then gate and threshold."""
    names = SECOND_CANDIDATE_FEATURES if second else CANDIDATE_FEATURES
    seen = [(e, e.viewed if second else e.found) for e in train]
    rows = [(e, f) for e, f in seen if e.question.answerable and e.labels.any()]
    x = np.concatenate([f.features for _, f in rows])
    y = np.concatenate([e.labels for e, _ in rows])
    ranker = _logistic(x, y, names, strength)
    usable = [(e, f) for e, f in seen if f.passages.size]
    gate_x = np.stack([_gate_row(ranker, f) for _, f in usable])
    gate_y = np.asarray([e.question.answerable for e, _ in usable])
    gate = _logistic(gate_x, gate_y, gate_features(names), strength, signs=GATE_SIGNS)
    probability = 1 / (1 + np.exp(-gate.logits(gate_x)))
    threshold = _best_threshold(usable, ranker, probability)
    return Ranking(ranker=ranker, gate=gate, threshold=threshold, floor=floor, strength=strength)


def escalated_share(ranking: Ranking, found: Sequence[Candidates]) -> float:
    """The share of the questions (their candidates) that `ranking` sends to its second
    stage."""
    sent = 0
    for f in found:
        if f.passages.size:
            order, logits = ranking.rank(f)
            confidence = ranking.confidence(f, order, logits)
            sent += ranking.escalates(confidence, lead(logits, order))
    return sent / max(1, len(found))


def benchmark_questions(engine: Engine) -> list[Candidates]:
    """The candidates of the questions whose answer times `benchmarks.engine` reports."""
    pool = question_pool(engine)
    take(pool, WARM_UP)
    return engine.candidates_many(take(pool, WARM_ANSWERS))


def cross_validate(
    engines: Sequence[Engine],
    data: Sequence[Example],
    split: Sequence[Sequence[int]],
    strength: float,
    *,
    band: tuple[float, float] = (0.0, 0.0),
    margin: float = 0.0,
    floor: float = FLOOR,
) -> list[Outcome]:
    """Each fold of `split` answered by its engine (`cross_fitted`) with a ranking fitted
    without that fold."""
    outcomes: list[Outcome] = []
    for engine, fold in zip(engines, split, strict=True):
        held_out = set(fold)
        train = [e for i, e in enumerate(data) if i not in held_out]
        original = engine.ranking
        engine.ranking = fit(train, strength, band, margin, floor)
        test = [data[i].question for i in fold]
        answers = engine.answer_many([q.question for q in test])
        outcomes += [outcome(q, answer_object(a)) for q, a in zip(test, answers, strict=True)]
        engine.ranking = original
    return outcomes


def folds_of(
    questions: Sequence[Question],
    pairs: Sequence[Pair | None],
    folds: int,
    seed: int,
    *,
    by_passage: bool,
) -> list[list[int]]:
    """Folds stratified by kind; or with `by_passage`, the questions about the same passage
    (`training_pairs`: the one that answers, or for a question nothing answers, the one
    closest to it) share a fold: the held-out ones ask about facts nothing was fitted on,
    and their unanswerable siblings (the same missing fact asked another way) too."""
    if not by_passage:
        return stratified_folds([q.kind for q in questions], folds, seed)
    keys = [("q", i) if p is None else ("passage", p[1]) for i, p in enumerate(pairs)]
    return group_folds(keys, folds, seed)


def cross_fitted(
    questions: Sequence[Question],
    pairs: Sequence[Pair | None],
    split: Sequence[Sequence[int]],
    scratch: Path,
) -> tuple[list[Example], list[Engine]]:
    """The questions as new ones would be seen, and one engine per fold: each fold's
    candidates found by a model tuned as the shipped one was (knowledge/adapter) but without
    that fold's questions (`pairs`, from `training_pairs`). A ranking fitted on the shipped
    model's view of the questions it was tuned on would expect them to be closer to their
    answers than new ones are."""
    settings = shipped_settings()
    out: dict[int, Example] = {}
    engines = []
    for k, fold in enumerate(split):
        held_out = set(fold)
        adapter = scratch / f"adapter-{k}"
        kept = [p for i, p in enumerate(pairs) if p is not None and i not in held_out]
        index = scratch / f"index-{k}"
        if tuned_once(kept, settings, adapter):
            # Its key names the shipped adapter, so an index of the former one would pass.
            shutil.rmtree(index, ignore_errors=True)
        fold_engine = tuned_engine(adapter, index)
        out.update(zip(fold, examples(fold_engine, [questions[i] for i in fold]), strict=True))
        engines.append(fold_engine)
    return [out[i] for i in range(len(questions))], engines


def tuned_once(pairs: Sequence[Pair], settings: TuningSettings, adapter: Path) -> bool:
    """`tune` into `adapter`, unless it holds one tuned on the same pairs and settings;
    whether it tuned."""
    digest = hashlib.sha256(json.dumps([settings.model_dump(), list(pairs)]).encode())
    key = adapter / _TRAINED_ON
    if key.is_file() and key.read_text(encoding="ascii") == digest.hexdigest():
        return False
    tune(pairs, settings, adapter)
    key.write_text(digest.hexdigest(), encoding="ascii")
    return True


@contextlib.contextmanager
def scratch_folder(path: Path | None) -> Iterator[Path]:
    """`path` (made if need be), or a temporary folder removed afterwards."""
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory() as temporary:
        yield Path(temporary)


def _gate_row(ranker: LinearModel, found: Candidates) -> npt.NDArray[np.float32]:
    logits = ranker.logits(found.features)
    return gate_row(found, logits, np.argsort(-logits, kind="stable"))


def _best_threshold(
    examples_: Sequence[tuple[Example, Candidates]],
    ranker: LinearModel,
    probability: npt.NDArray[np.float64],
) -> float:
    """The threshold that best trades answers found against negatives declined."""
    best_top3 = []
    for e, candidates_ in examples_:
        order = np.argsort(-ranker.logits(candidates_.features), kind="stable")
        best_top3.append(bool(e.labels[order[:3]].any()))
    found = np.asarray(best_top3)
    answerable = np.asarray([e.question.answerable for e, _ in examples_])
    n_pos, n_neg = max(1, answerable.sum()), max(1, (~answerable).sum())
    best, best_value = 0.5, -1.0
    for threshold in np.unique(np.round(probability, 3)):
        answered = probability >= threshold
        value = (answered & answerable & found).sum() / n_pos
        value += DECLINE_WEIGHT * (~answered & ~answerable).sum() / n_neg
        if value > best_value:
            best, best_value = float(threshold), value
    return best


def _logistic(
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.bool_],
    names: tuple[str, ...],
    strength: float,
    *,
    signs: dict[str, int] | None = None,
) -> LinearModel:
    """A balanced logistic regression on standardised `x`; with `signs`, the weights of the
    features it names are kept at or above zero (+1) or at or below it (-1)."""
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-6, x.std(axis=0), 1.0)
    z = (x - mean) / scale
    if signs is None:
        model = LogisticRegression(C=strength, class_weight="balanced", max_iter=2000)
        model.fit(z, y)
        weights, bias = model.coef_[0], float(model.intercept_[0])
    else:
        weights, bias = signed_logistic(z, y, [signs.get(name, 0) for name in names], strength)
    return LinearModel(
        features=names,
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        weights=tuple(float(v) for v in weights),
        bias=bias,
    )


def signed_logistic(
    x: npt.NDArray[np.floating[Any]],
    y: npt.NDArray[np.bool_],
    signs: Sequence[int],
    strength: float,
) -> tuple[npt.NDArray[np.float64], float]:
    """Weights and bias of scikit-learn's LogisticRegression(C=strength,
    class_weight="balanced") objective, each weight held to its sign (+1: at or above zero,
    -1: at or below, 0: free), by L-BFGS-B."""
    z, t = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    positives = max(1.0, float(t.sum()))
    negatives = max(1.0, float(len(t) - t.sum()))
    balance = np.where(t > 0, len(t) / (2 * positives), len(t) / (2 * negatives))

    def objective(p: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        w, b = p[:-1], p[-1]
        m = z @ w + b
        loss = float((balance * (np.logaddexp(0.0, m) - t * m)).sum())
        slope = balance * (1.0 / (1.0 + np.exp(-m)) - t)
        gradient = np.append(w + strength * (z.T @ slope), strength * slope.sum())
        return 0.5 * float(w @ w) + strength * loss, gradient

    bounds = [(0.0, None) if s > 0 else (None, 0.0) if s < 0 else (None, None) for s in signs]
    result = minimize(
        objective,
        np.zeros(z.shape[1] + 1),
        jac=True,
        method="L-BFGS-B",
        bounds=[*bounds, (None, None)],
        options={"maxiter": 5000},
    )
    return np.asarray(result.x[:-1], dtype=np.float64), float(result.x[-1])


def english_questions() -> list[Question]:
    return [q for q in own_questions() if q.kind in ENGLISH_KINDS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--dry-run", action="store_true", help="print, do not write the model")
    parser.add_argument("--scratch", type=Path, help="keep the per-fold adapters here")
    args = parser.parse_args()
    with scratch_folder(args.scratch) as scratch:
        # It only finds candidates: ranking.json may be fitted on other features than these.
        engine = Engine.load(EngineConfig(index_dir=scratch / "index"), ranking=Ranking.untrained())
        own = english_questions()
        pairs = training_pairs(engine, own)
        split = folds_of(own, pairs, args.folds, seed=7, by_passage=False)
        data, engines = cross_fitted(own, pairs, split, scratch)
        print(f"{len(data)} questions, {sum(e.found.passages.size for e in data)} candidates")
        results = {}
        for strength in STRENGTHS:
            results[strength] = summary(cross_validate(engines, data, split, strength))
            print(f"C={strength:<5} held-out: {shown(results[strength])}")
        chosen = max(STRENGTHS, key=lambda c: results[c]["score"])  # score.py's weighting
        print(f"chosen C={chosen}")
        scores = {}
        pool = benchmark_questions(engine)
        for band, margin in ESCALATIONS:
            figures_ = summary(
                cross_validate(engines, data, split, chosen, band=band, margin=margin)
            )
            ranking = fit(data, chosen, band, margin)
            share = escalated_share(ranking, [e.found for e in data])
            timed = escalated_share(ranking, pool)
            if max(share, timed) <= MAX_ESCALATED:
                scores[band, margin] = figures_["score"]
            print(
                f"second stage for {band}, lead < {margin}: {shown(figures_)}"
                f"  escalated {share:.2f}"
                f" (benchmark questions {timed:.2f})"
            )
        band, margin = max(scores, key=lambda b: scores[b])
        print(f"chosen second stage band {band}, lead < {margin}")
        floors = {}
        for floor in FLOORS:
            figures_ = summary(
                cross_validate(engines, data, split, chosen, band=band, margin=margin, floor=floor)
            )
            floors[floor] = figures_["score"]
            print(f"floor {floor}: {shown(figures_)}")
        floor = max(FLOORS, key=lambda f: floors[f])
        print(f"chosen floor {floor}")
        final = fit(data, chosen, band, margin, floor)
    if not args.dry_run:
        MODEL_PATH.write_text(final.model_dump_json(indent=1) + "\n", encoding="utf-8")
        print(f"written {MODEL_PATH} (threshold {final.threshold:.3f})")


if __name__ == "__main__":
    main()
