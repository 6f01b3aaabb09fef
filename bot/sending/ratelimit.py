"""Token buckets and windows: per-user and per-chat question limits, and the pacing of the
messages the bot sends (python-telegram-bot's rate limiter)."""

from __future__ import annotations

import asyncio
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

    def reserve(self, now: float | None = None) -> float:
        """Take a token, going into debt if need be; the seconds to wait before using it."""
        self._refill(time.monotonic() if now is None else now)
        self.tokens -= 1
        return max(0.0, -self.tokens / self.rate)


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


@dataclass
class SlidingWindow:
    """At most `limit` events in any `period` seconds; `reserve` books the earliest slot."""

    limit: int
    period: float
    booked: deque[float] = field(default_factory=deque)

    def reserve(self, now: float) -> float:
        """Book a slot; the seconds to wait for it."""
        slot = now
        if len(self.booked) >= self.limit:
            slot = max(slot, self.booked[-self.limit] + self.period)
        if self.booked:
            slot = max(slot, self.booked[-1])
        self.booked.append(slot)
        while len(self.booked) > self.limit and self.booked[0] <= slot - self.period:
            self.booked.popleft()
        return slot - now


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
    `group_window` seconds of one group. Other calls are not held (getUpdates never reaches
    a rate limiter)."""

    def __init__(
        self,
        per_second: float,
        *,
        group_limit: int = GROUP_LIMIT,
        group_window: float = GROUP_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._overall = TokenBucket(rate=per_second, capacity=1, stamp=clock())
        self._group_limit = group_limit
        self._group_window = group_window
        self._groups: LRUCache[int, SlidingWindow] = LRUCache(maxsize=10_000)
        self._clock = clock
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
        if endpoint in MESSAGE_METHODS:
            await self._wait_turn(data.get("chat_id"))
        return await callback(*args, **kwargs)

    async def _wait_turn(self, chat_id: object) -> None:
        """Book this message's slot, and wait for it."""
        now = self._clock()
        wait = self._overall.reserve(now)
        if isinstance(chat_id, int) and chat_id < 0:
            wait = max(wait, self._group(chat_id).reserve(now))
        if wait > 0:
            await self._sleep(wait)

    def _group(self, chat_id: int) -> SlidingWindow:
        window = self._groups.get(chat_id)
        if window is None:
            window = self._groups[chat_id] = SlidingWindow(self._group_limit, self._group_window)
        return window
