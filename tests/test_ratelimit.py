"""The limiter arithmetic, on a fake clock (the end-to-end tests check it through the bot)."""

import asyncio
import math

from bot.sending.ratelimit import ArrivalWindow, QuestionLimiter, TokenBucket


async def test_arrival_window_lets_the_next_go_a_period_after_the_oldest_arrived() -> None:
    window = ArrivalWindow(limit=2, period=10.0)
    assert await window.earliest() == -math.inf
    first = window.sending()
    assert await window.earliest() == -math.inf
    second = window.sending()
    waiting = asyncio.ensure_future(window.earliest())
    await asyncio.sleep(0)
    assert not waiting.done()  # the oldest is still on its way: wait for it
    first.set_result(1.0)
    assert await waiting == 11.0
    second.set_result(3.0)
    window.sending()  # only the last two count
    assert await window.earliest() == 13.0


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
