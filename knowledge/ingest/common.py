"""What every reader shares: the text it found, and how lines become paragraphs."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from knowledge.errors import IngestError

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b\ufeff]")
_BLOCK_START = re.compile(r"^(?:(?:[•◦▪‣●○■□∙*+>|#-]|–|—|\d{1,2}[.)])\s|\d+(?:\.\d+)+\.?\s+[A-Z])")
_SENTENCE_END = re.compile(r"[.!?:][\"”’')\]]*$")
_HYPHENATED = re.compile(r"[^\W\d_]-$")


@dataclass(frozen=True)
class Extracted:
    """What a reader found in a file; missing metadata is None."""

    body: str
    title: str | None = None
    publisher: str | None = None
    published: str | None = None
    url: str | None = None


class UnreadableError(IngestError):
    """A reader's reason; `read_file` adds the file's name."""


def clean_text(text: str) -> str:
    """NFC, Unix line ends, no control or zero-width characters, no trailing spaces, no more
    than one blank line in a row."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text.replace("\t", " ").replace("\xa0", " "))
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def line_width(lines: list[str]) -> int:
    """The length of a full line of a hard-wrapped text (most lines are no longer)."""
    lengths = sorted(len(line.strip()) for line in lines if line.strip())
    return lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0


def join_lines(lines: list[str], width: int | None = None) -> list[str]:
    """Paragraphs from hard-wrapped lines: a line much shorter than `width` ends its
    paragraph, a bullet or a numbered heading starts one, and a word hyphenated at a line
    end is joined again. A line a little short ends its paragraph only if it ends a sentence."""
    lines = [line.strip() for line in lines if line.strip()]
    if not lines:
        return []
    full = width if width is not None else line_width(lines)
    paragraphs: list[str] = []
    current, last = "", ""
    for line in lines:
        short = len(last) < 0.5 * full or (len(last) < 0.8 * full and _SENTENCE_END.search(last))
        if current and (short or _BLOCK_START.match(line)):
            paragraphs.append(current)
            current = ""
        if not current:
            current = line
        elif _HYPHENATED.search(current) and line[0].islower():
            current = current[:-1] + line
        else:
            current = f"{current} {line}"
        last = line
    paragraphs.append(current)
    return paragraphs


def first_line_title(body: str, limit: int = 15) -> str | None:
    """The first heading or first short line of a text, as a fallback title."""
    for line in body.split("\n"):
        text = line.strip().lstrip("#").strip()
        if text:
            return text if len(text.split()) <= limit else None
    return None
