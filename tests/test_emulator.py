"""Tests of the Bot API emulator and the Telegram HTML checker used by the end-to-end tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import telegram
from hypothesis import given
from hypothesis import strategies as st
from telegram import error as tg_error
from telegram.ext import Application, CommandHandler, ContextTypes

from tests.support.emulator import (
    MEDIA_KINDS,
    BadRequest,
    BotApiEmulator,
    Conflict,
    Delay,
    Drop,
    RetryAfter,
    ServerError,
    free_port,
)
from tests.support.telegram_html import (
    MAX_MESSAGE_LENGTH,
    TelegramHtmlError,
    check_message,
    parse_html,
)

pytestmark = pytest.mark.timeout(30)

JSON = dict[str, Any]


@pytest.fixture
def emu() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(emu.token, base_url=emu.base_url) as client:
        yield client


@pytest.fixture
def user(emu: BotApiEmulator) -> JSON:
    return emu.new_user("Alice", username="alice")


@pytest.fixture
def chat(emu: BotApiEmulator, user: JSON) -> JSON:
    return emu.private_chat(user)


def api_url(emu: BotApiEmulator, method: str) -> str:
    return f"{emu.base_url}{emu.token}/{method}"


# --------------------------------------------------------------------------- HTML checker


def test_parse_html_nested_tags_give_utf16_entities() -> None:
    parsed = parse_html(
        '😀 <b>bold <i>both</i></b> <a href="https://example.org/?a=1&amp;b=2">link</a>'
        " &lt;&gt;&amp;&quot;&#33;&#x21;"
    )
    assert parsed.text == '😀 bold both link <>&"!!'
    assert parsed.entities == [
        {"type": "bold", "offset": 3, "length": 9},
        {"type": "italic", "offset": 8, "length": 4},
        {"type": "text_link", "offset": 13, "length": 4, "url": "https://example.org/?a=1&b=2"},
    ]


def test_parse_html_special_tags() -> None:
    parsed = parse_html(
        '<pre><code class="language-python">x &lt; 1</code></pre>'
        '<blockquote expandable>q</blockquote><span class="tg-spoiler">s</span>'
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji><code>c</code>'
    )
    assert parsed.text == "x < 1qs👍c"
    assert parsed.entities == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        {"type": "expandable_blockquote", "offset": 5, "length": 1},
        {"type": "spoiler", "offset": 6, "length": 1},
        {
            "type": "custom_emoji",
            "offset": 7,
            "length": 2,
            "custom_emoji_id": "5368324170671202286",
        },
        {"type": "code", "offset": 9, "length": 1},
    ]


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        ("alert <script>x</script>", 'Unsupported start tag "script" at byte offset 6'),
        ("fish & chips", 'Unescaped "&"'),
        ("1 < 2", 'Unescaped "<"'),
        ("2 > 1", 'Unescaped ">"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ('<a href="javascript:alert(1)">x</a>', 'Unsupported URL "javascript:alert(1)"'),
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("stray</b>", "Unexpected end tag at byte offset 5"),
        ("<a>x</a>", 'must have an "href"'),
        ('<a href="https://a.b"><a href="https://c.d">x</a></a>', 'can\'t be nested in "a"'),
        ("<code><b>x</b></code>", 'can\'t be nested in "code"'),
        ("<pre><pre>x</pre></pre>", 'can\'t be nested in "pre"'),
        ("&nbsp;", 'Unsupported HTML entity "&nbsp;"'),
        ("<a href=https://a.b>x</a>", "Unquoted attribute value"),
        ("<span>x</span>", 'must have class "tg-spoiler"'),
        ('<b class="x">x</b>', 'Unsupported attribute "class"'),
        ("<b", "Unclosed start tag"),
    ],
)
def test_parse_html_rejects_what_telegram_would(markup: str, message: str) -> None:
    with pytest.raises(TelegramHtmlError, match=r"^can't parse entities: ") as caught:
        parse_html(markup)
    assert message in str(caught.value)


def test_check_message_limits() -> None:
    assert check_message("x" * MAX_MESSAGE_LENGTH).text == "x" * MAX_MESSAGE_LENGTH
    with pytest.raises(TelegramHtmlError, match="too long"):
        check_message("x" * (MAX_MESSAGE_LENGTH + 1))
    with pytest.raises(TelegramHtmlError, match="empty"):
        check_message("<b> </b>")


@given(st.text())
def test_escaped_text_round_trips(text: str) -> None:
    parsed = parse_html(f"<b>{html.escape(text)}</b>")
    assert parsed.text == text
    utf16_length = len(text.encode("utf-16-le")) // 2
    assert parsed.entities == (
        [{"type": "bold", "offset": 0, "length": utf16_length}] if text else []
    )


MARKUP = st.lists(
    st.sampled_from(
        [
            "<b>",
            "</b>",
            "<i>",
            "</i>",
            "<pre>",
            "</pre>",
            '<code class="language-py">',
            "</code>",
            '<a href="https://a.b/?x=1&amp;y">',
            "</a>",
            "<blockquote>",
            "</blockquote>",
            "&amp;",
            "&#128512;",
            "&",
            "<",
            ">",
            "x",
            "😀",
            " ",
            "\n",
        ]
    )
).map("".join)


@given(MARKUP | st.text())
def test_parse_html_only_ever_raises_telegram_html_error(markup: str) -> None:
    try:
        parsed = parse_html(markup)
    except TelegramHtmlError:
        return
    assert len(parsed.text) <= len(markup)
    assert all(
        e["offset"] + e["length"] <= len(parsed.text.encode("utf-16-le")) // 2
        for e in parsed.entities
    )


# --------------------------------------------------------------------------- HTTP surface


def test_token_and_method_errors(emu: BotApiEmulator) -> None:
    wrong = httpx.post(f"{emu.base_url}1:wrong/getMe")
    assert (wrong.status_code, wrong.json()) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    unknown = httpx.post(api_url(emu, "fooBar"))
    assert (unknown.status_code, unknown.json()["description"]) == (404, "Not Found")
    assert httpx.get(api_url(emu, "GETME")).json()["result"]["username"] == "LittleGiantsBot"
    assert [call.status for call in emu.calls()] == [401, 404, 200]
    assert emu.calls()[-1].method == "getMe"


def test_form_json_and_query_parameters(emu: BotApiEmulator, chat: JSON) -> None:
    form = httpx.post(
        api_url(emu, "sendMessage"),
        data={
            "chat_id": str(chat["id"]),
            "text": "123",
            "reply_markup": '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}',
        },
    )
    assert form.json()["result"]["text"] == "123"
    assert form.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "A"
    body = httpx.post(api_url(emu, "sendMessage"), json={"chat_id": chat["id"], "text": "json"})
    assert body.json()["result"]["message_id"] == 2
    query = httpx.get(api_url(emu, "sendMessage"), params={"chat_id": chat["id"], "text": "q"})
    assert query.json()["ok"] is True
    assert emu.calls("sendMessage")[0].params == {
        "chat_id": chat["id"],
        "text": "123",
        "reply_markup": {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]},
    }
    assert [m["text"] for m in emu.bot_messages(chat["id"])] == ["123", "json", "q"]


def test_malformed_parameters_are_bad_requests(emu: BotApiEmulator, chat: JSON) -> None:
    answer = httpx.post(api_url(emu, "getUpdates"), data={"limit": "many"})
    assert answer.status_code == 400
    assert answer.json()["description"].startswith("Bad Request: invalid parameters")
    markup = httpx.post(
        api_url(emu, "sendMessage"),
        data={"chat_id": chat["id"], "text": "x", "reply_markup": "[1]"},
    )
    assert markup.json()["description"] == (
        "Bad Request: can't parse reply keyboard markup JSON object"
    )
    assert [call.status for call in emu.calls()] == [400, 400]


async def test_get_me(bot: telegram.Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "LittleGiantsBot", True)
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is True


async def test_send_html_message(
    emu: BotApiEmulator, bot: telegram.Bot, user: JSON, chat: JSON
) -> None:
    question = emu.send_message(chat, user, "/ask why?")["message"]
    keyboard = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("More", callback_data="more")]]
    )
    sent = await bot.send_message(
        chat["id"],
        "<b>Because</b> &amp; 😀",
        parse_mode="HTML",
        reply_markup=keyboard,
        reply_parameters=telegram.ReplyParameters(question["message_id"]),
    )
    assert sent.text == "Because & 😀"
    assert sent.message_id == question["message_id"] + 1
    assert sent.from_user is not None and sent.from_user.id == 123456
    assert sent.entities == (telegram.MessageEntity("bold", 0, 7),)
    assert sent.reply_to_message is not None and sent.reply_to_message.text == "/ask why?"
    assert sent.reply_markup == keyboard
    [stored] = emu.bot_messages(chat["id"])
    assert stored["text"] == "Because & 😀" and emu.delivered(chat["id"]) == 1


@pytest.mark.parametrize(
    ("chat_id", "text", "parse_mode", "description"),
    [
        (999, "hi", None, "Chat not found"),
        (None, "", None, "Message text is empty"),
        (None, "<b>x", "HTML", "Can't parse entities: can't find end tag"),
        (None, "x" * (MAX_MESSAGE_LENGTH + 1), None, "Message is too long"),
    ],
)
async def test_send_message_validation(
    emu: BotApiEmulator,
    bot: telegram.Bot,
    chat: JSON,
    *,
    chat_id: int | None,
    text: str,
    parse_mode: str | None,
    description: str,
) -> None:
    with pytest.raises(tg_error.BadRequest) as caught:
        await bot.send_message(chat_id or chat["id"], text, parse_mode=parse_mode)
    assert str(caught.value).lower().startswith(description.lower())
    assert emu.calls("sendMessage")[-1].status == 400
    assert emu.delivered(chat["id"]) == 0


# --------------------------------------------------------------------------- updates


async def test_offset_confirms_updates_forever(
    emu: BotApiEmulator, bot: telegram.Bot, user: JSON, chat: JSON
) -> None:
    ids = [emu.send_message(chat, user, f"m{i}")["update_id"] for i in range(3)]
    assert [u.update_id for u in await bot.get_updates()] == ids
    assert [u.update_id for u in await bot.get_updates(offset=ids[1], limit=1)] == ids[1:2]
    assert emu.confirmed_offset == ids[1]
    assert [u.update_id for u in await bot.get_updates(offset=ids[2] + 1)] == []
    assert await bot.get_updates() == ()
    assert emu.confirmed_offset == ids[2] + 1


async def test_long_poll_returns_when_an_update_arrives(
    emu: BotApiEmulator, bot: telegram.Bot, user: JSON, chat: JSON
) -> None:
    asyncio.get_running_loop().call_later(0.3, emu.send_message, chat, user, "late")
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    assert 0.25 < time.monotonic() - started < 4  # woken by the update, not the 5 s timeout
    assert [u.message.text for u in updates if u.message] == ["late"]
    started = time.monotonic()
    assert (
        await bot.get_updates(offset=updates[0].update_id + 1, timeout=dt.timedelta(seconds=0.5))
        == ()
    )
    assert time.monotonic() - started >= 0.45


async def test_newer_poll_terminates_older_one(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    begun = emu.long_polls_begun
    older = asyncio.create_task(bot.get_updates(timeout=3))
    await emu.async_wait_for(lambda: emu.long_polls_begun > begun, description="the older poll")
    async with httpx.AsyncClient() as other_instance:
        newer = await other_instance.post(api_url(emu, "getUpdates"), data={"timeout": "0"})
    assert newer.json() == {"ok": True, "result": []}
    with pytest.raises(tg_error.Conflict, match="terminated by other getUpdates"):
        await asyncio.wait_for(older, 1)  # at once, not when its own timeout is up


async def test_injected_conflict_is_telegrams_409(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    emu.inject("getUpdates", Conflict())
    with pytest.raises(tg_error.Conflict, match="only one bot instance"):
        await bot.get_updates(timeout=0)
    assert await bot.get_updates(timeout=0) == ()


async def test_a_given_port_is_known_before_start_and_refused_until_then() -> None:
    emulator = BotApiEmulator(port=free_port())
    client = telegram.Bot(emulator.token, base_url=emulator.base_url)
    try:
        with pytest.raises(tg_error.NetworkError):
            await client.initialize()  # getMe: nothing listens yet
        with emulator:
            assert (await client.get_me()).username == "LittleGiantsBot"
    finally:
        await client.shutdown()


async def test_update_ids_restart_and_an_update_can_come_again(
    emu: BotApiEmulator, bot: telegram.Bot, user: JSON, chat: JSON
) -> None:
    first = emu.send_message(chat, user, "first")
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [first["update_id"]]
    await bot.get_updates(offset=first["update_id"] + 1, timeout=0)  # confirmed
    emu.restart_update_ids(first["update_id"])
    reused = emu.send_message(chat, user, "a new one")
    emu.redeliver(first)
    updates = await bot.get_updates(timeout=0)
    assert [(u.update_id, u.message.text) for u in updates if u.message] == [
        (first["update_id"], "a new one"),
        (first["update_id"], "first"),
    ]
    assert reused["update_id"] == first["update_id"]


async def test_allowed_updates_filter(
    emu: BotApiEmulator, bot: telegram.Bot, user: JSON, chat: JSON
) -> None:
    emu.send_message(chat, user, "dropped")
    emu.inline_query(user, "kept")
    updates = await bot.get_updates(allowed_updates=["inline_query"])
    assert [u.inline_query.query for u in updates if u.inline_query] == ["kept"]
    assert len(updates) == 1


async def test_webhook_blocks_polling(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    await bot.set_webhook("https://example.org/hook")
    with pytest.raises(tg_error.Conflict, match="webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    assert await bot.get_updates() == ()


def test_inbound_message_entities_and_topics(emu: BotApiEmulator, user: JSON) -> None:
    forum = emu.group_chat("Forum", forum=True)
    first = emu.send_message(
        forum, user, "😀 /ask@LittleGiantsBot hi @someone", message_thread_id=7
    )["message"]
    assert forum["id"] < -1_000_000_000_000 and forum["type"] == "supergroup"
    assert first["entities"] == [
        {"type": "bot_command", "offset": 3, "length": 20},
        {"type": "mention", "offset": 27, "length": 8},
    ]
    assert first["is_topic_message"] is True and first["message_thread_id"] == 7
    reply = emu.send_message(forum, user, "and?", reply_to=first)["message"]
    assert reply["reply_to_message"]["message_id"] == first["message_id"]
    assert reply["message_id"] == first["message_id"] + 1
    assert telegram.Update.de_json(emu.edit_message(reply, "/ask then"), None).edited_message


@pytest.mark.parametrize("kind", MEDIA_KINDS)
def test_media_updates_are_schema_valid(
    emu: BotApiEmulator, user: JSON, chat: JSON, kind: str
) -> None:
    update = telegram.Update.de_json(emu.send_media(chat, user, kind, caption="c"), None)
    assert update.message is not None and getattr(update.message, kind)
    assert update.message.text is None


def test_channel_posts_and_group_ids(emu: BotApiEmulator) -> None:
    channel = emu.channel_chat("News")
    post = telegram.Update.de_json(emu.channel_post(channel, "hello"), None).channel_post
    assert post is not None and post.sender_chat is not None
    assert post.sender_chat.id == channel["id"]
    group = emu.group_chat("Basic")
    assert group["type"] == "group" and -1_000_000_000_000 < group["id"] < 0


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("fault", "expected", "status"),
    [
        (RetryAfter(7), tg_error.RetryAfter, 429),
        (ServerError(500), tg_error.NetworkError, 500),
        (ServerError(502), tg_error.NetworkError, 502),
        (BadRequest("message thread not found"), tg_error.BadRequest, 400),
        (Drop(process=False), tg_error.NetworkError, 0),
    ],
)
async def test_rejecting_faults_do_not_deliver(
    emu: BotApiEmulator,
    bot: telegram.Bot,
    chat: JSON,
    *,
    fault: Any,
    expected: type[Exception],
    status: int,
) -> None:
    emu.inject("sendMessage", fault)
    with pytest.raises(expected) as caught:
        await bot.send_message(chat["id"], "hi")
    assert emu.delivered(chat["id"]) == 0
    assert emu.calls("sendMessage")[-1].status == status
    if isinstance(fault, RetryAfter):
        assert "Retry in 7 seconds" in str(caught.value)
    await bot.send_message(chat["id"], "again")  # the fault applied once only
    assert emu.delivered(chat["id"]) == 1


async def test_drop_after_processing_delivers(
    emu: BotApiEmulator, bot: telegram.Bot, chat: JSON
) -> None:
    emu.inject("sendMessage", Drop(process=True))
    with pytest.raises(tg_error.NetworkError, match="disconnected"):
        await bot.send_message(chat["id"], "lost answer")
    assert emu.delivered(chat["id"]) == 1
    [call] = emu.calls("sendMessage")
    assert call.status == 0 and call.response is not None and call.response["ok"] is True


async def test_delay_times_out_the_client_but_delivers(
    emu: BotApiEmulator, bot: telegram.Bot, chat: JSON
) -> None:
    emu.inject("sendMessage", Delay(1.0))
    with pytest.raises(tg_error.TimedOut):
        await bot.send_message(chat["id"], "slow", read_timeout=0.2)
    assert emu.delivered(chat["id"]) == 1
    emu.inject("sendMessage", Delay(0.2, process=False))
    await bot.send_message(chat["id"], "late but fine")
    assert emu.delivered(chat["id"]) == 2
    await emu.async_wait_for(lambda: emu.calls("sendMessage")[0].status == 0, timeout=3)


async def test_wildcard_fault_and_times(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    emu.inject("*", ServerError(502), times=2)
    for _ in range(2):
        with pytest.raises(tg_error.NetworkError, match="Bad Gateway"):
            await bot.get_me()
    assert (await bot.get_me()).username == "LittleGiantsBot"
    with pytest.raises(ValueError, match="unknown Bot API method"):
        emu.inject("send_message", RetryAfter(1))


async def test_blocked_and_migrated_chats(
    emu: BotApiEmulator, bot: telegram.Bot, chat: JSON
) -> None:
    emu.block_chat(chat["id"])
    with pytest.raises(tg_error.Forbidden, match="bot was blocked by the user"):
        await bot.send_message(chat["id"], "hi")
    group = emu.group_chat("Old group")
    emu.migrate_chat(group["id"], -1001234567890)
    with pytest.raises(tg_error.ChatMigrated) as caught:
        await bot.send_message(group["id"], "hi")
    assert caught.value.new_chat_id == -1001234567890
    assert (await bot.send_message(-1001234567890, "hi")).chat.type == "supergroup"


async def test_rate_limit_per_chat(emu: BotApiEmulator, bot: telegram.Bot, chat: JSON) -> None:
    emu.set_rate_limit(per_chat_per_minute=2)
    await bot.send_message(chat["id"], "1")
    await bot.send_message(chat["id"], "2")
    with pytest.raises(tg_error.RetryAfter):
        await bot.send_message(chat["id"], "3")
    emu.set_rate_limit()
    await bot.send_message(chat["id"], "3")
    assert emu.delivered(chat["id"]) == 3


# --------------------------------------------------------------------------- other methods


async def test_edit_and_delete(
    emu: BotApiEmulator, bot: telegram.Bot, user: JSON, chat: JSON
) -> None:
    sent = await bot.send_message(chat["id"], "draft")
    edited = await bot.edit_message_text(
        "<i>final</i>", chat["id"], sent.message_id, parse_mode="HTML"
    )
    assert isinstance(edited, telegram.Message) and edited.edit_date is not None
    with pytest.raises(tg_error.BadRequest, match="not modified"):
        await bot.edit_message_text("<i>final</i>", chat["id"], sent.message_id, parse_mode="HTML")
    with pytest.raises(tg_error.BadRequest, match="to edit not found"):
        await bot.edit_message_text("x", chat["id"], 999)
    own = emu.send_message(chat, user, "mine")["message"]
    with pytest.raises(tg_error.BadRequest, match="can't be edited"):
        await bot.edit_message_text("x", chat["id"], own["message_id"])
    markup = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("b", url="https://a.b")]]
    )
    await bot.edit_message_reply_markup(chat["id"], sent.message_id, reply_markup=markup)
    [stored] = emu.bot_messages(chat["id"])
    assert stored["text"] == "final" and stored["reply_markup"] == markup.to_dict()
    assert await bot.delete_message(chat["id"], sent.message_id) is True
    assert emu.bot_messages() == [] and emu.delivered(chat["id"]) == 1
    with pytest.raises(tg_error.BadRequest, match="to delete not found"):
        await bot.delete_message(chat["id"], sent.message_id)


async def test_inline_query_answers(emu: BotApiEmulator, bot: telegram.Bot, user: JSON) -> None:
    def article(result_id: str, text: str) -> telegram.InlineQueryResultArticle:
        content = telegram.InputTextMessageContent(text, parse_mode="HTML")
        return telegram.InlineQueryResultArticle(result_id, "title", content)

    query_id = emu.inline_query(user, "q")["inline_query"]["id"]
    with pytest.raises(tg_error.BadRequest, match="Result_id_duplicate"):
        await bot.answer_inline_query(query_id, [article("1", "a"), article("1", "b")])
    with pytest.raises(tg_error.BadRequest, match="parse entities"):
        await bot.answer_inline_query(query_id, [article("1", "a & b")])
    assert await bot.answer_inline_query(query_id, [article("1", "<b>a</b>")], cache_time=0)
    [answer] = emu.inline_answers()
    assert answer["results"][0]["input_message_content"]["message_text"] == "<b>a</b>"
    assert answer["cache_time"] == 0
    with pytest.raises(tg_error.BadRequest, match="query id is invalid"):
        await bot.answer_inline_query(query_id, [])


async def test_button_press_and_callback_answer(
    emu: BotApiEmulator, bot: telegram.Bot, user: JSON, chat: JSON
) -> None:
    keyboard = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("Go", callback_data="go")]]
    )
    sent = await bot.send_message(chat["id"], "pick", reply_markup=keyboard)
    update = telegram.Update.de_json(emu.press_button(sent.to_dict(), user, "go"), bot)
    query = update.callback_query
    assert query is not None and query.data == "go" and query.chat_instance
    assert query.message is not None and query.message.message_id == sent.message_id
    assert await query.answer("done")
    assert emu.callback_answers() == [{"callback_query_id": query.id, "text": "done"}]
    with pytest.raises(tg_error.BadRequest, match="query id is invalid"):
        await query.answer()


async def test_button_press_on_an_inline_message(
    emu: BotApiEmulator, bot: telegram.Bot, user: JSON
) -> None:
    update = telegram.Update.de_json(emu.press_inline_button(user, "vote:up", "abc"), bot)
    query = update.callback_query
    assert query is not None and query.data == "vote:up" and query.chat_instance
    assert query.message is None and query.inline_message_id == "abc"
    assert await query.answer("noted")
    assert emu.callback_answers() == [{"callback_query_id": query.id, "text": "noted"}]
    fresh = emu.press_inline_button(user, "vote:up")["callback_query"]["inline_message_id"]
    assert fresh and fresh != "abc"


async def test_commands_chat_actions_and_generic_methods(
    emu: BotApiEmulator, bot: telegram.Bot, chat: JSON
) -> None:
    assert await bot.set_my_commands([("ask", "Ask a question")])
    assert [c.command for c in await bot.get_my_commands()] == ["ask"]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    with pytest.raises(tg_error.BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Bad-Command", "x")])
    assert await bot.send_chat_action(chat["id"], "typing")
    assert (await bot.get_chat(chat["id"])).first_name == "Alice"
    assert await bot.pin_chat_message(chat["id"], 1)
    photo = await bot.send_photo(chat["id"], b"\x89PNG fake", caption="<b>c</b>", parse_mode="HTML")
    assert photo.photo and photo.caption == "c"
    assert emu.calls("sendPhoto")[0].params["photo"]["size"] == 9
    assert await bot.close() is True and await bot.log_out() is True


def test_wait_for_names_what_it_waited_for(emu: BotApiEmulator) -> None:
    assert emu.wait_for(lambda: 42, timeout=0.1) == 42
    with pytest.raises(AssertionError, match=r"waiting for .*emu\.delivered\(1\) == 1"):
        emu.wait_for(lambda: emu.delivered(1) == 1, timeout=0.1)
    with pytest.raises(AssertionError, match="3 bot messages in 5"):
        emu.wait_for_messages(5, 3, timeout=0.1)


def test_application_polling_end_to_end(emu: BotApiEmulator, user: JSON, chat: JSON) -> None:
    async def ask(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_html(f"<b>Q:</b> {update.effective_message.text}")

    app = Application.builder().token(emu.token).base_url(emu.base_url).build()
    app.add_handler(CommandHandler("ask", ask))
    loop = asyncio.new_event_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        app.run_polling(stop_signals=None, close_loop=False)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        for number in range(20):
            last = emu.send_message(chat, user, f"/ask q{number}")
        messages = emu.wait_for_messages(chat["id"], 20)
    finally:
        loop.call_soon_threadsafe(app.stop_running)
        thread.join(10)
        loop.close()
    assert sorted(m["text"] for m in messages) == sorted(f"Q: /ask q{n}" for n in range(20))
    assert [c.method for c in emu.calls()[:3]] == ["getMe", "deleteWebhook", "getUpdates"]
    assert emu.confirmed_offset == last["update_id"] + 1  # confirmed on shutdown
