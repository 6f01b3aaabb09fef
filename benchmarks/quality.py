"""Answer quality per kind of question: the own set by held-out folds, and the check sets.

    python -m benchmarks.quality [--folds 5] [--folds-by kind|passage] [--seed 7]
                                 [--scratch DIR] [--check PATH.jsonl ...]

The own set (benchmarks/questions/*.jsonl) is answered by models fitted without each
question's fold, the encoder's adapter and the ranking (as `train_ranking` chooses them);
check sets, by default ../shared/eval/dev.jsonl and chat.jsonl when present and
benchmarks/checks/*.jsonl (never fitted on), by the shipped models. With --scratch, the
per-fold adapters are kept there and reused (`train_ranking.tuned_once`). The own
questions in other languages are answered across languages, with the score at each
threshold of the multilingual match (the shipped one was chosen from these).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from benchmarks._common import print_footer, print_header
from benchmarks.scoring import (
    CHECKS_DIR,
    ENGLISH_KINDS,
    QUESTIONS_DIR,
    SHARED_EVAL,
    Outcome,
    by_kind,
    load_questions,
    outcome,
    own_questions,
    shown,
    summary,
)
from benchmarks.train_encoder import training_pairs
from benchmarks.train_ranking import (
    cross_fitted,
    cross_validate,
    english_questions,
    folds_of,
    scratch_folder,
)
from bot.render.jsonl import answer_object
from knowledge import Engine, EngineConfig, crosslingual
from knowledge.ranking import Ranking

THRESHOLDS = (0.0, 0.78, 0.79, 0.80, 0.81, 0.82)


def report(name: str, outcomes: Sequence[Outcome]) -> None:
    print(f"{name} ({len(outcomes)}): {shown(summary(outcomes))}")
    print("   by kind: " + "  ".join(f"{k} {r}/{t}" for k, (r, t) in by_kind(outcomes).items()))


def other_languages(engine: Engine) -> None:
    """The own questions in other scripts: figures at each threshold, then the shipped one."""
    questions = [q for q in own_questions() if q.kind not in ENGLISH_KINDS]
    shipped = crosslingual.THRESHOLD
    try:
        for threshold in THRESHOLDS:
            crosslingual.THRESHOLD = threshold
            answers = engine.answer_many([q.question for q in questions])
            outcomes = [
                outcome(q, answer_object(a)) for q, a in zip(questions, answers, strict=True)
            ]
            if threshold == shipped:
                report(f"own set, other languages, threshold {threshold:.2f} (shipped)", outcomes)
            else:
                print(f"   threshold {threshold:.2f}: score {summary(outcomes)['score']:.3f}")
    finally:
        crosslingual.THRESHOLD = shipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7, help="of the fold split")
    parser.add_argument("--check", type=Path, nargs="*", default=None)
    parser.add_argument(
        "--folds-by",
        choices=("kind", "passage"),
        default="kind",
        help="stratify the folds by kind, or keep questions about one passage in one fold",
    )
    parser.add_argument("--scratch", type=Path, help="keep the per-fold adapters here")
    args = parser.parse_args()
    checks = args.check
    if checks is None:
        shared = [p for p in (SHARED_EVAL / "dev.jsonl", SHARED_EVAL / "chat.jsonl") if p.exists()]
        checks = [*shared, *sorted(CHECKS_DIR.glob("*.jsonl"))]
    print_header("answer quality")
    with scratch_folder(args.scratch) as scratch:
        engine = Engine.load(EngineConfig(index_dir=scratch / "index"))
        shipped = Ranking.load()
        own = english_questions()
        pairs = training_pairs(engine, own)
        by_passage = args.folds_by == "passage"
        split = folds_of(own, pairs, args.folds, args.seed, by_passage=by_passage)
        data, engines = cross_fitted(own, pairs, split, scratch)
        held_out = cross_validate(
            engines,
            data,
            split,
            shipped.strength,
            band=shipped.escalate,
            margin=shipped.escalate_margin,
            floor=shipped.floor,
        )
        report("own set, held-out folds", held_out)
        for path in sorted(QUESTIONS_DIR.glob("*.jsonl")):
            ids = {q.id for q in load_questions([path])}
            part = [o for o in held_out if o.question.id in ids]
            if part:
                report(f"   of which {path.name}", part)
        other_languages(engine)
        for path in checks:
            questions = load_questions([path])
            answers = engine.answer_many([q.question for q in questions])
            outcomes = [
                outcome(q, answer_object(a)) for q, a in zip(questions, answers, strict=True)
            ]
            report(f"{path.name}, shipped model", outcomes)
    print_footer()


if __name__ == "__main__":
    main()
