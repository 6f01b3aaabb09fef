"""The bot's rate limiter on the event loop's virtual time (looptime): sleeps take no real
time, so a minute's pacing is checked in an instant, and a send goes exactly when the limiter
lets it."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest
from telegram import Bot
from telegram.ext import ExtBot

from bot.sending.ratelimit import GROUP_LIMIT, SendLimiter
from tests.support.requests import FakeRequest

pytestmark = pytest.mark.looptime


def _now() -> float:
    return asyncio.get_running_loop().time()


async def _send_all(limiter: SendLimiter, calls: list[tuple[str, dict[str, Any]]]) -> list[float]:
    """When each call goes, all made at once."""

    async def call() -> dict[str, Any]:
        return {"sent_at": _now()}

    async def one(endpoint: str, data: dict[str, Any]) -> float:
        result = await limiter.process_request(call, (), {}, endpoint, data, None)
        assert isinstance(result, dict)
        return float(result["sent_at"])

    return list(await asyncio.gather(*(one(e, d) for e, d in calls)))


async def test_a_group_gets_at_most_its_limit_in_any_window() -> None:
    limiter = SendLimiter(per_second=1000, group_window=5.0)
    times = await _send_all(limiter, [("sendMessage", {"chat_id": -5})] * 45)
    first, second = times[:GROUP_LIMIT], times[GROUP_LIMIT : 2 * GROUP_LIMIT]
    third = times[2 * GROUP_LIMIT :]
    assert all(t < 0.1 for t in first)  # at once, but for the overall pace
    assert all(5.0 <= t < 5.1 for t in second)  # when the first slots free
    assert all(10.0 <= t < 10.1 for t in third)
    for start in times:  # less a microsecond: looptime rounds the loop's time to one
        assert sum(start <= t < start + 5.0 - 1e-6 for t in times) <= GROUP_LIMIT


async def test_a_group_message_counts_from_when_its_call_returns() -> None:
    """Telegram counts a message when it gets it, which may be long after the limiter let it
    go (a slow network, a machine too busy to send): here the first twenty take four seconds
    to arrive. The twenty-first must still arrive a whole window after the first."""
    window = 5.0
    limiter = SendLimiter(per_second=1000, group_window=window)
    arrivals: list[float] = []

    async def send(n: int) -> None:
        async def call() -> dict[str, Any]:
            await asyncio.sleep(4.0 if n < GROUP_LIMIT else 0.01)
            arrivals.append(_now())
            return {}

        await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": -5}, None)

    await asyncio.gather(*(send(n) for n in range(GROUP_LIMIT + 5)))
    arrivals.sort()
    assert arrivals[GROUP_LIMIT] - arrivals[0] >= window
    for start in arrivals:
        assert sum(start <= t < start + window - 1e-6 for t in arrivals) <= GROUP_LIMIT


async def test_a_private_chat_is_not_held_by_a_busy_group() -> None:
    limiter = SendLimiter(per_second=1000)
    calls = [("sendMessage", {"chat_id": -5})] * 25 + [("sendMessage", {"chat_id": 7})]
    times = await _send_all(limiter, calls)
    assert times[-1] < 0.1
    assert min(times[GROUP_LIMIT:25]) >= 60.0


async def test_sends_are_paced_evenly_overall() -> None:
    limiter = SendLimiter(per_second=10)
    calls = [("sendMessage", {"chat_id": chat}) for chat in range(1, 11)]
    times = await _send_all(limiter, calls)
    assert times == pytest.approx([n / 10 for n in range(10)])


async def test_sends_held_up_by_a_stalled_loop_do_not_burst_after_it() -> None:
    """The loop is blocked from 0.05 s to 1.05 s while nine sends wait their turn, so every
    timer due in between fires at 1.05 s. The sends must still go a tenth of a second apart
    after it, not all at once to make up for the lost second."""
    stall_from, stall_to = 0.05, 1.05

    async def sleep_through_a_stall(seconds: float) -> None:
        wake = _now() + seconds
        if stall_from <= wake < stall_to:
            wake = stall_to
        await asyncio.sleep(wake - _now())

    limiter = SendLimiter(per_second=10, sleep=sleep_through_a_stall)
    times = await _send_all(limiter, [("sendMessage", {"chat_id": c}) for c in range(1, 11)])
    assert times[:2] == pytest.approx([0.0, stall_to])
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) == pytest.approx(0.1), gaps


async def test_sleeps_that_wake_a_little_late_do_not_lower_the_rate() -> None:
    """Each sleep wakes 3 ms late, as a busy loop's do: the sends keep to their slots (ten
    a second), instead of each one's lateness pushing back all that follow."""

    async def late_sleep(seconds: float) -> None:
        await asyncio.sleep(seconds + 0.003)

    limiter = SendLimiter(per_second=10, sleep=late_sleep)
    times = await _send_all(limiter, [("sendMessage", {"chat_id": c}) for c in range(1, 21)])
    assert times[-1] == pytest.approx(1.9 + 0.003)


@pytest.mark.parametrize(
    "endpoint", ["answerInlineQuery", "answerCallbackQuery", "sendChatAction", "getMe"]
)
async def test_calls_that_post_no_message_are_not_held(endpoint: str) -> None:
    limiter = SendLimiter(per_second=1)
    message, other = ("sendMessage", {"chat_id": -5}), (endpoint, {"chat_id": -5})
    start = _now()
    times = await _send_all(limiter, [message, other, message, other, message])
    # Not held behind the messages, nor taking a turn from them.
    assert [t - start for t in times] == pytest.approx([0.0, 0.0, 1.0, 0.0, 2.0])


class TimedRequest(FakeRequest):
    """Answers every call with `true` (a message where one is due), noting when it went."""

    def __init__(self) -> None:
        self.went: list[tuple[str, float]] = []

    async def reply(self, endpoint: str, params: dict[str, Any]) -> tuple[int, bytes]:
        self.went.append((endpoint, _now()))
        result: Any = True
        if endpoint == "sendMessage":
            chat = {"id": params["chat_id"], "type": "group"}
            result = {"message_id": 1, "date": 0, "chat": chat, "text": params["text"]}
        return 200, json.dumps({"ok": True, "result": result}).encode()


async def test_the_bot_paces_its_messages_through_the_limiter() -> None:
    request = TimedRequest()
    bot: Bot = ExtBot(
        "123:TOKEN",
        request=request,
        get_updates_request=TimedRequest(),
        rate_limiter=SendLimiter(per_second=2),
    )
    start = _now()
    await asyncio.gather(
        *(bot.send_message(-5, f"answer {n}") for n in range(3)),
        bot.answer_callback_query("query-id"),
    )
    went = sorted(t - start for e, t in request.went if e == "sendMessage")
    assert went == pytest.approx([0.0, 0.5, 1.0])
    assert [t - start for e, t in request.went if e == "answerCallbackQuery"] == [0.0]
