"""How a document is named under an excerpt, shared by every surface."""

from __future__ import annotations

from knowledge import Citation, DocumentInfo


def source_line(source: DocumentInfo | Citation) -> str:
    """The document as "Title (Publisher, date)"; each renderer escapes it for its surface."""
    dated = f"{source.publisher}, {source.published}" if source.published else source.publisher
    return f"{source.title} ({dated})"
