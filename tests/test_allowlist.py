"""The access policy: allowlists, admins, and one refusal per chat."""

from __future__ import annotations

from bot.settings import Settings
from bot.surface.allowlist import AccessPolicy


def test_empty_allowlists_let_everyone_in_and_nobody_is_admin() -> None:
    policy = AccessPolicy.of(Settings())
    assert policy.is_allowed(1, 2)
    assert policy.is_allowed(None, None)
    assert not policy.is_admin(2)
    assert not policy.is_admin(None)


def test_allowlists_and_admins() -> None:
    policy = AccessPolicy(chats=frozenset({10}), users=frozenset({1}), admins=frozenset({7}))
    assert policy.is_allowed(10, 1)
    assert not policy.is_allowed(11, 1)  # another chat
    assert not policy.is_allowed(10, 2)  # another user
    assert policy.is_allowed(10, 7)  # an admin is always a user
    assert policy.is_allowed(None, 1)  # inline queries come from no chat
    assert policy.is_admin(7)
    assert not policy.is_admin(1)


def test_a_chat_is_refused_once() -> None:
    policy = AccessPolicy(chats=frozenset({10}), users=frozenset(), admins=frozenset())
    assert policy.first_refusal(11)
    assert not policy.first_refusal(11)
    assert policy.first_refusal(12)
    assert not policy.first_refusal(None)
