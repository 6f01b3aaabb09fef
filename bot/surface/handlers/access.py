"""Who may use the bot: updates from outside the allowlists stop here."""

from __future__ import annotations

from telegram import (
    Update,
)
from telegram.ext import ApplicationHandlerStop

from bot import messages
from bot.render import telegram as render
from bot.surface.handlers.common import is_private_chat, reply
from bot.surface.services import Context


async def guard(update: Update, context: Context) -> None:
    """Stops updates from chats and users outside the allowlists: one refusal per private
    chat, then silence, so that repeating oneself is not answered by a stream of refusals."""
    svc = context.services
    chat, user = update.effective_chat, update.effective_user
    if svc.access.is_allowed(chat.id if chat else None, user.id if user else None):
        return
    if update.inline_query is not None:
        await update.inline_query.answer([], cache_time=0, is_personal=True)
    elif (
        update.message is not None
        and is_private_chat(update.message)
        and svc.access.first_refusal(chat.id if chat else None)
    ):
        await reply(update, context, [render.plain(messages.NOT_ALLOWED)])
    raise ApplicationHandlerStop
