"""Votes on answers (👍/👎) and what the collection failed at, kept in the state directory.

Every answer sent in a chat is recorded with the messages that carry it, so a vote pressed
under any of them finds its question and the documents it cited; an answer offered through
inline mode is recorded by its result id. Each user has one vote per answer. Nothing is
pruned: a record is about 200 bytes, so a million questions take about 200 MB.
"""

from __future__ import annotations

import json
import sqlite3
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from knowledge import Answer, AnswerKind

FEEDBACK_FILE = "feedback.sqlite3"
UP, DOWN = 1, -1

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS answers (id INTEGER PRIMARY KEY, question TEXT NOT NULL, "
    "doc_ids TEXT NOT NULL, declined INTEGER NOT NULL, asked REAL NOT NULL, "
    "result_id TEXT UNIQUE)",  # result_id: answers offered inline; NULL for chat answers
    "CREATE TABLE IF NOT EXISTS answer_messages (chat_id INTEGER NOT NULL, "
    "message_id INTEGER NOT NULL, answer_id INTEGER NOT NULL REFERENCES answers(id), "
    "PRIMARY KEY (chat_id, message_id)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS votes (answer_id INTEGER NOT NULL REFERENCES answers(id), "
    "user_id INTEGER NOT NULL, vote INTEGER NOT NULL, voted REAL NOT NULL, "
    "PRIMARY KEY (answer_id, user_id)) WITHOUT ROWID",
)


class VoteResult(Enum):
    """Where a user's vote on an answer stands after a press."""

    UP = "up"
    DOWN = "down"
    WITHDRAWN = "withdrawn"


class Gap(BaseModel):
    """Questions the collection failed at, counted together when they read the same:
    declined ones (`count` times asked), or answers rated 👎 (`count` 👎 votes standing)."""

    model_config = ConfigDict(frozen=True)

    question: str  # the most recent wording
    kind: Literal["declined", "disliked"]
    count: int
    last_asked: datetime
    doc_ids: list[str] | None = None  # what the disliked answers cited


def feedback_path(state_dir: Path) -> Path:
    return state_dir / FEEDBACK_FILE


def question_key(question: str) -> str:
    """The question with case, spacing and punctuation set aside: apostrophes go, other
    punctuation counts as a space ("Don't", "dont" and "DONT!" read the same)."""
    kept = (
        "" if ch in "'’" else " " if unicodedata.category(ch).startswith("P") else ch
        for ch in question.casefold()
    )
    return " ".join("".join(kept).split())


def read_gaps(state_dir: Path) -> list[Gap]:
    """The gaps recorded in `state_dir`; none if the bot never ran there."""
    path = feedback_path(state_dir)
    if not path.exists():
        return []
    store = FeedbackStore(path)
    try:
        return store.gaps()
    finally:
        store.close()


