"""Strict checker for Telegram Bot API ``parse_mode="HTML"`` message text.

Follows https://core.telegram.org/bots/api#html-style, deliberately stricter than
Telegram in a few places (bare ``&``/``<``/``>``, unknown entities and attributes,
non-web ``href`` schemes) so that missing escaping is caught in tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_MESSAGE_LENGTH = 4096

_PREFIX = "can't parse entities: "
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z][a-zA-Z0-9]*));")
_SPECIAL_RE = re.compile(r"[<>&]")
_END_TAG_RE = re.compile(r"</([a-zA-Z][a-zA-Z0-9-]*)\s*>")
_NAME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9_-]*")
_SPACE_RE = re.compile(r"\s*")
_EQUALS_RE = re.compile(r"\s*=\s*")
_QUOTED_RE = re.compile(r"\"([^\"]*)\"|'([^']*)'")
_HREF_RE = re.compile(r"(?i)(?:https?://[^\s/?#]+|tg://[a-z]|mailto:[^\s@]+@)")
_LANGUAGE_RE = re.compile(r"language-([A-Za-z0-9_+#.-]+)")
_EMOJI_ID_RE = re.compile(r"[0-9]+")

_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href"},
    "span": {"class"},
    "code": {"class"},
    "blockquote": {"expandable"},
    "tg-emoji": {"emoji-id"},
}
_LEAF_TAGS = {"code", "pre", "tg-emoji"}  # may not contain other tags (except <pre><code>)
_NOT_IN_LINK = {"a", "code", "pre", "blockquote"}


class TelegramHtmlError(ValueError):
    """Text that Telegram (or this stricter checker) refuses to parse as HTML."""


@dataclass
class ParsedHtml:
    """Plain text and Bot API ``MessageEntity`` dicts (UTF-16 offsets) of parsed HTML."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _OpenTag:
    name: str
    byte_offset: int
    start: int  # UTF-16 offset in the output text
    attributes: dict[str, str | None]
    language: str | None = None


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _skip_space(text: str, pos: int) -> int:
    match = _SPACE_RE.match(text, pos)
    return match.end() if match else pos


