"""How a document is named under an excerpt, shared by every surface."""

from __future__ import annotations

from knowledge import Citation, DocumentInfo


def source_line(source: DocumentInfo | Citation) -> str:
    """The document as "Title (Publisher, date)"; each renderer escapes it for its surface."""
    publisher = _shorten(source.publisher, 100)
    dated = f"{publisher}, {source.published}" if source.published else publisher
    return f"{_shorten(source.title, 200)} ({dated})"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