class FeedbackStore:
    """A SQLite file (WAL); every write is committed before the call returns, so it survives
    a crash of the bot. Used from the event loop thread only."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._clock = clock

    # --- answers -------------------------------------------------------------
    def record_answer(self, answer: Answer, messages: Iterable[tuple[int, int]]) -> int | None:
        """Record an answer sent in a chat as the (chat id, message id) pairs that carry it;
        its id, or None for an empty question (nothing to learn from)."""
        if answer.kind is AnswerKind.EMPTY_QUESTION:
            return None
        with self._transaction():
            answer_id = self._insert(answer)
            self._link(answer_id, messages)
        return answer_id

    def record_follow_up(
        self, answer: Answer, under: tuple[int, int], messages: Iterable[tuple[int, int]]
    ) -> None:
        """Excerpts "More sources" sent under the answer message `under` carry its answer
        (recorded now if that message was sent before answers were)."""
        with self._transaction():
            answer_id = self.answer_at(*under)
            if answer_id is None:
                answer_id = self._insert(answer)
                self._link(answer_id, [under])
            self._link(answer_id, messages)

    def answer_at(self, chat_id: int, message_id: int) -> int | None:
        """The answer a chat message carries, if it was recorded."""
        row = self._db.execute(
            "SELECT answer_id FROM answer_messages WHERE chat_id = ? AND message_id = ?",
            (chat_id, message_id),
        ).fetchone()
        return None if row is None else int(row[0])

    def question_at(self, chat_id: int, message_id: int) -> str | None:
        """The question (as searched) of the answer a chat message carries, if recorded."""
        row = self._db.execute(
            "SELECT a.question FROM answer_messages m JOIN answers a ON a.id = m.answer_id "
            "WHERE m.chat_id = ? AND m.message_id = ?",
            (chat_id, message_id),
        ).fetchone()
        return None if row is None else str(row[0])

    def last_question(self, chat_id: int, within: float) -> str | None:
        """The question of the chat's latest answer, if it was asked `within` seconds."""
        row = self._db.execute(
            "SELECT a.question FROM answers a WHERE a.asked >= ? AND a.id IN "
            "(SELECT answer_id FROM answer_messages WHERE chat_id = ?) "
            "ORDER BY a.asked DESC, a.id DESC LIMIT 1",
            (self._clock() - within, chat_id),
        ).fetchone()
        return None if row is None else str(row[0])

    def record_inline(self, answer: Answer, result_id: str) -> None:
        """Record an answer offered inline (again: the newest answer for its result id)."""
        if answer.kind is AnswerKind.EMPTY_QUESTION:
            return
        self._db.execute(
            "INSERT INTO answers (question, doc_ids, declined, asked, result_id) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(result_id) DO UPDATE SET "
            "question = excluded.question, doc_ids = excluded.doc_ids, "
            "declined = excluded.declined, asked = excluded.asked",
            (answer.question, _doc_ids(answer), _declined(answer), self._clock(), result_id),
        )

    def inline_answer(self, result_id: str) -> int | None:
        row = self._db.execute(
            "SELECT id FROM answers WHERE result_id = ?", (result_id,)
        ).fetchone()
        return None if row is None else int(row[0])

    # --- votes ---------------------------------------------------------------
    def vote(self, answer_id: int, user_id: int, vote: int) -> VoteResult:
        """Set the user's vote on the answer (UP or DOWN); the same vote again withdraws it."""
        with self._transaction():
            row = self._db.execute(
                "SELECT vote FROM votes WHERE answer_id = ? AND user_id = ?", (answer_id, user_id)
            ).fetchone()
            if row is not None and row[0] == vote:
                self._db.execute(
                    "DELETE FROM votes WHERE answer_id = ? AND user_id = ?", (answer_id, user_id)
                )
                return VoteResult.WITHDRAWN
            self._db.execute(
                "INSERT INTO votes (answer_id, user_id, vote, voted) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(answer_id, user_id) DO UPDATE SET vote = excluded.vote, "
                "voted = excluded.voted",
                (answer_id, user_id, vote, self._clock()),
            )
        return VoteResult.UP if vote == UP else VoteResult.DOWN

    def totals(self) -> tuple[int, int]:
        """Votes standing now: (👍, 👎)."""
        up, down = self._db.execute(
            "SELECT COALESCE(SUM(vote = 1), 0), COALESCE(SUM(vote = -1), 0) FROM votes"
        ).fetchone()
        return int(up), int(down)

    # --- gaps ----------------------------------------------------------------
    def gaps(self) -> list[Gap]:
        """Declined chat questions and 👎-rated answers, most frequent first (then the most
        recently asked). Inline queries are not counted as declined: Telegram sends one
        for every few letters typed."""
        declined = self._db.execute(
            "SELECT question, asked, '[]', 1 FROM answers "
            "WHERE declined = 1 AND result_id IS NULL ORDER BY asked"
        ).fetchall()
        disliked = self._db.execute(
            "SELECT a.question, a.asked, a.doc_ids, COUNT(*) FROM votes v "
            "JOIN answers a ON a.id = v.answer_id WHERE v.vote = -1 GROUP BY a.id ORDER BY a.asked"
        ).fetchall()
        found = [*_grouped("declined", declined), *_grouped("disliked", disliked)]
        return sorted(found, key=lambda gap: (-gap.count, -gap.last_asked.timestamp()))

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _insert(self, answer: Answer) -> int:
        cursor = self._db.execute(
            "INSERT INTO answers (question, doc_ids, declined, asked) VALUES (?, ?, ?, ?)",
            (answer.question, _doc_ids(answer), _declined(answer), self._clock()),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _link(self, answer_id: int, messages: Iterable[tuple[int, int]]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO answer_messages (chat_id, message_id, answer_id) "
            "VALUES (?, ?, ?)",
            [(chat_id, message_id, answer_id) for chat_id, message_id in messages],
        )


def _grouped(
    kind: Literal["declined", "disliked"], rows: list[tuple[str, float, str, int]]
) -> list[Gap]:
    """Rows (question, asked, doc_ids, count), oldest first, as one gap per question key."""
    groups: dict[str, Gap] = {}
    for question, asked, doc_ids, count in rows:
        key = question_key(question)
        earlier = groups.get(key)
        cited = json.loads(doc_ids)
        if earlier is not None:
            cited = [*cited, *(d for d in earlier.doc_ids or [] if d not in cited)]
        groups[key] = Gap(
            question=question,
            kind=kind,
            count=count + (earlier.count if earlier else 0),
            last_asked=datetime.fromtimestamp(int(asked), UTC),
            doc_ids=cited if kind == "disliked" else None,
        )
    return list(groups.values())


def _doc_ids(answer: Answer) -> str:
    return json.dumps(list(dict.fromkeys(c.doc_id for c in answer.citations)))


def _declined(answer: Answer) -> bool:
    return answer.kind is AnswerKind.NOT_COVERED
