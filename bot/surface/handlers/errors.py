"""The error handler: log the failure, and tell the user in private."""

from __future__ import annotations

import contextlib
import logging

from telegram import (
    Update,
)
from telegram.error import TelegramError

from bot import messages
from bot.render import telegram as render
from bot.surface.handlers.common import is_private_chat, reply
from bot.surface.services import Context

log = logging.getLogger(__name__)


async def on_error(update: object, context: Context) -> None:
    """Logs the failure and, in private chats, tells the user."""
    log.error("error while handling an update", exc_info=context.error)
    if (
        isinstance(update, Update)
        and update.message is not None
        and is_private_chat(update.message)
    ):
        with contextlib.suppress(TelegramError):
            await reply(update, context, [render.plain(messages.INTERNAL_ERROR)])
