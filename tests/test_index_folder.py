"""KNOWLEDGE_INDEX_DIR: the index deletes only what it wrote, refuses a folder holding anything
else, and names the setting in one line when its folder cannot be used."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import CliRun
from tests.support.data import CORPUS_DIR, SMALL_CORPUS


def _one_line_error(result: subprocess.CompletedProcess[str], setting: str, path: Path) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert setting in lines[0] and str(path) in lines[0], lines[0]
    assert result.stdout == ""
    return lines[0]


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in SMALL_CORPUS:
        shutil.copy(CORPUS_DIR / name, corpus / name)
    return corpus


def _user_files(folder: Path) -> dict[str, bytes]:
    (folder / "sub").mkdir(parents=True)
    files = {"notes.txt": b"my notes\n", "sub/thesis.tex": b"\\documentclass{article}\n"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


@pytest.mark.parametrize("args", [("index",), ("index", "--force"), ("ask", "Who?")])
def test_a_folder_of_other_files_is_refused_and_kept(
    cli: CliRun, tmp_path: Path, args: tuple[str, ...]
) -> None:
    folder = tmp_path / "mine"
    files = _user_files(folder)
    line = _one_line_error(cli(*args, index_dir=folder), "KNOWLEDGE_INDEX_DIR", folder)
    assert "notes.txt" in line
    for name, data in files.items():
        assert (folder / name).read_bytes() == data
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "sub"]


def test_the_state_folder_is_not_taken_for_the_index(cli: CliRun, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "updates.sqlite3").write_bytes(b"SQLite format 3\x00journal")
    result = cli("index", index_dir=state, env={"BOT_STATE_DIR": str(state)})
    _one_line_error(result, "KNOWLEDGE_INDEX_DIR", state)
    assert (state / "updates.sqlite3").read_bytes() == b"SQLite format 3\x00journal"


def test_force_rebuilds_in_place_and_says_so(
    cli: CliRun, tmp_path: Path, small_corpus: Path
) -> None:
    index_dir = tmp_path / "index"
    env = {"KNOWLEDGE_CORPUS_DIR": str(small_corpus)}
    first = cli("index", env=env, index_dir=index_dir)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("Index built (no index yet): ")
    again = cli("index", "--force", env=env, index_dir=index_dir)
    assert again.returncode == 0, again.stderr
    assert re.match(r"Index built \(forced\): \d+ passages from 2 documents at ", again.stdout)
    assert cli("index", env=env, index_dir=index_dir).stdout.startswith("Index loaded: ")

    (index_dir / "notes.txt").write_text("mine", encoding="utf-8")
    refused = cli("index", "--force", env=env, index_dir=index_dir)
    _one_line_error(refused, "KNOWLEDGE_INDEX_DIR", index_dir)
    assert (index_dir / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (index_dir / "manifest.json").is_file()


def test_an_unusable_index_folder_is_one_line(cli: CliRun, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    for index_dir in (blocker / "index", blocker):
        for args in (("index",), ("ask", "Who?")):
            _one_line_error(cli(*args, index_dir=index_dir), "KNOWLEDGE_INDEX_DIR", index_dir)
    assert blocker.read_text(encoding="utf-8") == "not a folder"


def test_an_unusable_collection_folder_is_one_line(cli: CliRun, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    note = tmp_path / "note.txt"
    note.write_text("The Quibble Institute studies hedgehog migration in Patagonia.\n", "utf-8")
    collection = blocker / "collection"
    result = cli("add", str(note), env={"KNOWLEDGE_COLLECTION_DIR": str(collection)})
    _one_line_error(result, "KNOWLEDGE_COLLECTION_DIR", collection)
