"""Telegram HTML: the only place that writes markup; every other value is escaped here."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import InlineQueryLimit, MessageLimit

from bot import messages
from bot.feedback import Gap
from bot.render.sources import source_line
from knowledge import Answer, AnswerKind, Citation, DocumentInfo

MAX_LENGTH = int(MessageLimit.MAX_TEXT_LENGTH)
SHOWN_CITATIONS = 3
INLINE_QUERY_LIMIT = int(InlineQueryLimit.MAX_QUERY_LENGTH)
GAPS_SHOWN = 20
_QUESTION_PREVIEW = 300
_HIDDEN = {"Cc", "Cf"}  # control and format characters
_LINKABLE = re.compile(r"^https?://[^\s/?#]+\S*$")  # Telegram refuses links without a host


def answer_messages(
    answer: Answer,
    *,
    first: int = 0,
    count: int = SHOWN_CITATIONS,
    with_question: bool = True,
    asked: str | None = None,
) -> list[str]:
    """The answer as one or more HTML messages, split between excerpts, each within limits.
    `asked`: what the user wrote, when the question searched was taken from it (a follow-up)."""
    if answer.kind is AnswerKind.EMPTY_QUESTION:
        return [
            escape(messages.EMPTY_QUESTION.format(example=messages.EXAMPLE_QUESTION), quote=False)
        ]
    blocks = [question_header(answer.question, asked)] if with_question else []
    if answer.truncated:
        blocks.append(f"<i>{escape(messages.TRUNCATED, quote=False)}</i>")
    if answer.kind is AnswerKind.OTHER_LANGUAGE:
        blocks.append(escape(other_language(answer.language), quote=False))
    elif answer.kind is AnswerKind.NOT_COVERED:
        blocks.append(not_covered(answer.closest))
    else:
        if answer.language and first == 0:
            blocks.append(f"<i>{escape(cross_language(answer.language), quote=False)}</i>")
        for citation in answer.citations[first : first + count]:
            blocks.extend(citation_blocks(citation))
    return pack(blocks)


def question_header(question: str, asked: str | None = None) -> str:
    if asked is None or asked == question:
        return f"❓ <b>{escape(_preview(question), quote=False)}</b>"
    taken = escape(messages.TAKEN_AS.format(question=_preview(question)), quote=False)
    return f"❓ <b>{escape(_preview(asked), quote=False)}</b>\n<i>{taken}</i>"


def _preview(question: str) -> str:
    """The question on one line, without control characters, at most 300 characters."""
    visible = (ch for ch in question if ch.isspace() or unicodedata.category(ch) not in _HIDDEN)
    preview = " ".join("".join(visible).split())
    if len(preview) > _QUESTION_PREVIEW:
        preview = preview[: _QUESTION_PREVIEW - 1] + "…"
    return preview


def other_language(language: str | None) -> str:
    """The note for a question in another language, in that language where we have it."""
    template = messages.OTHER_LANGUAGE.get(language or "en", messages.OTHER_LANGUAGE["en"])
    return template.format(example=messages.EXAMPLE_QUESTION)


def cross_language(language: str) -> str:
    """The note above excerpts found for a question in another language."""
    return messages.CROSS_LANGUAGE.get(language, messages.CROSS_LANGUAGE["en"])


def not_covered(closest: Iterable[DocumentInfo]) -> str:
    lines = [escape(messages.NOT_COVERED, quote=False)]
    docs = list(closest)
    if docs:
        lines.append(escape(messages.CLOSEST_DOCUMENTS, quote=False))
        lines.extend(f"• {source_html(doc)}" for doc in docs)
    return "\n".join(lines)


def citation_blocks(citation: Citation, limit: int = MAX_LENGTH) -> list[str]:
    """The excerpt in a blockquote with its answering sentence in bold, then its source.

    One block as a rule; an excerpt too long for one message (only with a pathological
    corpus) becomes several plain blockquotes and a source line, each within `limit`.
    """
    start, end = citation.highlight
    text = citation.text
    before, answer, after = (
        escape(part, quote=False) for part in (text[:start], text[start:end], text[end:])
    )
    quote = f"{before}<b>{answer}</b>{after}"
    source = f"— {source_html(citation)}"
    block = f"<blockquote>{quote}</blockquote>\n{source}"
    if utf16_length(block) <= limit:
        return [block]
    parts = [f"<blockquote>{part}</blockquote>" for part in _escaped_parts(text, limit)]
    return [*parts, source]


def source_html(source: DocumentInfo | Citation) -> str:
    line = escape(source_line(source), quote=False)
    if source.url and _LINKABLE.match(source.url):
        return f'<a href="{escape(source.url, quote=True)}">{line}</a>'
    return f"<i>{line}</i>"


def sources_list(documents: Iterable[DocumentInfo]) -> str:
    rows = [f"{n}. {source_html(doc)}" for n, doc in enumerate(documents, 1)]
    return "\n".join([messages.SOURCES_HEADER, *rows])


def plain(text: str) -> str:
    """Escape text that goes into an HTML message as it is."""
    return escape(text, quote=False)


def pack(blocks: list[str], limit: int = MAX_LENGTH) -> list[str]:
    """Join blocks with blank lines into as few messages as fit; a block is never cut.

    Every block is complete HTML within `limit`, so every message is too.
    """
    out: list[str] = []
    current = ""
    for block in blocks:
        if utf16_length(block) > limit:
            raise ValueError(f"a block of {utf16_length(block)} units exceeds {limit}")
        joined = f"{current}\n\n{block}" if current else block
        if utf16_length(joined) <= limit:
            current = joined
        else:
            out.append(current)
            current = block
    if current:
        out.append(current)
    return out


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _escaped_parts(text: str, limit: int) -> list[str]:
    """Pieces of `text`, escaped, each within `limit` in a blockquote (never cut mid-entity)."""
    budget = limit - len("<blockquote></blockquote>")
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        piece = escape(char, quote=False)
        units = utf16_length(piece)
        if size + units > budget:
            parts.append("".join(current))
            current, size = [], 0
        current.append(piece)
        size += units
    if current:
        parts.append("".join(current))
    return [part for part in parts if part.strip()]  # Telegram refuses blank messages


def answer_keyboard(
    answer: Answer, shown: int = SHOWN_CITATIONS, result_id: str | None = None
) -> InlineKeyboardMarkup | None:
    """ "More sources" while excerpts remain past `shown` and "Share" for an answer; under
    them 👍 and 👎 (which carry `result_id` for an answer posted through inline mode)."""
    if answer.kind is AnswerKind.EMPTY_QUESTION:
        return None
    votes = [
        InlineKeyboardButton(messages.VOTE_UP_BUTTON, callback_data=vote_data("up", result_id)),
        InlineKeyboardButton(messages.VOTE_DOWN_BUTTON, callback_data=vote_data("down", result_id)),
    ]
    if answer.abstained:
        return InlineKeyboardMarkup([votes])
    row = []
    if len(answer.citations) > shown:
        row.append(
            InlineKeyboardButton(messages.MORE_SOURCES_BUTTON, callback_data=f"more:{shown}")
        )
    share = " ".join(answer.question.split())[:INLINE_QUERY_LIMIT]
    row.append(InlineKeyboardButton(messages.SHARE_BUTTON, switch_inline_query=share))
    return InlineKeyboardMarkup([row, votes])


def vote_data(direction: str, result_id: str | None) -> str:
    """A vote button's callback data: "vote:up", or "vote:up:RESULT" inline (≤ 64 bytes)."""
    return f"vote:{direction}" if result_id is None else f"vote:{direction}:{result_id}"


