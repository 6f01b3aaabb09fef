"""Start-up as operators meet it: Telegram not there yet (retried with backoff, one line an
attempt), a refused token (one line), and a second `run` on the same state directory
(refused in one line; the first one serves on, and a SIGKILL frees the directory); and, in
process, the backoff injected and a stop during start-up. SIGTERM during start-up is in
test_reliability_sigterm.py."""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import signal
import threading
from pathlib import Path

import pytest

from bot.serving.backends import EngineThread
from bot.surface.app import build_application, serve
from knowledge import Engine
from tests.support.botrunner import BotProcess, bot_settings
from tests.support.emulator import BotApiEmulator, free_port
from tests.support.startup import (
    ATTEMPT,
    STOP_TIMEOUT,
    ask,
    assert_clean,
    assert_one_line_per_attempt,
    attempt_numbers,
)


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
    assert_clean(emu, bot)


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
        ask(emu, "Early")
        assert_one_line_per_attempt(first)
        getme = len(emu.calls("getMe"))

        second = BotProcess(emu, state, index_dir, tmp_path / "second.log", BOT_ENGINE_WORKERS="0")
        processes.append(second)
        assert second.process.wait(60) == 1, second.output()
        (line,) = second.output().strip().splitlines()
        assert line.startswith("error: BOT_STATE_DIR ")
        assert str(state) in line and f"pid {first.pid}" in line
        assert len(emu.calls("getMe")) == getme  # it never reached Telegram
        ask(emu, "Still served")

        first.process.send_signal(signal.SIGKILL)
        first.process.wait(30)
        third = BotProcess(emu, state, index_dir, tmp_path / "third.log", BOT_ENGINE_WORKERS="0")
        processes.append(third)
        third.started()
        ask(emu, "After the kill")
        assert third.stop() == 0
    assert_clean(emu, first, second, third)


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
        ask(emu, "Patient")
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
    assert not thread.is_alive() and not errors, errors
    attempts = [r.getMessage() for r in _attempts(caplog)]
    assert attempt_numbers(attempts) == list(range(1, len(attempts) + 1)), attempts
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
