"""End to end with `python -m bot run` as a process, three runs in turn on one state
directory: SIGKILL with answers in flight loses nothing (the update journal), SIGTERM finishes
the answers in flight and exits 0, and a restart never answers again what was answered. The
token never reaches the log."""

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
        # The engine in a thread: what is tested is the update journal and the sends in
        # flight; SIGTERM with worker processes is test_output_secrets.py's and
        # test_reliability_startup.py's.
        self.process = bot_process(emu, state, index, log, BOT_ENGINE_WORKERS="0")
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


def _ask(emu: BotApiEmulator, count: int, first: int = 0) -> tuple[list[JSON], list[JSON]]:
    chats, updates = [], []
    for n in range(count):
        user = emu.new_user(f"Asker{first + n}")
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


def test_sigkill_loses_nothing_sigterm_finishes_in_flight_and_restarts_repeat_nothing(
    emu: BotApiEmulator,
    index_dir: Path,
    tmp_path: Path,
    engine: Engine,
    processes: list[Bot],
) -> None:
    """Three runs on one state directory: the first is killed with answers in flight, and the
    second delivers them all; the second is stopped by SIGTERM with answers in flight, which
    it finishes before it exits 0; the third answers a new question, and none of the others
    again."""
    state, log = tmp_path / "state", tmp_path / "bot.log"
    processes.append(first := Bot(emu, state, index_dir, log))
    killed = _sigkill_with_answers_in_flight(emu, engine, first)
    processes.append(second := Bot(emu, state, index_dir, log))
    _wait_for_answers(emu, killed[0], killed[1])
    chats, expected = _sigterm_finishes_answers_in_flight(emu, engine, second, log)

    processes.append(third := Bot(emu, state, index_dir, log))
    late_user = emu.new_user("Late")
    late_chat = emu.private_chat(late_user)
    emu.send_message(late_chat, late_user, QUESTIONS[0])
    emu.wait_for(lambda: emu.delivered(late_chat["id"]) >= 1, timeout=60)
    assert stop_process(third.process, signal.SIGTERM, timeout=60) == 0

    assert [emu.delivered(chat["id"]) for chat in chats] == expected  # nothing answered again
    _assert_none_lost(emu, *killed)  # and the killed run's at most twice if under way
    _assert_token_not_logged(emu, log)


def _sigkill_with_answers_in_flight(
    emu: BotApiEmulator, engine: Engine, first: Bot
) -> tuple[list[JSON], list[int], float, int]:
    count = 8
    emu.inject("sendMessage", Delay(SLOW_SEND, process=False), times=count)
    chats, updates = _ask(emu, count)
    expected = [expected_messages(engine, QUESTIONS[n % len(QUESTIONS)]) for n in range(count)]
    _in_flight(emu, updates, count)

    first.process.send_signal(signal.SIGKILL)
    first.process.wait(30)
    return chats, expected, time.monotonic(), _sends_started(emu, count)


def _wait_for_answers(emu: BotApiEmulator, chats: list[JSON], expected: list[int]) -> None:
    emu.wait_for(
        lambda: all(emu.delivered(c["id"]) >= e for c, e in zip(chats, expected, strict=True)),
        timeout=90,
        description=f"an answer in each of the {len(chats)} chats",
    )


def _assert_none_lost(
    emu: BotApiEmulator,
    chats: list[JSON],
    expected: list[int],
    killed_at: float,
    started_before_kill: int,
) -> None:
    """Every answer of the killed run arrived; only sends under way at the kill (which the
    restart cannot know were delivered) may have arrived twice."""
    delivered = [emu.delivered(chat["id"]) for chat in chats]
    duplicates = sum(d - e for d, e in zip(delivered, expected, strict=True))
    arrived = sum(call.time < killed_at for call in emu.calls("sendMessage"))
    print(
        f"\nSIGKILL: {started_before_kill} of {len(chats)} sends under way at the kill "
        f"({arrived} recorded as arrived); {duplicates} duplicate answer(s) after the restart"
    )
    assert all(d >= e for d, e in zip(delivered, expected, strict=True)), delivered  # none lost
    assert duplicates <= started_before_kill
    for chat in chats:
        assert all(text.startswith("❓") for text in texts(emu, chat["id"]))


def _sigterm_finishes_answers_in_flight(
    emu: BotApiEmulator, engine: Engine, bot: Bot, log: Path
) -> tuple[list[JSON], list[int]]:
    count = 5
    emu.inject("sendMessage", Delay(SLOW_SEND, process=False), times=count)
    chats, updates = _ask(emu, count, first=100)
    expected = [expected_messages(engine, QUESTIONS[n]) for n in range(count)]
    _in_flight(emu, updates, count)

    signalled = time.monotonic()
    try:
        code = stop_process(bot.process, signal.SIGTERM, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the bot did not exit within 30 s of SIGTERM")
    print(f"\nSIGTERM: exited {code} after {time.monotonic() - signalled:.1f} s")
    assert code == 0, log.read_text(errors="replace")[-3000:]
    assert [emu.delivered(chat["id"]) for chat in chats] == expected
    return chats, expected
