"""Reading the inline keyboards of messages the bot sent."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


def buttons(message: JSON) -> list[JSON]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def button(message: JSON, text: str) -> JSON:
    found = [b for b in buttons(message) if b["text"] == text]
    assert found, f"no {text!r} button in {buttons(message)}"
    return found[0]
