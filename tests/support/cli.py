"""`python -m bot ARGS` run in the test process: `bot.cli.main` with the environment, working
directory, standard streams and exit code a process would have, and the session's model.

A process pays about 8 s of imports and model loading before it does anything; in the test
process those are paid once. Tests about what only a process shows (the entry point's exit
code, bytes on stdin under a locale, signals, the lock between two processes, a child's
output, worker processes) start a real one with the `run_bot` fixture instead.
"""

from __future__ import annotations

import io
import logging
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

import bot.manage
import knowledge.engine
from bot.cli import main
from bot.settings import Settings
from knowledge.config import default_crosslingual_dir, default_second_stage_dir
from knowledge.embedding import TUNED_MODEL, Encoder, default_model_cache_dir

RunBot = Callable[..., subprocess.CompletedProcess[str]]  # `python -m bot ARGS` as a process
CliRun = Callable[..., subprocess.CompletedProcess[str]]  # the same in the test process


def share_encoder(monkeypatch: pytest.MonkeyPatch, encoder: Encoder) -> None:
    """Every place the command line builds the default model gets `encoder` instead (any
    other model, or another query precision, is still loaded for real)."""

    def build(model: str, query_precision: Any = "auto", cache_dir: Path | None = None) -> Encoder:
        if model == TUNED_MODEL and query_precision == "auto":
            return encoder
        return Encoder(model, query_precision, cache_dir=cache_dir)

    for module in (knowledge.engine, bot.manage):
        monkeypatch.setattr(module, "Encoder", build)


def _settings_variables() -> set[str]:
    return {name.upper() for name in Settings.model_fields} | set(Settings.model_fields)


class _Capture(io.TextIOWrapper):
    """A standard stream as a pipe gives one: text over bytes, not a terminal, in the
    encoding PYTHONIOENCODING would give (`encoding[:errors]`)."""

    def __init__(self, data: bytes = b"", io_encoding: str = "utf-8:strict") -> None:
        encoding, _, errors = io_encoding.partition(":")
        super().__init__(
            io.BytesIO(data), encoding=encoding, errors=errors or "strict", newline="\n"
        )

    def text(self) -> str:
        self.flush()
        raw = self.buffer
        assert isinstance(raw, io.BytesIO)
        return raw.getvalue().decode("utf-8")


def run_main(
    args: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    stdin: bytes = b"",
    io_encoding: str = "utf-8:strict",
    monkeypatch: pytest.MonkeyPatch,
) -> subprocess.CompletedProcess[str]:
    """`bot.cli.main(args)` with exactly the settings in `env` (no other setting from this
    process's environment), in `cwd`; its output as a finished process's, stdout and stderr
    decoded strictly as UTF-8 (whatever `io_encoding` the streams have, as PYTHONIOENCODING
    would set it). Logging and the standard streams are put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    streams = sys.stdin, sys.stdout, sys.stderr
    sigterm = signal.getsignal(signal.SIGTERM)  # `run` lets SIGTERM stop its start-up
    out, err = _Capture(io_encoding=io_encoding), _Capture(io_encoding=io_encoding)
    with monkeypatch.context() as patch:
        for name in _settings_variables() - set(env):
            patch.delenv(name, raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        patch.chdir(cwd)
        sys.stdin, sys.stdout, sys.stderr = _Capture(stdin, io_encoding), out, err
        try:
            code = main(args)
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            for stream in (sys.stdout, sys.stderr):  # the masking wrappers hold text back
                stream.flush()
            sys.stdin, sys.stdout, sys.stderr = streams
            root.handlers[:] = handlers
            root.setLevel(level)
            logging.captureWarnings(False)
            signal.signal(signal.SIGTERM, sigterm)
    return subprocess.CompletedProcess(["python", "-m", "bot", *args], code, out.text(), err.text())


def clean_environment(home: Path, cwd: Path, index_dir: Path | None) -> dict[str, str]:
    """The settings a `python -m bot` of the tests runs with: nothing from the real home, no
    token, and everything written under temporary directories."""
    return {
        "TELEGRAM_BOT_TOKEN": "",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(cwd / "data"),  # so each run starts with no added documents
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "KNOWLEDGE_INDEX_DIR": str(index_dir or cwd / "index"),
        # the model exported for ONNX Runtime once, in the cache of the test process
        "KNOWLEDGE_MODEL_CACHE_DIR": str(default_model_cache_dir()),
        # the session's multilingual vectors, made once (the cache of the test process)
        "KNOWLEDGE_CROSSLINGUAL_DIR": str(default_crosslingual_dir()),
        # and the second stage's model and vectors, likewise; bot processes answer without
        # it (mpnet would load in each), except where a test turns it on
        "KNOWLEDGE_SECOND_STAGE_DIR": str(default_second_stage_dir()),
        "KNOWLEDGE_SECOND_STAGE": "false",
        "BOT_STATE_DIR": str(cwd / "state"),
    }
