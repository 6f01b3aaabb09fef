"""Token buckets and windows: per-user and per-chat question limits, and the pacing of the
messages the bot sends (python-telegram-bot's rate limiter)."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from telegram.constants import FloodLimit
from telegram.ext import BaseRateLimiter


@dataclass
class TokenBucket:
    """`capacity` tokens, refilled at `rate` per second."""

    rate: float
    capacity: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def try_take(self, now: float | None = None) -> bool:
        """Take a token if one is there."""
        self._refill(time.monotonic() if now is None else now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    notify: bool  # the first refusal of a run: tell the user once


@dataclass
class _Quota:
    bucket: TokenBucket
    notified: bool = False  # told of a refusal, and not allowed a question since


class QuestionLimiter:
    """Per-user and per-chat buckets; one notice per run of refusals, not one per message."""

    def __init__(self, user_per_minute: int, chat_per_minute: int, max_keys: int = 50_000):
        self._user_rate = user_per_minute
        self._chat_rate = chat_per_minute
        self._quotas: LRUCache[tuple[str, int], _Quota] = LRUCache(max_keys)
        self.refused = 0

    def check(self, user_id: int, chat_id: int) -> Verdict:
        user = self._quota(("user", user_id), self._user_rate)
        chat = self._quota(("chat", chat_id), self._chat_rate)
        now = time.monotonic()
        if user.bucket.try_take(now):
            if chat.bucket.try_take(now):
                user.notified = False
                return Verdict(allowed=True, notify=False)
            user.bucket.tokens += 1  # not spent: the chat refused
        self.refused += 1
        notify, user.notified = not user.notified, True
        return Verdict(allowed=False, notify=notify)

    def _quota(self, key: tuple[str, int], per_minute: int) -> _Quota:
        quota = self._quotas.get(key)
        if quota is None:
            bucket = TokenBucket(rate=per_minute / 60, capacity=per_minute)
            quota = self._quotas[key] = _Quota(bucket)
        return quota


class ArrivalWindow:
    """The last `limit` messages to one chat, each counted from when its call returned (by
    then Telegram has it; it may get it long after it was sent, on a slow network or a busy
    machine). The next may go once the oldest of them is `period` seconds old, so no `period`
    seconds hold more than `limit` arrivals."""

    def __init__(self, limit: int, period: float) -> None:
        self.period = period
        self.arrived: deque[asyncio.Future[float]] = deque(maxlen=limit)
        self.lock = asyncio.Lock()  # one message of this chat waits its turn at a time

    async def earliest(self) -> float:
        """The earliest time the next message may go (after the oldest call returns, if it
        is still under way)."""
        if len(self.arrived) < (self.arrived.maxlen or 0):
            return -math.inf
        return await asyncio.shield(self.arrived[0]) + self.period

    def sending(self) -> asyncio.Future[float]:
        """A message goes now: set the future to when its call returns."""
        arrival = asyncio.get_running_loop().create_future()
        self.arrived.append(arrival)
        return arrival


GROUP_LIMIT = int(FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP)  # in any minute of one group
GROUP_WINDOW_SECONDS = 60.0
# The calls that post a message to a chat: these are paced; anything else (answers to inline
# queries and buttons, chat actions, reads) goes at once.
MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "sendPhoto",
        "sendDocument",
        "copyMessage",
        "forwardMessage",
    }
)
_Result = bool | dict[str, Any] | list[dict[str, Any]]


class SendLimiter(BaseRateLimiter[None]):
    """python-telegram-bot's rate limiter for the bot: keeps outgoing messages within
    Telegram's limits, evenly paced overall at `per_second`, and at most `group_limit` in any
    `group_window` seconds of one group, counted as they arrive (`ArrivalWindow`). Other calls
    are not held (getUpdates never reaches a rate limiter)."""

    def __init__(
        self,
        per_second: float,
        *,
        group_limit: int = GROUP_LIMIT,
        group_window: float = GROUP_WINDOW_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Times are the running event loop's, the clock its sleeps are timed by."""
        self._interval = 1.0 / per_second
        self._next = -math.inf  # the earliest the next message may go, overall
        self._overall = asyncio.Lock()
        self._group_limit = group_limit
        self._group_window = group_window
        self._groups: LRUCache[int, ArrivalWindow] = LRUCache(maxsize=10_000)
        self._sleep = sleep

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(  # noqa: PLR0917 - python-telegram-bot's signature
        self,
        callback: Callable[..., Coroutine[Any, Any, _Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> _Result:
        if endpoint not in MESSAGE_METHODS:
            return await callback(*args, **kwargs)
        chat_id = data.get("chat_id")
        if not (isinstance(chat_id, int) and chat_id < 0):
            await self._overall_turn(-math.inf)
            return await callback(*args, **kwargs)
        arrival = await self._group_turn(self._group(chat_id))
        try:
            return await callback(*args, **kwargs)
        finally:
            arrival.set_result(asyncio.get_running_loop().time())

    async def _group_turn(self, window: ArrivalWindow) -> asyncio.Future[float]:
        """Wait for room in the group's window, then for the overall turn; one message of a
        group at a time, so that a group's backlog never holds up other chats. The future is
        the message's place in the window, to be set when its call returns."""
        async with window.lock:
            ready = await self._sleep_until(await window.earliest())
            await self._overall_turn(ready)
            return window.sending()

    async def _overall_turn(self, ready: float) -> None:
        """Wait until `ready` and the overall pace allow. A wake-up a
        little late keeps to the slots (or the rate would fall by the sleeps' lateness, 3% at
        30 a second); one later than that, a stalled loop, starts them again from when the
        message went, so the sends that waited through the stall never go in a burst."""
        async with self._overall:
            slot = max(ready, self._next)
            went = await self._sleep_until(slot)
            late = went - slot > self._interval / 4
            self._next = (went if late else slot) + self._interval

    async def _sleep_until(self, when: float) -> float:
        """Sleep until `when` on the clock; the time it is then."""
        loop = asyncio.get_running_loop()
        delay = when - loop.time()
        if delay > 0:
            await self._sleep(delay)
        return max(loop.time(), when)

    def _group(self, chat_id: int) -> ArrivalWindow:
        window = self._groups.get(chat_id)
        if window is None:
            window = self._groups[chat_id] = ArrivalWindow(self._group_limit, self._group_window)
        return window
