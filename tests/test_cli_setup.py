"""`python -m bot` and run.sh over bad set-ups: a base URL that cannot be, a state directory
that cannot be used, a token only `run` needs, a `.env` written like a shell script."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from knowledge import Engine
from tests.support.cli import CliRun
from tests.support.data import REPO

TOKEN = "123456:TEST-token"  # noqa: S105 - a made-up token


def _no_token(result: subprocess.CompletedProcess[str], token: str = TOKEN) -> None:
    assert token not in result.stdout + result.stderr


def _one_line(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code, result.stderr
    _no_token(result)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/bot",
        "http://127.0.0.1:0/bot",
        "https://:8081/bot",
        "http://api.telegram.org:http/bot",
    ],
)
def test_run_refuses_a_base_url_that_cannot_be(cli: CliRun, url: str) -> None:
    line = _one_line(cli("run", env={"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": url}))
    assert line.startswith("error: TELEGRAM_BASE_URL: ")
    assert TOKEN not in line


@pytest.mark.parametrize("where", ["under a file", "is a file"])
def test_run_with_an_unusable_state_dir_names_it(cli: CliRun, tmp_path: Path, where: str) -> None:
    """Root ignores permissions, so a regular file stands in the way instead."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory", encoding="utf-8")
    state = blocker / "state" if where == "under a file" else blocker
    line = _one_line(cli("run", env={"TELEGRAM_BOT_TOKEN": TOKEN, "BOT_STATE_DIR": str(state)}))
    assert line.startswith("error: BOT_STATE_DIR: ")
    assert str(state) in line


def test_ask_works_with_a_malformed_token_it_does_not_need(cli: CliRun, engine: Engine) -> None:
    result = cli(
        "ask",
        "When was the small giants list introduced?",
        env={"TELEGRAM_BOT_TOKEN": "not-a-token"},
        index_dir=engine.config.index_dir,
    )
    assert result.returncode == 0, result.stderr
    assert "introduced in 2019" in result.stdout
    _no_token(result, "not-a-token")


def test_chat_with_an_unusable_state_dir_warns_once_at_most(
    cli: CliRun, engine: Engine, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory", encoding="utf-8")
    result = cli(
        "chat",
        env={"BOT_STATE_DIR": str(blocker / "state"), "TELEGRAM_BOT_TOKEN": "not-a-token"},
        stdin="What does the label entitle a company to?\n/quit\n",
        index_dir=engine.config.index_dir,
    )
    assert result.returncode == 0, result.stderr
    assert "subsidies" in result.stdout
    _no_token(result, "not-a-token")
    assert "Traceback" not in result.stderr
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) <= 1, result.stderr
    assert all(str(blocker / "state") in line for line in warnings)


def _fake_checkout(root: Path) -> Path:
    """run.sh in a folder whose set-up steps and Python only record how they were called."""
    shutil.copy(REPO / "run.sh", root / "run.sh")
    (root / "scripts").mkdir()
    (root / ".venv" / "bin").mkdir(parents=True)
    for script, body in (
        (root / "scripts" / "bootstrap.sh", "#!/bin/sh\nexit 0\n"),
        (root / ".venv" / "bin" / "python", '#!/bin/sh\necho "$*" >> "$(dirname "$0")/calls"\n'),
    ):
        script.write_text(body, encoding="utf-8")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return root / ".venv" / "bin" / "calls"


@pytest.mark.parametrize(
    ("dot_env", "command"),
    [
        (f"TELEGRAM_BOT_TOKEN={TOKEN}\n", "run"),
        (f"export TELEGRAM_BOT_TOKEN={TOKEN}\n", "run"),
        (f'LOG_LEVEL=debug\n  export TELEGRAM_BOT_TOKEN="{TOKEN}"\n', "run"),
        ("TELEGRAM_BOT_TOKEN=\n", "chat"),
        (f"# TELEGRAM_BOT_TOKEN={TOKEN}\n", "chat"),
        (None, "chat"),
    ],
)
def test_run_sh_serves_telegram_when_dot_env_has_a_token(
    tmp_path: Path, dot_env: str | None, command: str
) -> None:
    calls = _fake_checkout(tmp_path)
    if dot_env is not None:
        (tmp_path / ".env").write_text(dot_env, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run(
        ["bash", str(tmp_path / "run.sh")],
        cwd=elsewhere,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        check=True,
        timeout=60,
    )
    # one Python process: the model loads once (the command builds the index if needed)
    assert calls.read_text(encoding="utf-8").splitlines() == [f"-m bot {command}"]
