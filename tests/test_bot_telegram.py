"""End-to-end tests of the Telegram bot: the real Application against the Bot API emulator.

One emulator and one bot serve the whole module (fresh users and chats keep the tests apart);
a second pair serves a small corpus built to produce answers longer than one message. Every
test ends with every message the bot sent during it checked as strict Telegram HTML.

"Silence" is checked with a synchronisation point: the silent messages go first, then an
addressed one; once its reply is there and every update queued so far is handled to the end
(the bot's update journal says so), nothing else may have arrived.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot import messages
from bot.messages import EXAMPLE_QUESTION
from knowledge import AnswerKind, Engine, EngineConfig
from knowledge.embedding import Encoder
from tests.support.botrunner import RunningBot, assert_valid_html_everywhere, running_bot
from tests.support.emulator import BotApiEmulator, Call
from tests.support.keyboards import button, buttons
from tests.support.reliability import settle_all
from tests.support.telegram_html import MAX_MESSAGE_LENGTH, check_message

pytestmark = pytest.mark.timeout(120)

JSON = dict[str, Any]

BOT = "LittleGiantsBot"
TIMEOUT = 15.0  # for a reply to arrive

TAX_QUESTION = "What share of tax revenue do SMEs contribute?"
COUNT_QUESTION = "How many little giants are there?"
# Broad questions; the test picks the first one the real corpus answers with > 3 excerpts.
BROAD_QUESTIONS = [
    "What does the government give little giants?",
    "What do little giants get from the government?",
    "What benefits do little giants receive from the state?",
]
# Written for these tests; nothing in the corpus is about them.
FOOTBALL_QUESTION = "Which football club won the league title last season?"
COOKING_QUESTION = "How long should I bake a lemon drizzle cake?"
NASTY_QUESTION = (
    '<script>alert(1)</script> What do "Little Giants" & <b>SMEs</b> get from the government? &amp;'
)


# --------------------------------------------------------------------------- helpers


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def entity_texts(message: JSON, kind: str) -> list[str]:
    """The text covered by each entity of `kind` (offsets are in UTF-16 code units)."""
    units = message.get("text", "").encode("utf-16-le")
    return [
        units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in message.get("entities", [])
        if e["type"] == kind
    ]


def entity_spans(message: JSON, kind: str) -> list[tuple[int, int]]:
    return [
        (e["offset"], e["offset"] + e["length"])
        for e in message.get("entities", [])
        if e["type"] == kind
    ]


def text_after(message: JSON, utf16_end: int) -> str:
    text: str = message["text"]
    return text.encode("utf-16-le")[2 * utf16_end :].decode("utf-16-le")


def sent_call(emu: BotApiEmulator, message: JSON) -> Call:
    """The sendMessage call that created the bot message `message`."""
    for call in emu.calls("sendMessage"):
        result = (call.response or {}).get("result")
        if (
            isinstance(result, dict)
            and result["chat"]["id"] == message["chat"]["id"]
            and result["message_id"] == message["message_id"]
        ):
            return call
    raise AssertionError(f"no sendMessage call created message {message['message_id']}")


def html_of(emu: BotApiEmulator, message: JSON) -> str:
    call = sent_call(emu, message)
    assert call.params.get("parse_mode") == "HTML", call.params
    return str(call.params["text"])


def ask(emu: BotApiEmulator, chat: JSON, user: JSON, text: str, **fields: Any) -> JSON:
    """Send `text` from `user` in `chat`; the inbound message."""
    message: JSON = emu.send_message(chat, user, text, **fields)["message"]
    return message


def replies(emu: BotApiEmulator, message: JSON) -> list[JSON]:
    """Bot messages that reply to `message`."""
    return [
        sent
        for sent in emu.bot_messages(message["chat"]["id"])
        if (sent.get("reply_to_message") or {}).get("message_id") == message["message_id"]
    ]


def wait_reply(emu: BotApiEmulator, message: JSON, timeout: float = TIMEOUT) -> JSON:
    found = emu.wait_for(
        lambda: replies(emu, message),
        timeout,
        description=f"a reply to {message.get('text', 'the message')!r}",
    )
    return found[0]


# The bot serving each module emulator, for `settle`.
_BOTS: dict[BotApiEmulator, RunningBot] = {}


def settle(emu: BotApiEmulator) -> None:
    """Wait until every update sent so far is handled to the end: whatever the bot was going
    to send for them (wrongly, where silence is expected) has been sent."""
    settle_all(emu, _BOTS[emu])


def only_reply(emu: BotApiEmulator, message: JSON) -> JSON:
    """The one message the bot sent in the chat of `message`, replying to it."""
    reply = wait_reply(emu, message)
    settle(emu)
    sent = emu.bot_messages(message["chat"]["id"])
    assert [m["message_id"] for m in sent] == [reply["message_id"]], [m["text"] for m in sent]
    return reply


def corpus_bodies(engine: Engine) -> list[str]:
    return [doc.body for doc in engine.documents]


def typing_calls(emu: BotApiEmulator, chat_id: int) -> list[Call]:
    return [
        call
        for call in emu.calls("sendChatAction")
        if call.params.get("chat_id") == chat_id and call.params.get("action") == "typing"
    ]


def inline_answer(emu: BotApiEmulator, update: JSON) -> JSON:
    query_id = update["inline_query"]["id"]
    return emu.wait_for(
        lambda: next(
            (a for a in emu.inline_answers() if str(a["inline_query_id"]) == query_id), None
        ),
        TIMEOUT,
        description=f"an answer to inline query {update['inline_query']['query']!r}",
    )


def assert_answer(emu: BotApiEmulator, engine: Engine, reply: JSON, question: str) -> None:
    """`reply` is the engine's answer to `question`: header, excerpts, sources, Share."""
    answer = engine.answer(question)
    assert answer.kind is AnswerKind.ANSWERED, question
    assert entity_texts(reply, "bold")[0] == " ".join(question.split())
    quotes = entity_texts(reply, "blockquote")
    assert quotes, reply["text"]
    assert quotes == [c.text for c in answer.citations[: len(quotes)]]
    assert button(reply, "Share")["switch_inline_query"] == " ".join(question.split())
    check_message(html_of(emu, reply))


