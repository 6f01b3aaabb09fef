"""Files of several formats read into Documents for the collection: one reader per format."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from knowledge.errors import IngestError
from knowledge.ingest.common import Extracted, UnreadableError, first_line_title
from knowledge.ingest.html import read_html
from knowledge.ingest.pdf import read_pdf
from knowledge.ingest.plain import read_markdown, read_text
from knowledge.models import Document

READERS: dict[str, Callable[[bytes], Extracted]] = {
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".txt": read_text,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
}
UNKNOWN_PUBLISHER = "Unknown"
_SLUG_WORDS = 8


def read_file(
    path: Path, *, max_file_bytes: int, max_text_chars: int, name: str | None = None
) -> Document:
    """The document in `path`; IngestError naming the file (`name`, if given) and the reason.

    Its doc_id comes from its title (or file name); the collection makes it unique.
    """
    shown = name or str(path)
    suffix = Path(name or path.name).suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        kinds = ", ".join(sorted(READERS))
        raise IngestError(f"{shown}: unsupported file type {suffix or '(none)'!r} (use {kinds})")
    try:
        size = path.stat().st_size
        if size > max_file_bytes:
            raise IngestError(
                f"{shown}: {_megabytes(size)} is over the file size limit of "
                f"{_megabytes(max_file_bytes)}"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{shown}: cannot read it ({exc.strerror})") from None
    if not data.strip():
        raise IngestError(f"{shown}: the file is empty")
    try:
        extracted = reader(data)
    except UnreadableError as exc:
        raise IngestError(f"{shown}: {exc}") from None
    return _document(extracted, Path(name or path.name).stem, shown, max_text_chars)


def same_text(doc: Document) -> str:
    """The document's words, case-folded: two documents with the same are duplicates."""
    return " ".join(re.findall(r"\w+", doc.body.casefold()))


def slug(text: str) -> str:
    """A doc_id from a title: lower-case ASCII words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    return "-".join(words[:_SLUG_WORDS]) or "document"


def _document(extracted: Extracted, stem: str, shown: str, max_text_chars: int) -> Document:
    body = extracted.body.strip()
    if not body:
        raise IngestError(f"{shown}: no text found in it")
    if len(body) > max_text_chars:
        raise IngestError(
            f"{shown}: {len(body):,} characters of text, over the limit of {max_text_chars:,}"
        )
    title = extracted.title or first_line_title(body) or stem
    try:
        return Document(
            doc_id=slug(title),
            title=title,
            publisher=extracted.publisher or UNKNOWN_PUBLISHER,
            published=extracted.published,
            url=extracted.url,
            body=body,
            source=shown,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "document"
        raise IngestError(f"{shown}: field '{field}': {error['msg']}") from None


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB"
