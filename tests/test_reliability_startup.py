"""Start-up as operators meet it: Telegram not there yet (retried with backoff, one line an
attempt), SIGTERM at any point of start-up (a prompt, clean exit), a refused token (one line),
and a second `run` on the same state directory (refused in one line; the first one serves on,
and a SIGKILL frees the directory). Mostly `python -m bot run` as a process."""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import re
import signal
import threading
from pathlib import Path

import pytest

from bot.serving.backends import EngineThread
from bot.surface.app import build_application, serve
from knowledge import Engine
from tests.support.botrunner import BotProcess, assert_token_hidden, bot_settings
from tests.support.emulator import BotApiEmulator, free_port
from tests.support.processes import alive, children_of, loading_torch
from tests.support.reliability import TAX_ANSWER, TAX_QUESTION, texts

ATTEMPT = "start-up: Telegram did not answer"
STOP_TIMEOUT = 20  # seconds from SIGTERM to exit, on a loaded machine (it was 26-35 s)


def _ask(emu: BotApiEmulator, name: str) -> int:
    """A question in a new private chat, answered; the chat id."""
    user = emu.new_user(name)
    chat = emu.private_chat(user)
    emu.send_message(chat, user, TAX_QUESTION)
    emu.wait_for(lambda: emu.delivered(chat["id"]) >= 1, timeout=60, description="an answer")
    assert TAX_ANSWER in texts(emu, chat["id"])[0]
    return int(chat["id"])


def _assert_clean(emu: BotApiEmulator, *bots: BotProcess) -> None:
    for bot in bots:
        output = bot.output()
        assert "Traceback" not in output, output[-3000:]
        assert "Unclosed" not in output, output[-3000:]
        assert_token_hidden(emu, output)


def _attempt_numbers(lines: list[str]) -> list[int]:
    return [int(match[1]) for line in lines if (match := re.search(r"attempt (\d+) failed", line))]


def _assert_one_line_per_attempt(bot: BotProcess) -> None:
    lines = bot.lines(ATTEMPT)
    assert _attempt_numbers(lines) == list(range(1, len(lines) + 1)), lines
    assert not bot.lines("retry 1 in"), bot.output()  # no inner retries, each with a line


def test_sigterm_while_telegram_is_unreachable_exits_at_once(
    index_dir: Path, tmp_path: Path, processes: list[BotProcess]
) -> None:
    emu = BotApiEmulator(port=free_port())
    bot = BotProcess(
        emu, tmp_path / "state", index_dir, tmp_path / "bot.log", BOT_ENGINE_WORKERS="0"
    )
    processes.append(bot)
    bot.wait_for_lines(ATTEMPT, 2)
    assert bot.stop(timeout=STOP_TIMEOUT) == 0, bot.output()[-3000:]
    _assert_one_line_per_attempt(bot)
    _assert_clean(emu, bot)


@pytest.mark.parametrize("workers", ["0", "1"])
def test_sigterm_while_the_engine_loads_exits_at_once(
    tmp_path: Path, processes: list[BotProcess], workers: str
) -> None:
    """A fresh index directory: the engine builds its index, which takes a while. With no
    worker processes the engine loads in the bot's own main thread."""
    emu = BotApiEmulator(port=free_port())
    bot = BotProcess(
        emu,
        tmp_path / "state",
        tmp_path / "fresh-index",
        tmp_path / "bot.log",
        fresh_interpreter=True,  # torch loaded is the sign that the engine loads
        BOT_ENGINE_WORKERS=workers,
    )
    processes.append(bot)
    if workers == "0":
        loading = emu.wait_for(lambda: loading_torch(bot.pid), timeout=60, interval=0.05)
        children: set[int] = set()
    else:
        # Children are read again each time: the first one may be multiprocessing's
        # resource tracker, with the worker still to come.
        loading = emu.wait_for(
            lambda: any(map(loading_torch, children_of(bot.pid))), timeout=60, interval=0.05
        )
        children = children_of(bot.pid)
    assert loading and not bot.lines(ATTEMPT), bot.output()  # not connecting yet
    assert bot.stop(timeout=STOP_TIMEOUT) == 0, bot.output()[-3000:]
    emu.wait_for(lambda: not any(map(alive, children)), timeout=10, description="no worker")
    _assert_clean(emu, bot)


def test_sigterm_while_a_second_worker_loads_exits_at_once(
    index_dir: Path, tmp_path: Path, processes: list[BotProcess]
) -> None:
    """The second worker starts once the first is ready, as the bot turns to Telegram."""
    emu = BotApiEmulator(port=free_port())
    bot = BotProcess(
        emu, tmp_path / "state", index_dir, tmp_path / "bot.log", BOT_ENGINE_WORKERS="2"
    )
    processes.append(bot)
    bot.wait_for_lines(ATTEMPT, 1)
    children = children_of(bot.pid)
    assert bot.stop(timeout=STOP_TIMEOUT) == 0, bot.output()[-3000:]
    emu.wait_for(lambda: not any(map(alive, children)), timeout=10, description="no worker")
    _assert_clean(emu, bot)
    assert "never retrieved" not in bot.output()


