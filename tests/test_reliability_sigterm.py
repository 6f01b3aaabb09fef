"""SIGTERM at any point of start-up, as operators meet it: while Telegram is not there,
while the engine loads (in the bot or in a worker), while a second worker loads. Each gives
a prompt, clean exit, and leaves no process behind. `python -m bot run` as a process."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from bot import cli
from bot.settings import Settings
from tests.support.botrunner import BotProcess
from tests.support.emulator import BotApiEmulator, free_port
from tests.support.processes import alive, descendants_of, loading_the_model
from tests.support.startup import (
    ATTEMPT,
    STOP_TIMEOUT,
    assert_clean,
    assert_one_line_per_attempt,
)


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
    assert_one_line_per_attempt(bot)
    assert_clean(emu, bot)


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
        # ONNX Runtime loaded is the sign that the engine loads: in the bot itself, which must
        # not have it from the zygote, or in a worker
        fresh_interpreter=workers == "0",
        BOT_ENGINE_WORKERS=workers,
    )
    processes.append(bot)
    if workers == "0":
        loading = emu.wait_for(lambda: loading_the_model(bot.pid), timeout=60, interval=0.05)
        children: set[int] = set()
    else:
        # Read again each time: the first child may be multiprocessing's resource tracker,
        # with the fork server and its first worker still to come.
        loading = emu.wait_for(
            lambda: any(map(loading_the_model, descendants_of(bot.pid))), timeout=60, interval=0.05
        )
        children = descendants_of(bot.pid)
    assert loading and not bot.lines(ATTEMPT), bot.output()  # not connecting yet
    assert bot.stop(timeout=STOP_TIMEOUT) == 0, bot.output()[-3000:]
    # A fork server stopped in its imports ends when they do (it cannot be told sooner),
    # without starting a worker.
    emu.wait_for(lambda: not any(map(alive, children)), timeout=60, description="no worker")
    assert_clean(emu, bot)


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
    children = descendants_of(bot.pid)
    assert bot.stop(timeout=STOP_TIMEOUT) == 0, bot.output()[-3000:]
    emu.wait_for(lambda: not any(map(alive, children)), timeout=10, description="no worker")
    assert_clean(emu, bot)
    assert "never retrieved" not in bot.output()


@pytest.mark.parametrize("interrupt", ["turned into an ImportError", "swallowed", "none"])
def test_a_sigterm_whose_interrupt_start_up_lost_still_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interrupt: str
) -> None:
    """A signal during a C extension's import comes out as an ImportError (onnxruntime's
    does), and a fallback may swallow what remains: start-up still stops, cleanly. Without
    a signal, the error is reported."""
    import bot.surface.app  # noqa: PLC0415 - `_run` imports it late

    def start(settings: Settings, loaded: Callable[[], None]) -> int:
        try:
            if interrupt != "none":
                os.kill(os.getpid(), signal.SIGTERM)
        except KeyboardInterrupt as exc:
            if interrupt == "turned into an ImportError":
                raise ImportError("initialization failed") from exc
        loaded()  # the engine is loaded: a stop that came meanwhile must end start-up here
        if interrupt == "none":
            raise ImportError("initialization failed")
        return 99  # it went on to serve: the stop was lost

    monkeypatch.setattr(bot.surface.app, "run_bot", start)
    token = "123456:ABC-made-up"  # noqa: S105 - not a real one
    settings = Settings(telegram_bot_token=token, bot_state_dir=tmp_path / "s")
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        if interrupt == "none":
            with pytest.raises(ImportError, match="initialization failed"):
                cli._run(settings)
        else:
            assert cli._run(settings) == cli.EXIT_OK
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
