"""What the handlers share: one object per running bot, kept in `bot_data`."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, cast

from telegram import Chat
from telegram.ext import Application, CallbackContext, ExtBot

from bot.feedback import FeedbackStore
from bot.sending.delivery import Delivery
from bot.sending.ratelimit import QuestionLimiter
from bot.serving.batcher import AnswerBatcher
from bot.settings import Settings
from bot.stats import Stats
from bot.surface.journal import UpdateJournal

_KEY = "services"
_MAX_REFUSED = 50_000


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
    refused: OrderedDict[int, None] = field(default_factory=OrderedDict)

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.bot_admin_user_ids

    def first_refusal(self, chat: Chat | None) -> bool:
        """True the first time a chat outside the allowlists is refused."""
        if chat is None or chat.id in self.refused:
            return False
        self.refused[chat.id] = None
        if len(self.refused) > _MAX_REFUSED:
            self.refused.popitem(last=False)
        return True

    def is_allowed(self, chat_id: int | None, user_id: int | None) -> bool:
        chats, users = self.settings.bot_allowed_chat_ids, self.settings.bot_allowed_user_ids
        chat_ok = not chats or chat_id is None or chat_id in chats  # inline queries: no chat
        user_ok = not users or user_id in users or self.is_admin(user_id)
        return chat_ok and user_ok


Data = dict[Any, Any]


class Context(CallbackContext[ExtBot[None], Data, Data, Data]):
    """The context every handler gets (registered through `ContextTypes`): the running bot's
    shared services, typed."""

    @property
    def services(self) -> Services:
        return cast(Services, self.bot_data[_KEY])


BotApplication = Application[ExtBot[None], Context, Data, Data, Data, None]


def application_services(application: BotApplication) -> Services:
    return cast(Services, application.bot_data[_KEY])


def install(application: BotApplication, value: Services) -> None:
    application.bot_data[_KEY] = value
