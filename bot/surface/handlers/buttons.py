"""The buttons under answers: More sources, and 👍 / 👎."""

from __future__ import annotations

import contextlib

from telegram import (
    MaybeInaccessibleMessage,
    Message,
    Update,
)
from telegram.error import BadRequest

from bot import messages
from bot.feedback import DOWN, UP, VoteResult
from bot.render import telegram as render
from bot.surface.addressing import strip_mention
from bot.surface.handlers.common import thread_of
from bot.surface.services import Context


async def more_sources(update: Update, context: Context) -> None:
    """The next excerpts, as a reply to the answer; the question is the one recorded with
    the answer (as searched), else the message the answer replies to."""
    query = update.callback_query
    assert query is not None and query.data is not None
    shown = int(query.data.split(":", 1)[1])
    answer_message = query.message if isinstance(query.message, Message) else None
    question = _answered_question(context, answer_message) if answer_message else ""
    if answer_message is None or not question:
        await query.answer(messages.ANSWER_EXPIRED)
        return
    answer = await context.services.batcher.answer(question)
    if shown >= len(answer.citations):
        await query.answer(messages.NO_MORE_SOURCES)
        return
    await query.answer()
    texts = render.answer_messages(answer, first=shown, with_question=False)
    following = render.answer_keyboard(answer, shown + render.SHOWN_CITATIONS)
    sent = await context.services.delivery.send(
        answer_message.chat_id,
        texts,
        reply_to=answer_message.message_id,
        thread_id=thread_of(answer_message),
        markup=following,
    )
    context.services.feedback.record_follow_up(
        answer,
        (answer_message.chat_id, answer_message.message_id),
        [(m.chat_id, m.message_id) for m in sent],
    )
    with contextlib.suppress(BadRequest):  # "not modified" if pressed twice
        await answer_message.edit_reply_markup(
            render.answer_keyboard(answer, len(answer.citations))
        )


def _answered_question(context: Context, answer_message: Message) -> str:
    recorded = context.services.feedback.question_at(
        answer_message.chat_id, answer_message.message_id
    )
    if recorded is not None:
        return recorded
    original = answer_message.reply_to_message
    return strip_mention(original.text or "", context.bot.username) if original else ""


VOTE_PATTERN = r"^vote:(up|down)(:[0-9a-f]{32})?$"
_VOTES = {"up": UP, "down": DOWN}
_VOTED = {
    VoteResult.UP: messages.VOTED_UP,
    VoteResult.DOWN: messages.VOTED_DOWN,
    VoteResult.WITHDRAWN: messages.VOTE_WITHDRAWN,
}


async def vote(update: Update, context: Context) -> None:
    """Records the presser's 👍 or 👎 (the same again withdraws it) and acknowledges it in
    the button's notification, never in a message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, direction, *result_id = query.data.split(":")
    feedback = context.services.feedback
    if result_id:  # posted through inline mode
        answer_id = feedback.inline_answer(result_id[0])
    else:
        answer_id = await _answer_carried_by(query.message, context)
    if answer_id is None:
        await query.answer(messages.VOTE_UNKNOWN)
        return
    result = feedback.vote(answer_id, query.from_user.id, _VOTES[direction])
    await query.answer(_VOTED[result])


async def _answer_carried_by(
    message: MaybeInaccessibleMessage | None, context: Context
) -> int | None:
    """The recorded answer of a chat message; one sent before answers were recorded is
    recorded now, from the question it replies to (as "More sources" finds it)."""
    if message is None:
        return None
    svc = context.services
    known = svc.feedback.answer_at(message.chat.id, message.message_id)
    original = message.reply_to_message if isinstance(message, Message) else None
    if known is not None or original is None or original.from_user is None:
        return known
    if original.from_user.id == context.bot.id:  # excerpts under an answer, not an answer
        return None
    question = strip_mention(original.text or "", context.bot.username)
    answer = await svc.batcher.answer(question)
    return svc.feedback.record_answer(answer, [(message.chat.id, message.message_id)])
