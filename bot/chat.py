"""`python -m bot chat`: the engine in a terminal conversation, no Telegram needed."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from bot import messages
from bot.render import terminal
from bot.settings import Settings
from knowledge import Engine


def _readline() -> ModuleType | None:
    """The line editor with history; not on every platform, and the chat works without."""
    try:
        return importlib.import_module("readline")
    except ImportError:
        return None


readline = _readline()


def chat(engine: Engine, settings: Settings) -> int:
    """Read questions until Ctrl-D; /sources and /help are commands, anything else a question."""
    history = settings.bot_state_dir / "chat_history"
    _load_history(history)
    print(messages.CHAT_BANNER.format(count=len(engine.documents)))
    color = sys.stdout.isatty()
    while True:
        try:
            line = input(messages.CHAT_PROMPT)
        except EOFError:
            print(f"\n{messages.CHAT_BYE}")
            break
        except KeyboardInterrupt:
            print()
            continue
        command = line.strip().lower()
        if command in {"/quit", "/exit"}:
            print(messages.CHAT_BYE)
            break
        if command in {"/help", "/start"}:
            print(messages.CHAT_BANNER.format(count=len(engine.documents)))
        elif command == "/sources":
            print(terminal.render_sources([doc.info for doc in engine.documents]))
        else:
            print(terminal.render_answer(engine.answer(line), color=color))
        print()
    _save_history(history)
    return 0


def _load_history(path: Path) -> None:
    """The last chats' questions, for the up arrow; a warning if they cannot be read."""
    if readline is None or not path.exists():
        return
    try:
        readline.read_history_file(path)
    except OSError as exc:
        _warn(messages.CHAT_HISTORY_NOT_READ, path, exc)


def _save_history(path: Path) -> None:
    """Keep this chat's questions; a warning, not a crash, when BOT_STATE_DIR is unusable."""
    if readline is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        readline.set_history_length(1000)
        readline.write_history_file(path)
    except OSError as exc:
        _warn(messages.CHAT_HISTORY_NOT_SAVED, path, exc)


def _warn(message: str, path: Path, exc: OSError) -> None:
    print(message.format(path=path, reason=exc.strerror or exc), file=sys.stderr)
