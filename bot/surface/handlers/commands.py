"""/start, /help, /sources, /ask and commands the bot does not know."""

from __future__ import annotations

from html import escape

from telegram import (
    Update,
)

from bot import messages
from bot.render import telegram as render
from bot.surface.handlers.chat import answer_in_chat
from bot.surface.handlers.common import is_private_chat, message_of, reply, usage_hint
from bot.surface.services import Context


async def start(update: Update, context: Context) -> None:
    message = message_of(update)
    if not is_private_chat(message):
        await help_command(update, context)
        return
    count = len(context.services.batcher.documents)
    text = messages.START.format(count=count, example=escape(messages.EXAMPLE_QUESTION))
    await reply(update, context, [text])


async def help_command(update: Update, context: Context) -> None:
    template = messages.HELP_PRIVATE if is_private_chat(message_of(update)) else messages.HELP_GROUP
    await reply(update, context, [template.format(username=escape(context.bot.username))])


async def sources_command(update: Update, context: Context) -> None:
    documents = [doc.info for doc in context.services.batcher.documents]
    await reply(update, context, [render.sources_list(documents)])


async def ask_command(update: Update, context: Context) -> None:
    question = " ".join(context.args or [])
    if not question.strip():
        await usage_hint(update, context)
        return
    await answer_in_chat(update, context, question)


async def unknown_command(update: Update, context: Context) -> None:
    await reply(update, context, [render.plain(messages.UNKNOWN_COMMAND)])
