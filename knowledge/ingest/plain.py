"""Plain text and Markdown (with or without YAML front matter)."""

from __future__ import annotations

from datetime import date

import yaml

from knowledge.ingest.common import Extracted, UnreadableError, clean_text, join_lines, line_width

_FENCE = "---"
_FIELDS = ("title", "publisher", "published", "url")


def read_text(data: bytes) -> Extracted:
    """A .txt file: hard-wrapped lines joined into paragraphs."""
    return Extracted(body=_paragraphs(_decode(data), keep_headings=False))


def read_markdown(data: bytes) -> Extracted:
    """A .md file: front matter fields where given; headings kept as Markdown headings."""
    text = _decode(data)
    meta, body = _front_matter(text)
    return Extracted(
        body=_paragraphs(body, keep_headings=True),
        **{field: _field(meta.get(field)) for field in _FIELDS},
    )


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise UnreadableError("it is a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableError("it is not UTF-8 text") from None


def _front_matter(text: str) -> tuple[dict[str, object], str]:
    lines = text.split("\n")
    if not lines or lines[0].strip() != _FENCE:
        return {}, text
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == _FENCE), None)
    if end is None:
        raise UnreadableError("its front matter is not closed with '---'")
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError:
        raise UnreadableError("its front matter is not valid YAML") from None
    if not isinstance(meta, dict):
        raise UnreadableError("its front matter is not a mapping of fields")
    return meta, "\n".join(lines[end + 1 :])


def _field(value: object) -> str | None:
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value).strip() or None


def _paragraphs(text: str, *, keep_headings: bool) -> str:
    """Blank-line separated blocks, each a paragraph of joined lines (headings alone)."""
    text = clean_text(text)
    width = line_width(text.split("\n"))
    paragraphs: list[str] = []
    for block in text.split("\n\n"):
        lines = block.split("\n")
        if keep_headings and lines[0].lstrip().startswith("#"):
            paragraphs.append(lines[0].strip())
            lines = lines[1:]
        paragraphs += join_lines(lines, width)
    return "\n\n".join(paragraphs)
