"""PDF files (pypdf): the text of every page, lines joined back into sentences, without the
running headers, footers and page numbers."""

from __future__ import annotations

import io
import logging
import math
import re
from collections import Counter

import pypdf
from pypdf.errors import PdfReadError

from knowledge.ingest.common import (
    Extracted,
    UnreadableError,
    clean_text,
    first_line_title,
    join_lines,
)

_EDGE = 2  # lines at the top and at the bottom of a page where headers and footers sit
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?(?:\d{1,4}|[ivxlc]{1,7})(?:\s*(?:/|of)\s*\d{1,4})?$", re.I)
_SECTION = re.compile(r"^\d+(?:\.\d+)*\.?\s+\S")
logging.getLogger("pypdf").setLevel(logging.ERROR)


def read_pdf(data: bytes) -> Extracted:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableError("it is an encrypted PDF (a password is needed to read it)")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except UnreadableError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnreadableError(f"it is not a readable PDF ({exc.__class__.__name__})") from None
    body = page_text(pages)
    if not body:
        raise UnreadableError("no text in it (a scanned or image-only PDF?)")
    title = _meta(info, "title") or first_line_title(clean_text(pages[0]))
    created = info.creation_date if info is not None else None
    return Extracted(
        body=body,
        title=title,
        publisher=_meta(info, "author"),
        published=created.date().isoformat() if created is not None else None,
    )


def page_text(pages: list[str]) -> str:
    """The text of the pages as paragraphs, without headers, footers and page numbers."""
    lines_of = [[line for line in clean_text(page).split("\n") if line.strip()] for page in pages]
    running = _running_lines(lines_of)
    lines = []
    for page in lines_of:
        for number, line in enumerate(page):
            at_edge = number < _EDGE or number >= len(page) - _EDGE
            if at_edge and (_PAGE_NUMBER.match(line) or _shape(line) in running):
                continue
            lines.append(line)
    paragraphs = join_lines(lines)
    return "\n\n".join(_heading(p) for p in paragraphs)


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Lines (digits aside) at the top or bottom of at least half of the pages."""
    seen: Counter[str] = Counter()
    for lines in pages:
        seen.update({_shape(line) for line in lines[:_EDGE] + lines[-_EDGE:]})
    needed = max(2, math.ceil(len(pages) / 2))
    return {shape for shape, count in seen.items() if count >= needed}


def _shape(line: str) -> str:
    return re.sub(r"\d+", "#", line.casefold())


def _heading(paragraph: str) -> str:
    """A short numbered line ("2.1. Directory layout") is a heading, not quotable prose."""
    if _SECTION.match(paragraph) and len(paragraph.split()) <= 10 and paragraph[-1] not in ".:;,":
        return f"## {paragraph}"
    return paragraph


def _meta(info: pypdf.DocumentInformation | None, field: str) -> str | None:
    value = getattr(info, field, None) if info is not None else None
    return " ".join(str(value).split()) or None if value else None
