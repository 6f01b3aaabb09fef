"""Helpers shared by the end-to-end reliability tests (tests/test_reliability*.py and others)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot import messages
from bot.render.telegram import answer_messages
from bot.serving.backends import AnswerBackend, EngineThread
from knowledge import Answer, Engine, EngineConfig
from knowledge.embedding import Encoder

from .botrunner import RunningBot, assert_valid_html_everywhere, running_bot
from .emulator import BotApiEmulator, Call

if TYPE_CHECKING:
    from bot.serving.backends import Reloaded

JSON = dict[str, Any]

# Questions the real corpus answers, each in one message (checked by `expected_messages`).
TAX_QUESTION = "What share of tax revenue do SMEs contribute?"
TAX_ANSWER = "half of tax revenue"
QUESTIONS = (
    TAX_QUESTION,
    "How many Little Giants have been announced?",
    "How much must Little Giants invest in R&D?",
    "When was the Little Giants policy introduced?",
    "How many class I patents must a Little Giant have?",
)


def copy_corpus_and_index(engine: Engine, encoder: Encoder, root: Path) -> tuple[Path, Path]:
    """A copy of the session's corpus and its index under `root`, so a bot over the copy can
    change its corpus without a rebuild at start."""
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(engine.config.corpus_dir, corpus)
    shutil.copytree(engine.config.index_dir, index)
    own = Engine.load(EngineConfig(corpus_dir=corpus, index_dir=index), encoder=encoder)
    assert own.index_status == "loaded"
    return corpus, index


class RecordingEngineThread(EngineThread):
    """The engine in a thread, noting every question it answers, in order."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.questions: list[str] = []

    async def answer_many(self, questions: list[str]) -> list[Answer]:
        self.questions.extend(questions)
        return await super().answer_many(questions)


class GatedReload(EngineThread):
    """The engine in a thread, whose reloads (/reindex) wait while `gate` is closed: a test
    can hold a rebuild open until it has seen what must happen meanwhile."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.gate = threading.Event()
        self.gate.set()

    async def reload(self) -> Reloaded:
        if not await asyncio.to_thread(self.gate.wait, 120):
            raise TimeoutError("the reload gate stayed closed")
        return await super().reload()


@contextmanager
def serving(
    emu: BotApiEmulator, engine: Engine | AnswerBackend, state_dir: Path, **overrides: Any
) -> Iterator[RunningBot]:
    """`running_bot`, with group chatter (ignored by the bot) queued first, so that the
    first long poll returns at once instead of after its 10 s time-out."""
    lobby = emu.group_chat("Lobby")
    emu.send_message(lobby, emu.new_user("Lobbyist"), "just chatting, not for the bot")
    with running_bot(emu, engine, state_dir, **overrides) as bot:
        yield bot


@dataclass
class Harness:
    """An emulator with one bot serving it; every test takes fresh users and chats."""

    emu: BotApiEmulator
    bot: RunningBot
    engine: Engine

    def private(self, name: str = "User") -> tuple[JSON, JSON]:
        user = self.emu.new_user(name)
        return user, self.emu.private_chat(user)

    def settle(self, *updates: JSON, timeout: float = 30) -> None:
        settle(self.emu, self.bot, *updates, timeout=timeout)


async def _unfinished(bot: RunningBot) -> list[tuple[str, JSON]]:
    return bot.services.journal.pending()


def settle(emu: BotApiEmulator, bot: RunningBot, *updates: JSON, timeout: float = 30) -> None:
    """Wait until `updates` were fetched, confirmed and handled to the end (journal: done)."""
    _settle_up_to(emu, bot, max(update["update_id"] for update in updates), timeout, 0.05)


def settle_all(emu: BotApiEmulator, bot: RunningBot, timeout: float = 30) -> None:
    """Wait until every update queued so far was fetched, confirmed and handled to the end:
    after that, nothing the bot does for them can still arrive."""
    _settle_up_to(emu, bot, emu.last_update_id, timeout, 0.02)


def _settle_up_to(
    emu: BotApiEmulator, bot: RunningBot, last: int, timeout: float, interval: float
) -> None:
    def handled() -> bool:
        if emu.confirmed_offset <= last:
            return False
        pending = asyncio.run_coroutine_threadsafe(_unfinished(bot), bot.loop).result(10)
        return not pending

    emu.wait_for(handled, timeout, interval=interval, description=f"updates up to {last} handled")


def sends(emu: BotApiEmulator, chat_id: int) -> list[Call]:
    """Every sendMessage request for `chat_id`, whatever its outcome."""
    return [call for call in emu.calls("sendMessage") if call.params.get("chat_id") == chat_id]


def texts(emu: BotApiEmulator, chat_id: int) -> list[str]:
    return [message["text"] for message in emu.bot_messages(chat_id)]


def replies_to(emu: BotApiEmulator, update: JSON) -> list[JSON]:
    """Bot messages that reply to the message (or edited message) of `update`."""
    message = update.get("message") or update.get("edited_message") or {}
    chat_id, message_id = message["chat"]["id"], message["message_id"]
    return [
        sent
        for sent in emu.bot_messages(chat_id)
        if sent.get("reply_to_message", {}).get("message_id") == message_id
    ]


def expected_messages(engine: Engine, question: str) -> int:
    return len(answer_messages(engine.answer(question)))


def is_answer(text: str) -> bool:
    return text.startswith("❓")


def no_internal_errors(emu: BotApiEmulator) -> None:
    """The error handler's apology was never sent."""
    apologies = [
        call
        for call in emu.calls("sendMessage")
        if messages.INTERNAL_ERROR in str(call.params.get("text"))
    ]
    assert not apologies, apologies


def error_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    """ERROR (and worse) log records of the bot and of python-telegram-bot."""
    return [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.ERROR and record.name.startswith(("bot", "telegram"))
    ]


def assert_valid_html(emu: BotApiEmulator) -> None:
    """Valid HTML everywhere, including requests that an injected fault refused."""
    assert_valid_html_everywhere(emu, require_success=False)
