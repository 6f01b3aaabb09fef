"""What the handlers share: one `Services` per running bot, in the Application's `bot_data`,
and the typed `Context` every handler gets, which reaches it as `context.services`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from telegram.ext import Application, CallbackContext, ExtBot

from bot.feedback import FeedbackStore
from bot.sending.delivery import Delivery
from bot.sending.ratelimit import QuestionLimiter
from bot.serving.batcher import AnswerBatcher
from bot.settings import Settings
from bot.stats import Stats
from bot.surface.allowlist import AccessPolicy
from bot.surface.journal import UpdateJournal
from knowledge import Document

_MAX_PENDING_UPLOADS = 100


@dataclass
class Services:
    """One running bot's engine path, sending path, stores, counters and access policy."""

    settings: Settings
    batcher: AnswerBatcher
    limiter: QuestionLimiter
    delivery: Delivery
    journal: UpdateJournal
    feedback: FeedbackStore
    stats: Stats = field(default_factory=Stats)
    reindexing: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Uploads read and waiting for Add or Cancel, by token: the latest ones only, in memory.
    pending_uploads: LRUCache[str, Document] = field(
        default_factory=lambda: LRUCache(_MAX_PENDING_UPLOADS)
    )
    access: AccessPolicy = field(init=False)  # from the settings

    def __post_init__(self) -> None:
        self.access = AccessPolicy.of(self.settings)


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
