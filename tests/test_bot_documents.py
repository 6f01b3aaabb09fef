"""Admins grow the collection in Telegram: a file sent in private is read, summarised and
added with a button; the running bot answers from it; /documents and /remove. Everyone else
gets the note that the bot answers text."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import messages
from knowledge import Engine, EngineConfig
from knowledge.embedding import Encoder
from tests.support.botrunner import RunningBot
from tests.support.data import HTML, HTML_QUESTION, SMALL_CORPUS
from tests.support.emulator import BotApiEmulator
from tests.support.reliability import JSON, assert_valid_html, replies_to, serving, texts

pytestmark = pytest.mark.timeout(300)
TIMEOUT = 120  # an add embeds a document on a busy machine


@dataclass
class Bot:
    emu: BotApiEmulator
    running: RunningBot
    admin: JSON
    member: JSON
    collection: Path

    def send_file(self, user: JSON, data: bytes, name: str, file_size: int | None = None) -> JSON:
        chat = self.emu.private_chat(user)
        return self.emu.send_document(chat, user, data, name, file_size=file_size)

    def reply(self, update: JSON) -> JSON:
        found = self.emu.wait_for(lambda: replies_to(self.emu, update), timeout=TIMEOUT)
        return found[0]


@pytest.fixture
def bot(encoder: Encoder, tmp_path: Path) -> Iterator[Bot]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in SMALL_CORPUS:
        shutil.copy(Path(__file__).resolve().parents[1] / "knowledge" / "corpus" / name, corpus)
    config = EngineConfig(
        corpus_dir=corpus, collection_dir=tmp_path / "collection", index_dir=tmp_path / "index"
    )
    engine = Engine.load(config, encoder=encoder)
    with BotApiEmulator() as emu:
        admin, member = emu.new_user("Admin"), emu.new_user("Member")
        with serving(
            emu,
            engine,
            tmp_path / "state",
            bot_admin_user_ids={admin["id"]},
            knowledge_corpus_dir=corpus,
            knowledge_collection_dir=config.collection_dir,
            knowledge_index_dir=config.index_dir,
        ) as running:
            yield Bot(emu, running, admin, member, config.collection_dir)
            assert_valid_html(emu)


def _ask(bot: Bot, question: str) -> str:
    update = bot.emu.send_message(bot.emu.private_chat(bot.member), bot.member, question)
    return str(bot.reply(update)["text"])


def _buttons(message: JSON) -> dict[str, str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {button["text"]: button["callback_data"] for row in rows for button in row}


def test_admin_adds_a_file_and_the_bot_answers_from_it_then_removes_it(bot: Bot) -> None:
    assert messages.NOT_COVERED in _ask(bot, HTML_QUESTION)

    summary = bot.reply(bot.send_file(bot.admin, HTML.read_bytes(), "corepack.html"))
    assert summary["text"].startswith("I read Corepack (Node.js v20.20.2 Documentation): 24 KB, ")
    keys = _buttons(summary)
    assert set(keys) == {messages.ADD_BUTTON, messages.CANCEL_BUTTON}
    bot.emu.press_button(summary, bot.admin, keys[messages.ADD_BUTTON])
    chat_id = summary["chat"]["id"]
    added = bot.emu.wait_for(
        lambda: [t for t in texts(bot.emu, chat_id) if t.startswith("Added ")], timeout=TIMEOUT
    )
    assert added[0].startswith("Added corepack: Corepack (")
    assert (bot.collection / "corepack.md").is_file()
    assert not _buttons(bot.emu.bot_messages(chat_id)[1])  # the buttons are gone

    answer = _ask(bot, HTML_QUESTION)
    assert "Corepack currently needs to be explicitly enabled" in answer
    assert "— Corepack (Node.js v20.20.2 Documentation)" in answer

    listing = bot.emu.send_message(bot.emu.private_chat(bot.admin), bot.admin, "/documents")
    assert "corepack Corepack" in bot.reply(listing)["text"]
    stranger_listing = bot.emu.send_message(
        bot.emu.private_chat(bot.member), bot.member, "/remove corepack"
    )
    assert bot.reply(stranger_listing)["text"] == messages.ADMIN_ONLY

    removal = bot.emu.send_message(bot.emu.private_chat(bot.admin), bot.admin, "/remove corepack")
    assert bot.reply(removal)["text"] == "Removed corepack: Corepack"
    assert not (bot.collection / "corepack.md").exists()
    assert "Corepack currently needs" not in _ask(bot, HTML_QUESTION)


def test_cancel_adds_nothing(bot: Bot) -> None:
    summary = bot.reply(bot.send_file(bot.admin, HTML.read_bytes(), "corepack.html"))
    bot.emu.press_button(summary, bot.admin, _buttons(summary)[messages.CANCEL_BUTTON])
    chat_id = summary["chat"]["id"]
    bot.emu.wait_for(lambda: messages.UPLOAD_CANCELLED in texts(bot.emu, chat_id), timeout=30)
    assert not bot.collection.exists() or not list(bot.collection.glob("*.md"))


def test_files_that_cannot_be_added_get_one_line(bot: Bot) -> None:
    empty = bot.reply(bot.send_file(bot.admin, b"", "notes.pdf"))
    assert empty["text"] == "I can't add that file: notes.pdf: the file is empty"
    big = bot.reply(bot.send_file(bot.admin, b"%PDF-1.4", "huge.pdf", file_size=25 * 2**20))
    assert big["text"] == messages.UPLOAD_TOO_BIG.format(size="25.0 MB")
    from_member = bot.reply(bot.send_file(bot.member, HTML.read_bytes(), "corepack.html"))
    assert from_member["text"] == messages.NOT_TEXT
    assert not bot.collection.exists() or not list(bot.collection.glob("*.md"))
