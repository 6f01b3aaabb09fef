"""python-telegram-bot's HTTP requests made with aiohttp, failing with one exception type per
outcome that matters to a retry: whether the request can have reached Telegram.

The library's default, httpx, costs about 1.5 ms of CPU per request on the event loop;
aiohttp costs about 0.15 ms (BENCHMARKS.md). At a hundred answers a second that is the
difference between a busy event loop and an idle one.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class NeverSent(NetworkError):  # noqa: N818 - named like the library's TimedOut, Forbidden
    """The request certainly did not reach Telegram: no connection could be made."""


class ConnectTimedOut(NeverSent, TimedOut):
    """No connection, or none free in the pool, within the time-out: nothing was sent. Still
    a TimedOut, which python-telegram-bot's polling loop retries at once."""


class SentUnconfirmed(TimedOut):
    """The request went out and no reply came in time: Telegram may well have carried it out."""


class NoReply(NetworkError):  # noqa: N818 - named like the library's TimedOut, Forbidden
    """The connection was closed or reset with no reply, as overloaded proxies do with
    requests they did not pass on."""


class AiohttpRequest(BaseRequest):
    """A keep-alive connection pool to the Bot API, with per-request time-outs.

    aiohttp has no write time-out: a request body of a few kilobytes goes to the socket
    buffer at once, and the whole request is bounded by the sum of the four time-outs.
    """

    def __init__(
        self,
        *,
        connection_pool_size: int = 16,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._timeouts = {
            "read": read_timeout,
            "write": write_timeout,
            "connect": connect_timeout,
            "pool": pool_timeout,
        }
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts["read"]

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

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
        if self._session is None or self._session.closed:
            raise RuntimeError("this AiohttpRequest is not initialized")
        read = self._timeout("read", read_timeout)
        connect = self._timeout("connect", connect_timeout)
        pool = self._timeout("pool", pool_timeout)
        write = self._timeout("write", write_timeout)
        timeout = aiohttp.ClientTimeout(
            total=_sum(read, write, connect, pool),
            connect=_sum(pool, connect),
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with self._session.request(
                method, url, data=_body(request_data), timeout=timeout
            ) as response:
                return response.status, await response.read()
        except aiohttp.ConnectionTimeoutError as exc:  # connecting, or waiting for the pool
            raise ConnectTimedOut(_describe(exc)) from exc
        except TimeoutError as exc:  # after the connection was made: the socket or the total
            raise SentUnconfirmed(_describe(exc)) from exc
        except aiohttp.ClientConnectorError as exc:
            raise NeverSent(_describe(exc)) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            raise NoReply(_describe(exc)) from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(_describe(exc)) from exc

    def _timeout(self, name: str, value: Any) -> float | None:
        if value is BaseRequest.DEFAULT_NONE:
            return self._timeouts[name]
        return float(value) if value is not None else None


def _describe(exc: Exception) -> str:
    return f"aiohttp.{exc.__class__.__name__}: {exc}"


def _sum(*timeouts: float | None) -> float | None:
    return None if any(t is None for t in timeouts) else sum(t for t in timeouts if t)


def _body(request_data: RequestData | None) -> dict[str, str] | aiohttp.FormData | None:
    """Form fields, or a multipart form when the request uploads files."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    files = request_data.multipart_data
    if not files:
        return fields
    form = aiohttp.FormData(fields)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
