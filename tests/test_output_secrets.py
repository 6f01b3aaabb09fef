"""The token never reaches the output: log lines, uncaught tracebacks in any thread, asyncio's
reports, warnings, prints, the engine worker processes, and the command line's errors."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.logs import MASK, RedactingStream
from knowledge import Engine, EngineConfig
from knowledge.embedding import Encoder
from tests.support.botrunner import BotProcess
from tests.support.cli import CliRun
from tests.support.data import CORPUS_DIR, REPO
from tests.support.emulator import BotApiEmulator
from tests.support.reliability import TAX_ANSWER, TAX_QUESTION, texts

TOKEN = "123456:TEST-token"  # noqa: S105 - the emulator's made-up token
SECRETS = [TOKEN, TOKEN.partition(":")[2]]
URL = f"http://127.0.0.1:8081/bot{TOKEN}/getMe"


def _assert_masked(output: str) -> None:
    assert TOKEN not in output, output
    assert SECRETS[1] not in output, output
    assert MASK in output, output  # it was there, masked


def test_a_secret_written_in_pieces_is_masked() -> None:
    sink = io.StringIO()
    stream = RedactingStream(sink, SECRETS)
    for piece in ("GET ", URL[:30], URL[30:36], URL[36:], "\n", "prompt> "):
        stream.write(piece)
    assert sink.getvalue() == f"GET http://127.0.0.1:8081/bot{MASK}/getMe\n"  # lines only
    stream.flush()  # a prompt or progress bar goes out on flush
    assert sink.getvalue().endswith("\nprompt> ")


def test_an_unsplit_line_is_masked_token_first() -> None:
    sink = io.StringIO()
    RedactingStream(sink, SECRETS).write(f"{TOKEN} and {SECRETS[1]} alone\n")
    assert sink.getvalue() == f"{MASK} and {MASK} alone\n"


_FAULTS = {
    "uncaught in the main thread": f"raise RuntimeError({URL!r})",
    "uncaught in a thread": f"""
        import threading
        def fail():
            raise ConnectionError({URL!r})
        thread = threading.Thread(target=fail)
        thread.start()
        thread.join()
    """,
    "asyncio task never awaited": f"""
        import asyncio, gc
        async def fail():
            raise OSError({URL!r})
        async def main():
            asyncio.get_running_loop().create_task(fail())
            await asyncio.sleep(0.01)
        asyncio.run(main())
        gc.collect()
    """,
    "asyncio callback": f"""
        import asyncio
        def fail():
            raise OSError({URL!r})
        async def main():
            asyncio.get_running_loop().call_soon(fail)
            await asyncio.sleep(0.01)
        asyncio.run(main())
    """,
    "warning": f"import warnings; warnings.warn({URL!r}, stacklevel=1)",
    "print in pieces": f"""
        import sys
        print("calling", {URL!r}[:40], end="")
        print({URL!r}[40:])
        sys.stdout.write("no newline at exit: " + {TOKEN!r})
    """,
    "log record with a traceback": f"""
        import logging
        try:
            raise ValueError({URL!r})
        except ValueError:
            logging.getLogger("bot").exception("request to %s failed", {URL!r})
    """,
}


@pytest.mark.parametrize("fault", list(_FAULTS.values()), ids=list(_FAULTS))
def test_every_way_out_of_a_process_is_masked(fault: str) -> None:
    script = "from bot.logs import configure_logging\n"
    script += f"configure_logging('INFO', {SECRETS!r})\n" + textwrap.dedent(fault)
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
        check=False,
    )
    _assert_masked(result.stdout + result.stderr)


def test_a_crash_of_run_prints_a_masked_traceback(tmp_path: Path) -> None:
    """An error nothing catches, carrying the request URL, through `python -m bot run`."""
    script = textwrap.dedent(f"""
        import runpy, sys
        import bot.surface.app
        def crash(settings, loaded):
            raise RuntimeError("cannot reach " + settings.telegram_base_url + {TOKEN!r})
        bot.surface.app.run_bot = crash
        sys.argv = ["bot", "run"]
        runpy.run_module("bot", run_name="__main__")
    """)
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "BOT_STATE_DIR": str(tmp_path / "state"),
        },
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "RuntimeError: cannot reach" in result.stderr
    _assert_masked(result.stderr)


def test_a_state_dir_error_naming_the_token_is_masked(cli: CliRun, tmp_path: Path) -> None:
    blocker = tmp_path / TOKEN
    blocker.write_text("a file, not a directory", encoding="utf-8")
    result = cli(
        "run",
        env={"TELEGRAM_BOT_TOKEN": TOKEN, "BOT_STATE_DIR": str(blocker / "state")},
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: BOT_STATE_DIR: ")
    _assert_masked(result.stderr)


def _corrupt_index_under_the_token(encoder: Encoder, root: Path) -> tuple[Path, Path]:
    """A one-document corpus (the one that answers TAX_QUESTION) and its index in a folder
    named like the token, with a manifest that does not parse: the engine warns, naming
    the folder, and rebuilds (one document: in a moment)."""
    corpus, index = root / "corpus", root / TOKEN / "index"
    corpus.mkdir()
    shutil.copy(CORPUS_DIR / "china-picks-3000-small-giants.md", corpus)
    Engine.load(EngineConfig(corpus_dir=corpus, index_dir=index), encoder=encoder)
    (index / "manifest.json").write_text("{not json", encoding="utf-8")
    return corpus, index


def test_run_with_an_engine_worker_masks_the_worker_output_too(
    encoder: Encoder, tmp_path: Path
) -> None:
    """A worker warns that the index at a path holding the token is corrupt, and rebuilds
    it: the initializer `run` gives its workers masks the worker's output as the bot's."""
    with BotApiEmulator(token=TOKEN) as emu:
        corpus, index = _corrupt_index_under_the_token(encoder, tmp_path)
        bot = BotProcess(
            emu,
            tmp_path / "state",
            index,
            tmp_path / "bot.log",
            BOT_ENGINE_WORKERS="1",
            KNOWLEDGE_CORPUS_DIR=str(corpus),
        )
        try:
            bot.started(timeout=180)
            user = emu.new_user("Asker")
            chat = emu.private_chat(user)
            emu.send_message(chat, user, TAX_QUESTION)
            emu.wait_for(lambda: emu.delivered(chat["id"]) >= 1, timeout=60)
            assert TAX_ANSWER in texts(emu, chat["id"])[0]
            assert bot.stop() == 0
        finally:
            bot.kill()
    assert bot.lines("not used"), bot.output()  # the worker's warning, in the bot's log
    _assert_masked(bot.output())
