"""Run the real bot against the emulator: in a thread of the test process, or as a process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.sending.ratelimit import GROUP_WINDOW_SECONDS
from bot.serving.backends import AnswerBackend, EngineThread
from bot.settings import Settings, load_settings
from bot.surface.app import build_application, serve
from bot.surface.services import Services, application_services
from knowledge import Engine
from knowledge.embedding import default_model_cache_dir

from .data import REPO
from .emulator import BotApiEmulator
from .telegram_html import check_message
from .zygote import ForkedProcess, Zygote


@dataclass
class RunningBot:
    """A bot serving in a background thread; `services` is its shared state."""

    settings: Settings
    services: Services
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    stop_event: asyncio.Event

    def stop(self, timeout: float = 30) -> None:
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the bot did not stop"


def bot_settings(emu: BotApiEmulator, state_dir: Path, **overrides: Any) -> Settings:
    return load_settings(
        telegram_bot_token=emu.token,
        telegram_base_url=emu.base_url,
        bot_state_dir=state_dir,
        **overrides,
    )


@contextmanager
def running_bot(
    emu: BotApiEmulator,
    engine: Engine | AnswerBackend,
    state_dir: Path,
    *,
    group_window: float = GROUP_WINDOW_SECONDS,
    **overrides: Any,
) -> Iterator[RunningBot]:
    """The real Application (build_application + serve) polling the emulator; answers come
    from `engine` in a thread, or from a backend such as a fake one."""
    settings = bot_settings(emu, state_dir, **overrides)
    backend = EngineThread(engine) if isinstance(engine, Engine) else engine
    application = build_application(settings, backend, group_window=group_window)
    loop = asyncio.new_event_loop()
    stop_event = asyncio.Event()
    errors: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve(application, stop_event))
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            loop.close()

    bootstraps_before = len(emu.calls("deleteWebhook"))  # sent just before the first poll
    thread = threading.Thread(target=run, name="bot-under-test", daemon=True)
    thread.start()
    emu.wait_for(
        lambda: errors or len(emu.calls("deleteWebhook")) > bootstraps_before,
        timeout=30,
        description="the bot to start polling",
    )
    if errors:
        raise errors[0]
    bot = RunningBot(settings, application_services(application), thread, loop, stop_event)
    try:
        yield bot
    finally:
        if thread.is_alive():
            bot.stop()
        if errors:
            raise errors[0]


def bot_process(
    emu: BotApiEmulator,
    state_dir: Path,
    index_dir: Path,
    log_path: Path,
    *,
    fresh_interpreter: bool = False,
    **env: str,
) -> ForkedProcess | subprocess.Popen[bytes]:
    """`python -m bot run` as a separate process, its log in `log_path`: forked by the
    zygote (tests/support/zygote.py), which has the libraries imported already; or, with
    `fresh_interpreter`, a new interpreter that imports them itself (for a test of what
    happens while it does)."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state_dir),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "TELEGRAM_BOT_TOKEN": emu.token,
        "TELEGRAM_BASE_URL": emu.base_url,
        "KNOWLEDGE_INDEX_DIR": str(index_dir),
        "KNOWLEDGE_MODEL_CACHE_DIR": str(default_model_cache_dir()),  # exported once
        "BOT_STATE_DIR": str(state_dir),
        # mpnet would be unpacked and loaded in each bot: tests/test_second_stage.py covers it
        "KNOWLEDGE_SECOND_STAGE": "false",
        **env,
    }
    with log_path.open("ab") as log:
        if fresh_interpreter:
            return subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                cwd=REPO,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return Zygote.shared().start(
            ["run"], env=environment, cwd=REPO, stdout=log.fileno(), stderr=log.fileno()
        )


class BotProcess:
    """`python -m bot run` as a process (see `bot_process`), its output in a log of its own;
    `started` waits for it to poll. Killed by `kill` if still running."""

    def __init__(
        self,
        emu: BotApiEmulator,
        state_dir: Path,
        index_dir: Path,
        log: Path,
        *,
        fresh_interpreter: bool = False,
        **env: str,
    ) -> None:
        self.emu = emu
        self.log = log
        self._menus = len(emu.calls("setMyCommands"))
        self.process = bot_process(
            emu, state_dir, index_dir, log, fresh_interpreter=fresh_interpreter, **env
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def lines(self, text: str) -> list[str]:
        return [line for line in self.output().splitlines() if text in line]

    def started(self, timeout: float = 120) -> BotProcess:
        """Wait until it sets its command menu (after the model and getMe, just before it
        polls); fail with its output if it exits first."""
        self.emu.wait_for(
            lambda: (
                self.process.poll() is not None
                or len(self.emu.calls("setMyCommands")) > self._menus
            ),
            timeout=timeout,
            interval=0.1,
            description="the bot process to start",
        )
        assert self.process.poll() is None, self.output()[-3000:]
        return self

    def wait_for_lines(self, text: str, count: int, timeout: float = 120) -> list[str]:
        """Wait for `count` lines of its output holding `text`; fail if it exits first."""
        self.emu.wait_for(
            lambda: self.process.poll() is not None or len(self.lines(text)) >= count,
            timeout=timeout,
            interval=0.1,
            description=f"{count} lines with {text!r}",
        )
        lines = self.lines(text)
        assert len(lines) >= count, self.output()[-3000:]
        return lines

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60) -> int:
        return stop_process(self.process, signum, timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


def assert_token_hidden(emu: BotApiEmulator, output: str) -> None:
    """Neither the emulator's token nor its secret part (after the colon) is in `output`."""
    secret = emu.token.partition(":")[2]
    assert emu.token not in output, "the token was printed"
    assert secret not in output, "the token's secret part was printed"


def stop_process(
    process: ForkedProcess | subprocess.Popen[bytes],
    signum: int = signal.SIGTERM,
    timeout: float = 60,
) -> int:
    process.send_signal(signum)
    return process.wait(timeout)


def assert_valid_html_everywhere(emu: BotApiEmulator, *, require_success: bool = True) -> None:
    """Every HTML text the bot sent, edited or offered inline is valid Telegram HTML within
    limits; with `require_success`, every send and edit also succeeded (no injected fault)."""
    for call in emu.calls():
        if call.method in {"sendMessage", "editMessageText"}:
            if require_success:
                assert call.status == 200, (call.method, call.status, call.response)
            if call.params.get("parse_mode") == "HTML":
                check_message(call.params["text"])
        if call.method == "answerInlineQuery":
            for result in call.params.get("results", []):
                content = result.get("input_message_content", {})
                if content.get("parse_mode") == "HTML":
                    check_message(content["message_text"])
