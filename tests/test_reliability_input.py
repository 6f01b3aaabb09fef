"""End to end: hostile and odd input, in private and in a group. Each message gets a
sensible reply, or silence where the group rules say so; every message sent is valid
Telegram HTML; the error handler never fires."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bot import messages
from knowledge import Engine
from tests.support.emulator import MEDIA_KINDS, BotApiEmulator
from tests.support.reliability import (
    JSON,
    TAX_QUESTION,
    Harness,
    assert_valid_html,
    error_records,
    is_answer,
    no_internal_errors,
    replies_to,
    serving,
    texts,
)

BOT = "@LittleGiantsBot"
_LONG = ("How do Little Giants get tax breaks & <subsidies>? " * 100)[:4096]
HOSTILE = {
    "spaces": "     ",
    "zero-width": "\u200b\u200c\u200d\u2060\ufeff",
    "long": _LONG,
    "control": "What\x00 share\x01 of\x07 tax\x1b[31m revenue\x7f comes from SMEs?\r\n\t\x0b",
    "zwj": (
        "👩\u200d💻 👨\u200d👩\u200d👧\u200d👦 What share of tax revenue comes from SMEs? 🏳️\u200d🌈"
    ),
    "arabic": "ما هي حصة الشركات الصغيرة والمتوسطة من الإيرادات الضريبية؟",
    "hebrew": "מה חלקם של העסקים הקטנים בהכנסות ממסים? \u202eevil\u202c \u200f",
    "emoji": "🤖🔥💯🎉",
    "html": '<b>bold</b> </blockquote> &amp; & <a href="javascript:alert(1)">x</a> <script>',
    "markdown": "*bold* _it_ `code` [x](javascript:alert(1)) ```pre``` ~~s~~ ||spoiler||",
}
# Replies a message may sensibly get (an answer starts with the ❓ question header).
KNOWN_REPLIES = {
    messages.EMPTY_QUESTION.format(example=messages.EXAMPLE_QUESTION),
    messages.ASK_USAGE.format(example=messages.EXAMPLE_QUESTION),
    messages.NOT_TEXT,
    messages.EDITED,
    messages.UNKNOWN_COMMAND,
}


@pytest.fixture(scope="module")
def plain(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    state = tmp_path_factory.mktemp("input") / "state"
    with BotApiEmulator() as emu, serving(emu, engine, state) as bot:
        yield Harness(emu, bot, engine)
        assert_valid_html(emu)


def _sensible(text: str) -> bool:
    return is_answer(text) or text in KNOWN_REPLIES


def _no_script_links(emu: BotApiEmulator) -> None:
    for message in emu.bot_messages():
        for entity in message.get("entities", []):
            assert not str(entity.get("url", "")).lower().startswith("javascript"), message


def _forward_origin(user: JSON) -> JSON:
    return {"type": "user", "date": int(time.time()) - 3600, "sender_user": user}


def test_hostile_text_in_private_gets_one_sensible_reply_each(
    plain: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    emu = plain.emu
    asked: dict[str, JSON] = {}
    for name, text in HOSTILE.items():
        user, chat = plain.private(name)
        asked[name] = emu.send_message(chat, user, text)
    user, chat = plain.private("forwarder")
    asked["forwarded"] = emu.send_message(
        chat, user, TAX_QUESTION, forward_origin=_forward_origin(emu.new_user("Origin"))
    )
    asked["unknown-command"] = emu.send_message(chat, user, "/frobnicate <b>x</b>")
    plain.settle(*asked.values())

    for name, update in asked.items():
        replies = [reply["text"] for reply in replies_to(emu, update)]
        assert len(replies) == 1, (name, replies)
        assert _sensible(replies[0]), (name, replies[0])
    spaces = replies_to(emu, asked["spaces"])[0]["text"]
    assert spaces == messages.EMPTY_QUESTION.format(example=messages.EXAMPLE_QUESTION)
    # Markup in a question is shown as typed, never interpreted.
    assert "<b>bold</b>" in replies_to(emu, asked["html"])[0]["text"]
    assert "*bold*" in replies_to(emu, asked["markdown"])[0]["text"]
    assert "half of tax revenue" in replies_to(emu, asked["forwarded"])[0]["text"]
    _no_script_links(emu)
    no_internal_errors(emu)
    assert error_records(caplog) == []


def test_hostile_text_in_group_is_answered_only_when_addressed(
    plain: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    emu = plain.emu
    group = emu.group_chat("Hostile group")
    addressed: dict[str, JSON] = {}
    ignored: dict[str, JSON] = {}
    for name, text in HOSTILE.items():
        member = emu.new_user(f"{name}-member")
        command = f"/ask {text}"[:4096]
        addressed[f"ask {name}"] = emu.send_message(group, member, command)
        ignored[f"chatter {name}"] = emu.send_message(group, member, text)
    member = emu.new_user("Mentioner")
    addressed["mention html"] = emu.send_message(group, member, f"{BOT} {HOSTILE['html']}")
    addressed["forwarded ask"] = emu.send_message(
        group, member, f"/ask {TAX_QUESTION}", forward_origin=_forward_origin(member)
    )
    ignored["other bot's command"] = emu.send_message(group, member, "/start@SomeOtherBot")
    plain.settle(*addressed.values(), *ignored.values())

    for name, update in addressed.items():
        replies = [reply["text"] for reply in replies_to(emu, update)]
        assert len(replies) == 1, (name, replies)
        assert _sensible(replies[0]), (name, replies[0])
    for name, update in ignored.items():
        assert replies_to(emu, update) == [], name
    assert len(texts(emu, group["id"])) == len(addressed)
    _no_script_links(emu)
    no_internal_errors(emu)
    assert error_records(caplog) == []


def test_edits_channel_posts_and_media(plain: Harness, caplog: pytest.LogCaptureFixture) -> None:
    emu = plain.emu
    user, chat = plain.private("Editor")
    group = emu.group_chat("Media group")
    channel = emu.channel_chat("Some channel")
    member = emu.new_user("Poster")

    question = emu.send_message(chat, user, TAX_QUESTION)
    in_group = emu.send_message(group, member, f"/ask {TAX_QUESTION}")
    post = emu.channel_post(channel, f"/ask {TAX_QUESTION} {BOT}")
    plain.settle(question, in_group, post)
    private_edit = emu.edit_message(question["message"], "<i>edited</i> \u200d")
    group_edit = emu.edit_message(in_group["message"], f"/ask {HOSTILE['html']}")
    post_edit = emu.edit_message(post["channel_post"], f"{BOT} edited")
    media_private, media_group = {}, {}
    for kind in MEDIA_KINDS:
        media_private[kind] = emu.send_media(chat, user, kind, caption=f"/ask {TAX_QUESTION}")
        media_group[kind] = emu.send_media(group, member, kind, caption=f"{BOT} {TAX_QUESTION}")
    plain.settle(
        private_edit, group_edit, post_edit, *media_private.values(), *media_group.values()
    )

    private_texts = texts(emu, chat["id"])
    assert sum(map(is_answer, private_texts)) == 1
    assert private_texts.count(messages.EDITED) == 1
    assert replies_to(emu, private_edit)[-1]["text"] == messages.EDITED
    for kind, update in media_private.items():
        assert [r["text"] for r in replies_to(emu, update)] == [messages.NOT_TEXT], kind
    assert len(private_texts) == 2 + len(MEDIA_KINDS)
    # The group: the one answer, nothing for the edit or the media; the channel: nothing.
    assert len(texts(emu, group["id"])) == 1
    assert emu.bot_messages(channel["id"]) == []
    no_internal_errors(emu)
    assert error_records(caplog) == []
