"""The feedback store on real SQLite files, and how gaps read in Telegram and the terminal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.feedback import DOWN, UP, FeedbackStore, Gap, VoteResult, question_key, read_gaps
from bot.render import telegram as render
from bot.render import terminal
from tests.support.canned_backend import CannedBackend
from tests.support.telegram_html import MAX_MESSAGE_LENGTH, check_message

BACKEND = CannedBackend({"tax": ["tax-report", "sme-survey"], "giants": ["giants-list"]})
answer = BACKEND.answer


class Clock:
    """Seconds since the epoch that move only when told."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> FeedbackStore:
    return FeedbackStore(tmp_path / "feedback.sqlite3", clock)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Which football club won?", "which  FOOTBALL club won"),
        ("Don't they pay tax?", "dont they pay tax"),
        ("little-giants: how many?", "Little giants how many"),
        ("小巨人是什么？", "小巨人是什么"),
    ],
)
def test_questions_read_the_same_despite_case_spacing_and_punctuation(one: str, other: str) -> None:
    assert question_key(one) == question_key(other)


def test_different_questions_stay_apart() -> None:
    assert question_key("Who pays tax?") != question_key("Who pays taxes?")


def test_one_vote_per_user_per_answer(store: FeedbackStore) -> None:
    first = store.record_answer(answer("tax?"), [(1, 10)])
    second = store.record_answer(answer("giants?"), [(1, 12)])
    assert first is not None and second is not None
    assert store.vote(first, 7, UP) is VoteResult.UP
    assert store.vote(first, 7, DOWN) is VoteResult.DOWN
    assert store.totals() == (0, 1)
    assert store.vote(first, 7, DOWN) is VoteResult.WITHDRAWN
    assert store.totals() == (0, 0)
    store.vote(first, 7, DOWN)
    store.vote(first, 8, UP)
    store.vote(second, 7, UP)
    assert store.totals() == (2, 1)


def test_answers_are_found_by_any_message_that_carries_them(store: FeedbackStore) -> None:
    answer_id = store.record_answer(answer("tax?"), [(1, 10), (1, 11)])
    assert store.answer_at(1, 10) == store.answer_at(1, 11) == answer_id
    assert store.answer_at(1, 12) is None
    assert store.answer_at(2, 10) is None
    store.record_follow_up(answer("tax?"), (1, 11), [(1, 13)])
    assert store.answer_at(1, 13) == answer_id
    # Under a message sent before answers were recorded: both now carry one new record.
    store.record_follow_up(answer("giants?"), (1, 20), [(1, 21)])
    assert store.answer_at(1, 20) == store.answer_at(1, 21) not in {None, answer_id}


def test_empty_questions_are_not_recorded(store: FeedbackStore) -> None:
    assert store.record_answer(answer("  "), [(1, 10)]) is None
    store.record_inline(answer(" "), "0" * 32)
    assert store.answer_at(1, 10) is None
    assert store.inline_answer("0" * 32) is None
    assert store.gaps() == []


def test_votes_and_answers_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state" / "feedback.sqlite3"
    store = FeedbackStore(path)
    answer_id = store.record_answer(answer("tax?"), [(1, 10)])
    assert answer_id is not None
    store.vote(answer_id, 7, DOWN)
    store.close()

    reopened = FeedbackStore(path)
    assert reopened.answer_at(1, 10) == answer_id
    assert reopened.totals() == (0, 1)
    assert reopened.vote(answer_id, 7, UP) is VoteResult.UP
    assert reopened.totals() == (1, 0)


def test_gaps_count_declined_questions_and_disliked_answers(
    store: FeedbackStore, clock: Clock
) -> None:
    store.record_answer(answer("Who won the cup?"), [(1, 1)])
    clock.now += 60
    store.record_answer(answer("Bake a cake?"), [(1, 2)])
    clock.now += 60
    store.record_answer(answer("who WON the cup"), [(2, 1)])
    store.record_inline(answer("Who won the cup?!"), "a" * 32)  # typed inline: not counted
    disliked = store.record_answer(answer("What about tax?"), [(1, 3)])
    other = store.record_answer(answer("what about TAX"), [(2, 2)])
    liked = store.record_answer(answer("And the giants?"), [(1, 4)])
    assert disliked is not None and other is not None and liked is not None
    for user in (7, 8):
        store.vote(disliked, user, DOWN)
    store.vote(other, 9, DOWN)
    store.vote(liked, 7, UP)
    asked_last = datetime.fromtimestamp(int(clock.now), UTC)

    assert store.gaps() == [
        Gap(
            question="what about TAX",
            kind="disliked",
            count=3,
            last_asked=asked_last,
            doc_ids=["tax-report", "sme-survey"],
        ),
        Gap(question="who WON the cup", kind="declined", count=2, last_asked=asked_last),
        Gap(
            question="Bake a cake?",
            kind="declined",
            count=1,
            last_asked=datetime.fromtimestamp(int(clock.now) - 60, UTC),
        ),
    ]
    store.vote(liked, 8, DOWN)  # as frequent as a decline, and asked later: listed first
    assert [gap.question for gap in store.gaps()][-2:] == ["And the giants?", "Bake a cake?"]


def test_gaps_of_a_state_directory_that_was_never_used(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert read_gaps(state) == []
    assert not state.exists()


def _gap(number: int) -> Gap:
    return Gap(
        question=f"<b>Question</b> & number {number}? " + "x" * 400,
        kind="disliked" if number % 2 else "declined",
        count=1000 - number,
        last_asked=datetime(2025, 1, 2, tzinfo=UTC),
        doc_ids=["a-doc", "b-doc"] if number % 2 else None,
    )


@pytest.mark.parametrize("count", [1, 15, 200])
def test_the_gaps_message_fits_in_one_telegram_message(count: int) -> None:
    gaps = [_gap(number) for number in range(count)]
    html = render.gaps_message(gaps)
    shown = check_message(html).text  # valid Telegram HTML within the length limit
    assert len(html) <= MAX_MESSAGE_LENGTH
    listed = shown.count("<b>Question</b> & number")
    assert listed >= 1
    assert "2025-01-02" in shown
    assert "1000× declined" in shown
    if listed < count:
        assert f"and {count - listed} more" in shown
    else:
        assert "more" not in shown
    if count > 1:
        assert "Cited: a-doc, b-doc" in shown


def test_no_gaps_reads_as_one_line() -> None:
    assert "\n" not in check_message(render.gaps_message([])).text
    assert "\n" not in terminal.render_gaps([])


def test_the_terminal_table_has_no_control_characters() -> None:
    gap = Gap(
        question="Who\x1b[2J won\nthe cup?",
        kind="disliked",
        count=2,
        last_asked=datetime(2025, 1, 2, tzinfo=UTC),
        doc_ids=["a-doc"],
    )
    table = terminal.render_gaps([gap]).splitlines()
    assert table[1].split() == ["2", "disliked", "2025-01-02", "Who[2J", "won", "the", "cup?"]
    assert table[2].split() == ["cited:", "a-doc"]
