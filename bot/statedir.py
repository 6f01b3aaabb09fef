"""The state directory of `run`: usable, and used by one process at a time.

Two bots polling with one journal would both answer, and fight over the file. The lock is
an `flock` on a file in the directory, so the system releases it when the process ends,
however it ends (SIGKILL included); the file holds the pid of its owner, for the message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from bot import messages
from bot.settings import SettingsError

LOCK_NAME = "run.lock"


class StateDirInUseError(Exception):
    """Another process serves from this state directory; the message is one line."""


@contextlib.contextmanager
def claimed(path: Path) -> Iterator[None]:
    """Create `path` if need be and hold it for this process; SettingsError if it cannot be
    used, StateDirInUseError if another process holds it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise SettingsError(f"BOT_STATE_DIR: cannot use {path}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            message = messages.STATE_DIR_IN_USE.format(path=path, pid=owner)
            raise StateDirInUseError(message) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)
