"""Shared fixtures: one embedding model and one engine per session, and a `python -m bot` runner."""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings as hypothesis_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Documents a test adds without naming a collection folder stay out of the real home.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="little-giants-test-data-")
# ... and caches (the multilingual sentence vectors) out of the real one: one folder for the
# run, shared by pytest-xdist's workers, so the vectors are made once (see `engine`).
os.environ["XDG_CACHE_HOME"] = (
    os.path.join(tempfile.gettempdir(), "little-giants-" + os.environ["PYTEST_XDIST_TESTRUNUID"])
    if "PYTEST_XDIST_TESTRUNUID" in os.environ
    else tempfile.mkdtemp(prefix="little-giants-test-cache-")
)

from knowledge import Engine, EngineConfig
from knowledge.embedding import (
    TUNED_MODEL,
    Encoder,
    default_model_cache_dir,
    model_adapter,
    model_fingerprint,
    resolve_model,
)
from knowledge.onnx_encoder import exported
from tests.support.cli import CliRun, RunBot, clean_environment, run_main, share_encoder
from tests.support.data import CORPUS_DIR, REPO
from tests.support.zygote import Zygote

if TYPE_CHECKING:
    from tests.support.botrunner import BotProcess

# CI replays one fixed set of examples and keeps no example database, so a run is decided
# by the code alone; locally each run explores new examples, more of them.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, max_examples=150)
hypothesis_settings.register_profile("dev", max_examples=400)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")


# Modules whose tests start `python -m bot run` (tests/support/botrunner.py's bot_process),
# longest first.
_PROCESS_MODULES = (
    "test_engine_workers.py",
    "test_reliability_sigterm.py",
    "test_reliability_polling.py",
    "test_reliability_restarts.py",
    "test_reliability_startup.py",
    "test_output_secrets.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With pytest-xdist (`--dist loadfile`) each module runs on one worker, its module
    fixtures built once; the modules that start bot processes go first, longest first, so
    that the workers finish together. No test depends on the order."""

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return _PROCESS_MODULES.index(name) if name in _PROCESS_MODULES else len(_PROCESS_MODULES)

    items.sort(key=rank)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Start the zygote that forks bot processes before the first test that needs it sets up
    its fixtures: it imports the libraries meanwhile. And see that the model is exported
    for ONNX Runtime, so that no bot process of a test exports it itself."""
    if item.path.name in _PROCESS_MODULES:
        Zygote.shared()
        _model_exported()


@functools.cache
def _model_exported() -> None:
    exported(
        model_fingerprint(TUNED_MODEL),
        Path(resolve_model(TUNED_MODEL)),
        model_adapter(TUNED_MODEL),
        default_model_cache_dir(),
    )


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The default model (the bundled MiniLM, tuned), loaded once for the whole session."""
    return Encoder(TUNED_MODEL)


@pytest.fixture(scope="session")
def engine(encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """An engine over the real corpus, its index in a session temporary directory. Under
    pytest-xdist the workers share that directory (the run's, above each worker's own): the
    first builds the index and the multilingual vectors, the others load them. No test
    writes to them."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    with (root / "engine-index.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # The second stage (mpnet) is tested with its own engine, tests/test_second_stage.py.
        config = EngineConfig(
            corpus_dir=CORPUS_DIR, index_dir=root / "engine-index", second_stage=False
        )
        engine = Engine.load(config, encoder=encoder)
        engine.prepare_other_languages()
        return engine


@pytest.fixture(scope="session")
def run_bot(tmp_path_factory: pytest.TempPathFactory) -> RunBot:
    """Run `python -m bot ARGS` in a clean environment and a temporary working directory.

    `env` adds or overrides variables; `index_dir` sets KNOWLEDGE_INDEX_DIR (a fresh
    temporary directory otherwise); the collection folder is a fresh one unless `env` sets
    KNOWLEDGE_COLLECTION_DIR. Nothing is written outside temporary directories. The code run
    is this checkout's, and no token comes from a `.env` of the project.
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
            "PYTHONPATH": str(REPO),  # this checkout's code, whichever one the venv installed
            **clean_environment(home, cwd, index_dir),
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


@pytest.fixture
def cli(
    encoder: Encoder, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> CliRun:
    """`run_bot` in this process (tests/support/cli.py): the same arguments, environment and
    result, without a process start, and with the session's model."""
    home = tmp_path_factory.mktemp("cli-home")
    share_encoder(monkeypatch, encoder)

    def run(
        *args: str,
        env: dict[str, str] | None = None,
        stdin: str | bytes | None = None,
        index_dir: Path | None = None,
        timeout: float = 180,  # unused: the same call as run_bot's
        io_encoding: str = "utf-8:strict",
    ) -> subprocess.CompletedProcess[str]:
        cwd = tmp_path_factory.mktemp("cli-cwd")
        variables = {**clean_environment(home, cwd, index_dir), **(env or {})}
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin or b""
        return run_main(
            list(args),
            env=variables,
            cwd=cwd,
            stdin=data,
            io_encoding=io_encoding,
            monkeypatch=monkeypatch,
        )

    return run


@pytest.fixture(scope="module")
def index_dir(engine: Engine, encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's index for a module's bot processes, which load it without a
    rebuild (a test that changes it works on a copy of its own)."""
    directory = tmp_path_factory.mktemp("index-copy") / "index"
    shutil.copytree(engine.config.index_dir, directory)
    assert Engine.load(EngineConfig(index_dir=directory), encoder=encoder).index_status == "loaded"
    return directory


@pytest.fixture
def processes() -> Iterator[list[BotProcess]]:
    """Bot processes a test starts; killed at its end, whatever happened."""
    started: list[BotProcess] = []
    yield started
    for bot in started:
        bot.kill()
