"""Admins grow the collection from a private chat: send a file, confirm with Add; /documents
lists the collection and /remove takes a document out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import tempfile
from pathlib import Path

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import FileSizeLimit
from telegram.error import BadRequest, TelegramError

from bot import messages
from bot.render import telegram as render
from bot.surface.handlers.chat import not_text
from bot.surface.services import Context
from knowledge import Document, IngestError, KnowledgeError, read_file, split_document

log = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = int(FileSizeLimit.FILESIZE_DOWNLOAD)  # what Telegram lets bots download


async def received(update: Update, context: Context) -> None:
    """A file from an admin: read it, say what it holds, and offer Add and Cancel. Anyone
    else gets the note that the bot answers text."""
    message = _message(update)
    document = message.document
    assert document is not None
    svc = context.services
    if not svc.access.is_admin(message.from_user.id if message.from_user else None):
        await not_text(update, context)
        return
    config = svc.settings.engine_config()
    name = document.file_name or "document"
    if (document.file_size or 0) > min(MAX_DOWNLOAD_BYTES, config.max_file_bytes):
        too_big = messages.UPLOAD_TOO_BIG.format(size=_size(document.file_size or 0))
        await _reply(context, message, [render.plain(too_big)])
        return
    try:
        with tempfile.TemporaryDirectory(prefix="upload-") as folder:
            path = Path(folder) / f"upload{Path(name).suffix.lower()}"
            telegram_file = await context.bot.get_file(document.file_id)
            await telegram_file.download_to_drive(path)
            size = path.stat().st_size
            doc = await asyncio.to_thread(
                read_file,
                path,
                max_file_bytes=config.max_file_bytes,
                max_text_chars=config.max_text_chars,
                name=name,
            )
    except IngestError as exc:
        refused = messages.UPLOAD_REFUSED.format(reason=exc)
        await _reply(context, message, [render.plain(refused)])
        return
    except TelegramError as exc:
        log.info("upload %s not downloaded: %s", name, exc)
        refused = messages.UPLOAD_REFUSED.format(reason=exc.message)
        await _reply(context, message, [render.plain(refused)])
        return
    token = _remember(context, doc)
    passages = len(split_document(doc, config.max_passage_words))
    summary = render.upload_summary(doc.info, _size(size), passages)
    await _reply(context, message, [summary], render.upload_keyboard(token))


async def button(update: Update, context: Context) -> None:
    """Add or Cancel under an upload's summary."""
    query = update.callback_query
    assert query is not None and query.data is not None
    svc = context.services
    if not svc.access.is_admin(query.from_user.id):
        await query.answer(messages.ADMIN_ONLY)
        return
    _, action, token = query.data.split(":", 2)
    doc = svc.pending_uploads.pop(token, None)
    summary = query.message if isinstance(query.message, Message) else None
    if doc is None or summary is None:
        await query.answer(messages.UPLOAD_EXPIRED)
        return
    await query.answer()
    with contextlib.suppress(BadRequest):  # already without buttons
        await summary.edit_reply_markup(None)
    if action != "add":
        await _reply(context, summary, [render.plain(messages.UPLOAD_CANCELLED)])
        return
    try:
        (added,) = await svc.batcher.add([doc])
    except KnowledgeError as exc:
        refused = messages.UPLOAD_REFUSED.format(reason=exc)
        await _reply(context, summary, [render.plain(refused)])
        return
    done = messages.UPLOAD_ADDED.format(
        doc_id=added.doc_id, title=added.title, passages=added.passages
    )
    await _reply(context, summary, [render.plain(done)])


async def documents_command(update: Update, context: Context) -> None:
    if not await _admin(update, context):
        return
    documents = [doc.info for doc in context.services.batcher.documents]
    await _reply(context, _message(update), render.collection_list(documents))


async def remove_command(update: Update, context: Context) -> None:
    if not await _admin(update, context):
        return
    message = _message(update)
    doc_ids = list(context.args or [])
    if not doc_ids:
        await _reply(context, message, [render.plain(messages.REMOVE_USAGE)])
        return
    try:
        removed = await context.services.batcher.remove(doc_ids)
    except KnowledgeError as exc:
        await _reply(context, message, [render.plain(str(exc))])
        return
    lines = [
        messages.REMOVED_DOCUMENT.format(doc_id=item.doc_id, title=item.title) for item in removed
    ]
    await _reply(context, message, [render.plain("\n".join(lines))])


# --- helpers -----------------------------------------------------------------------------
def _remember(context: Context, doc: Document) -> str:
    """Keep a read upload until Add or Cancel."""
    token = secrets.token_urlsafe(8)
    context.services.pending_uploads[token] = doc
    return token


async def _admin(update: Update, context: Context) -> bool:
    message = _message(update)
    if context.services.access.is_admin(message.from_user.id if message.from_user else None):
        return True
    if message.chat.type == message.chat.PRIVATE:
        await _reply(context, message, [render.plain(messages.ADMIN_ONLY)])
    return False


async def _reply(
    context: Context,
    message: Message,
    texts: list[str],
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    await context.services.delivery.send(
        message.chat_id, texts, reply_to=message.message_id, markup=markup
    )


def _message(update: Update) -> Message:
    assert update.effective_message is not None
    return update.effective_message


def _size(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{max(1, round(size / 1024))} KB"
