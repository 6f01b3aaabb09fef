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

from bot.app import build_application, serve
from bot.batcher import AnswerBackend, EngineThread
from bot.services import Services, services
from bot.settings import Settings, load_settings
from knowledge import Engine

from .emulator import BotApiEmulator
from .telegram_html import check_message

REPO = Path(__file__).resolve().parents[2]


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
    emu: BotApiEmulator, engine: Engine | AnswerBackend, state_dir: Path, **overrides: Any
) -> Iterator[RunningBot]:
    """The real Application (build_application + serve) polling the emulator; answers come
    from `engine` in a thread, or from a backend such as a fake one."""
    settings = bot_settings(emu, state_dir, **overrides)
    backend = EngineThread(engine) if isinstance(engine, Engine) else engine
    application = build_application(settings, backend)
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
    bot = RunningBot(settings, services(application), thread, loop, stop_event)  # type: ignore[arg-type]
    try:
        yield bot
    finally:
        if thread.is_alive():
            bot.stop()
        if errors:
            raise errors[0]


def bot_process(
    emu: BotApiEmulator, state_dir: Path, index_dir: Path, log_path: Path, **env: str
) -> subprocess.Popen[bytes]:
    """`python -m bot run` as a separate process, its log in `log_path`."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state_dir),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "TELEGRAM_BOT_TOKEN": emu.token,
        "TELEGRAM_BASE_URL": emu.base_url,
        "KNOWLEDGE_INDEX_DIR": str(index_dir),
        "BOT_STATE_DIR": str(state_dir),
        **env,
    }
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=REPO,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop_process(
    process: subprocess.Popen[bytes], signum: int = signal.SIGTERM, timeout: float = 60
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
