"""Sending rendered answers: reply threading, and fallbacks so the user always gets them."""

from __future__ import annotations

import contextlib
import html
import logging
import re
import time
from collections import OrderedDict

from telegram import (
    Bot,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError, TimedOut

from bot.render.telegram import MAX_LENGTH, utf16_length
from bot.sending.http_client import never_sent

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
TYPING_SECONDS = 5.0  # how long Telegram shows "typing…" after one chat action
_TAG = re.compile(r"<[^>]+>")


class Delivery:
    """Sends messages to chats, following group migrations and surviving bad markup."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self._migrated: dict[int, int] = {}
        self._typing: OrderedDict[tuple[int, int | None], float] = OrderedDict()
        self.blocked = 0

    async def show_typing(self, chat_id: int, thread_id: int | None) -> None:
        """Show "typing…" in the chat, at most once per chat in the seconds Telegram shows it:
        more would only double the requests under load."""
        chat_id = self._migrated.get(chat_id, chat_id)
        key, now = (chat_id, thread_id), time.monotonic()
        if now - self._typing.get(key, -TYPING_SECONDS) < TYPING_SECONDS:
            return
        self._typing[key] = now
        self._typing.move_to_end(key)
        if len(self._typing) > 10_000:
            self._typing.popitem(last=False)
        with contextlib.suppress(TelegramError):
            await self._bot.send_chat_action(
                chat_id, ChatAction.TYPING, message_thread_id=thread_id
            )

    def chat_moved(self, old_id: int, new_id: int) -> None:
        self._migrated[old_id] = new_id

    async def send(
        self,
        chat_id: int,
        texts: list[str],
        *,
        reply_to: int | None = None,
        thread_id: int | None = None,
        markup: InlineKeyboardMarkup | None = None,
        parse_mode: str | None = ParseMode.HTML,
    ) -> list[Message]:
        """Send each text in order, each a reply (so a button under any part can find the
        question); the keyboard goes under the last. Stops early if the chat is unreachable."""
        sent: list[Message] = []
        for number, text in enumerate(texts, 1):
            last = number == len(texts)
            messages = await self._send_one(
                chat_id,
                text,
                reply_to=reply_to,
                thread_id=thread_id,
                markup=markup if last else None,
                parse_mode=parse_mode,
            )
            if messages is None:
                break
            sent.extend(messages)
        return sent

    async def _send_one(
        self,
        chat_id: int,
        text: str,
        *,
        reply_to: int | None,
        thread_id: int | None,
        markup: InlineKeyboardMarkup | None,
        parse_mode: str | None,
    ) -> list[Message] | None:
        """The message sent ([] if its delivery is unconfirmed); None if the chat is gone."""
        chat_id = self._migrated.get(chat_id, chat_id)
        try:
            message = await self._bot.send_message(
                chat_id,
                text,
                parse_mode=parse_mode,
                link_preview_options=NO_PREVIEW,
                reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True)
                if reply_to
                else None,
                message_thread_id=thread_id,
                reply_markup=markup,
            )
        except ChatMigrated as exc:
            log.info("chat %s moved to %s; following it", chat_id, exc.new_chat_id)
            self.chat_moved(chat_id, exc.new_chat_id)
            return await self._send_one(
                exc.new_chat_id,
                text,
                reply_to=None,
                thread_id=None,
                markup=markup,
                parse_mode=parse_mode,
            )
        except Forbidden as exc:
            self.blocked += 1
            log.info("chat %s unreachable (%s); skipped", chat_id, exc.message)
            return None
        except TimedOut as exc:
            if never_sent(exc):
                raise  # it never left: certainly not delivered
            # Telegram got the message and was slow to confirm: most likely delivered, and a
            # second send would answer twice (see bot.sending.transport).
            log.warning("sending to chat %s timed out; delivery unconfirmed", chat_id)
            return []
        except BadRequest as exc:
            if parse_mode is None or not _is_markup_problem(exc):
                raise
            log.warning("HTML refused in chat %s (%s); sending plain text", chat_id, exc.message)
            plain = split_plain(html.unescape(_TAG.sub("", text)))
            return await self.send(
                chat_id,
                plain,
                reply_to=reply_to,
                thread_id=thread_id,
                markup=markup,
                parse_mode=None,
            )
        return [message]


def split_plain(text: str, limit: int = MAX_LENGTH) -> list[str]:
    """Plain text in pieces within Telegram's length, cut at line breaks where possible."""
    pieces: list[str] = []
    current = ""
    for whole_line in text.splitlines(keepends=True):
        line = whole_line
        while utf16_length(line) > limit:
            head, line = _cut(line, limit)
            pieces.extend([p for p in (current, head) if p.strip()])
            current = ""
        if utf16_length(current + line) > limit:
            pieces.append(current)
            current = ""
        current += line
    if current.strip():
        pieces.append(current)
    return [p.strip() for p in pieces if p.strip()]


def _cut(text: str, limit: int) -> tuple[str, str]:
    size = limit
    while utf16_length(text[:size]) > limit:
        size -= 1
    return text[:size], text[size:]


def _is_markup_problem(exc: BadRequest) -> bool:
    message = exc.message.lower()
    return "can't parse entities" in message or "message is too long" in message
