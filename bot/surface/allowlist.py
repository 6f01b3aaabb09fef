"""Who may use the bot, and who may run its admin commands: the policy, without Telegram."""

from __future__ import annotations

from dataclasses import dataclass, field

from cachetools import LRUCache

from bot.settings import Settings

_MAX_REFUSED = 50_000


@dataclass
class AccessPolicy:
    """The allowlists and admins of the settings, and which chats were already refused."""

    chats: frozenset[int]
    users: frozenset[int]
    admins: frozenset[int]
    refused: LRUCache[int, bool] = field(default_factory=lambda: LRUCache(_MAX_REFUSED))

    @classmethod
    def of(cls, settings: Settings) -> AccessPolicy:
        return cls(
            chats=settings.bot_allowed_chat_ids,
            users=settings.bot_allowed_user_ids,
            admins=settings.bot_admin_user_ids,
        )

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admins

    def is_allowed(self, chat_id: int | None, user_id: int | None) -> bool:
        chat_ok = not self.chats or chat_id is None or chat_id in self.chats  # inline: no chat
        user_ok = not self.users or user_id in self.users or self.is_admin(user_id)
        return chat_ok and user_ok

    def first_refusal(self, chat_id: int | None) -> bool:
        """True the first time a chat outside the allowlists is refused."""
        if chat_id is None or chat_id in self.refused:
            return False
        self.refused[chat_id] = True
        return True
