"""The limiter arithmetic, on a fake clock (the end-to-end tests check it through the bot)."""

from bot.sending.ratelimit import QuestionLimiter, SlidingWindow, TokenBucket


def test_sliding_window_never_books_more_than_the_limit_in_any_period() -> None:
    window = SlidingWindow(limit=20, period=60.0)
    slots = [0.0 + window.reserve(0.0) for _ in range(45)]
    assert slots[:20] == [0.0] * 20
    assert slots[20:40] == [60.0] * 20
    assert slots[40:] == [120.0] * 5
    for start in slots:
        assert sum(start <= s < start + 60 for s in slots) <= 20


def test_sliding_window_frees_slots_as_time_passes() -> None:
    window = SlidingWindow(limit=2, period=10.0)
    assert window.reserve(0.0) == 0.0
    assert window.reserve(1.0) == 0.0
    assert window.reserve(2.0) == 8.0  # the first slot frees at 10 s
    assert window.reserve(30.0) == 0.0


def test_token_bucket_with_capacity_one_paces_evenly() -> None:
    bucket = TokenBucket(rate=10, capacity=1, stamp=0.0)
    waits = [bucket.reserve(0.0) for _ in range(5)]
    assert all(abs(w - 0.1 * n) < 1e-9 for n, w in enumerate(waits))


def test_question_limiter_notifies_once_per_run_of_refusals() -> None:
    limiter = QuestionLimiter(user_per_minute=2, chat_per_minute=100)
    verdicts = [limiter.check(user_id=1, chat_id=1) for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, False, False, False]
    assert [v.notify for v in verdicts] == [False, False, True, False, False]
    assert limiter.check(user_id=2, chat_id=2).allowed  # others are unaffected
