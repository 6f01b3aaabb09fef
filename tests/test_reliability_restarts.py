"""End to end with `python -m bot run` as a process: SIGKILL with answers in flight loses
nothing (the update journal), SIGTERM finishes the answers in flight and exits 0, and a
restart never answers again what was answered. The token never reaches the log."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge import Engine, EngineConfig
from knowledge.embedding import Encoder
from tests.support.botrunner import bot_process, stop_process
from tests.support.emulator import BotApiEmulator, Delay
from tests.support.reliability import JSON, QUESTIONS, expected_messages, texts

SLOW_SEND = 3.0  # seconds each of the first sendMessage calls takes
START_TIMEOUT = 90  # model and index load, on a loaded machine


@pytest.fixture(scope="module")
def index_dir(engine: Engine, encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the real corpus for the processes; a copy of the session's, so that
    loading it (as each process does) takes no rebuild."""
    directory = tmp_path_factory.mktemp("restarts") / "index"
    shutil.copytree(engine.config.index_dir, directory)
    assert Engine.load(EngineConfig(index_dir=directory), encoder=encoder).index_status == "loaded"
    return directory


@pytest.fixture
def emu() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as emulator:
        yield emulator


class Bot:
    """One `python -m bot run` process; killed at the end of the test if still running."""

    def __init__(self, emu: BotApiEmulator, state: Path, index: Path, log: Path) -> None:
        self.emu = emu
        ready = len(emu.calls("setMyCommands"))
        self.process = bot_process(emu, state, index, log)
        # setMyCommands comes after getMe and the model and index load, just before polling.
        emu.wait_for(
            lambda: self.process.poll() is not None or len(emu.calls("setMyCommands")) > ready,
            timeout=START_TIMEOUT,
            interval=0.1,
            description="the bot process to start",
        )
        assert self.process.poll() is None, log.read_text(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


@pytest.fixture
def processes() -> Iterator[list[Bot]]:
    started: list[Bot] = []
    yield started
    for bot in started:
        bot.kill()


def _sends_started(emu: BotApiEmulator, injected: int) -> int:
    """How many of the `injected` delayed sendMessage calls have arrived so far. Calls are
    recorded when they end; the fault's countdown is the only sign of one under way."""
    with emu._lock:
        queue = emu._faults.get("sendMessage")
        remaining = queue[0].remaining if queue else 0
    return injected - remaining


def _ask(emu: BotApiEmulator, count: int) -> tuple[list[JSON], list[JSON]]:
    chats, updates = [], []
    for n in range(count):
        user = emu.new_user(f"Asker{n}")
        chat = emu.private_chat(user)
        chats.append(chat)
        updates.append(emu.send_message(chat, user, QUESTIONS[n % len(QUESTIONS)]))
    return chats, updates


def _in_flight(emu: BotApiEmulator, updates: list[JSON], injected: int) -> None:
    """Wait until python-telegram-bot confirmed every update (Telegram will not send them
    again) and at least one answer is on its way."""
    last = max(update["update_id"] for update in updates)
    emu.wait_for(lambda: emu.confirmed_offset > last, timeout=60, description="confirmation")
    emu.wait_for(lambda: _sends_started(emu, injected) >= 1, timeout=60, description="a send")


def _assert_token_not_logged(emu: BotApiEmulator, log: Path) -> None:
    text = log.read_text(errors="replace")
    assert "serving as @LittleGiantsBot" in text  # the log is there
    assert emu.token not in text and emu.token.split(":", 1)[1] not in text


def test_sigkill_with_answers_in_flight_loses_none(
    emu: BotApiEmulator,
    index_dir: Path,
    tmp_path: Path,
    engine: Engine,
    processes: list[Bot],
) -> None:
    state, log = tmp_path / "state", tmp_path / "bot.log"
    processes.append(first := Bot(emu, state, index_dir, log))
    count = 8
    emu.inject("sendMessage", Delay(SLOW_SEND, process=False), times=count)
    chats, updates = _ask(emu, count)
    expected = [expected_messages(engine, QUESTIONS[n % len(QUESTIONS)]) for n in range(count)]
    _in_flight(emu, updates, count)

    first.process.send_signal(signal.SIGKILL)
    first.process.wait(30)
    killed_at = time.monotonic()
    started_before_kill = _sends_started(emu, count)

    processes.append(second := Bot(emu, state, index_dir, log))
    emu.wait_for(
        lambda: all(emu.delivered(c["id"]) >= e for c, e in zip(chats, expected, strict=True)),
        timeout=90,
        description="an answer in each of the 8 chats",
    )
    assert stop_process(second.process, signal.SIGTERM, timeout=60) == 0

    delivered = [emu.delivered(chat["id"]) for chat in chats]
    duplicates = sum(d - e for d, e in zip(delivered, expected, strict=True))
    arrived = sum(call.time < killed_at for call in emu.calls("sendMessage"))
    print(
        f"\nSIGKILL: {started_before_kill} of {count} sends under way at the kill "
        f"({arrived} recorded as arrived); {duplicates} duplicate answer(s) after the restart"
    )
    assert all(d >= e for d, e in zip(delivered, expected, strict=True)), delivered  # none lost
    assert duplicates <= started_before_kill
    for chat in chats:
        assert all(text.startswith("❓") for text in texts(emu, chat["id"]))
    _assert_token_not_logged(emu, log)


def test_sigterm_finishes_answers_in_flight_and_restart_repeats_nothing(
    emu: BotApiEmulator,
    index_dir: Path,
    tmp_path: Path,
    engine: Engine,
    processes: list[Bot],
) -> None:
    state, log = tmp_path / "state", tmp_path / "bot.log"
    processes.append(first := Bot(emu, state, index_dir, log))
    count = 5
    emu.inject("sendMessage", Delay(SLOW_SEND, process=False), times=count)
    chats, updates = _ask(emu, count)
    expected = [expected_messages(engine, QUESTIONS[n]) for n in range(count)]
    _in_flight(emu, updates, count)

    signalled = time.monotonic()
    try:
        code = stop_process(first.process, signal.SIGTERM, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the bot did not exit within 30 s of SIGTERM")
    print(f"\nSIGTERM: exited {code} after {time.monotonic() - signalled:.1f} s")
    assert code == 0, log.read_text(errors="replace")[-3000:]
    assert [emu.delivered(chat["id"]) for chat in chats] == expected

    processes.append(second := Bot(emu, state, index_dir, log))
    late_user = emu.new_user("Late")
    late_chat = emu.private_chat(late_user)
    emu.send_message(late_chat, late_user, QUESTIONS[0])
    emu.wait_for(lambda: emu.delivered(late_chat["id"]) >= 1, timeout=60)
    assert stop_process(second.process, signal.SIGTERM, timeout=60) == 0

    assert [emu.delivered(chat["id"]) for chat in chats] == expected  # nothing answered again
    _assert_token_not_logged(emu, log)
