"""The limiter arithmetic, on a fake clock (the end-to-end tests check it through the bot)."""

import math

from bot.sending.ratelimit import DepartureWindow, QuestionLimiter, TokenBucket


def test_departure_window_lets_the_next_go_once_the_oldest_is_a_period_old() -> None:
    window = DepartureWindow(limit=2, period=10.0)
    assert window.earliest() == -math.inf
    window.record(0.0)
    assert window.earliest() == -math.inf
    window.record(1.0)
    assert window.earliest() == 10.0
    window.record(10.0)
    assert window.earliest() == 11.0  # only the last two count


def test_token_bucket_refills_at_its_rate_up_to_its_capacity() -> None:
    bucket = TokenBucket(rate=1, capacity=2, stamp=0.0)
    assert [bucket.try_take(0.0) for _ in range(3)] == [True, True, False]
    assert bucket.try_take(0.5) is False
    assert bucket.try_take(1.0) is True
    assert [bucket.try_take(100.0) for _ in range(3)] == [True, True, False]


def test_question_limiter_notifies_once_per_run_of_refusals() -> None:
    limiter = QuestionLimiter(user_per_minute=2, chat_per_minute=100)
    verdicts = [limiter.check(user_id=1, chat_id=1) for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, False, False, False]
    assert [v.notify for v in verdicts] == [False, False, True, False, False]
    assert limiter.check(user_id=2, chat_id=2).allowed  # others are unaffected
