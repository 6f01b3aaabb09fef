"""Questions in chats: any text in private, addressed messages in groups, follow-ups."""

from __future__ import annotations

import time

from telegram import (
    Message,
    Update,
)

from bot import messages
from bot.render import telegram as render
from bot.surface.addressing import group_question, is_greeting
from bot.surface.handlers.common import is_private_chat, message_of, reply, thread_of, usage_hint
from bot.surface.services import Context, Services
from knowledge import follow_up, is_elliptical

FOLLOW_UP_SECONDS = 300  # in private, a question this soon after the last may follow it


async def private_text(update: Update, context: Context) -> None:
    text = message_of(update).text or ""
    if is_greeting(text):
        greeting = messages.GREETING_REPLY.format(example=messages.EXAMPLE_QUESTION)
        await reply(update, context, [render.plain(greeting)])
        return
    await answer_in_chat(update, context, text)


async def group_text(update: Update, context: Context) -> None:
    """Answers only messages addressed to the bot; all other group chatter gets nothing."""
    message = message_of(update)
    question = group_question(message, context.bot.username, context.bot.id)
    if question is None:
        return
    if not question or is_greeting(question):
        await usage_hint(update, context)
        return
    await answer_in_chat(update, context, question)


async def not_text(update: Update, context: Context) -> None:
    """Photos, stickers, voice and the like: a note in private (groups never reach here)."""
    await reply(update, context, [render.plain(messages.NOT_TEXT)])


async def edited(update: Update, context: Context) -> None:
    message = update.edited_message
    if message is not None and is_private_chat(message):
        await context.services.delivery.send(
            message.chat_id, [render.plain(messages.EDITED)], reply_to=message.message_id
        )


async def migrated(update: Update, context: Context) -> None:
    message = message_of(update)
    if message.migrate_to_chat_id:
        context.services.delivery.chat_moved(message.chat_id, message.migrate_to_chat_id)


async def answer_in_chat(update: Update, context: Context, question: str) -> None:
    svc = context.services
    message = message_of(update)
    user_id = message.from_user.id if message.from_user else message.chat_id
    verdict = svc.limiter.check(user_id, message.chat_id)
    if not verdict.allowed:
        if verdict.notify:
            await reply(update, context, [render.plain(messages.RATE_LIMITED)])
        return
    started = time.monotonic()
    context.application.create_task(svc.delivery.show_typing(message.chat_id, thread_of(message)))
    searched = _with_context(svc, message, question)
    answer = await svc.batcher.answer(searched)
    texts = render.answer_messages(answer, asked=question)
    sent = await reply(update, context, texts, render.answer_keyboard(answer))
    svc.feedback.record_answer(answer, [(m.chat_id, m.message_id) for m in sent])
    svc.stats.record(answer, time.monotonic() - started)


def _with_context(svc: Services, message: Message, question: str) -> str:
    """A follow-up ("and when was that?") is searched with the question it follows: the
    one answered by the message it replies to, or in private the last one, if recent."""
    if not is_elliptical(question):
        return question
    replied = message.reply_to_message
    previous = None
    if replied is not None and replied.from_user is not None and replied.from_user.is_bot:
        previous = svc.feedback.question_at(replied.chat_id, replied.message_id)
    elif is_private_chat(message):
        previous = svc.feedback.last_question(message.chat_id, FOLLOW_UP_SECONDS)
    return follow_up(previous, question) if previous else question