def pick_broad_question(engine: Engine) -> str:
    for question in BROAD_QUESTIONS:
        if len(engine.answer(question).citations) > 3:
            return question
    raise AssertionError(f"none of {BROAD_QUESTIONS} has more than 3 excerpts")


class _CallsSince:
    """An emulator seen from a mark on, so each test answers for the messages it caused."""

    def __init__(self, emu: BotApiEmulator) -> None:
        self._emu = emu
        self._mark = len(emu.calls())

    def calls(self, method: str | None = None) -> list[Call]:
        recent = self._emu.calls()[self._mark :]
        return [call for call in recent if method is None or call.method == method]


def _prime(emu: BotApiEmulator) -> None:
    """Queue an update the bot ignores, so that its first long poll returns at once:
    running_bot waits for a *completed* getUpdates, which an empty queue delays by the
    poll timeout (10 s)."""
    emu.channel_post(emu.channel_chat("Priming channel"), "the bot stays silent here")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def emu(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotApiEmulator]:
    """The emulator, with the real bot over the real corpus polling it."""
    with BotApiEmulator() as emulator:
        _prime(emulator)
        with running_bot(emulator, engine, tmp_path_factory.mktemp("bot") / "state") as bot:
            _BOTS[emulator] = bot
            yield emulator
        assert_valid_html_everywhere(emulator)


LONG_QUESTION = "What happens at the Riverton tea festival?"
_NOISE = "<&>" * 26  # 78 characters that escaping turns into 338
_LONG_DOCS = {
    "riverton-tea-festival": (
        "The Riverton tea festival",
        "Riverton Gazette & <Sons>",
        [
            "The Riverton tea festival opens every spring with green tea {n} and black tea {n}"
            " served in the market square. Visitors at the tea festival taste oolong {n} and"
            " jasmine tea {n} from local growers. The festival judges pick the best tea {n} of"
            " the year {n} on the last day.",
            "At the Riverton tea festival, children learn to brew tea {n} in clay teapots {n}."
            " Tea masters {n} explain how water temperature {n} changes the taste of green tea"
            " {n} and white tea {n}.",
        ],
    ),
    "tea-festival-guide": (
        "A visitor's guide to the tea festival",
        "Lakeside Weekly",
        [
            "The tea festival in Riverton draws thousands of visitors {n} who come for rare"
            " teas {n} and teapots {n}. Stalls at the festival {n} sell tea cakes {n} and herbal"
            " infusions {n} until midnight.",
            "Tickets for the tea festival {n} cost five coins {n} and include three cups of tea"
            " {n}. The tea festival {n} ends with a parade of tea growers {n} through the old"
            " town.",
        ],
    ),
    "tea-growers-report": (
        "Tea growers prepare for the festival",
        "Valley Farm News",
        [
            "Tea growers around Riverton {n} harvest their best leaves {n} weeks before the tea"
            " festival {n}. Their green tea {n} and black tea {n} are judged at the festival {n}"
            " by a panel of tea masters.",
            "Growers say the tea festival {n} is their biggest market {n} of the year, and many"
            " sell their whole harvest of tea {n} there {n}.",
        ],
    ),
}


