"""Sending rendered answers: reply threading, and fallbacks so the user always gets them."""

from __future__ import annotations

import contextlib
import html
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, replace

from cachetools import TTLCache
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
from bot.sending.http_client import NeverSent

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
TYPING_SECONDS = 5.0  # how long Telegram shows "typing…" after one chat action
_TAG = re.compile(r"<[^>]+>")


class Delivery:
    """Sends messages to chats, following group migrations and surviving bad markup."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self._migrated: dict[int, int] = {}
        self._typing: TTLCache[tuple[int, int | None], bool] = TTLCache(
            maxsize=10_000, ttl=TYPING_SECONDS, timer=time.monotonic
        )
        self.blocked = 0

    async def show_typing(self, chat_id: int, thread_id: int | None) -> None:
        """Show "typing…" in the chat, at most once per chat in the seconds Telegram shows it:
        more would only double the requests under load."""
        chat_id = self._migrated.get(chat_id, chat_id)
        key = (chat_id, thread_id)
        if key in self._typing:
            return
        self._typing[key] = True
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
        question); the keyboard goes under the last. A message whose delivery is unconfirmed
        is not sent again; a chat that is unreachable gets no more."""
        queue = deque(
            Outgoing(
                chat_id,
                text,
                parse_mode,
                reply_to,
                thread_id,
                markup if number == len(texts) else None,
            )
            for number, text in enumerate(texts, 1)
        )
        sent: list[Message] = []
        while queue:
            message = queue.popleft()
            chat_id = self._migrated.get(message.chat_id, message.chat_id)
            try:
                sent.append(await self._post(chat_id, message))
            except ChatMigrated as exc:
                log.info("chat %s moved to %s; following it", chat_id, exc.new_chat_id)
                self.chat_moved(chat_id, exc.new_chat_id)
                queue.appendleft(
                    replace(message, chat_id=exc.new_chat_id, reply_to=None, thread_id=None)
                )
            except Forbidden as exc:
                self.blocked += 1
                log.info("chat %s unreachable (%s); skipped", chat_id, exc.message)
                break
            except NeverSent:
                raise  # it never left: certainly not delivered
            except TimedOut:
                # Telegram got the message and was slow to confirm: most likely delivered, and a
                # second send would answer twice (see bot.sending.transport).
                log.warning("sending to chat %s timed out; delivery unconfirmed", chat_id)
            except BadRequest as exc:
                if message.parse_mode is None or not _is_markup_problem(exc):
                    raise
                log.warning(
                    "HTML refused in chat %s (%s); sending plain text", chat_id, exc.message
                )
                queue.extendleft(reversed(_as_plain(message)))
        return sent

    async def _post(self, chat_id: int, message: Outgoing) -> Message:
        reply_to = message.reply_to
        return await self._bot.send_message(
            chat_id,
            message.text,
            parse_mode=message.parse_mode,
            link_preview_options=NO_PREVIEW,
            reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True)
            if reply_to
            else None,
            message_thread_id=message.thread_id,
            reply_markup=message.markup,
        )


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message on its way to a chat; each fallback sends a changed copy instead."""

    chat_id: int
    text: str
    parse_mode: str | None
    reply_to: int | None
    thread_id: int | None
    markup: InlineKeyboardMarkup | None


def _as_plain(message: Outgoing) -> list[Outgoing]:
    """The message as plain text, in as many pieces as it takes; the keyboard under the last."""
    pieces = split_plain(html.unescape(_TAG.sub("", message.text)))
    return [
        replace(
            message,
            text=piece,
            parse_mode=None,
            markup=message.markup if number == len(pieces) else None,
        )
        for number, piece in enumerate(pieces, 1)
    ]


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
