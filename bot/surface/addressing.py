"""Which messages are questions for the bot, and what the question is."""

from __future__ import annotations

import re

from telegram import Chat, Message, MessageEntity

_GREETING = re.compile(
    r"^\s*(hi|hello|hey|hiya|yo|good (morning|afternoon|evening)|thanks|thank you|thx)"
    r"[\s!.,]*(there|bot)?[\s!.]*$",
    re.IGNORECASE,
)


def is_private(message: Message) -> bool:
    return message.chat.type == Chat.PRIVATE


def is_greeting(text: str) -> bool:
    return bool(_GREETING.match(text))


def group_question(message: Message, bot_username: str, bot_id: int) -> str | None:
    """The question of a group message addressed to the bot, or None when it isn't.

    Addressed means: an @mention of the bot, or a reply to one of its messages. ("/ask" is
    a command and handled by its own handler.) "" means addressed but no question.
    """
    text = message.text or ""
    mentioned = _mentions(message, bot_username)
    replied = (
        message.reply_to_message is not None
        and message.reply_to_message.from_user is not None
        and message.reply_to_message.from_user.id == bot_id
    )
    if not (mentioned or replied):
        return None
    return strip_mention(text, bot_username)


def strip_mention(text: str, bot_username: str) -> str:
    """The text without @BotName mentions, and without a leading /ask or /ask@BotName."""
    text = re.sub(rf"@{re.escape(bot_username)}\b", " ", text, flags=re.IGNORECASE)
    text = re.sub(r"^\s*/ask(?=\s|$)", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split())


def _mentions(message: Message, bot_username: str) -> bool:
    entities = message.parse_entities([MessageEntity.MENTION])
    return any(value.lstrip("@").lower() == bot_username.lower() for value in entities.values())
