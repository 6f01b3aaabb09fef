"""Logging set-up, and standard output and error that never show a secret.

Log lines are masked by their formatter. Everything else a process can print reaches
`sys.stdout` or `sys.stderr`: uncaught tracebacks (`sys.excepthook`, `threading.excepthook`),
asyncio's reports of failed tasks, warnings, anyone's `print`. So both streams are replaced
by ones that mask the secrets too.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Sequence
from typing import Any, TextIO, cast

MASK = "<token>"
_HOLD_LIMIT = 65_536  # characters of an unfinished line held back at most


def redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


class RedactingFormatter(logging.Formatter):
    """Replaces each secret with a mask in the whole formatted record, tracebacks included."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


class RedactingStream(io.TextIOBase):
    """A text stream that masks secrets on their way to `stream`.

    Text goes out a whole line at a time (or on `flush`, as prompts and progress bars
    need), so a secret written in several pieces is masked too. Its `encoding` and `errors`
    are the stream's, as they were when it was wrapped.
    """

    # Slots, because io.TextIOBase's own `encoding` and `errors` cannot be assigned.
    __slots__ = ("encoding", "errors")
    encoding: str
    errors: str | None

    def __init__(self, stream: TextIO, secrets: Sequence[str]) -> None:
        super().__init__()
        self.stream = stream
        self.encoding = stream.encoding
        self.errors = stream.errors
        self._secrets = list(secrets)
        self._held = ""
        self._lock = threading.RLock()

    def write(self, text: str) -> int:
        with self._lock:
            lines, newline, self._held = (self._held + text).rpartition("\n")
            if newline:
                self._emit(lines + newline)
            if len(self._held) > _HOLD_LIMIT:
                self._emit(self._held)
                self._held = ""
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._held:
                self._emit(self._held)
                self._held = ""
            self.stream.flush()

    def _emit(self, text: str) -> None:
        self.stream.write(redact(text, self._secrets))

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def __getattr__(self, name: str) -> Any:  # buffer, reconfigure, ...: the stream's own
        return getattr(self.stream, name)


def protect_output(secrets: Sequence[str]) -> None:
    """Mask `secrets` in everything this process writes to standard output and error."""
    secrets = [s for s in secrets if s]
    if not secrets:
        return
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, RedactingStream):
            setattr(sys, name, cast(TextIO, RedactingStream(stream, secrets)))


def configure_logging(level: str, secrets: Sequence[str]) -> None:
    """Log to standard error, warnings included, with `secrets` masked there and on standard
    output; quieten httpx and aiohttp, whose lines can carry request URLs."""
    protect_output(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    for noisy in ("httpx", "httpcore", "aiohttp", "sentence_transformers", "transformers", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
