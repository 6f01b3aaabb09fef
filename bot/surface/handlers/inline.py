"""Inline mode: "@Bot question" in any chat offers the cited answer to post there."""

from __future__ import annotations

import hashlib
import logging
import time
from html import escape

from telegram import (
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot import messages
from bot.render import telegram as render
from bot.sending.delivery import NO_PREVIEW
from bot.surface.services import Context
from knowledge import Answer

log = logging.getLogger(__name__)


async def inline_query(update: Update, context: Context) -> None:
    query = update.inline_query
    assert query is not None
    text = query.query.strip()
    if not text:
        username = escape(context.bot.username)
        howto = _article(
            "howto",
            messages.INLINE_HOWTO_TITLE,
            messages.INLINE_HOWTO_DESCRIPTION,
            messages.INLINE_HOWTO_MESSAGE.format(username=username),
        )
        await query.answer([howto], cache_time=300)
        return
    started = time.monotonic()
    answer = await context.services.batcher.answer(text)
    html_message = render.answer_messages(answer)[0]
    title, description = _inline_summary(answer)
    result_id = hashlib.sha256(text.encode()).hexdigest()[:32]
    context.services.feedback.record_inline(answer, result_id)
    # A message posted inline is no reply, so "More sources" could not find its question there.
    markup = render.answer_keyboard(answer, shown=len(answer.citations), result_id=result_id)
    result = _article(result_id, title, description, html_message, markup)
    try:
        await query.answer([result], cache_time=30)
    except BadRequest as exc:  # the user typed on and the query expired
        log.info("inline answer not delivered: %s", exc.message)
    context.services.stats.record(answer, time.monotonic() - started)


def _inline_summary(answer: Answer) -> tuple[str, str]:
    if answer.abstained or not answer.citations:
        return messages.INLINE_NOT_COVERED_TITLE, messages.NOT_COVERED
    best = answer.citations[0]
    return best.title, best.text[best.highlight[0] : best.highlight[1]][:200]


def _article(
    result_id: str,
    title: str,
    description: str,
    html_message: str,
    markup: InlineKeyboardMarkup | None = None,
) -> InlineQueryResultArticle:
    content = InputTextMessageContent(
        html_message, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
    )
    return InlineQueryResultArticle(
        id=result_id,
        title=title,
        description=description,
        input_message_content=content,
        reply_markup=markup,
    )
