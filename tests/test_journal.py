"""The update journal on its own: updates told apart by content (Telegram reuses ids), the
first journal's rows carried over, bounded pruning, and a damaged file moved aside."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.settings import SettingsError
from bot.surface import journal as journal_module
from bot.surface.journal import UpdateJournal, update_key

JSON = dict[str, Any]


def _update(update_id: int, text: str, chat_id: int = 42, message_id: int = 1) -> JSON:
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 1_700_000_000,
            "chat": {"id": chat_id, "type": "private", "first_name": "Ann"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Ann"},
            "text": text,
        },
    }


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "updates.sqlite3"


def test_a_reused_update_id_with_new_content_is_a_new_update(path: Path) -> None:
    journal = UpdateJournal(path)
    first, reused = _update(7, "first question"), _update(7, "a new question", message_id=2)
    journal.record([first])
    assert journal.claim(update_key(first))
    journal.finish(update_key(first))

    journal.record([reused])
    assert update_key(reused) != update_key(first)
    assert journal.claim(update_key(reused))  # not "already handled"
    assert journal.pending() == [(update_key(reused), reused)]


def test_a_redelivery_is_handled_once_across_restarts(path: Path) -> None:
    update = _update(8, "once only")
    journal = UpdateJournal(path)
    journal.record([update])
    assert journal.claim(update_key(update))
    assert not journal.claim(update_key(update))  # the same update while it is handled
    journal.finish(update_key(update))
    journal.close()

    reopened = UpdateJournal(path)
    reopened.record([json.loads(json.dumps(update))])  # Telegram sends it again
    assert not reopened.claim(update_key(update))
    assert reopened.duplicates == 1
    assert reopened.pending() == []


def test_released_updates_are_pending_for_the_next_start(path: Path) -> None:
    updates = [_update(n, f"question {n}", message_id=n) for n in (3, 1, 2)]
    journal = UpdateJournal(path)
    journal.record(updates)
    for update in updates:
        assert journal.claim(update_key(update))
        journal.release(update_key(update))
    journal.close()
    assert [p for _, p in UpdateJournal(path).pending()] == updates  # in the order received


def test_the_first_journal_keyed_by_update_id_is_carried_over(path: Path) -> None:
    """A state directory written by the previous version: unfinished updates stay pending,
    finished ones stay done."""
    path.parent.mkdir(parents=True)
    done, unfinished = _update(1, "answered"), _update(2, "not yet", message_id=2)
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE updates (update_id INTEGER PRIMARY KEY, payload TEXT NOT NULL, "
            "received REAL NOT NULL, done INTEGER NOT NULL DEFAULT 0)"
        )
        old.executemany(
            "INSERT INTO updates VALUES (?, ?, 0, ?)",
            [(1, json.dumps(done), 1), (2, json.dumps(unfinished), 0), (3, "{}", 1)],
        )
    old.close()

    journal = UpdateJournal(path)
    assert journal.pending() == [(update_key(unfinished), unfinished)]
    assert not journal.claim(update_key(done))
    assert journal.claim(update_key(unfinished))


def test_pruning_keeps_the_newest_finished_updates(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "_KEEP_DONE", 3)
    monkeypatch.setattr(journal_module, "_PRUNE_EVERY", 4)
    journal = UpdateJournal(path)
    updates = [_update(1, f"question {n}", message_id=n) for n in range(8)]  # one id for all
    for update in updates:
        journal.record([update])
        journal.claim(update_key(update))
        journal.finish(update_key(update))  # the 4th and 8th finish prune
    rows = sqlite3.connect(path).execute("SELECT COUNT(*) FROM updates").fetchone()[0]
    assert rows <= 4
    assert not journal.claim(update_key(updates[-1]))  # the newest are remembered


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: b"this is not a database" * 100, id="garbage"),
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
    ],
)
def test_a_damaged_journal_is_moved_aside_with_one_warning(
    path: Path, caplog: pytest.LogCaptureFixture, damage: Any
) -> None:
    journal = UpdateJournal(path)
    journal.record([_update(n, "x" * 500, message_id=n) for n in range(200)])
    journal.close()
    sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    broken = damage(path.read_bytes())
    path.write_bytes(broken)

    with caplog.at_level(logging.WARNING):
        fresh = UpdateJournal(path)
    assert fresh.pending() == []
    fresh.record([_update(1, "after")])
    assert len(fresh.pending()) == 1
    (aside,) = path.parent.glob("updates.sqlite3.damaged-*[0-9]")
    assert aside.read_bytes() == broken
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert str(path) in warnings[0] and str(aside) in warnings[0]
    assert not any(r.exc_info for r in caplog.records)


def test_a_journal_that_cannot_be_created_names_bot_state_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        UpdateJournal(blocker / "state" / "updates.sqlite3")
    message = str(caught.value)
    assert message.startswith("BOT_STATE_DIR: ")
    assert str(blocker / "state") in message
    assert "\n" not in message
