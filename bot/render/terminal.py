"""Answers as plain terminal text; the answering sentence in bold on a terminal."""

from __future__ import annotations

import textwrap

from bot import messages
from bot.render.sources import source_line
from knowledge import Answer, AnswerKind, DocumentInfo
from knowledge.collection import Listing

_BOLD, _RESET = "\033[1m", "\033[0m"


def render_answer(answer: Answer, *, color: bool) -> str:
    if answer.kind is AnswerKind.EMPTY_QUESTION:
        return messages.EMPTY_QUESTION.format(example=messages.EXAMPLE_QUESTION)
    lines = [messages.TRUNCATED, ""] if answer.truncated else []
    if answer.kind is AnswerKind.NOT_COVERED:
        lines.append(messages.NOT_COVERED)
        if answer.closest:
            lines.append(messages.CLOSEST_DOCUMENTS)
            lines.extend(f"  - {source_line(doc)}" for doc in answer.closest)
        return "\n".join(lines)
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
