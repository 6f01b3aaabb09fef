"""`python -m bot` as a user runs it: a clean environment and temporary dirs; in the test
process, but for the entry point's own help and usage error, which run a real process."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from knowledge import Engine, EngineConfig
from knowledge.embedding import Encoder
from tests.support.cli import CliRun, RunBot
from tests.support.data import CORPUS_DIR

COMMANDS = ("run", "chat", "ask", "index", "gaps", "add", "remove", "documents")
ANSI = re.compile(r"\x1b\[")

CONTRACT = {
    "doc_id": str,
    "title": str,
    "publisher": str,
    "text": str,
    "score": float,
}


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


def test_help_lists_the_commands(run_bot: RunBot) -> None:
    result = run_bot("--help")
    assert result.returncode == 0, result.stderr
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", result.stdout, re.MULTILINE), command
    assert result.stderr == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(cli: CliRun, command: str) -> None:
    result = cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ")
    assert command in result.stdout.splitlines()[0]


def test_unknown_command_is_a_usage_error(run_bot: RunBot) -> None:
    result = run_bot("frobnicate")
    assert result.returncode == 2
    assert "frobnicate" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_ask_json_lines_keep_order_and_contract(cli: CliRun, engine: Engine) -> None:
    questions = [
        "When was the small giants list introduced?",
        "",
        "How long should I boil an egg for a runny yolk?",
        "Какая сегодня погода в Москве?",
        "   ",
        "How much of China's GDP did SMEs contribute in 2018?",
        "When was the small giants list introduced?",
        "Who won the 2018 FIFA World Cup final?",
    ]
    result = cli(
        "ask", "--json", stdin="\n".join(questions) + "\n", index_dir=engine.config.index_dir
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(questions), result.stdout
    objects = [json.loads(line) for line in lines]
    assert [o["question"] for o in objects] == questions
    for obj in objects:
        assert isinstance(obj, dict)
        assert isinstance(obj["question"], str)
        assert isinstance(obj["abstained"], bool)
        assert isinstance(obj["citations"], list)
        assert obj["abstained"] == (not obj["citations"])
        for citation in obj["citations"]:
            for key, kind in CONTRACT.items():
                assert isinstance(citation[key], kind), (key, citation)
            assert citation["published"] is None or isinstance(citation["published"], str)
            assert citation["url"] is None or isinstance(citation["url"], str)
            doc = next(d for d in engine.documents if d.doc_id == citation["doc_id"])
            assert citation["text"] in doc.body
            assert citation["title"] == doc.title
    abstained = [o["abstained"] for o in objects]
    assert abstained == [False, True, True, True, True, False, False, True]
    assert objects[3]["kind"] == "other_language"
    assert "2019" in objects[0]["citations"][0]["text"]
    assert objects[0] == objects[6]
    assert any("60%" in c["text"] for c in objects[5]["citations"])


def test_ask_prints_a_readable_answer(cli: CliRun, engine: Engine) -> None:
    result = cli(
        "ask", "When was the small giants list introduced?", index_dir=engine.config.index_dir
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("[1] “")
    assert "introduced in 2019" in out
    source = [line for line in out.splitlines() if "Compete With Silicon Valley" in line]
    assert source, out
    assert "China Picks 3000 'Small Giants'" in source[0]
    assert "Business Insider" in source[0] and "2021" in source[0]
    assert out.index("introduced in 2019") < out.index(source[0])
    assert not ANSI.search(out), "no terminal escapes when stdout is not a terminal"
    assert not out.lstrip().startswith("{")


def test_index_builds_with_progress_in_a_temp_dir(
    cli: CliRun, encoder: Encoder, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in CORPUS_DIR.glob("*.md"):  # enough text for a progress bar to be shown
        shutil.copy(path, corpus / path.name)
    index_dir = tmp_path / "fresh" / "index"
    cache = tmp_path / "cache"
    result = cli(
        "index",
        env={"KNOWLEDGE_CORPUS_DIR": str(corpus), "XDG_CACHE_HOME": str(cache)},
        index_dir=index_dir,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    summary = result.stdout.strip().splitlines()
    assert len(summary) == 1, result.stdout
    expected = r"Index built \(no index yet\): \d+ passages from 5 documents at "
    assert re.fullmatch(expected + re.escape(str(index_dir)), summary[0]), summary[0]
    assert "Embedding" in result.stderr and "100%" in result.stderr  # the progress bar
    assert (index_dir / "manifest.json").is_file()
    assert not cache.exists(), "nothing may be written to the cache dir when the index dir is set"
    engine = Engine.load(EngineConfig(corpus_dir=corpus, index_dir=index_dir), encoder=encoder)
    assert engine.index_status == "loaded"
    passages = int(summary[0].split(": ")[1].split()[0])
    assert passages == len(engine.index.passages)


def test_run_without_token_names_it_and_botfather(cli: CliRun) -> None:
    line = _one_line_error(cli("run"))
    assert "TELEGRAM_BOT_TOKEN" in line
    assert "@BotFather" in line


def test_run_with_malformed_token_does_not_echo_it(cli: CliRun) -> None:
    line = _one_line_error(cli("run", env={"TELEGRAM_BOT_TOKEN": "not-a-token"}))
    assert "TELEGRAM_BOT_TOKEN" in line
    assert "not-a-token" not in line


@pytest.mark.parametrize(
    ("command", "name", "value"),
    [
        ("run", "TELEGRAM_BASE_URL", "ftp://x"),
        ("ask", "BOT_ADMIN_USER_IDS", "1,x"),
        ("index", "LOG_LEVEL", "loud"),
    ],
)
def test_bad_setting_exits_2_naming_it(cli: CliRun, command: str, name: str, value: str) -> None:
    line = _one_line_error(cli(command, env={name: value}))
    assert name in line


def test_a_model_folder_that_does_not_exist_is_named(cli: CliRun) -> None:
    result = cli("ask", "hello", env={"KNOWLEDGE_MODEL": "/nonexistent/model"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "/nonexistent/model" in line and "no such folder" in line
    assert "Repo id" not in line
