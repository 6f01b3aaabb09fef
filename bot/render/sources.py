"""How a document is named under an excerpt, shared by every surface."""

from __future__ import annotations

from bot import messages
from knowledge import Citation, DocumentInfo


def source_line(source: DocumentInfo | Citation) -> str:
    """ "Title, Publisher, date" as plain text; renderers escape it for their surface."""
    return f"{source.title} ({source.publisher}, {source.published or messages.SOURCE_UNDATED})"
