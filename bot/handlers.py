"""Handlers: each turns one kind of update into engine calls and messages."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from html import escape

from telegram import (
    Chat,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    MaybeInaccessibleMessage,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot import messages
from bot.addressing import group_question, is_greeting, strip_mention
from bot.delivery import NO_PREVIEW
from bot.feedback import DOWN, UP, VoteResult
from bot.render import telegram as render
from bot.services import Context, Services
from knowledge import Answer, follow_up, is_elliptical

log = logging.getLogger(__name__)
FOLLOW_UP_SECONDS = 300  # in private, a question this soon after the last may follow it


# --- access ----------------------------------------------------------------
async def guard(update: Update, context: Context) -> None:
    """Stops updates from chats and users outside the allowlists: one refusal per private
    chat, then silence, so that repeating oneself is not answered by a stream of refusals."""
    svc = context.services
    chat, user = update.effective_chat, update.effective_user
    if svc.is_allowed(chat.id if chat else None, user.id if user else None):
        return
    if update.inline_query is not None:
        await update.inline_query.answer([], cache_time=0, is_personal=True)
    elif update.message is not None and _private(update.message) and svc.first_refusal(chat):
        await _reply(update, context, [render.plain(messages.NOT_ALLOWED)])
    raise ApplicationHandlerStop


# --- commands --------------------------------------------------------------
async def start(update: Update, context: Context) -> None:
    message = _message(update)
    if not _private(message):
        await help_command(update, context)
        return
    count = len(context.services.batcher.documents)
    text = messages.START.format(count=count, example=escape(messages.EXAMPLE_QUESTION))
    await _reply(update, context, [text])


async def help_command(update: Update, context: Context) -> None:
    template = messages.HELP_PRIVATE if _private(_message(update)) else messages.HELP_GROUP
    await _reply(update, context, [template.format(username=escape(context.bot.username))])


async def sources_command(update: Update, context: Context) -> None:
    documents = [doc.info for doc in context.services.batcher.documents]
    await _reply(update, context, [render.sources_list(documents)])


async def ask_command(update: Update, context: Context) -> None:
    question = " ".join(context.args or [])
    if not question.strip():
        await _usage_hint(update, context)
        return
    await _answer_in_chat(update, context, question)


async def unknown_command(update: Update, context: Context) -> None:
    await _reply(update, context, [render.plain(messages.UNKNOWN_COMMAND)])


# --- questions in chats ------------------------------------------------------
async def private_text(update: Update, context: Context) -> None:
    text = _message(update).text or ""
    if is_greeting(text):
        reply = messages.GREETING_REPLY.format(example=messages.EXAMPLE_QUESTION)
        await _reply(update, context, [render.plain(reply)])
        return
    await _answer_in_chat(update, context, text)


async def group_text(update: Update, context: Context) -> None:
    """Answers only messages addressed to the bot; all other group chatter gets nothing."""
    message = _message(update)
    question = group_question(message, context.bot.username, context.bot.id)
    if question is None:
        return
    if not question or is_greeting(question):
        await _usage_hint(update, context)
        return
    await _answer_in_chat(update, context, question)


async def not_text(update: Update, context: Context) -> None:
    """Photos, stickers, voice and the like: a note in private (groups never reach here)."""
    await _reply(update, context, [render.plain(messages.NOT_TEXT)])


async def edited(update: Update, context: Context) -> None:
    message = update.edited_message
    if message is not None and _private(message):
        await context.services.delivery.send(
            message.chat_id, [render.plain(messages.EDITED)], reply_to=message.message_id
        )


async def migrated(update: Update, context: Context) -> None:
    message = _message(update)
    if message.migrate_to_chat_id:
        context.services.delivery.chat_moved(message.chat_id, message.migrate_to_chat_id)


async def _answer_in_chat(update: Update, context: Context, question: str) -> None:
    svc = context.services
    message = _message(update)
    user_id = message.from_user.id if message.from_user else message.chat_id
    verdict = svc.limiter.check(user_id, message.chat_id)
    if not verdict.allowed:
        if verdict.notify:
            await _reply(update, context, [render.plain(messages.RATE_LIMITED)])
        return
    started = time.monotonic()
    context.application.create_task(svc.delivery.show_typing(message.chat_id, _thread(message)))
    searched = _with_context(svc, message, question)
    answer = await svc.batcher.answer(searched)
    texts = render.answer_messages(answer, asked=question)
    sent = await _reply(update, context, texts, render.answer_keyboard(answer))
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
    elif _private(message):
        previous = svc.feedback.last_question(message.chat_id, FOLLOW_UP_SECONDS)
    return follow_up(previous, question) if previous else question


# --- buttons ---------------------------------------------------------------
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
        thread_id=_thread(answer_message),
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


# --- feedback --------------------------------------------------------------
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


async def gaps_command(update: Update, context: Context) -> None:
    """Admins: the questions declined and the answers rated 👎, most frequent first."""
    if not await _admin(update, context):
        return
    await _reply(update, context, [render.gaps_message(context.services.feedback.gaps())])


# --- inline mode -----------------------------------------------------------
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


# --- admin -----------------------------------------------------------------
async def stats_command(update: Update, context: Context) -> None:
    svc = context.services
    if not await _admin(update, context):
        return
    p50, p95, p99 = svc.stats.percentiles()
    text = messages.STATS.format(
        uptime=svc.stats.uptime(),
        answered=svc.stats.answered,
        abstained=svc.stats.abstained,
        abstain_rate=svc.stats.abstained / max(1, svc.stats.answered),
        p50=p50,
        p95=p95,
        p99=p99,
        limited=svc.limiter.refused,
        duplicates=svc.journal.duplicates,
        blocked=svc.delivery.blocked,
        conflicts=svc.stats.polling_conflicts,
    )
    up, down = svc.feedback.totals()
    helpful = (
        messages.STATS_HELPFUL.format(rate=up / (up + down), up=up, down=down)
        if up + down
        else messages.STATS_NO_VOTES
    )
    await _reply(update, context, [text + helpful])


async def reindex_command(update: Update, context: Context) -> None:
    """Rebuilds from the corpus in the background; answers come from the old index meanwhile."""
    svc = context.services
    if not await _admin(update, context):
        return
    if svc.reindexing.locked():
        await _reply(update, context, [render.plain(messages.REINDEX_RUNNING)])
        return
    async with svc.reindexing:
        await _reply(update, context, [render.plain(messages.REINDEX_STARTED)])
        started = time.monotonic()
        try:
            reloaded = await svc.batcher.reload()
        except Exception as exc:
            log.exception("reindex failed")
            failed = messages.REINDEX_FAILED.format(reason=exc.__class__.__name__)
            await _reply(update, context, [render.plain(failed)])
            return
        done = messages.REINDEX_DONE.format(
            passages=reloaded.passages,
            documents=reloaded.documents,
            seconds=time.monotonic() - started,
        )
        await _reply(update, context, [render.plain(done)])


async def _admin(update: Update, context: Context) -> bool:
    message = _message(update)
    user_id = message.from_user.id if message.from_user else None
    if context.services.is_admin(user_id):
        return True
    if _private(message):
        await _reply(update, context, [render.plain(messages.ADMIN_ONLY)])
    return False


# --- errors ----------------------------------------------------------------
async def on_error(update: object, context: Context) -> None:
    """Logs the failure and, in private chats, tells the user."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.message is not None and _private(update.message):
        with contextlib.suppress(TelegramError):
            await _reply(update, context, [render.plain(messages.INTERNAL_ERROR)])


# --- helpers ---------------------------------------------------------------
async def _reply(
    update: Update,
    context: Context,
    texts: list[str],
    markup: InlineKeyboardMarkup | None = None,
) -> list[Message]:
    message = _message(update)
    return await context.services.delivery.send(
        message.chat_id,
        texts,
        reply_to=message.message_id,
        thread_id=_thread(message),
        markup=markup,
    )


async def _usage_hint(update: Update, context: Context) -> None:
    usage = messages.ASK_USAGE.format(example=messages.EXAMPLE_QUESTION)
    await _reply(update, context, [render.plain(usage)])


def _message(update: Update) -> Message:
    assert update.effective_message is not None
    return update.effective_message


def _private(message: Message) -> bool:
    return message.chat.type == Chat.PRIVATE


def _thread(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None
