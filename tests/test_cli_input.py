"""`python -m bot ask` with input no locale promised: bad UTF-8 bytes, line separators.

The standard streams in each encoding PYTHONIOENCODING can give are set up in the test
process; one real process shows the same with the interpreter's own streams."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from knowledge import Engine
from tests.support.cli import CliRun

QUESTIONS = [
    b"When was the small giants list introduced?",
    b"caf\xc3\xa9 \xff\xfe bad bytes about subsidies \xc3",
    b"How much of China's GDP did SMEs contribute in 2018?",
    "line\u2028separator question".encode(),
]


def _ask_json_process(stdin: bytes, engine: Engine, io_encoding: str, *args: str) -> bytes:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HF_HUB_OFFLINE": "1",
        "KNOWLEDGE_INDEX_DIR": str(engine.config.index_dir),
        "PYTHONIOENCODING": io_encoding,
        "LC_ALL": "C.UTF-8",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert b"Traceback" not in result.stderr
    return result.stdout


def _ask_json(cli: CliRun, stdin: bytes, engine: Engine, io_encoding: str, *args: str) -> str:
    """The same in the test process: its output decoded strictly as UTF-8."""
    result = cli(
        "ask",
        "--json",
        *args,
        stdin=stdin,
        index_dir=engine.config.index_dir,
        io_encoding=io_encoding,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _check_lines(text: str) -> None:
    lines = text.split("\n")
    assert lines[-1] == ""
    objects = [json.loads(line) for line in lines[:-1]]
    assert len(objects) == len(QUESTIONS)
    assert objects[1]["question"] == "café \ufffd\ufffd bad bytes about subsidies \ufffd"
    assert objects[3]["question"] == "line\u2028separator question"
    assert "\u2028" not in text, "U+2028 stays escaped in the JSON text"
    assert not objects[0]["abstained"] and not objects[2]["abstained"]


@pytest.mark.parametrize("io_encoding", ["utf-8:strict", "utf-8:surrogateescape", "ascii"])
def test_every_line_gets_one_valid_utf8_json_line(
    cli: CliRun, engine: Engine, io_encoding: str
) -> None:
    _check_lines(_ask_json(cli, b"\n".join(QUESTIONS) + b"\n", engine, io_encoding))


def test_a_process_with_ascii_streams_writes_utf8_json_lines(engine: Engine) -> None:
    out = _ask_json_process(b"\n".join(QUESTIONS) + b"\n", engine, "ascii")
    _check_lines(out.decode("utf-8"))  # strict: the whole output is valid UTF-8


def test_a_bad_byte_in_the_argument_is_replaced(cli: CliRun, engine: Engine) -> None:
    question = os.fsdecode(b"subsidies \xff for little giants?")
    out = _ask_json(cli, b"", engine, "utf-8:strict", question)
    (obj,) = [json.loads(line) for line in out.splitlines()]
    assert obj["question"] == "subsidies \ufffd for little giants?"
