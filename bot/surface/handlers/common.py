"""What every handler module uses: replying in place, and reading the message."""

from __future__ import annotations

from telegram import (
    Chat,
    InlineKeyboardMarkup,
    Message,
    Update,
)

from bot import messages
from bot.render import telegram as render
from bot.surface.services import Context


async def reply(
    update: Update,
    context: Context,
    texts: list[str],
    markup: InlineKeyboardMarkup | None = None,
) -> list[Message]:
    message = message_of(update)
    return await context.services.delivery.send(
        message.chat_id,
        texts,
        reply_to=message.message_id,
        thread_id=thread_of(message),
        markup=markup,
    )


async def usage_hint(update: Update, context: Context) -> None:
    usage = messages.ASK_USAGE.format(example=messages.EXAMPLE_QUESTION)
    await reply(update, context, [render.plain(usage)])


def message_of(update: Update) -> Message:
    assert update.effective_message is not None
    return update.effective_message


def is_private_chat(message: Message) -> bool:
    return message.chat.type == Chat.PRIVATE


def thread_of(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None
