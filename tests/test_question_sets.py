"""The question sets the ranking is fitted on and checked against are sound data: each gold
quote is verbatim text of its document, each id is used once, and no check question is
also one the ranking is fitted on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.scoring import CHECKS_DIR, QUESTIONS_DIR, Question, load_questions
from knowledge.corpus import load_corpus

ANSWERABLE = {"in", "paraphrase", "informal", "typo", "elliptical", "multi", "zh", "ru"}
UNANSWERABLE = {"out", "hard-out", "furniture", "zh-out", "ru-out"}
SETS = sorted([*QUESTIONS_DIR.glob("*.jsonl"), *CHECKS_DIR.glob("*.jsonl")])


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_there_are_fitted_and_check_sets() -> None:
    assert list(QUESTIONS_DIR.glob("*.jsonl")) and list(CHECKS_DIR.glob("*.jsonl"))


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_gold_quotes_are_verbatim_text_of_their_document(path: Path) -> None:
    bodies = {doc.doc_id: doc.body for doc in load_corpus()}
    for row in _rows(path):
        gold, kind, doc_id = row["gold"], row["kind"], row.get("doc_id")
        assert isinstance(gold, list)
        assert kind in ANSWERABLE | UNANSWERABLE, row
        assert bool(gold) == (kind in ANSWERABLE), row
        if gold:
            body = bodies[str(doc_id)] if doc_id else "\n".join(bodies.values())
            missing = [quote for quote in gold if quote not in body]
            assert not missing, (row["id"], missing)


def test_ids_are_unique_and_checks_are_never_fitted_on() -> None:
    fitted = load_questions(sorted(QUESTIONS_DIR.glob("*.jsonl")))
    checks = load_questions(sorted(CHECKS_DIR.glob("*.jsonl")))
    ids = [q.id for q in [*fitted, *checks]]
    assert len(ids) == len(set(ids))

    def key(question: Question) -> str:
        return " ".join(question.question.lower().split())

    assert not {key(q) for q in fitted} & {key(q) for q in checks}
