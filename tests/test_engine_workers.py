"""End to end with `python -m bot run` and its engine worker processes (BOT_ENGINE_WORKERS),
one bot in turn: a worker killed mid-run is replaced and no question goes unanswered, /reindex
reaches every worker, and killing the bot takes its workers with it. Also, in-process: a broken
corpus fails `EngineWorkers.start` with the corpus error, and leaves no process behind."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import messages
from bot.serving.workers import EngineWorkers
from knowledge import CorpusError, Engine, EngineConfig
from knowledge.embedding import Encoder
from tests.support.botrunner import assert_valid_html_everywhere, bot_process
from tests.support.data import NEW_ANSWER, NEW_DOCUMENT, NEW_QUESTION
from tests.support.emulator import BotApiEmulator
from tests.support.processes import alive, descendants_of, engine_workers
from tests.support.reliability import (
    JSON,
    QUESTIONS,
    TAX_ANSWER,
    TAX_QUESTION,
    copy_corpus_and_index,
    expected_messages,
    is_answer,
    no_internal_errors,
    replies_to,
    texts,
)
from tests.support.waiting import wait_until
from tests.support.zygote import ForkedProcess

START_TIMEOUT = 120  # two workers load the model, on a loaded machine


@pytest.fixture(scope="module")
def corpus_and_index(
    engine: Engine, encoder: Encoder, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    return copy_corpus_and_index(engine, encoder, tmp_path_factory.mktemp("workers"))


@pytest.fixture
def emu() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as emulator:
        yield emulator


Started = tuple[ForkedProcess | subprocess.Popen[bytes], Path, JSON]


@pytest.fixture
def started(
    emu: BotApiEmulator, corpus_and_index: tuple[Path, Path], tmp_path: Path
) -> Iterator[Started]:
    """The bot as a process with two engine workers, an admin, and its log."""
    corpus, index = corpus_and_index
    admin = emu.new_user("Admin")
    log = tmp_path / "bot.log"
    process = bot_process(
        emu,
        tmp_path / "state",
        index,
        log,
        BOT_ENGINE_WORKERS="2",
        BOT_ADMIN_USER_IDS=str(admin["id"]),
        KNOWLEDGE_CORPUS_DIR=str(corpus),
    )
    try:
        emu.wait_for(
            lambda: process.poll() is not None or emu.calls("setMyCommands"),
            timeout=START_TIMEOUT,
            description="the bot to start",
        )
        assert process.poll() is None, log.read_text(errors="replace")
        emu.wait_for(
            lambda: len(engine_workers(process.pid)) == 2,
            timeout=START_TIMEOUT,
            description="2 workers",
        )
        yield process, log, admin
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def test_workers_are_replaced_reindexed_and_taken_down_with_the_bot(
    emu: BotApiEmulator,
    started: Started,
    engine: Engine,
    corpus_and_index: tuple[Path, Path],
) -> None:
    """One bot and its two workers, in turn: a worker killed mid-run is replaced and every
    question answered once; /reindex reaches every worker, the replacement included; and
    killing the bot takes its workers with it."""
    process, log, admin = started
    _a_killed_worker_is_replaced_and_every_question_answered_once(emu, process, log, engine)
    _reindex_reaches_every_worker(emu, admin, corpus_and_index[0])
    assert_valid_html_everywhere(emu)
    _killing_the_bot_takes_its_workers_with_it(process)


def _a_killed_worker_is_replaced_and_every_question_answered_once(
    emu: BotApiEmulator, process: ForkedProcess | subprocess.Popen[bytes], log: Path, engine: Engine
) -> None:
    pid = process.pid
    victim = min(engine_workers(pid))
    os.kill(victim, signal.SIGKILL)

    chats, updates = [], []
    for n in range(12):
        user = emu.new_user(f"Asker{n}")
        chat = emu.private_chat(user)
        chats.append(chat)
        updates.append(emu.send_message(chat, user, QUESTIONS[n % len(QUESTIONS)]))
    expected = [expected_messages(engine, QUESTIONS[n % len(QUESTIONS)]) for n in range(12)]
    emu.wait_for(
        lambda: all(emu.delivered(c["id"]) >= e for c, e in zip(chats, expected, strict=True)),
        timeout=START_TIMEOUT,
        description="an answer in each of the 12 chats",
    )
    emu.wait_for(
        lambda: len(engine_workers(pid)) == 2, timeout=START_TIMEOUT, description="a new one"
    )
    assert victim not in engine_workers(pid)
    # A duplicate would have arrived by the time a later question, asked once the new
    # worker is up, is answered.
    user = emu.new_user("Later")
    chat = emu.private_chat(user)
    emu.send_message(chat, user, TAX_QUESTION)
    emu.wait_for(lambda: emu.delivered(chat["id"]) >= 1, timeout=60, description="a later answer")
    assert [emu.delivered(c["id"]) for c in chats] == expected
    for update in updates:
        assert all(is_answer(r["text"]) for r in replies_to(emu, update))
    assert re.search(r"engine worker \d exited \(code -9\)", log.read_text(errors="replace"))
    no_internal_errors(emu)


def _reindex_reaches_every_worker(emu: BotApiEmulator, admin: JSON, corpus: Path) -> None:
    (corpus / "hefei-robotics-expo.md").write_text(NEW_DOCUMENT, encoding="utf-8")
    try:
        admin_chat = emu.private_chat(admin)
        emu.send_message(admin_chat, admin, "/reindex")
        emu.wait_for(lambda: messages.REINDEX_STARTED in texts(emu, admin_chat["id"]), timeout=30)
        user = emu.new_user("Member")
        chat = emu.private_chat(user)
        during = emu.send_message(chat, user, TAX_QUESTION)
        emu.wait_for(
            lambda: any(t.startswith("Index rebuilt") for t in texts(emu, admin_chat["id"])),
            timeout=START_TIMEOUT,
            description="the rebuild",
        )
        assert "from 6 documents" in next(
            t for t in texts(emu, admin_chat["id"]) if t.startswith("Index rebuilt")
        )
        emu.wait_for(lambda: replies_to(emu, during), timeout=60, description="an answer")
        assert TAX_ANSWER in replies_to(emu, during)[0]["text"]

        # Several at once, so both workers answer: each must know the new document.
        askers = [emu.new_user(f"After{n}") for n in range(8)]
        after = [emu.send_message(emu.private_chat(u), u, NEW_QUESTION) for u in askers]
        emu.wait_for(lambda: all(replies_to(emu, u) for u in after), timeout=60)
        for update in after:
            (reply,) = (r["text"] for r in replies_to(emu, update))
            assert NEW_ANSWER in reply, reply
        no_internal_errors(emu)
    finally:
        (corpus / "hefei-robotics-expo.md").unlink()


def _killing_the_bot_takes_its_workers_with_it(
    process: ForkedProcess | subprocess.Popen[bytes],
) -> None:
    workers = engine_workers(process.pid)
    assert len(workers) == 2
    everything = descendants_of(process.pid)  # the workers, the fork server, the tracker
    assert workers < everything
    process.kill()
    process.wait(30)
    wait_until(
        lambda: not any(alive(p) for p in everything),
        timeout=30,
        interval=0.1,
        description="no engine worker (nor the fork server) to outlive the bot",
    )


def test_a_broken_corpus_fails_start_and_leaves_no_worker(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "broken.md").write_text("---\ntitle: [unclosed\n---\nBody.\n", encoding="utf-8")
    workers = EngineWorkers(EngineConfig(corpus_dir=corpus, index_dir=tmp_path / "index"), 2)

    async def start() -> None:
        try:
            await workers.start()
        finally:
            await workers.close()

    with pytest.raises(CorpusError, match=r"broken\.md"):
        asyncio.run(start())
    assert engine_workers(os.getpid()) == set()
