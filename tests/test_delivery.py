"""Delivery's fallbacks, through python-telegram-bot's real Bot: only the HTTP request under it
is scripted (python-telegram-bot turns its replies into ChatMigrated, Forbidden, ...)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest

from bot.sending.delivery import Delivery
from bot.sending.http_client import ConnectTimedOut, NeverSent, SentUnconfirmed
from tests.support.requests import FakeRequest

Reply = tuple[int, dict[str, Any]] | Exception
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more:1")]])


def refused(status: int, description: str, **parameters: Any) -> Reply:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return status, body


class ScriptedRequest(FakeRequest):
    """Telegram at the request seam: each call takes the next scripted reply (an HTTP status
    and body, or an exception to raise); once they run out, every message is sent."""

    def __init__(self, replies: Iterable[Reply] = ()) -> None:
        self.replies = list(replies)
        self.calls: list[dict[str, Any]] = []

    async def reply(self, endpoint: str, params: dict[str, Any]) -> tuple[int, bytes]:
        self.calls.append(params)
        reply = self.replies.pop(0) if self.replies else (200, _sent(params))
        if isinstance(reply, Exception):
            raise reply
        status, body = reply
        return status, json.dumps(body).encode()


def _sent(params: dict[str, Any]) -> dict[str, Any]:
    message = {
        "message_id": len(params["text"]),
        "date": 0,
        "chat": {"id": params["chat_id"], "type": "private"},
        "text": params["text"],
    }
    return {"ok": True, "result": message}


@pytest.fixture
def request_() -> ScriptedRequest:
    return ScriptedRequest()


def _delivery(request: ScriptedRequest) -> Delivery:
    return Delivery(Bot("123:TOKEN", request=request, get_updates_request=ScriptedRequest()))


async def test_each_text_goes_as_a_reply_with_the_keyboard_under_the_last(
    request_: ScriptedRequest,
) -> None:
    sent = await _delivery(request_).send(7, ["<b>one</b>", "two"], reply_to=3, markup=KEYBOARD)
    assert [m.text for m in sent] == ["<b>one</b>", "two"]
    assert [c["parse_mode"] for c in request_.calls] == ["HTML", "HTML"]
    assert all(c["reply_parameters"]["message_id"] == 3 for c in request_.calls)
    assert ["reply_markup" in c for c in request_.calls] == [False, True]


async def test_html_telegram_refuses_is_sent_as_plain_text_in_pieces(
    request_: ScriptedRequest,
) -> None:
    request_.replies = [refused(400, "Bad Request: can't parse entities: unclosed tag")]
    long_html = "<b>" + "\n".join(f"line {n} &amp; more" for n in range(700)) + "</b>"
    sent = await _delivery(request_).send(7, [long_html, "<i>next</i>"], markup=KEYBOARD)
    plain = request_.calls[1:-1]
    assert len(plain) >= 2, "the plain text takes more than one message"
    assert all("parse_mode" not in c for c in plain)
    assert "\n".join(c["text"] for c in plain) == "\n".join(f"line {n} & more" for n in range(700))
    assert ["reply_markup" in c for c in request_.calls[1:]] == [False] * len(plain) + [True]
    assert request_.calls[-1] == {**request_.calls[-1], "text": "<i>next</i>", "parse_mode": "HTML"}
    assert len(sent) == len(plain) + 1


async def test_plain_text_refused_is_not_tried_again(request_: ScriptedRequest) -> None:
    request_.replies = [refused(400, "Bad Request: can't parse entities")]
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await _delivery(request_).send(7, ["plain"], parse_mode=None)
    assert len(request_.calls) == 1


async def test_a_migrated_group_is_followed_and_remembered(request_: ScriptedRequest) -> None:
    request_.replies = [refused(400, "Bad Request: group upgraded", migrate_to_chat_id=-1009)]
    delivery = _delivery(request_)
    await delivery.send(-5, ["one", "two"], reply_to=3, thread_id=4)
    first, resent, second = request_.calls
    assert first["chat_id"] == -5
    assert resent["chat_id"] == -1009
    assert "reply_parameters" not in resent and "message_thread_id" not in resent
    assert second["chat_id"] == -1009  # the next text goes to the new chat at once
    await delivery.send(-5, ["later"])
    assert request_.calls[-1]["chat_id"] == -1009


async def test_a_blocked_chat_gets_no_more_messages(request_: ScriptedRequest) -> None:
    request_.replies = [refused(403, "Forbidden: bot was blocked by the user")]
    delivery = _delivery(request_)
    assert await delivery.send(7, ["one", "two", "three"]) == []
    assert len(request_.calls) == 1
    assert delivery.blocked == 1


async def test_an_unconfirmed_message_is_not_sent_again_and_the_next_one_goes(
    request_: ScriptedRequest,
) -> None:
    request_.replies = [SentUnconfirmed("aiohttp.SocketTimeoutError: read")]
    sent = await _delivery(request_).send(7, ["one", "two"])
    assert [c["text"] for c in request_.calls] == ["one", "two"]
    assert [m.text for m in sent] == ["two"]


@pytest.mark.parametrize(
    "failure",
    [NeverSent("aiohttp.ClientConnectorError: refused"), ConnectTimedOut("no connection")],
    ids=["refused", "connect time-out"],
)
async def test_a_message_never_sent_is_raised(
    request_: ScriptedRequest, failure: NeverSent
) -> None:
    request_.replies = [failure]
    with pytest.raises(NeverSent):
        await _delivery(request_).send(7, ["one", "two"])
    assert len(request_.calls) == 1
