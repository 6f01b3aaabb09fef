"""Shared fixtures: one embedding model and one engine per session, and a `python -m bot` runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from knowledge import Engine, EngineConfig
from knowledge.embedding import BUNDLED_MODEL, Encoder

ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = ROOT / "knowledge" / "corpus"

RunBot = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The bundled MiniLM, loaded once for the whole session."""
    return Encoder(BUNDLED_MODEL)


@pytest.fixture(scope="session")
def engine(encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """An engine over the real corpus, its index in a session temporary directory."""
    index_dir = tmp_path_factory.mktemp("engine") / "index"
    return Engine.load(EngineConfig(corpus_dir=CORPUS_DIR, index_dir=index_dir), encoder=encoder)


@pytest.fixture(scope="session")
def run_bot(tmp_path_factory: pytest.TempPathFactory) -> RunBot:
    """Run `python -m bot ARGS` in a clean environment and a temporary working directory.

    `env` adds or overrides variables; `index_dir` sets KNOWLEDGE_INDEX_DIR (a fresh
    temporary directory otherwise). Nothing is written outside temporary directories. The
    code run is this checkout's, and no token comes from a `.env` of the project.
    """
    home = tmp_path_factory.mktemp("cli-home")

    def run(
        *args: str,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        index_dir: Path | None = None,
        timeout: float = 180,
    ) -> subprocess.CompletedProcess[str]:
        cwd = tmp_path_factory.mktemp("cli-cwd")
        clean = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": "",
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / "cache"),
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "KNOWLEDGE_INDEX_DIR": str(index_dir or cwd / "index"),
            "BOT_STATE_DIR": str(cwd / "state"),
        }
        clean.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=clean,
            cwd=cwd,
            timeout=timeout,
            check=False,
        )

    return run