class _Parser:
    """Single-pass tokenizer and validator; use :func:`parse_html`."""

    def __init__(self, html: str) -> None:
        self.html = html
        self.pos = 0
        self.parts: list[str] = []
        self.utf16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []

    def fail(self, message: str, pos: int | None = None, detail: str = "") -> TelegramHtmlError:
        """Build an error naming the UTF-8 byte offset of ``pos`` like Telegram does."""
        if pos is not None:
            message += f" at byte offset {len(self.html[:pos].encode('utf-8'))}"
        return TelegramHtmlError(_PREFIX + message + detail)

    def emit(self, text: str) -> None:
        self.parts.append(text)
        self.utf16 += _utf16_length(text)

    def run(self) -> ParsedHtml:
        html = self.html
        while self.pos < len(html):
            match = _SPECIAL_RE.search(html, self.pos)
            end = match.start() if match else len(html)
            if end > self.pos:
                self.emit(html[self.pos : end])
            self.pos = end
            if match is None:
                break
            if match.group() == "&":
                char, self.pos = self.decode_entity(html, end, end)
                self.emit(char)
            elif match.group() == ">":
                raise self.fail('Unescaped ">" in text (use &gt;)', end)
            elif html.startswith("</", end):
                self.end_tag()
            else:
                self.start_tag()
        if self.stack:
            unclosed = self.stack[-1].name
            raise self.fail(f'Can\'t find end tag corresponding to start tag "{unclosed}"')
        self.entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
        return ParsedHtml("".join(self.parts), self.entities)

    def decode_entity(self, source: str, pos: int, error_pos: int) -> tuple[str, int]:
        """Decode the character entity at ``source[pos]``; return it and the index after it."""
        match = _ENTITY_RE.match(source, pos)
        if match is None:
            raise self.fail('Unescaped "&" (use &amp;)', error_pos)
        decimal, hexadecimal, name = match.groups()
        if name is not None:
            if name not in _NAMED_ENTITIES:
                raise self.fail(f'Unsupported HTML entity "&{name};"', error_pos)
            return _NAMED_ENTITIES[name], match.end()
        code = int(decimal) if decimal is not None else int(hexadecimal, 16)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise self.fail(f'Invalid numeric entity "{match.group()}"', error_pos)
        return chr(code), match.end()

    def attribute_value(self, raw: str, tag_pos: int) -> str:
        """Decode entities in a quoted attribute value, rejecting bare ``&`` and ``<``."""
        if "<" in raw:
            raise self.fail('Unescaped "<" in an attribute value', tag_pos)
        out: list[str] = []
        index = 0
        while (amp := raw.find("&", index)) >= 0:
            out.append(raw[index:amp])
            char, index = self.decode_entity(raw, amp, tag_pos)
            out.append(char)
        out.append(raw[index:])
        return "".join(out)

    def read_attributes(self, tag: str, tag_pos: int) -> dict[str, str | None]:
        """Parse whitespace-separated attributes up to and including the closing ``>``."""
        html = self.html
        attributes: dict[str, str | None] = {}
        while True:
            after_space = _skip_space(html, self.pos)
            separated = after_space > self.pos
            self.pos = after_space
            if html.startswith(">", self.pos):
                self.pos += 1
                return attributes
            name_match = _NAME_RE.match(html, self.pos)
            if name_match is None or not separated:
                raise self.fail("Unclosed start tag", tag_pos)
            name = name_match.group().lower()
            if name in attributes:
                raise self.fail(f'Duplicate attribute "{name}" in the tag "{tag}"', tag_pos)
            self.pos = name_match.end()
            attributes[name] = self.read_value(tag, tag_pos)

    def read_value(self, tag: str, tag_pos: int) -> str | None:
        """Read ``="value"`` after an attribute name; ``None`` for a bare attribute."""
        equals = _EQUALS_RE.match(self.html, self.pos)
        if equals is None:
            return None
        quoted = _QUOTED_RE.match(self.html, equals.end())
        if quoted is None:
            raise self.fail(f'Unquoted attribute value in the tag "{tag}"', tag_pos)
        self.pos = quoted.end()
        raw = quoted.group(1) if quoted.group(1) is not None else quoted.group(2)
        return self.attribute_value(raw, tag_pos)

    def start_tag(self) -> None:
        tag_pos = self.pos
        name_match = _NAME_RE.match(self.html, tag_pos + 1)
        if name_match is None:
            raise self.fail('Unescaped "<" in text (use &lt;)', tag_pos)
        name = name_match.group().lower()
        if name not in _ENTITY_TYPES:
            raise self.fail(f'Unsupported start tag "{name}"', tag_pos)
        self.pos = name_match.end()
        attributes = self.read_attributes(name, tag_pos)
        opened = _OpenTag(name, tag_pos, self.utf16, attributes)
        self.check_attributes(opened)
        self.check_nesting(opened)
        self.stack.append(opened)

    def check_attributes(self, tag: _OpenTag) -> None:
        """Enforce the per-tag attribute rules of Telegram's HTML style."""
        allowed = _ALLOWED_ATTRIBUTES.get(tag.name, set())
        for attribute, value in tag.attributes.items():
            if attribute not in allowed:
                raise self.fail(
                    f'Unsupported attribute "{attribute}" in the tag "{tag.name}"', tag.byte_offset
                )
            if (value is None) != (attribute == "expandable"):
                raise self.fail(f'Bad value of attribute "{attribute}"', tag.byte_offset)
        href = tag.attributes.get("href")
        if tag.name == "a" and href is None:
            raise self.fail('Tag "a" must have an "href" attribute', tag.byte_offset)
        if href is not None and not _HREF_RE.match(href):
            raise self.fail(f'Unsupported URL "{href}" in the tag "a"', tag.byte_offset)
        if tag.name == "span" and tag.attributes.get("class") != "tg-spoiler":
            raise self.fail('Tag "span" must have class "tg-spoiler"', tag.byte_offset)
        emoji_id = tag.attributes.get("emoji-id")
        if tag.name == "tg-emoji" and (emoji_id is None or not _EMOJI_ID_RE.fullmatch(emoji_id)):
            raise self.fail('Tag "tg-emoji" must have a numeric "emoji-id"', tag.byte_offset)

    def check_nesting(self, tag: _OpenTag) -> None:
        """Apply Telegram's entity nesting restrictions to a newly opened tag."""
        parent = self.stack[-1] if self.stack else None
        css_class = tag.attributes.get("class")
        if tag.name == "code" and parent is not None and parent.name == "pre":
            if parent.start != self.utf16 or parent.language is not None:
                raise self.fail('Tag "code" must be the first content of "pre"', tag.byte_offset)
            language = _LANGUAGE_RE.fullmatch(css_class) if css_class is not None else None
            if css_class is not None and language is None:
                raise self.fail(f'Bad code class "{css_class}"', tag.byte_offset)
            parent.language = language.group(1) if language else ""
            return
        if css_class is not None and tag.name == "code":
            raise self.fail("A language can only be given for <code> inside <pre>", tag.byte_offset)
        open_names = {opened.name for opened in self.stack}
        leaf = next((opened.name for opened in self.stack if opened.name in _LEAF_TAGS), None)
        if leaf is not None:
            raise self.fail(f'Tag "{tag.name}" can\'t be nested in "{leaf}"', tag.byte_offset)
        if "a" in open_names and tag.name in _NOT_IN_LINK:
            raise self.fail(f'Tag "{tag.name}" can\'t be nested in "a"', tag.byte_offset)
        if tag.name == "blockquote" and "blockquote" in open_names:
            raise self.fail('Tag "blockquote" can\'t be nested', tag.byte_offset)

    def end_tag(self) -> None:
        tag_pos = self.pos
        match = _END_TAG_RE.match(self.html, tag_pos)
        if match is None:
            raise self.fail("Unclosed end tag", tag_pos)
        name = match.group(1).lower()
        if not self.stack:
            raise self.fail("Unexpected end tag", tag_pos)
        if name != self.stack[-1].name:
            expected = self.stack[-1].name
            raise self.fail(
                "Unmatched end tag", tag_pos, f', expected "</{expected}>", found "</{name}>"'
            )
        self.pos = match.end()
        closed = self.stack.pop()
        if closed.name == "code" and self.stack and self.stack[-1].name == "pre":
            return  # the language is reported on the enclosing pre entity
        self.add_entity(closed)

    def add_entity(self, tag: _OpenTag) -> None:
        length = self.utf16 - tag.start
        if length == 0:
            return
        entity: dict[str, Any] = {
            "type": _ENTITY_TYPES[tag.name],
            "offset": tag.start,
            "length": length,
        }
        if tag.name == "a":
            entity["url"] = tag.attributes["href"]
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.attributes["emoji-id"]
        elif tag.name == "blockquote" and "expandable" in tag.attributes:
            entity["type"] = "expandable_blockquote"
        elif tag.name == "pre" and tag.language:
            entity["language"] = tag.language
        self.entities.append(entity)


def parse_html(html: str) -> ParsedHtml:
    """Parse Telegram HTML into text and entities; raise :class:`TelegramHtmlError` if invalid."""
    return _Parser(html).run()


def check_message(html: str) -> ParsedHtml:
    """Validate ``html`` as a complete sendMessage text: parseable, non-empty, within limits.

    Parsing never makes text longer, so the raw-length check also bounds the parsed text.
    """
    if len(html) > MAX_MESSAGE_LENGTH:
        raise TelegramHtmlError(
            f"message is too long: {len(html)} > {MAX_MESSAGE_LENGTH} characters of HTML"
        )
    parsed = parse_html(html)
    if not parsed.text.strip():
        raise TelegramHtmlError("message text is empty")
    return parsed
