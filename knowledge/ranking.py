"""The learned ranking and relevance gate: two logistic regressions over `features`.

Their weights are fitted by `python -m benchmarks.train_ranking` on the project's own
question set, by cross-validation, and shipped in `ranking.json` beside this module. The
gate's weights are held to the signs prior knowledge gives them (closer to the question never
means less likely to answer it; see train_ranking.GATE_SIGNS).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, model_validator

from knowledge.features import (
    CANDIDATE_FEATURES,
    QUESTION_FEATURES,
    SECOND_FEATURES,
    Candidates,
)

MODEL_PATH = Path(__file__).resolve().parent / "ranking.json"
SECOND_CANDIDATE_FEATURES = (*CANDIDATE_FEATURES, *SECOND_FEATURES)


def gate_features(candidate: tuple[str, ...]) -> tuple[str, ...]:
    """The gate's features over a ranker's `candidate` features."""
    return ("best", "margin", *candidate, *QUESTION_FEATURES)


FloatArray = npt.NDArray[np.float32]


class LinearModel(BaseModel):
    """A logistic regression on standardised features."""

    model_config = ConfigDict(frozen=True)

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    @model_validator(mode="after")
    def _sizes_agree(self) -> LinearModel:
        sizes = {len(self.features), len(self.mean), len(self.scale), len(self.weights)}
        if len(sizes) != 1:
            raise ValueError("features, mean, scale and weights differ in length")
        return self

    def logits(self, rows: FloatArray) -> FloatArray:
        mean, scale = np.asarray(self.mean), np.asarray(self.scale)
        standard = (rows - mean) / scale
        return np.asarray(standard @ np.asarray(self.weights) + self.bias, dtype=np.float32)


class Ranking(BaseModel):
    """The ranker over candidates, and the gate over the best one, with its threshold; and
    optionally a second stage over the candidates with a second model's view
    (SECOND_FEATURES), for questions whose confidence falls in its `escalate` band."""

    model_config = ConfigDict(frozen=True)

    ranker: LinearModel
    gate: LinearModel
    threshold: float
    floor: float = 0.0  # below this confidence even a plainly relevant passage is declined
    strength: float = 1.0  # the regularisation it was fitted with (chosen by cross-validation)
    second: Ranking | None = None
    escalate: tuple[float, float] = (0.0, 0.0)  # [low, high) confidence that goes to `second`
    # ... and, above that band, a best candidate that leads the next by less than this score:
    # sure that something answers, unsure which.
    escalate_margin: float = 0.0

    @model_validator(mode="after")
    def _features_match(self) -> Ranking:
        if self.gate.features != gate_features(self.ranker.features):
            raise ValueError("the gate was fitted on other features: fit it again")
        if self.ranker.features not in {CANDIDATE_FEATURES, SECOND_CANDIDATE_FEATURES}:
            raise ValueError("the model was fitted on other features: fit it again")
        if self.second is not None and (
            self.second.ranker.features != SECOND_CANDIDATE_FEATURES or self.second.second
        ):
            raise ValueError("the second stage must read the second model's view, and be last")
        return self

    def escalates(self, confidence: float, margin: float = float("inf")) -> bool:
        """Whether a question this confident, its best candidate leading the next by
        `margin` (in score), goes to the second stage."""
        low, high = self.escalate
        if self.second is None or confidence < low:
            return False
        return confidence < high or margin < self.escalate_margin

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Ranking:
        return cls.model_validate_json(path.read_bytes())

    @classmethod
    def untrained(cls) -> Ranking:
        """A ranking that has learned nothing: every candidate alike, nothing answered. What
        an engine fitting a new ranking starts from, whatever `ranking.json` was fitted on."""
        ranker = _zeros(CANDIDATE_FEATURES)
        return cls(
            ranker=ranker, gate=_zeros(gate_features(ranker.features)), threshold=1.0, floor=1.0
        )

    def rank(self, found: Candidates) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """Candidate rows best first, and each one's score (a logit: `probabilities` turns
        scores into probabilities of answering)."""
        logits = self.ranker.logits(found.features)
        return np.argsort(-logits, kind="stable"), logits

    def answers(
        self,
        found: Candidates,
        order: npt.NDArray[np.int64],
        logits: FloatArray,
        confidence: float | None = None,
    ) -> bool:
        """The gate: the learned confidence (computed unless given), or a plainly relevant
        best passage that the learned gate does not rule out."""
        if confidence is None:
            confidence = self.confidence(found, order, logits)
        if confidence >= self.threshold:
            return True
        return confidence >= self.floor and plainly_relevant(found, int(order[0]))

    def confidence(
        self, found: Candidates, order: npt.NDArray[np.int64], logits: FloatArray
    ) -> float:
        """The gate's probability that the best candidate answers the question."""
        row = gate_row(found, logits, order)
        return float(probabilities(self.gate.logits(row[None, :]))[0])


def _zeros(features: tuple[str, ...]) -> LinearModel:
    """A linear model over `features` whose every logit is 0."""
    size = len(features)
    return LinearModel(
        features=features, mean=(0.0,) * size, scale=(1.0,) * size, weights=(0.0,) * size, bias=0.0
    )


_COLUMN = {name: i for i, name in enumerate(CANDIDATE_FEATURES)}
_PLAIN_RELEVANCE = 0.365  # the earlier hand-set gate, kept as a floor: see BENCHMARKS.md
_PLAIN_FOCUS = 0.3
_NAMES = QUESTION_FEATURES.index("names")
_UNKNOWN_NAMES = QUESTION_FEATURES.index("unknown_names")


def plainly_relevant(found: Candidates, row: int) -> bool:
    """Close in meaning and in words, and, when the question names something, close to
    what it asks about that thing too; never when it names what the collection does not
    know ("How many provinces does Canada have?")."""
    if found.question[_UNKNOWN_NAMES] > 0:
        return False
    values = found.features[row]
    dense = max(values[_COLUMN["sentence"]], values[_COLUMN["passage"]])
    relevance = 0.65 * dense + 0.35 * values[_COLUMN["coverage"]]
    names_only = found.question[_NAMES] > 0 and values[_COLUMN["focus_coverage"]] == 0
    return bool(
        relevance >= _PLAIN_RELEVANCE
        and (not names_only or values[_COLUMN["focus"]] >= _PLAIN_FOCUS)
    )


def lead(logits: FloatArray, order: npt.NDArray[np.int64], alone: float = float("inf")) -> float:
    """How far the best candidate's score is above the next one's (`alone` when it is)."""
    return float(logits[order[0]] - logits[order[1]]) if order.size > 1 else alone


def gate_row(found: Candidates, logits: FloatArray, order: npt.NDArray[np.int64]) -> FloatArray:
    """The gate's features: the best candidate's score, its lead, its signals, the question's."""
    best = float(logits[order[0]])
    margin = lead(logits, order, alone=5.0)
    return np.concatenate([[best, margin], found.features[order[0]], found.question]).astype(
        np.float32
    )


def probabilities(x: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float32)
