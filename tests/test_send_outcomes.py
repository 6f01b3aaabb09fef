"""What the HTTP client says about a failed request, on real sockets, and what the transport
retries because of it: never a request that may have reached Telegram."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.sending.http_client import (
    AiohttpRequest,
    ConnectTimedOut,
    NeverSent,
    NoReply,
    SentUnconfirmed,
)
from bot.sending.transport import ResilientRequest

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b'{"ok": true, "result": true}'


class Server:
    """A local HTTP server whose every connection `handler` serves; counts requests read."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests = 0
        self.request_read = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/botTOKEN"

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        body = await reader.readexactly(length)
        self.requests += 1
        self.request_read.set()
        return body

    async def __aenter__(self) -> Server:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                    await self._handler(reader, writer)
            finally:
                writer.close()
                self._tasks.discard(task)

        self._server = await asyncio.start_server(serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


def _reply(writer: asyncio.StreamWriter, body: bytes = OK) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


@pytest.fixture
async def client() -> AsyncIterator[AiohttpRequest]:
    request = AiohttpRequest(
        connection_pool_size=1, read_timeout=1, connect_timeout=1, pool_timeout=1
    )
    await request.initialize()
    yield request
    await request.shutdown()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed: nothing listens there


def _message(chat_id: int = 1) -> RequestData:
    return RequestData(
        [RequestParameter.from_input("chat_id", chat_id), RequestParameter.from_input("text", "hi")]
    )


async def test_a_refused_connection_is_never_sent(client: AiohttpRequest) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/botTOKEN/sendMessage"
    with pytest.raises(NeverSent) as caught:
        await client.do_request(url, "POST", _message())
    assert not isinstance(caught.value, TimedOut)  # polling backs off from it


async def test_no_reply_after_the_request_was_written_is_unconfirmed(
    client: AiohttpRequest,
) -> None:
    async def read_and_stay_silent(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        await asyncio.Event().wait()

    async with Server(read_and_stay_silent) as server:
        with pytest.raises(SentUnconfirmed) as caught:
            await client.do_request(f"{server.url}/sendMessage", "POST", _message())
    assert server.requests == 1  # it did arrive: a resend would answer twice
    assert not isinstance(caught.value, NeverSent)


async def test_waiting_for_a_free_connection_times_out_unsent(client: AiohttpRequest) -> None:
    async def read_and_stay_silent(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        await asyncio.Event().wait()

    async with Server(read_and_stay_silent) as server:
        first = asyncio.create_task(
            client.do_request(f"{server.url}/sendMessage", "POST", _message(), read_timeout=30)
        )
        await server.request_read.wait()  # the pool's one connection is taken
        with pytest.raises(ConnectTimedOut) as caught:
            await client.do_request(f"{server.url}/sendMessage", "POST", _message(2))
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
    assert isinstance(caught.value, NeverSent) and isinstance(caught.value, TimedOut)
    assert server.requests == 1


async def test_a_connection_closed_without_a_reply_is_no_reply(client: AiohttpRequest) -> None:
    async def read_and_hang_up(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
        await server.read_request(reader)

    async with Server(read_and_hang_up) as server:
        with pytest.raises(NoReply):
            await client.do_request(f"{server.url}/sendMessage", "POST", _message())


async def test_an_answer_is_returned(client: AiohttpRequest) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = await server.read_request(reader)
        _reply(writer, json.dumps({"ok": True, "result": body.decode()}).encode())
        await writer.drain()

    async with Server(answer) as server:
        status, body = await client.do_request(f"{server.url}/sendMessage", "POST", _message())
    assert status == 200
    assert json.loads(body)["result"] == "chat_id=1&text=hi"


# --- the transport's decisions ---------------------------------------------------------------
@pytest.fixture
async def transport() -> AsyncIterator[ResilientRequest]:
    request = ResilientRequest(connection_pool_size=4, read_timeout=1)
    await request.initialize()
    yield request
    await request.shutdown()


async def test_a_message_dropped_without_a_reply_is_sent_again(
    transport: ResilientRequest,
) -> None:
    async def hang_up_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await server.read_request(reader)
            if server.requests == 1:
                return  # closed with no reply: not carried out
            _reply(writer)
            await writer.drain()

    async with Server(hang_up_once) as server:
        status, _ = await transport.do_request(f"{server.url}/sendMessage", "POST", _message())
    assert (status, server.requests) == (200, 2)


async def test_an_unconfirmed_message_is_not_sent_again(transport: ResilientRequest) -> None:
    async def read_and_stay_silent(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        await asyncio.Event().wait()

    async with Server(read_and_stay_silent) as server:
        with pytest.raises(SentUnconfirmed):
            await transport.do_request(f"{server.url}/sendMessage", "POST", _message())
    assert server.requests == 1


async def test_an_unconfirmed_chat_action_is_sent_again(transport: ResilientRequest) -> None:
    async def silent_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await server.read_request(reader)
            if server.requests == 1:
                await asyncio.Event().wait()
            _reply(writer)
            await writer.drain()

    async with Server(silent_once) as server:
        status, _ = await transport.do_request(f"{server.url}/sendChatAction", "POST", _message())
    assert (status, server.requests) == (200, 2)


async def test_a_message_that_could_not_connect_is_retried_until_the_attempts_run_out(
    transport: ResilientRequest, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("bot.sending.transport.MAX_ATTEMPTS", 2)
    url = f"http://127.0.0.1:{_closed_port()}/botTOKEN/sendMessage"
    with pytest.raises(NeverSent):
        await transport.do_request(url, "POST", _message())
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 1 and retries[0].startswith("sendMessage failed"), retries


def test_the_outcomes_are_the_librarys_own_errors() -> None:
    """python-telegram-bot and the bot's handlers catch these by the library's types."""
    assert issubclass(NeverSent, NetworkError)
    assert issubclass(NoReply, NetworkError)
    assert issubclass(SentUnconfirmed, TimedOut)
    assert not issubclass(SentUnconfirmed, NeverSent)
