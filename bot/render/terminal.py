"""Answers as plain terminal text; the answering sentence in bold on a terminal."""

from __future__ import annotations

import textwrap
import unicodedata

from bot import messages
from bot.feedback import Gap
from bot.render.sources import source_line
from knowledge import Answer, AnswerKind, DocumentInfo, Listing

_BOLD, _RESET = "\033[1m", "\033[0m"


def render_answer(answer: Answer, *, color: bool) -> str:
    if answer.kind is AnswerKind.EMPTY_QUESTION:
        return messages.EMPTY_QUESTION.format(example=messages.EXAMPLE_QUESTION)
    lines = [messages.TRUNCATED, ""] if answer.truncated else []
    if answer.kind is AnswerKind.OTHER_LANGUAGE:
        template = messages.OTHER_LANGUAGE.get(
            answer.language or "en", messages.OTHER_LANGUAGE["en"]
        )
        lines.append(template.format(example=messages.EXAMPLE_QUESTION))
        return "\n".join(lines)
    if answer.kind is AnswerKind.NOT_COVERED:
        lines.append(messages.NOT_COVERED)
        if answer.closest:
            lines.append(messages.CLOSEST_DOCUMENTS)
            lines.extend(f"  - {source_line(doc)}" for doc in answer.closest)
        return "\n".join(lines)
    if answer.language:
        lines.extend(
            [messages.CROSS_LANGUAGE.get(answer.language, messages.CROSS_LANGUAGE["en"]), ""]
        )
    for number, citation in enumerate(answer.citations, 1):
        start, end = citation.highlight
        text = citation.text
        if color:
            text = f"{text[:start]}{_BOLD}{text[start:end]}{_RESET}{text[end:]}"
        quote = textwrap.fill(
            f"“{text}”", width=88, initial_indent=f"[{number}] ", subsequent_indent="    "
        )
        lines.extend([quote, f"    — {source_line(citation)}", ""])
    return "\n".join(lines).rstrip()


def render_sources(documents: list[DocumentInfo]) -> str:
    rows = [f"  - {source_line(doc)}" for doc in documents]
    return "\n".join([messages.TERMINAL_SOURCES_HEADER, *rows])


def render_gaps(gaps: list[Gap]) -> str:
    """A table of what the collection failed at; the documents each disliked answer cited
    on the line under it."""
    if not gaps:
        return messages.GAPS_EMPTY
    lines = [messages.GAPS_HEADER_TERMINAL]
    for gap in gaps:
        date = gap.last_asked.date().isoformat()
        lines.append(f"{gap.count:>5}  {gap.kind:<8}  {date}  {_one_line(gap.question)}")
        if gap.doc_ids:
            lines.append(f"{'':29}cited: {', '.join(gap.doc_ids)}")
    return "\n".join(lines)


def _one_line(text: str) -> str:
    """`text` on one line, without control characters (no escape sequences reach the
    terminal from a question someone typed)."""
    visible = (ch for ch in text if ch.isspace() or unicodedata.category(ch) not in {"Cc", "Cf"})
    return " ".join("".join(visible).split())


def added_line(listing: Listing) -> str:
    return messages.ADDED_DOCUMENT.format(
        doc_id=listing.doc_id, title=listing.title, passages=listing.passages
    )


def document_line(listing: Listing) -> str:
    """One line of `python -m bot documents`: id, title and publisher, passages, origin."""
    info = DocumentInfo(
        doc_id=listing.doc_id,
        title=listing.title,
        publisher=listing.publisher,
        published=listing.published,
    )
    return messages.DOCUMENT_LINE.format(
        doc_id=listing.doc_id,
        source=source_line(info),
        passages=listing.passages,
        origin=messages.BUNDLED if listing.bundled else listing.source,
    )
