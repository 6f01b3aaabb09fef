"""A durable record of received updates, so that no question is lost or answered twice.

python-telegram-bot confirms fetched updates with its next getUpdates call, before any
handler has run, and Telegram never sends a confirmed update again. So every update is
written here as it is fetched; it is marked done once handled; at start-up the ones not
done are handled again. An update id seen twice in one run is handled once.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

_KEEP_DONE = 100_000


class UpdateJournal:
    """SQLite file of update payloads and their state; used from the event loop thread only."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS updates (update_id INTEGER PRIMARY KEY, "
            "payload TEXT NOT NULL, received REAL NOT NULL, done INTEGER NOT NULL DEFAULT 0)"
        )
        self._claimed: set[int] = set()
        self.duplicates = 0

    def record(self, payloads: list[dict[str, Any]]) -> None:
        """Store fetched updates before they are confirmed to Telegram."""
        now = time.time()
        self._db.executemany(
            "INSERT OR IGNORE INTO updates (update_id, payload, received) VALUES (?, ?, ?)",
            [(p["update_id"], json.dumps(p), now) for p in payloads],
        )

    def pending(self) -> list[dict[str, Any]]:
        """Updates received but never finished, oldest first."""
        rows = self._db.execute(
            "SELECT payload FROM updates WHERE done = 0 ORDER BY update_id"
        ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def claim(self, update_id: int) -> bool:
        """True once per update: False when it is done already or being handled now."""
        if update_id in self._claimed:
            self.duplicates += 1
            return False
        row = self._db.execute(
            "SELECT done FROM updates WHERE update_id = ?", (update_id,)
        ).fetchone()
        if row is not None and row[0]:
            self.duplicates += 1
            return False
        self._claimed.add(update_id)
        return True

    def finish(self, update_id: int) -> None:
        self._db.execute(
            "INSERT INTO updates (update_id, payload, received, done) VALUES (?, '{}', ?, 1) "
            "ON CONFLICT(update_id) DO UPDATE SET done = 1",
            (update_id, time.time()),
        )
        self._claimed.discard(update_id)

    def release(self, update_id: int) -> None:
        """Give up a claim without finishing (shutdown): the update is handled next start."""
        self._claimed.discard(update_id)

    def prune(self) -> None:
        """Forget all but the newest finished updates."""
        self._db.execute(
            "DELETE FROM updates WHERE done = 1 AND update_id < "
            "(SELECT COALESCE(MAX(update_id), 0) FROM updates) - ?",
            (_KEEP_DONE,),
        )

    def close(self) -> None:
        self._db.close()