def test_a_refused_token_stops_start_up_in_one_line(
    index_dir: Path, tmp_path: Path, processes: list[BotProcess]
) -> None:
    with BotApiEmulator(token="654321:OTHER-token") as emu:  # noqa: S106 - made up
        wrong = "123456:WRONG-token-given"
        bot = BotProcess(
            emu,
            tmp_path / "state",
            index_dir,
            tmp_path / "bot.log",
            BOT_ENGINE_WORKERS="0",
            TELEGRAM_BOT_TOKEN=wrong,
        )
        processes.append(bot)
        assert bot.process.wait(120) == 2, bot.output()
    output = bot.output()
    assert output.strip().splitlines()[-1] == (
        "error: TELEGRAM_BOT_TOKEN: Telegram refused this token"
    ), output
    assert wrong not in output and "WRONG-token-given" not in output
    _assert_clean(emu, bot)


def test_telegram_not_there_at_start_is_waited_for_and_one_instance_per_state_directory(
    index_dir: Path, tmp_path: Path, processes: list[BotProcess]
) -> None:
    """The first bot starts before Telegram is there: it tries again, a line an attempt,
    until it is. A second `run` on its state directory is refused in one line and the first
    serves on; once the first is killed, a third takes the directory over."""
    state = tmp_path / "state"
    emu = BotApiEmulator(port=free_port())  # not started: connections are refused
    first = BotProcess(emu, state, index_dir, tmp_path / "first.log", BOT_ENGINE_WORKERS="0")
    processes.append(first)
    first.wait_for_lines(ATTEMPT, 2)
    with emu:
        first.started()
        _ask(emu, "Early")
        _assert_one_line_per_attempt(first)
        getme = len(emu.calls("getMe"))

        second = BotProcess(emu, state, index_dir, tmp_path / "second.log", BOT_ENGINE_WORKERS="0")
        processes.append(second)
        assert second.process.wait(60) == 1, second.output()
        (line,) = second.output().strip().splitlines()
        assert line.startswith("error: BOT_STATE_DIR ")
        assert str(state) in line and f"pid {first.pid}" in line
        assert len(emu.calls("getMe")) == getme  # it never reached Telegram
        _ask(emu, "Still served")

        first.process.send_signal(signal.SIGKILL)
        first.process.wait(30)
        third = BotProcess(emu, state, index_dir, tmp_path / "third.log", BOT_ENGINE_WORKERS="0")
        processes.append(third)
        third.started()
        _ask(emu, "After the kill")
        assert third.stop() == 0
    _assert_clean(emu, first, second, third)


# --- in-process: the same start-up with an injected backoff, fast ---------------------------
def _serve_in_thread(
    emu: BotApiEmulator, engine: Engine, state: Path
) -> tuple[threading.Thread, asyncio.AbstractEventLoop, asyncio.Event, list[BaseException]]:
    application = build_application(bot_settings(emu, state), EngineThread(engine))
    loop, stop, errors = asyncio.new_event_loop(), asyncio.Event(), []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve(application, stop, retry_delays=itertools.repeat(0.05)))
        except BaseException as exc:  # reported to the test
            errors.append(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="bot-under-test", daemon=True)
    thread.start()
    return thread, loop, stop, errors


def _attempts(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(ATTEMPT)]


def _assert_quiet(caplog: pytest.LogCaptureFixture) -> None:
    """No traceback below ERROR, no error at all, no unclosed HTTP session."""
    gc.collect()
    assert not [r for r in caplog.records if r.exc_info and r.levelno < logging.ERROR]
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if "Unclosed" in r.getMessage()]


def test_start_up_backoff_is_injectable_and_retries_until_telegram_answers(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emu = BotApiEmulator(port=free_port())
    caplog.set_level(logging.INFO)
    thread, loop, stop, errors = _serve_in_thread(emu, engine, tmp_path / "state")
    emu.wait_for(lambda: len(_attempts(caplog)) >= 3 or errors, timeout=30)
    with emu:
        emu.wait_for(lambda: emu.calls("deleteWebhook") or errors, timeout=30)
        assert not errors, errors
        _ask(emu, "Patient")
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
    assert not thread.is_alive() and not errors, errors
    attempts = [r.getMessage() for r in _attempts(caplog)]
    assert _attempt_numbers(attempts) == list(range(1, len(attempts) + 1)), attempts
    _assert_quiet(caplog)


def test_stop_during_start_up_ends_it_at_once(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emu = BotApiEmulator(port=free_port())
    thread, loop, stop, errors = _serve_in_thread(emu, engine, tmp_path / "state")
    emu.wait_for(lambda: len(_attempts(caplog)) >= 2 or errors, timeout=30)
    loop.call_soon_threadsafe(stop.set)
    thread.join(STOP_TIMEOUT)
    assert not thread.is_alive() and not errors, errors
    _assert_quiet(caplog)
