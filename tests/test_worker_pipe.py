"""The messages between the bot and an engine worker, through a real multiprocessing pipe."""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Iterator
from multiprocessing.connection import Connection

import pytest

from bot.serving import pipe
from bot.serving.backends import Reloaded
from knowledge import (
    Answer,
    AnswerKind,
    CorpusError,
    Document,
    EngineWorkerError,
    FolderError,
    Listing,
)

DOC = Document(doc_id="d1", title="One", publisher="Press", published="2024-05", body="Text.")
LISTING = Listing(
    doc_id="d1",
    title="One",
    publisher="Press",
    published="2024-05",
    source="added",
    passages=1,
    bundled=False,
)
REQUESTS: list[pipe.Request] = [
    pipe.Ask(1, ("what is a little giant?", "and who picks them?")),
    pipe.Add(2, (DOC,)),
    pipe.Remove(3, ("d1", "d2")),
    pipe.Reload(4),
    pipe.Stop(),
]
REPLIES: list[pipe.Reply] = [
    pipe.Ready((DOC,)),
    pipe.Failed(CorpusError("no documents in /nowhere")),
    pipe.Documents((DOC,)),
    pipe.Answers(1, (Answer(question="q", kind=AnswerKind.NOT_COVERED),)),
    pipe.Changed(2, (DOC,), Reloaded(documents=1, passages=3, status="built"), (LISTING,)),
    pipe.Error(3, FolderError("KNOWLEDGE_INDEX_DIR", "is not writable")),
]


@pytest.fixture
def ends() -> Iterator[tuple[Connection, Connection]]:
    parent, child = multiprocessing.get_context("spawn").Pipe()
    yield parent, child
    parent.close()
    child.close()


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: type(r).__name__)
def test_each_request_arrives_equal(
    ends: tuple[Connection, Connection], request_: pipe.Request
) -> None:
    parent, child = ends
    pipe.send(parent, request_)
    assert pipe.receive_request(child) == request_


@pytest.mark.parametrize("reply", REPLIES, ids=lambda r: type(r).__name__)
def test_each_reply_arrives_equal(ends: tuple[Connection, Connection], reply: pipe.Reply) -> None:
    parent, child = ends
    pipe.send(child, reply)
    received = pipe.receive_reply(parent)
    assert type(received) is type(reply)
    if isinstance(reply, pipe.Failed | pipe.Error):  # exceptions compare by identity
        assert isinstance(received, pipe.Failed | pipe.Error)
        assert type(received.error) is type(reply.error)
        assert str(received.error) == str(reply.error)
    else:
        assert received == reply


def test_messages_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        pipe.Ask(1, ("q",)).request_id = 2  # type: ignore[misc]  # what is being tested


def test_a_request_is_not_taken_for_a_reply_nor_the_reverse(
    ends: tuple[Connection, Connection],
) -> None:
    parent, child = ends
    pipe.send(parent, pipe.Reload(1))
    with pytest.raises(EngineWorkerError, match="not a reply"):
        pipe.receive_reply(child)
    pipe.send(child, pipe.Ready(()))
    with pytest.raises(EngineWorkerError, match="not a request"):
        pipe.receive_request(parent)
    parent.send(("answers", 1, []))  # the old tuples are refused too
    with pytest.raises(EngineWorkerError):
        pipe.receive_reply(child)


def test_a_closed_pipe_ends_the_reader(ends: tuple[Connection, Connection]) -> None:
    parent, child = ends
    parent.close()
    with pytest.raises(EOFError):
        pipe.receive_request(child)
