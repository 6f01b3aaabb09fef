"""Web pages: the main text without navigation, banners or related links (trafilatura)."""

from __future__ import annotations

import html
import logging
import re

import trafilatura
from lxml import etree

from knowledge.ingest.common import Extracted, UnreadableError, clean_text

_PERMALINK = re.compile(r"\s*[#¶🔗]+$")  # the anchor mark many sites append to headings
_BLOCKS = frozenset({"p", "item", "quote", "head", "row"})
_PAGE_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TITLE_SEPARATOR = re.compile(r"\s+[|–—·-]\s+")
logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("htmldate").setLevel(logging.ERROR)


def read_html(data: bytes) -> Extracted:
    xml = trafilatura.extract(
        data,
        output_format="xml",
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        include_formatting=False,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if not xml:
        raise UnreadableError("no main text found in the page")
    root = etree.fromstring(xml.encode("utf-8"))
    paragraphs = [text for element in _blocks(root) if (text := _block_text(element))]
    if not paragraphs:
        raise UnreadableError("no main text found in the page")
    url = root.get("url")
    return Extracted(
        body=clean_text("\n\n".join(paragraphs)),
        title=_title(root, data),
        publisher=_clean(root.get("sitename") or root.get("author") or root.get("hostname")),
        published=root.get("date") or None,
        url=url if url and url.startswith(("http://", "https://")) else None,
    )


def _blocks(root: etree._Element) -> list[etree._Element]:
    """Paragraph-like elements in document order, outermost only; code blocks left out."""
    found: list[etree._Element] = []
    for element in root.iter():
        if element.tag not in _BLOCKS or any(a.tag in _BLOCKS for a in element.iterancestors()):
            continue
        found.append(element)
    return found


def _block_text(element: etree._Element) -> str:
    if element.tag == "row":
        cells = (_clean("".join(cell.itertext())) for cell in element.iter("cell"))
        return " | ".join(cell for cell in cells if cell)
    text = _clean("".join(element.itertext())) or ""
    if element.tag == "head" and text:
        level = int((element.get("rend") or "h2").lstrip("h") or 2)
        heading = _PERMALINK.sub("", text)
        return f"{'#' * min(max(level, 1), 6)} {heading}" if heading else ""
    return text


def _title(root: etree._Element, data: bytes) -> str | None:
    """trafilatura's title; but where that is only the site's name (a site-wide heading),
    the page's own part of its <title>, as in "Corepack | Node.js Documentation"."""
    title, site = _clean(root.get("title")), _clean(root.get("sitename"))
    match = _PAGE_TITLE.search(data)
    if title is None or match is None:
        return title
    page = _clean(html.unescape(match.group(1).decode("utf-8", "replace")))
    segments = _TITLE_SEPARATOR.split(page or "")
    site_wide = {(site or "").casefold(), *(segment.casefold() for segment in segments[1:])}
    if len(segments) > 1 and title.casefold() in site_wide:
        return segments[0]
    return title


def _clean(text: str | None) -> str | None:
    return " ".join(text.split()) if text and text.strip() else None