@pytest.fixture(scope="module")
def long_engine(encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """An engine over three documents whose excerpts are long once escaped."""
    root = tmp_path_factory.mktemp("long-corpus")
    corpus = root / "corpus"
    corpus.mkdir()
    for doc_id, (title, publisher, paragraphs) in _LONG_DOCS.items():
        body = "\n\n".join(paragraph.format(n=_NOISE) for paragraph in paragraphs)
        (corpus / f"{doc_id}.md").write_text(
            f'---\ntitle: "{title}"\npublisher: "{publisher}"\npublished: "2024-05"\n'
            f"url: null\nlanguage: en\n---\n\n{body}\n",
            encoding="utf-8",
        )
    config = EngineConfig(corpus_dir=corpus, index_dir=root / "index")
    return Engine.load(config, encoder=encoder)


@pytest.fixture(scope="module")
def long_emu(
    long_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as emulator:
        _prime(emulator)
        with running_bot(
            emulator, long_engine, tmp_path_factory.mktemp("long-bot") / "state"
        ) as bot:
            _BOTS[emulator] = bot
            yield emulator
        assert_valid_html_everywhere(emulator)


@pytest.fixture(autouse=True)
def _valid_html_everywhere(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test ends with every message its bot sent checked as Telegram HTML."""
    names = [name for name in ("emu", "long_emu") if name in request.fixturenames]
    views = [_CallsSince(request.getfixturevalue(name)) for name in names]
    yield
    for view in views:
        assert_valid_html_everywhere(view)  # type: ignore[arg-type]


@pytest.fixture
def alice(emu: BotApiEmulator) -> JSON:
    return emu.new_user("Alice", username="alice_w")


@pytest.fixture
def bob(emu: BotApiEmulator) -> JSON:
    return emu.new_user("Bob", username="bob_k")


# --------------------------------------------------------------------------- 1. private chat


def test_private_question_gets_one_cited_reply(
    emu: BotApiEmulator, engine: Engine, alice: JSON
) -> None:
    chat = emu.private_chat(alice)
    question = ask(emu, chat, alice, TAX_QUESTION)
    reply = only_reply(emu, question)

    html = html_of(emu, reply)
    assert "<blockquote>" in html
    check_message(html)
    assert "half of tax revenue" in reply["text"]

    # The excerpt, verbatim from the corpus, with its answering sentence in bold inside it.
    citation = engine.answer(TAX_QUESTION).citations[0]
    (quote_start, quote_end), *_ = entity_spans(reply, "blockquote")
    quote = entity_texts(reply, "blockquote")[0]
    assert quote == citation.text
    assert any(quote in body for body in corpus_bodies(engine))
    sentence = citation.text[citation.highlight[0] : citation.highlight[1]]
    bold_in_quote = [
        text
        for (start, end), text in zip(
            entity_spans(reply, "bold"), entity_texts(reply, "bold"), strict=True
        )
        if quote_start <= start and end <= quote_end
    ]
    assert bold_in_quote == [sentence]
    assert any(sentence in body for body in corpus_bodies(engine))

    # Its source on the line under it.
    source_line = text_after(reply, quote_end).split("\n")[1]
    assert source_line.startswith(f"— {citation.title} ({citation.publisher}, ")

    assert reply["link_preview_options"]["is_disabled"] is True
    assert sent_call(emu, reply).params["link_preview_options"]["is_disabled"] is True
    assert typing_calls(emu, chat["id"])
    assert button(reply, "Share")["switch_inline_query"] == TAX_QUESTION


# --------------------------------------------------------------------------- 2. out of scope


@pytest.mark.parametrize("question", [FOOTBALL_QUESTION, COOKING_QUESTION])
def test_out_of_scope_question_is_declined_with_closest_documents(
    emu: BotApiEmulator, engine: Engine, alice: JSON, question: str
) -> None:
    answer = engine.answer(question)
    assert answer.kind is AnswerKind.NOT_COVERED
    chat = emu.private_chat(alice)
    asked = ask(emu, chat, alice, question)
    reply = only_reply(emu, asked)

    assert "The documents I know don't cover that" in reply["text"]
    assert answer.closest
    for doc in answer.closest:
        assert f"{doc.title} ({doc.publisher}" in reply["text"]
    assert "<blockquote>" not in html_of(emu, reply)
    assert not entity_spans(reply, "blockquote")
    assert "Share" not in [b["text"] for b in buttons(reply)]


# --------------------------------------------------------------------------- 2b. other languages

CHINESE_QUESTION = "入选的小巨人企业能从政府拿到多少钱？分几年发放？"
RUSSIAN_UNRELATED = "Как приготовить борщ?"


def test_question_in_chinese_is_answered_from_the_english_articles(
    emu: BotApiEmulator, engine: Engine, alice: JSON
) -> None:
    answer = engine.answer(CHINESE_QUESTION)
    assert answer.kind is AnswerKind.ANSWERED
    assert answer.language == "zh"
    reply = only_reply(emu, ask(emu, emu.private_chat(alice), alice, CHINESE_QUESTION))

    assert messages.CROSS_LANGUAGE["zh"] in reply["text"]
    quotes = entity_texts(reply, "blockquote")
    assert quotes == [c.text for c in answer.citations[: len(quotes)]]
    assert any("6 million yuan" in quote for quote in quotes)
    assert all(any(quote in body for body in corpus_bodies(engine)) for quote in quotes)


def test_unmatched_question_in_russian_gets_a_note_in_russian(
    emu: BotApiEmulator, engine: Engine, alice: JSON
) -> None:
    assert engine.answer(RUSSIAN_UNRELATED).kind is AnswerKind.OTHER_LANGUAGE
    reply = only_reply(emu, ask(emu, emu.private_chat(alice), alice, RUSSIAN_UNRELATED))

    assert messages.OTHER_LANGUAGE["ru"].format(example=EXAMPLE_QUESTION) in reply["text"]
    assert EXAMPLE_QUESTION in reply["text"]
    assert messages.NOT_COVERED not in reply["text"]
    assert not entity_spans(reply, "blockquote")


# --------------------------------------------------------------------------- 3. group silence


@pytest.mark.parametrize("supergroup", [False, True], ids=["group", "supergroup"])
def test_group_chatter_gets_nothing_and_an_addressed_question_one_reply(
    emu: BotApiEmulator, engine: Engine, alice: JSON, bob: JSON, supergroup: bool
) -> None:
    group = emu.group_chat("Tea & chat", supergroup=supergroup)
    morning = ask(emu, group, alice, "Morning all! Anyone watching the match tonight?")
    ask(emu, group, bob, "the giants of the league lost again, typical")
    ask(emu, group, bob, "Yes, at eight, see you there", reply_to=morning)
    ask(emu, group, alice, TAX_QUESTION)  # on topic, but not addressed to the bot
    ask(emu, group, alice, "hello")
    ask(emu, group, bob, "@LittleGiantsBotFan did you see this?")  # someone else
    emu.edit_message(morning, "Morning all! Anyone watching the giants tonight?")
    emu.send_media(group, bob, "sticker")

    question = ask(emu, group, alice, f"@{BOT} {COUNT_QUESTION}")
    reply = only_reply(emu, question)  # exactly one message in the group, this reply
    assert_answer(emu, engine, reply, COUNT_QUESTION)


# --------------------------------------------------------------------------- 4. /ask


def test_ask_command_in_a_group(
    emu: BotApiEmulator, engine: Engine, alice: JSON, bob: JSON
) -> None:
    group = emu.group_chat("Ask club")
    other_bot = ask(emu, group, bob, f"/ask@OtherBot {TAX_QUESTION}")
    addressed = ask(emu, group, alice, f"/ask@{BOT} {TAX_QUESTION}")
    plain = ask(emu, group, bob, f"/ask {COUNT_QUESTION}")
    bare = ask(emu, group, alice, "/ask")

    for message, question in ((addressed, TAX_QUESTION), (plain, COUNT_QUESTION)):
        reply = wait_reply(emu, message)
        assert_answer(emu, engine, reply, question)
        assert "/ask" not in reply["text"]
        assert BOT not in reply["text"]
    usage = wait_reply(emu, bare)
    assert usage["text"].startswith("Usage: /ask")
    assert "\n" not in usage["text"].strip()

    settle(emu)
    assert not replies(emu, other_bot)
    assert len(emu.bot_messages(group["id"])) == 3


# --------------------------------------------------------------------------- 5. @mention


def test_mention_in_a_group_is_answered_without_the_mention(
    emu: BotApiEmulator, engine: Engine, alice: JSON
) -> None:
    group = emu.group_chat("Mentions", supergroup=True)
    question = "what share of tax revenue do SMEs contribute?"
    asked = ask(emu, group, alice, f"@{BOT} {question}")
    reply = only_reply(emu, asked)

    assert_answer(emu, engine, reply, question)
    assert reply["text"].startswith(f"❓ {question}\n")
    assert f"@{BOT}" not in reply["text"]
    assert button(reply, "Share")["switch_inline_query"] == question

    # Addressed without a question: a usage hint, not an answer.
    empty = ask(emu, group, alice, f"@{BOT}")
    hint = wait_reply(emu, empty)
    assert hint["text"].startswith("Usage: /ask")


# --------------------------------------------------------------------------- 6. reply to bot


def test_reply_to_the_bots_message_in_a_group_is_answered(
    emu: BotApiEmulator, engine: Engine, alice: JSON, bob: JSON
) -> None:
    group = emu.group_chat("Follow-ups", supergroup=True)
    first = wait_reply(emu, ask(emu, group, alice, f"/ask {TAX_QUESTION}"))
    follow_up = ask(emu, group, bob, COUNT_QUESTION, reply_to=first)
    reply = wait_reply(emu, follow_up)
    assert_answer(emu, engine, reply, COUNT_QUESTION)
    settle(emu)
    assert len(emu.bot_messages(group["id"])) == 2


# --------------------------------------------------------------------------- 7. forum topics


def test_forum_topic_question_is_answered_in_its_topic(
    emu: BotApiEmulator, engine: Engine, alice: JSON
) -> None:
    forum = emu.group_chat("Forum", forum=True)
    asked = ask(emu, forum, alice, f"/ask {TAX_QUESTION}", message_thread_id=77)
    assert asked["is_topic_message"] is True
    reply = only_reply(emu, asked)

    assert reply["message_thread_id"] == 77
    assert sent_call(emu, reply).params["message_thread_id"] == 77
    assert_answer(emu, engine, reply, TAX_QUESTION)
    typing = typing_calls(emu, forum["id"])
    assert typing
    assert all(call.params.get("message_thread_id") == 77 for call in typing)


# --------------------------------------------------------------------------- 8. inline mode


def test_inline_query_gets_the_chat_answer_as_an_article(
    emu: BotApiEmulator, engine: Engine, alice: JSON
) -> None:
    answer = engine.answer(TAX_QUESTION)
    best = answer.citations[0]
    sentence = best.text[best.highlight[0] : best.highlight[1]]
    assert len(sentence) <= 200

    chat_reply = wait_reply(emu, ask(emu, emu.private_chat(alice), alice, TAX_QUESTION))
    inline = inline_answer(emu, emu.inline_query(alice, TAX_QUESTION))

    assert inline["cache_time"] <= 60
    (article,) = inline["results"]
    assert article["type"] == "article"
    assert article["title"] == best.title
    assert article["description"] == sentence
    content = article["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert content["message_text"] == html_of(emu, chat_reply)
    assert content["link_preview_options"]["is_disabled"] is True
    assert any(b.get("switch_inline_query") == TAX_QUESTION for b in buttons(article))


def test_inline_query_out_of_scope_and_empty(emu: BotApiEmulator, alice: JSON) -> None:
    declined = inline_answer(emu, emu.inline_query(alice, COOKING_QUESTION))
    (article,) = declined["results"]
    assert "not covered" in article["title"].lower()
    shown = check_message(article["input_message_content"]["message_text"]).text
    assert "The documents I know don't cover that" in shown

    howto = inline_answer(emu, emu.inline_query(alice, ""))
    (article,) = howto["results"]
    assert article["type"] == "article"
    assert article["title"]
    assert f"@{BOT}" in article["input_message_content"]["message_text"]
    assert "<blockquote>" not in article["input_message_content"]["message_text"]


def test_inline_answer_has_no_button_that_cannot_work_inline(
    emu: BotApiEmulator, engine: Engine, alice: JSON
) -> None:
    """A message sent via inline mode has no reply_to_message, so "More sources" (which
    reads the question from it) can only ever say the answer is too old. The votes carry
    the inline result they are about."""
    question = pick_broad_question(engine)
    inline = inline_answer(emu, emu.inline_query(alice, question))
    (article,) = inline["results"]
    assert article["title"] == engine.answer(question).citations[0].title
    assert [b["callback_data"] for b in buttons(article) if "callback_data" in b] == [
        f"vote:up:{article['id']}",
        f"vote:down:{article['id']}",
    ]


# --------------------------------------------------------------------------- 9. buttons


def test_more_sources_button_sends_the_next_excerpts(
    emu: BotApiEmulator, engine: Engine, alice: JSON
) -> None:
    question = pick_broad_question(engine)
    citations = engine.answer(question).citations
    chat = emu.private_chat(alice)
    asked = ask(emu, chat, alice, question)
    answer = only_reply(emu, asked)

    assert entity_texts(answer, "blockquote") == [c.text for c in citations[:3]]
    more = button(answer, "More sources")
    assert button(answer, "Share")["switch_inline_query"] == question

    press = emu.press_button(answer, alice, more["callback_data"])
    follow_up = wait_reply(emu, answer)
    query_id = press["callback_query"]["id"]
    emu.wait_for(
        lambda: [a for a in emu.callback_answers() if str(a["callback_query_id"]) == query_id],
        TIMEOUT,
        description="the callback query to be answered",
    )
    assert entity_texts(follow_up, "blockquote") == [c.text for c in citations[3:6]]
    assert not follow_up["text"].startswith("❓")
    # No more excerpts: the answer loses its "More sources" button, Share stays.
    emu.wait_for(
        lambda: "More sources" not in [b["text"] for b in buttons(emu.bot_messages(chat["id"])[0])],
        TIMEOUT,
        description="the More sources button to go",
    )
    edited = emu.bot_messages(chat["id"])[0]
    assert button(edited, "Share")["switch_inline_query"] == question
    assert "More sources" not in [b["text"] for b in buttons(follow_up)]


def test_more_sources_in_a_forum_topic_after_an_addressed_command(
    emu: BotApiEmulator, engine: Engine, alice: JSON, bob: JSON
) -> None:
    """The question is read back from "/ask@Bot ..." and the excerpts stay in the topic."""
    question = pick_broad_question(engine)
    citations = engine.answer(question).citations
    forum = emu.group_chat("Forum with buttons", forum=True)
    asked = ask(emu, forum, alice, f"/ask@{BOT} {question}", message_thread_id=9)
    answer = wait_reply(emu, asked)
    assert answer["message_thread_id"] == 9

    emu.press_button(answer, bob, button(answer, "More sources")["callback_data"])
    follow_up = wait_reply(emu, answer)
    assert follow_up["message_thread_id"] == 9
    assert entity_texts(follow_up, "blockquote") == [c.text for c in citations[3:6]]


# --------------------------------------------------------------------------- 10. escaping


def test_html_in_a_question_is_shown_as_text(
    emu: BotApiEmulator, engine: Engine, alice: JSON
) -> None:
    chat = emu.private_chat(alice)
    asked = ask(emu, chat, alice, NASTY_QUESTION)
    reply = only_reply(emu, asked)

    html = html_of(emu, reply)
    check_message(html)
    assert NASTY_QUESTION in reply["text"]
    assert entity_texts(reply, "bold")[0] == NASTY_QUESTION
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;SMEs&lt;/b&gt;" in html
    assert "&amp;amp;" in html
    assert {e["type"] for e in reply["entities"]} <= {"bold", "italic", "blockquote", "text_link"}
    if engine.answer(NASTY_QUESTION).kind is AnswerKind.ANSWERED:
        assert button(reply, "Share")["switch_inline_query"] == NASTY_QUESTION

    inline = inline_answer(emu, emu.inline_query(alice, NASTY_QUESTION))
    content = inline["results"][0]["input_message_content"]
    assert "<script" not in content["message_text"].lower()
    assert NASTY_QUESTION in check_message(content["message_text"]).text


# --------------------------------------------------------------------------- 11. long answers


def _long_answer_parts(emu: BotApiEmulator, engine: Engine, user: JSON) -> tuple[JSON, list[JSON]]:
    """Ask LONG_QUESTION in a new private chat; its question and the answer's messages."""
    citations = engine.answer(LONG_QUESTION).citations
    assert len(citations) > 3
    chat = emu.private_chat(user)
    asked = ask(emu, chat, user, LONG_QUESTION)

    def complete() -> list[JSON]:
        sent = emu.bot_messages(chat["id"])
        quoted = sum(len(entity_spans(m, "blockquote")) for m in sent)
        return sent if quoted >= 3 else []

    emu.wait_for(complete, TIMEOUT, description="three excerpts")
    settle(emu)
    return asked, emu.bot_messages(chat["id"])


def test_long_answer_is_split_between_excerpts(
    long_emu: BotApiEmulator, long_engine: Engine
) -> None:
    user = long_emu.new_user("Carol")
    citations = long_engine.answer(LONG_QUESTION).citations
    asked, parts = _long_answer_parts(long_emu, long_engine, user)

    assert len(parts) >= 2
    quotes: list[str] = []
    for part in parts:
        html = html_of(long_emu, part)
        assert len(html) <= MAX_MESSAGE_LENGTH
        assert utf16_length(html) <= MAX_MESSAGE_LENGTH
        assert utf16_length(part["text"]) <= MAX_MESSAGE_LENGTH
        check_message(html)
        assert html.count("<blockquote>") == html.count("</blockquote>") >= 1
        quotes.extend(entity_texts(part, "blockquote"))
        assert "&lt;&amp;&gt;" in html  # the excerpts really are escaped
    # Whole excerpts, in order, none cut: the split falls between them.
    assert quotes == [c.text for c in citations[:3]]
    assert parts[0]["reply_to_message"]["message_id"] == asked["message_id"]
    assert parts[0]["text"].startswith(f"❓ {LONG_QUESTION}")
    assert [bool(buttons(part)) for part in parts] == [False] * (len(parts) - 1) + [True]
    assert button(parts[-1], "Share")["switch_inline_query"] == LONG_QUESTION


def test_more_sources_under_a_split_answer(long_emu: BotApiEmulator, long_engine: Engine) -> None:
    """The button sits under the last part, which is not itself a reply to the question."""
    user = long_emu.new_user("Dan")
    citations = long_engine.answer(LONG_QUESTION).citations
    _, parts = _long_answer_parts(long_emu, long_engine, user)
    last = parts[-1]
    more = button(last, "More sources")

    press = long_emu.press_button(last, user, more["callback_data"])
    query_id = press["callback_query"]["id"]
    callback = long_emu.wait_for(
        lambda: next(
            (a for a in long_emu.callback_answers() if str(a["callback_query_id"]) == query_id),
            None,
        ),
        TIMEOUT,
        description="the callback query to be answered",
    )
    assert not callback.get("text"), f"the button answered: {callback.get('text')!r}"
    follow_up = wait_reply(long_emu, last)
    assert entity_texts(follow_up, "blockquote")[0] == citations[3].text


# --------------------------------------------------------------------------- 12. commands


def test_start_in_private(emu: BotApiEmulator, engine: Engine, alice: JSON) -> None:
    chat = emu.private_chat(alice)
    reply = only_reply(emu, ask(emu, chat, alice, "/start"))
    assert f"from {len(engine.documents)} news articles" in reply["text"]
    assert "👍 or 👎" in reply["text"]
    assert EXAMPLE_QUESTION in reply["text"]


def test_help_in_private_and_in_a_group(emu: BotApiEmulator, alice: JSON) -> None:
    private = only_reply(emu, ask(emu, emu.private_chat(alice), alice, "/help"))
    assert "👍 or 👎" in private["text"]
    assert "withdraw" in private["text"]
    assert "privacy mode" in private["text"].lower()
    assert "group" in private["text"].lower()
    assert "/ask" in private["text"]
    assert f"@{BOT}" in private["text"]

    group = emu.group_chat("Helpers")
    in_group = only_reply(emu, ask(emu, group, alice, f"/help@{BOT}"))
    assert "/ask" in in_group["text"]
    assert f"@{BOT}" in in_group["text"]
    assert "privacy mode" in in_group["text"].lower()
    assert "👍 or 👎" in in_group["text"]


def test_sources_lists_every_document(emu: BotApiEmulator, engine: Engine, alice: JSON) -> None:
    reply = only_reply(emu, ask(emu, emu.private_chat(alice), alice, "/sources"))
    for doc in engine.documents:
        assert f"{doc.title} ({doc.publisher}" in reply["text"], doc.title
    assert len(reply["text"].splitlines()) == len(engine.documents) + 1


@pytest.mark.parametrize("greeting", ["hello", "Hi there!", "thanks"])
def test_greeting_gets_a_friendly_reply(emu: BotApiEmulator, alice: JSON, greeting: str) -> None:
    reply = only_reply(emu, ask(emu, emu.private_chat(alice), alice, greeting))
    assert "Hello" in reply["text"]
    assert "don't cover" not in reply["text"]
    assert not entity_spans(reply, "blockquote")
    assert EXAMPLE_QUESTION in reply["text"]


# --------------------------------------------------------------------------- 13. non-text


@pytest.mark.parametrize("kind", ["photo", "sticker", "voice", "document"])
def test_non_text_in_private_gets_a_note(emu: BotApiEmulator, alice: JSON, kind: str) -> None:
    sent = emu.send_media(emu.private_chat(alice), alice, kind)["message"]
    reply = only_reply(emu, sent)
    assert "I answer text questions" in reply["text"]
    assert len(reply["text"]) < 100


def test_non_text_and_edits_in_a_group_get_nothing(
    emu: BotApiEmulator, engine: Engine, alice: JSON, bob: JSON
) -> None:
    group = emu.group_chat("Media", supergroup=True)
    for kind in ("photo", "sticker", "voice", "document"):
        emu.send_media(group, bob, kind)
    earlier = ask(emu, group, bob, "see the picture above")
    emu.edit_message(earlier, f"@{BOT} see the picture above?")
    ask(emu, group, bob, "/foo")
    asked = ask(emu, group, alice, f"/ask {TAX_QUESTION}")
    reply = only_reply(emu, asked)
    assert_answer(emu, engine, reply, TAX_QUESTION)


def test_edited_message_in_private_gets_a_note(emu: BotApiEmulator, alice: JSON) -> None:
    chat = emu.private_chat(alice)
    asked = ask(emu, chat, alice, TAX_QUESTION)
    answer = wait_reply(emu, asked)
    emu.edit_message(asked, COUNT_QUESTION)
    note = emu.wait_for(
        lambda: [m for m in replies(emu, asked) if m["message_id"] != answer["message_id"]],
        TIMEOUT,
        description="a note about the edit",
    )[0]
    assert "not edits" in note["text"]
    assert len(note["text"]) < 100
    settle(emu)
    assert len(emu.bot_messages(chat["id"])) == 2


def test_channel_post_gets_nothing(emu: BotApiEmulator, alice: JSON) -> None:
    channel = emu.channel_chat("Announcements")
    emu.channel_post(channel, f"@{BOT} {TAX_QUESTION}")
    emu.channel_post(channel, f"/ask {TAX_QUESTION}")
    emu.channel_post(channel, "hello")
    # The synchronisation point: a later update, answered elsewhere.
    only_reply(emu, ask(emu, emu.private_chat(alice), alice, "/start"))
    assert emu.bot_messages(channel["id"]) == []
    assert emu.delivered(channel["id"]) == 0


def test_unknown_command_in_private_gets_a_note(emu: BotApiEmulator, alice: JSON) -> None:
    reply = only_reply(emu, ask(emu, emu.private_chat(alice), alice, "/foo"))
    assert "don't know that command" in reply["text"]
    assert "/help" in reply["text"]


# --------------------------------------------------------------------------- 14. command menu


def test_command_menu_is_set_at_start(emu: BotApiEmulator) -> None:
    calls = emu.calls("setMyCommands")
    assert len(calls) == 1
    assert calls[0].status == 200
    commands = calls[0].params["commands"]
    assert [c["command"] for c in commands] == ["ask", "sources", "help", "start"]
    assert all(c["description"] for c in commands)
