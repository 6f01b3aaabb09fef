"""The HTTP layer under python-telegram-bot: retries that never answer twice.

Telegram's flood errors (429) and server errors (5xx) mean the request was not carried out:
wait and send again. A failure before the request left (connect errors and time-outs, no
free connection: `NeverSent`) is safe to retry too, and so is a connection closed or reset
with no reply (`NoReply`), which is what overloaded proxies do. A read time-out is different
(`SentUnconfirmed`): the server got the request and was slow, so the message may well have
been delivered; resending is how bots answer twice. After a time-out only methods that are
harmless to repeat (reads, edits, chat actions) are retried, never sendMessage; the send
time-out is generous so that slow is not mistaken for lost. The pacing of sends is not here
but in the bot's rate limiter (bot/sending/ratelimit.py), which python-telegram-bot calls
before each request.

Start-up calls are not retried here, but by their callers: getMe and setMyCommands by
start-up as a whole, with one log line per attempt (bot/surface/app.py), deleteWebhook by
python-telegram-bot's bootstrap just after them. Nor is getUpdates: it has a request object
of its own, with no retries, as python-telegram-bot's polling loop retries it with backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

from telegram.error import NetworkError
from telegram.request import BaseRequest, RequestData

from bot.sending.http_client import AiohttpRequest, NeverSent, NoReply

log = logging.getLogger(__name__)

RETRIED_BY_CALLER = frozenset({"getMe", "setMyCommands", "deleteWebhook"})
REPEATABLE_METHODS = frozenset(
    {
        "getMyCommands",
        "sendChatAction",
        "editMessageText",
        "editMessageReplyMarkup",
        "answerCallbackQuery",
        "getChat",
        "close",
        "logOut",
        "setMyDescription",
        "setMyShortDescription",
        "deleteMessage",
    }
)
MAX_ATTEMPTS = 8
MAX_RETRY_AFTER = 300.0


class ResilientRequest(AiohttpRequest):
    """Requests that retry what is safe to retry."""

    async def do_request(  # noqa: PLR0917 - python-telegram-bot's signature
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        timeouts = {
            "read_timeout": read_timeout,
            "write_timeout": write_timeout,
            "connect_timeout": connect_timeout,
            "pool_timeout": pool_timeout,
        }
        endpoint = url.rsplit("/", 1)[-1]
        if endpoint in RETRIED_BY_CALLER:
            return await super().do_request(url, method, request_data, **timeouts)
        delays = backoff()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                status, body = await super().do_request(url, method, request_data, **timeouts)
            except NetworkError as exc:  # TimedOut is a NetworkError too
                if attempt == MAX_ATTEMPTS or not _safe_to_retry(endpoint, exc):
                    raise
                delay = next(delays)
                log.warning("%s failed (%s); retry %d in %.1f s", endpoint, exc, attempt, delay)
                await asyncio.sleep(delay)
                continue
            wait = _wait_before_retry(status, body, delays)
            if wait is None or attempt == MAX_ATTEMPTS:
                return status, body
            log.warning("%s got HTTP %d; retry %d in %.1f s", endpoint, status, attempt, wait)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns


def _wait_before_retry(status: int, body: bytes, delays: Iterator[float]) -> float | None:
    if status == 429:
        retry_after = _retry_after(body)
        return retry_after if retry_after is not None and retry_after <= MAX_RETRY_AFTER else None
    if status >= 500:
        return next(delays)
    return None


def _safe_to_retry(endpoint: str, exc: NetworkError) -> bool:
    """Not carried out, or harmless to carry out twice."""
    return isinstance(exc, NeverSent | NoReply) or endpoint in REPEATABLE_METHODS


def backoff(first: float = 0.25, cap: float = 16.0) -> Iterator[float]:
    """Seconds to wait before each retry: doubling from `first` up to `cap`."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * 2)


def _retry_after(body: bytes) -> float | None:
    try:
        value = json.loads(body)["parameters"]["retry_after"]
    except (ValueError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) else None
