"""What crosses the pipe between the bot and an engine worker: one frozen class per message.

The bot asks (`Ask`, `Add`, `Remove`, `Reload`, `Stop`); the worker says it is `Ready` or
`Failed` to start, answers a request by its id (`Answers`, `Changed`, `Error`), and reports
`Documents` when it found the collection changed by another process.
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing.connection import Connection

from bot.serving.backends import Reloaded
from knowledge import Answer, Document, EngineWorkerError, KnowledgeError, Listing


# --- to a worker ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Ask:
    request_id: int
    questions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Add:
    request_id: int
    documents: tuple[Document, ...]


@dataclass(frozen=True, slots=True)
class Remove:
    request_id: int
    doc_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reload:
    request_id: int


@dataclass(frozen=True, slots=True)
class Stop:
    pass


Change = Add | Remove | Reload
Request = Ask | Change | Stop


# --- from a worker -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Ready:
    documents: tuple[Document, ...]


@dataclass(frozen=True, slots=True)
class Failed:
    """The worker could not load its engine."""

    error: KnowledgeError


@dataclass(frozen=True, slots=True)
class Documents:
    """The collection another process changed, loaded before the next batch."""

    documents: tuple[Document, ...]


@dataclass(frozen=True, slots=True)
class Answers:
    request_id: int
    answers: tuple[Answer, ...]


@dataclass(frozen=True, slots=True)
class Changed:
    """A change done: the collection after it, the index rebuilt, the documents it touched
    (none for a reload)."""

    request_id: int
    documents: tuple[Document, ...]
    reloaded: Reloaded
    listings: tuple[Listing, ...]


@dataclass(frozen=True, slots=True)
class Error:
    request_id: int
    error: KnowledgeError


Reply = Ready | Failed | Documents | Answers | Changed | Error
_REQUESTS = (Ask, Add, Remove, Reload, Stop)
_REPLIES = (Ready, Failed, Documents, Answers, Changed, Error)


def send(conn: Connection, message: Request | Reply) -> None:
    conn.send(message)


def receive_request(conn: Connection) -> Request:
    """The next request (EOFError or OSError once the pipe is closed)."""
    message = conn.recv()
    if not isinstance(message, _REQUESTS):
        raise EngineWorkerError(f"not a request to an engine worker: {message!r:.100}")
    return message


def receive_reply(conn: Connection) -> Reply:
    """The next reply (EOFError or OSError once the pipe is closed)."""
    message = conn.recv()
    if not isinstance(message, _REPLIES):
        raise EngineWorkerError(f"not a reply from an engine worker: {message!r:.100}")
    return message