def gaps_message(gaps: list[Gap], limit: int = MAX_LENGTH, most: int = GAPS_SHOWN) -> str:
    """What the collection failed at, most frequent first: the first `most` that fit in one
    message, then how many more there are."""
    if not gaps:
        return escape(messages.GAPS_EMPTY, quote=False)
    text = messages.GAPS_HEADER
    for shown, gap in enumerate(gaps):
        entry = f"{text}\n\n{_gap_html(gap)}"
        left = len(gaps) - shown - 1
        if shown == most or utf16_length(entry + (_more(left) if left else "")) > limit:
            return text + _more(len(gaps) - shown)
        text = entry
    return text


def _more(count: int) -> str:
    return f"\n\n<i>{escape(messages.GAPS_MORE.format(count=count), quote=False)}</i>"


def _gap_html(gap: Gap) -> str:
    label = messages.GAP_DECLINED if gap.kind == "declined" else messages.GAP_DISLIKED
    line = messages.GAP_LINE.format(
        count=gap.count, kind=label, date=gap.last_asked.date().isoformat()
    )
    lines = [escape(line, quote=False), f"<b>{escape(_preview(gap.question), quote=False)}</b>"]
    if gap.doc_ids:
        cited = escape(", ".join(gap.doc_ids), quote=False)
        lines.append(f"<i>{escape(messages.GAP_CITED, quote=False)}</i> {cited}")
    return "\n".join(lines)


# --- the collection, for admins ------------------------------------------------------------
def upload_summary(document: DocumentInfo, size: str, passages: int) -> str:
    return messages.UPLOAD_READ.format(
        title=escape(document.title, quote=False),
        publisher=escape(document.publisher, quote=False),
        size=escape(size, quote=False),
        passages=passages,
    )


def upload_keyboard(token: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(messages.ADD_BUTTON, callback_data=f"upload:add:{token}"),
                InlineKeyboardButton(
                    messages.CANCEL_BUTTON, callback_data=f"upload:cancel:{token}"
                ),
            ]
        ]
    )


def collection_list(documents: Iterable[DocumentInfo]) -> list[str]:
    """Each document's id and source, in as few messages as fit."""
    rows = [
        f"<code>{escape(doc.doc_id, quote=False)}</code> {source_html(doc)}" for doc in documents
    ]
    return pack([messages.COLLECTION_HEADER, *rows])
