"""What the handlers share: one `Services` per running bot, in the Application's `bot_data`,
and the typed `Context` every handler gets, which reaches it as `context.services`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from telegram import Chat
from telegram.ext import Application, CallbackContext, ExtBot

from bot.feedback import FeedbackStore
from bot.sending.delivery import Delivery
from bot.sending.ratelimit import QuestionLimiter
from bot.serving.batcher import AnswerBatcher
from bot.settings import Settings
from bot.stats import Stats
from bot.surface.journal import UpdateJournal
from knowledge import Document

_MAX_REFUSED = 50_000
_MAX_PENDING_UPLOADS = 100


@dataclass
class Services:
    settings: Settings
    batcher: AnswerBatcher
    limiter: QuestionLimiter
    delivery: Delivery
    journal: UpdateJournal
    feedback: FeedbackStore
    stats: Stats = field(default_factory=Stats)
    reindexing: asyncio.Lock = field(default_factory=asyncio.Lock)
    refused: LRUCache[int, bool] = field(default_factory=lambda: LRUCache(_MAX_REFUSED))
    # Uploads read and waiting for Add or Cancel, by token: the latest ones only, in memory.
    pending_uploads: LRUCache[str, Document] = field(
        default_factory=lambda: LRUCache(_MAX_PENDING_UPLOADS)
    )

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.bot_admin_user_ids

    def first_refusal(self, chat: Chat | None) -> bool:
        """True the first time a chat outside the allowlists is refused."""
        if chat is None or chat.id in self.refused:
            return False
        self.refused[chat.id] = True
        return True

    def is_allowed(self, chat_id: int | None, user_id: int | None) -> bool:
        chats, users = self.settings.bot_allowed_chat_ids, self.settings.bot_allowed_user_ids
        chat_ok = not chats or chat_id is None or chat_id in chats  # inline queries: no chat
        user_ok = not users or user_id in users or self.is_admin(user_id)
        return chat_ok and user_ok


class BotData:
    """The Application's `bot_data` (its type registered through `ContextTypes`)."""

    def __init__(self) -> None:
        self.services: Services | None = None


Data = dict[Any, Any]


class Context(CallbackContext[ExtBot[None], Data, Data, BotData]):
    """The context every handler gets (registered through `ContextTypes`): the running bot's
    shared services, typed."""

    @property
    def services(self) -> Services:
        return _installed(self.bot_data)


BotApplication = Application[ExtBot[None], Context, Data, Data, BotData, None]


def application_services(application: BotApplication) -> Services:
    return _installed(application.bot_data)


def install(application: BotApplication, value: Services) -> None:
    application.bot_data.services = value


def _installed(data: BotData) -> Services:
    if data.services is None:
        raise RuntimeError("the bot's services are not installed (see build_application)")
    return data.services
