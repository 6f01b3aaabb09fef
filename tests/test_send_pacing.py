"""The bot's rate limiter on a virtual timeline: each waiting send records when it would go
instead of sleeping, so a minute's pacing is checked in no time."""

from __future__ import annotations

import asyncio
import contextvars
import json
from typing import Any

import pytest
from telegram import Bot
from telegram.ext import ExtBot

from bot.sending.ratelimit import GROUP_LIMIT, SendLimiter
from tests.support.requests import FakeRequest

_due: contextvars.ContextVar[float] = contextvars.ContextVar("due")


class Timeline:
    """A clock that stands still, and a sleep that only notes, for the task that sleeps, when
    it would have woken."""

    now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        _due.set(self.now + seconds)

    def due(self) -> float:
        """When the current task's request goes: after its sleep, or now."""
        return _due.get(self.now)


@pytest.fixture
def timeline() -> Timeline:
    return Timeline()


def _limiter(timeline: Timeline, per_second: float, group_window: float = 60.0) -> SendLimiter:
    return SendLimiter(
        per_second, group_window=group_window, clock=timeline.clock, sleep=timeline.sleep
    )


async def _send_all(
    limiter: SendLimiter, timeline: Timeline, calls: list[tuple[str, dict[str, Any]]]
) -> list[float]:
    """When each call goes, all made at once."""

    async def call() -> float:
        return timeline.due()

    async def one(endpoint: str, data: dict[str, Any]) -> float:
        result = await limiter.process_request(call, (), {}, endpoint, data, None)
        assert isinstance(result, float)
        return result

    return list(await asyncio.gather(*(one(e, d) for e, d in calls)))


async def test_a_group_gets_at_most_its_limit_in_any_window(timeline: Timeline) -> None:
    limiter = _limiter(timeline, per_second=1000, group_window=5.0)
    times = await _send_all(limiter, timeline, [("sendMessage", {"chat_id": -5})] * 45)
    first, second = times[:GROUP_LIMIT], times[GROUP_LIMIT : 2 * GROUP_LIMIT]
    third = times[2 * GROUP_LIMIT :]
    assert all(t < 0.1 for t in first)  # at once, but for the overall pace
    assert all(5.0 <= t < 5.1 for t in second)  # when the first slots free
    assert all(10.0 <= t < 10.1 for t in third)


async def test_a_private_chat_is_not_held_by_a_busy_group(timeline: Timeline) -> None:
    limiter = _limiter(timeline, per_second=1000)
    calls = [("sendMessage", {"chat_id": -5})] * 25 + [("sendMessage", {"chat_id": 7})]
    times = await _send_all(limiter, timeline, calls)
    assert times[-1] < 0.1
    assert min(times[GROUP_LIMIT:25]) >= 60.0


async def test_sends_are_paced_evenly_overall(timeline: Timeline) -> None:
    limiter = _limiter(timeline, per_second=10)
    calls = [("sendMessage", {"chat_id": chat}) for chat in range(1, 11)]
    times = await _send_all(limiter, timeline, calls)
    assert times == pytest.approx([n / 10 for n in range(10)])


@pytest.mark.parametrize(
    "endpoint", ["answerInlineQuery", "answerCallbackQuery", "sendChatAction", "getMe"]
)
async def test_calls_that_post_no_message_are_not_held(timeline: Timeline, endpoint: str) -> None:
    limiter = _limiter(timeline, per_second=1)
    busy = [("sendMessage", {"chat_id": -5})] * 30
    times = await _send_all(limiter, timeline, [*busy, (endpoint, {"chat_id": -5})])
    assert times[-1] == 0.0
    later = await _send_all(limiter, timeline, [("sendMessage", {"chat_id": 7})])
    assert later == [30.0]  # nor do they take a turn from the messages


class TimedRequest(FakeRequest):
    """Answers every call with `true` (a message where one is due), noting when it went."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.went: list[tuple[str, float]] = []

    async def reply(self, endpoint: str, params: dict[str, Any]) -> tuple[int, bytes]:
        self.went.append((endpoint, self.timeline.due()))
        result: Any = True
        if endpoint == "sendMessage":
            chat = {"id": params["chat_id"], "type": "group"}
            result = {"message_id": 1, "date": 0, "chat": chat, "text": params["text"]}
        return 200, json.dumps({"ok": True, "result": result}).encode()


async def test_the_bot_paces_its_messages_through_the_limiter(timeline: Timeline) -> None:
    request = TimedRequest(timeline)
    bot: Bot = ExtBot(
        "123:TOKEN",
        request=request,
        get_updates_request=TimedRequest(timeline),
        rate_limiter=_limiter(timeline, per_second=2),
    )
    await asyncio.gather(
        *(bot.send_message(-5, f"answer {n}") for n in range(3)),
        bot.answer_callback_query("query-id"),
    )
    assert sorted(t for e, t in request.went if e == "sendMessage") == [0.0, 0.5, 1.0]
    assert [t for e, t in request.went if e == "answerCallbackQuery"] == [0.0]
