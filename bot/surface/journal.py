"""A durable record of received updates, so that no question is lost or answered twice.

python-telegram-bot confirms fetched updates with its next getUpdates call, before any
handler has run, and Telegram never sends a confirmed update again. So every update is
written here as it is fetched; it is marked done once handled; at start-up the ones not
done are handled again. An update seen twice is handled once.

"Seen twice" goes by content, not by update id alone: Telegram sends an unconfirmed update
again with the same id and content, but it also reuses ids for new updates (after a week
without updates it picks the next id at random, and another token on the same state
directory has ids of its own). So an update's key is its id with a digest of its content.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from bot.settings import SettingsError

log = logging.getLogger(__name__)

_KEEP_DONE = 100_000  # finished updates remembered, to recognise one sent again
_PRUNE_EVERY = 10_000  # finished updates between two prunings
_SCHEMA = 2  # PRAGMA user_version; 0 is the first journal, keyed by update id


def update_key(payload: dict[str, Any]) -> str:
    """The identity of an update: its id and a digest of its whole content."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.blake2b(canonical.encode(), digest_size=12).hexdigest()
    return f"{payload.get('update_id')}:{digest}"


class UpdateJournal:
    """SQLite file of update payloads and their state; used from the event loop thread only.

    A file that is not a database (garbage, truncated) is moved aside, with a warning, and a
    new journal started: what it held is lost either way, and the bot keeps serving.
    """

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = _open_or_start_afresh(path)
        except (OSError, sqlite3.OperationalError) as exc:  # no way to open or create it
            reason = exc.strerror if isinstance(exc, OSError) else exc
            raise SettingsError(f"BOT_STATE_DIR: cannot use {path}: {reason}") from None
        self._claimed: set[str] = set()
        self._finished = 0
        self.duplicates = 0

    def record(self, payloads: list[dict[str, Any]]) -> None:
        """Store fetched updates before they are confirmed to Telegram."""
        now = time.time()
        self._db.executemany(
            "INSERT OR IGNORE INTO updates (key, update_id, payload, received) VALUES (?, ?, ?, ?)",
            [(update_key(p), p.get("update_id"), json.dumps(p), now) for p in payloads],
        )

    def pending(self) -> list[tuple[str, dict[str, Any]]]:
        """Keys and payloads of the updates received but never finished, oldest first."""
        rows = self._db.execute(
            "SELECT key, payload FROM updates WHERE done = 0 ORDER BY seq"
        ).fetchall()
        return [(key, json.loads(payload)) for key, payload in rows]

    def claim(self, key: str) -> bool:
        """True once per update: False when it is done already or being handled now."""
        if key in self._claimed:
            self.duplicates += 1
            return False
        row = self._db.execute("SELECT done FROM updates WHERE key = ?", (key,)).fetchone()
        if row is not None and row[0]:
            self.duplicates += 1
            return False
        self._claimed.add(key)
        return True

    def finish(self, key: str) -> None:
        self._db.execute(
            "INSERT INTO updates (key, payload, received, done) VALUES (?, '{}', ?, 1) "
            "ON CONFLICT(key) DO UPDATE SET done = 1",
            (key, time.time()),
        )
        self._claimed.discard(key)
        self._finished += 1
        if self._finished % _PRUNE_EVERY == 0:
            self.prune()

    def release(self, key: str) -> None:
        """Give up a claim without finishing (shutdown): the update is handled next start."""
        self._claimed.discard(key)

    def prune(self) -> None:
        """Forget all but the newest finished updates."""
        self._db.execute(
            "DELETE FROM updates WHERE done = 1 AND seq <= "
            "(SELECT COALESCE(MAX(seq), 0) FROM updates) - ?",
            (_KEEP_DONE,),
        )

    def close(self) -> None:
        self._db.close()


def _open_or_start_afresh(path: Path) -> sqlite3.Connection:
    try:
        return _open(path)
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
        aside = _move_aside(path)
        log.warning(
            "update journal %s is damaged (%s); moved to %s, starting a new one", path, exc, aside
        )
        return _open(path)


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        if db.execute("PRAGMA quick_check").fetchone() != ("ok",):
            raise sqlite3.DatabaseError("database disk image is malformed")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != _SCHEMA:
            _create(db, migrate=version == 0)
    except sqlite3.Error:
        db.close()
        raise
    return db


def _create(db: sqlite3.Connection, *, migrate: bool) -> None:
    """The table keyed by update content; the first journal's rows carried over."""
    db.execute("BEGIN")
    query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'updates'"
    old = migrate and db.execute(query).fetchone() is not None
    if old:
        db.execute("ALTER TABLE updates RENAME TO updates_by_id")
    db.execute(
        "CREATE TABLE updates (seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, "
        "update_id INTEGER, payload TEXT NOT NULL, received REAL NOT NULL, "
        "done INTEGER NOT NULL DEFAULT 0)"
    )
    if old:
        rows = db.execute(
            "SELECT payload, received, done FROM updates_by_id ORDER BY update_id"
        ).fetchall()
        db.executemany(
            "INSERT OR IGNORE INTO updates (key, update_id, payload, received, done) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (update_key(payload), payload["update_id"], text, received, done)
                for text, received, done in rows
                if "update_id" in (payload := json.loads(text))
            ],
        )
        db.execute("DROP TABLE updates_by_id")
    db.execute(f"PRAGMA user_version = {_SCHEMA}")
    db.execute("COMMIT")


def _move_aside(path: Path) -> Path:
    """Rename the journal (and its WAL files) to `<name>.damaged-<time>`."""
    suffix = time.strftime(".damaged-%Y%m%d-%H%M%S")
    for companion in ("", "-wal", "-shm"):
        source = path.with_name(path.name + companion)
        if source.exists():
            source.replace(path.with_name(path.name + suffix + companion))
    return path.with_name(path.name + suffix)
