"""Question sets and the scoring rule of `../shared/eval/score.py`, per kind.

A citation is a hit when its text holds a gold quote (or the longest common run of words
covers at least 60% of it) and is at most 80 words long. Kinds whose gold is empty should be
declined.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_WORDS = 80
QUESTIONS_DIR = Path(__file__).resolve().parent / "questions"
CHECKS_DIR = QUESTIONS_DIR.parent / "checks"  # question sets never fitted on
SHARED_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


# Questions in other languages take another path (knowledge/language.py), not the ranking.
ENGLISH_KINDS = frozenset(
    {"in", "paraphrase", "informal", "typo", "elliptical", "multi", "out", "hard-out", "furniture"}
)


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    gold: tuple[str, ...]
    kind: str

    @property
    def answerable(self) -> bool:
        return bool(self.gold)


def load_questions(paths: Iterable[Path]) -> list[Question]:
    out = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                raw = json.loads(line)
                out.append(Question(raw["id"], raw["question"], tuple(raw["gold"]), raw["kind"]))
    return out


def own_questions() -> list[Question]:
    return load_questions(sorted(QUESTIONS_DIR.glob("*.jsonl")))


def _norm_words(text: str) -> list[str]:
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.findall(r"\w+(?:[.,%'’]\w+)*%?|[^\w\s]", text.lower())


def _longest_common_run(a: list[str], b: list[str]) -> int:
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def is_hit(text: str, gold: Sequence[str]) -> bool:
    words = _norm_words(text)
    if sum(w[0].isalnum() for w in words) > MAX_WORDS:
        return False
    for quote in gold:
        quote_words = _norm_words(quote)
        if _longest_common_run(quote_words, words) >= max(1, round(0.6 * len(quote_words))):
            return True
    return False


@dataclass(frozen=True)
class Outcome:
    """How one answer fared: its hit rank (None: no hit in the citations) or abstention."""

    question: Question
    abstained: bool
    rank: int | None

    @property
    def correct(self) -> bool:
        if not self.question.answerable:
            return self.abstained
        return not self.abstained and self.rank is not None and self.rank <= 3


def outcome(question: Question, answer: dict[str, Any]) -> Outcome:
    texts = [c["text"] for c in answer.get("citations", [])]
    rank = next((i + 1 for i, t in enumerate(texts) if is_hit(t, question.gold)), None)
    return Outcome(question, bool(answer.get("abstained")), rank)


def summary(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """hit@1, hit@3, false abstain, declined-when-it-should and the score.py score."""
    answerable = [o for o in outcomes if o.question.answerable]
    negatives = [o for o in outcomes if not o.question.answerable]
    n = max(1, len(answerable))
    hit1 = sum(not o.abstained and o.rank == 1 for o in answerable) / n
    hit3 = sum(o.correct for o in answerable) / n
    false_abstain = sum(o.abstained for o in answerable) / n
    declined = sum(o.abstained for o in negatives) / max(1, len(negatives))
    return {
        "n": len(outcomes),
        "hit@1": hit1,
        "hit@3": hit3,
        "false_abstain": false_abstain,
        "declined": declined,
        "score": 0.7 * hit3 + 0.3 * (declined if negatives else 1.0),
    }


def shown(figures: dict[str, float]) -> str:
    """A `summary` on one line, without its count."""
    return "  ".join(f"{k} {v:.3f}" for k, v in figures.items() if k != "n")


def by_kind(outcomes: Sequence[Outcome]) -> dict[str, tuple[int, int]]:
    """Per kind: how many were right (hit@3, or declined for negatives), of how many."""
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for o in outcomes:
        table[o.question.kind][0] += o.correct
        table[o.question.kind][1] += 1
    return {kind: (right, total) for kind, (right, total) in sorted(table.items())}
