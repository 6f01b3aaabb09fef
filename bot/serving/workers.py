"""Engines in worker processes, for servers that answer many questions at once.

In a thread, the encoder shares the interpreter lock with the event loop that feeds it, and
each waits on the other; in its own process it does not. Each worker loads the corpus, the
model and the index once, answers batches of questions, and adds, removes or rebuilds in a
thread of its own while it goes on answering from the old index; before each batch it checks
whether another process changed the collection, and loads the change if so. A worker that
dies is started again and its batch is tried once more; the workers exit when the parent
does, even after a SIGKILL, because their end of the pipe closes.

Workers are forked from multiprocessing's fork server, which imports the engine's modules
once (not onnxruntime: its state does not survive a fork; each worker loads it). The server
is the bot's child and the workers are its children; it exits with the bot. An
`initializer` runs first in each worker: the parent's way to set up the worker's logging
and output (knowledge does not know the bot's). The messages each way are the classes of
`bot.serving.pipe`; each worker uses `threads` cores for long lists
(knowledge.embedding.limit_threads).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Literal, TypeVar

from bot.serving import pipe
from bot.serving.backends import Reloaded, SecondStageBudget
from bot.serving.pipe import (
    Add,
    Answers,
    Ask,
    Change,
    Changed,
    Documents,
    Error,
    Failed,
    Ready,
    Reload,
    Remove,
    Reply,
    Stop,
)
from knowledge import (
    Answer,
    Document,
    Engine,
    EngineConfig,
    EngineWorkerError,
    KnowledgeError,
    Listing,
    collection,
    limit_threads,
)

log = logging.getLogger(__name__)

_STOP_SECONDS = 10.0
# What the fork server imports before it forks workers: the slow imports an engine needs.
_PRELOAD = ["bot.serving.workers", "knowledge.engine"]
StartMethod = Literal["forkserver", "spawn"]
_Result = TypeVar("_Result", Answers, Changed)


# --- inside a worker -----------------------------------------------------------------------
def _serve(
    conn: Connection,
    config: EngineConfig,
    threads: int,
    initializer: Callable[[], None] | None,
) -> None:
    """A worker's life: load, say ready, then answer and reload until the pipe closes."""
    for signum in (signal.SIGINT, signal.SIGTERM):  # the parent's to handle: it drains first
        signal.signal(signum, signal.SIG_IGN)
    if initializer is not None:
        initializer()
    limit_threads(threads)
    sending = threading.Lock()

    def send(message: Reply) -> None:
        with sending, contextlib.suppress(BrokenPipeError, OSError):
            pipe.send(conn, message)

    try:
        current = [Engine.load(config)]
        current[0].warm_second_stage()  # its models, before the first question needs them
    except Exception as exc:  # reported to the parent, which raises it
        send(Failed(_portable(exc)))
        return
    send(Ready(tuple(current[0].documents)))
    budget = SecondStageBudget()
    while True:
        try:
            request = pipe.receive_request(conn)
        except (EOFError, OSError):
            return  # the parent is gone
        match request:
            case Stop():
                return
            case Add() | Remove() | Reload():
                name = type(request).__name__.lower()
                threading.Thread(
                    target=_change, args=(current, request, send), name=name, daemon=True
                ).start()
            case Ask(request_id=request_id, questions=questions):
                fresh = current[0].refreshed()
                if fresh is not current[0]:  # documents were added or removed meanwhile
                    current[0] = fresh
                    send(Documents(tuple(fresh.documents)))
                send(_answers(fresh, request_id, list(questions), budget))


def _answers(
    engine: Engine, request_id: int, questions: list[str], budget: SecondStageBudget
) -> Answers | Error:
    try:
        answers = engine.answer_many(questions, second_stage=budget.allows(questions))
        return Answers(request_id, tuple(answers))
    except Exception as exc:
        return Error(request_id, _portable(exc))


def _change(current: list[Engine], request: Change, send: Callable[[Reply], None]) -> None:
    """Add, remove or reload in a thread of its own; the worker answers from the engine it
    has until the new one is ready."""
    engine = current[0]
    try:
        match request:
            case Add(documents=documents):
                changed = collection.add(engine.config, list(documents), lambda: engine.encoder)
            case Remove(doc_ids=doc_ids):
                changed = collection.remove(engine.config, list(doc_ids), lambda: engine.encoder)
            case Reload():
                changed = []
        engine = engine.reloaded()
    except Exception as exc:
        send(Error(request.request_id, _portable(exc)))
        return
    current[0] = engine
    documents = tuple(engine.documents)
    send(Changed(request.request_id, documents, Reloaded.of(engine), tuple(changed)))


def _portable(exc: Exception) -> KnowledgeError:
    """The engine's own errors as they are; anything else as a KnowledgeError naming it, since
    not every exception survives the trip through the pipe."""
    if isinstance(exc, KnowledgeError) and type(exc).__module__ == KnowledgeError.__module__:
        return exc
    return KnowledgeError(f"{exc.__class__.__name__}: {exc}")


# --- in the parent ---------------------------------------------------------------------------
@dataclass
class _Worker:
    number: int
    process: BaseProcess
    conn: Connection
    ready: asyncio.Future[list[Document]]
    pending: dict[int, asyncio.Future[Answers | Changed]] = field(default_factory=dict)
    busy: bool = False
    # Set once the process exists: starting one waits for the fork server's imports.
    started: threading.Event = field(default_factory=threading.Event)


class EngineWorkers:
    """`count` engine processes behind one async interface; a batch goes to an idle worker."""

    def __init__(
        self,
        config: EngineConfig,
        count: int,
        threads: int = 1,
        initializer: Callable[[], None] | None = None,
        start_method: StartMethod = "forkserver",
    ) -> None:
        """`start_method` "spawn" makes each worker import everything itself, as before the
        fork server: slower starts, kept for comparison (`benchmarks.workers`)."""
        self.config = config
        self.count = max(1, count)
        self.documents: list[Document] = []
        self._threads = threads
        self._initializer = initializer
        self._context: SpawnContext | ForkServerContext
        if start_method == "forkserver":
            self._context = multiprocessing.get_context("forkserver")
            self._context.set_forkserver_preload(_PRELOAD)
        else:
            self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._ids = itertools.count()
        self._waiters: list[asyncio.Future[None]] = []
        self._closing = False

    @property
    def capacity(self) -> int:
        """How many batches are answered at once: one per worker."""
        return self.count

    async def start(self) -> None:
        """Start the first worker and wait for it (it builds the index if needed); the others
        start next and load that index, so that no two build at once."""
        first = self._launch(0)
        self._workers.append(first)
        self.documents = await asyncio.shield(first.ready)  # cancelled: close() stops it
        self._workers.extend(self._launch(n) for n in range(1, self.count))
        for worker in self._workers[1:]:
            worker.ready.add_done_callback(functools.partial(self._settled, worker))

    async def answer_many(self, questions: list[str]) -> list[Answer]:
        """Answers from the first idle worker; a crashed worker's batch is tried once more, by
        another worker (the crashed one can look idle until its pipe is seen closed)."""
        crashed: list[_Worker] = []
        for attempt in (1, 2):
            worker = await self._take_idle(crashed)
            try:
                reply = await self._ask(worker, Ask(self._new_id(), tuple(questions)), Answers)
                return list(reply.answers)
            except EngineWorkerError:
                crashed.append(worker)
                if attempt == 2:
                    raise
            finally:
                worker.busy = False
                self._wake()
        raise AssertionError("unreachable")  # pragma: no cover

    async def reload(self) -> Reloaded:
        """Bring the index up to date with the collection on disk: the first worker writes,
        then the others load what it wrote. Each answers from its old index meanwhile."""
        first, *others = self._workers
        reply = await self._ask(first, Reload(self._new_id()), Changed)
        await asyncio.gather(
            *(self._ask(w, Reload(self._new_id()), Changed) for w in others if w.ready.done())
        )
        self.documents = list(reply.documents)
        return reply.reloaded

    async def add(self, documents: list[Document]) -> list[Listing]:
        """Store and index documents in one worker; the others see the change on disk before
        their next batch and load it."""
        return await self._change(Add(self._new_id(), tuple(documents)))

    async def remove(self, doc_ids: list[str]) -> list[Listing]:
        return await self._change(Remove(self._new_id(), tuple(doc_ids)))

    async def _change(self, request: Add | Remove) -> list[Listing]:
        worker = next((w for w in self._workers if _is_ready(w)), None)
        if worker is None:
            raise EngineWorkerError("no engine worker is running")
        reply = await self._ask(worker, request, Changed)
        self.documents = list(reply.documents)
        return list(reply.listings)

    async def close(self) -> None:
        """Stop every worker: at once if still loading (it would read "stop" only when
        loaded, and has nothing to finish), else when its current work is done. A worker
        still waiting for the fork server is stopped as soon as it exists."""
        self._closing = True
        for worker in self._workers:
            if worker.started.is_set() and not worker.ready.done():
                worker.process.kill()
            with contextlib.suppress(BrokenPipeError, OSError):
                pipe.send(worker.conn, Stop())
        for worker in self._workers:
            if worker.started.is_set():
                await asyncio.to_thread(worker.process.join, _STOP_SECONDS)
                if worker.process.is_alive():
                    worker.process.kill()
            worker.conn.close()

    # --- plumbing ---
    def _launch(self, number: int) -> _Worker:
        loop = asyncio.get_running_loop()
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(
            target=_serve,
            args=(child_end, self.config, self._threads, self._initializer),
            name=f"engine-{number}",
            daemon=True,
        )
        worker = _Worker(number, process, parent_end, loop.create_future())
        threading.Thread(
            target=self._run, args=(worker, child_end, loop), name=f"engine-{number}", daemon=True
        ).start()
        return worker

    def _run(self, worker: _Worker, child_end: Connection, loop: asyncio.AbstractEventLoop) -> None:
        """Runs in a thread per worker, off the event loop: starts the process (the first
        start waits for the fork server's imports), then hands each message to the loop."""
        try:
            worker.process.start()
        except Exception as exc:
            log.error("engine worker %d could not be started: %s", worker.number, exc)
            with contextlib.suppress(RuntimeError):  # the loop is closed already
                loop.call_soon_threadsafe(self._lost, worker)
            return
        finally:
            child_end.close()
        worker.started.set()
        if self._closing and not worker.ready.done():
            worker.process.kill()  # the bot stopped while this one waited for the fork server
        while True:
            try:
                message = pipe.receive_reply(worker.conn)
            except (EOFError, OSError, EngineWorkerError):
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._lost, worker)
                return
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._received, worker, message)

    def _received(self, worker: _Worker, message: Reply) -> None:
        match message:
            case Ready(documents=documents):
                if not worker.ready.done():
                    worker.ready.set_result(list(documents))
            case Failed(error=error):
                if not worker.ready.done():
                    worker.ready.set_exception(error)
            case Documents(documents=documents):
                self.documents = list(documents)
            case Answers() | Changed() | Error():
                future = worker.pending.pop(message.request_id, None)
                if future is None or future.done():
                    return
                if isinstance(message, Error):
                    future.set_exception(message.error)
                else:
                    future.set_result(message)

    def _lost(self, worker: _Worker) -> None:
        """A worker's pipe closed: fail what it was doing, and start a new one unless closing."""
        crashed = EngineWorkerError(f"engine worker {worker.number} exited")
        was_ready = _is_ready(worker)
        if not worker.ready.done():
            worker.ready.set_exception(crashed)
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(crashed)
        worker.pending.clear()
        self._wake()
        if self._closing or not was_ready or worker not in self._workers:
            return  # a worker that never started would fail again: not restarted
        worker.process.join(1)  # it was ready, so its process exists
        log.error(
            "engine worker %d exited (code %s); starting another",
            worker.number,
            worker.process.exitcode,
        )
        replacement = self._launch(worker.number)
        replacement.ready.add_done_callback(functools.partial(self._settled, replacement))
        self._workers[self._workers.index(worker)] = replacement

    def _settled(self, worker: _Worker, _: asyncio.Future[list[Document]]) -> None:
        """A worker is ready, or failed to be: say why it failed (unless closing, which
        stops loading workers), and let whoever waits for a worker look again."""
        error = None if worker.ready.cancelled() else worker.ready.exception()
        if error is not None and not self._closing:
            log.error("engine worker %d did not start: %s", worker.number, error)
        self._wake()

    async def _take_idle(self, avoid: Sequence[_Worker] = ()) -> _Worker:
        """An idle, ready worker, and not one of `avoid`."""
        while True:
            for worker in self._workers:
                if not worker.busy and _is_ready(worker) and all(worker is not a for a in avoid):
                    worker.busy = True
                    return worker
            if not self._workers or all(_failed(w) for w in self._workers):
                raise EngineWorkerError("no engine worker is running")
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def _wake(self) -> None:
        """Let whoever waits for a worker look again."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _new_id(self) -> int:
        return next(self._ids)

    async def _ask(
        self, worker: _Worker, request: Ask | Change, expected: type[_Result]
    ) -> _Result:
        """Send `request` and wait for its reply, of the `expected` kind (an Error is raised)."""
        future: asyncio.Future[Answers | Changed] = asyncio.get_running_loop().create_future()
        worker.pending[request.request_id] = future
        try:
            pipe.send(worker.conn, request)
        except (BrokenPipeError, OSError):
            worker.pending.pop(request.request_id, None)
            raise EngineWorkerError(f"engine worker {worker.number} is gone") from None
        reply = await future
        if not isinstance(reply, expected):
            raise EngineWorkerError(f"engine worker {worker.number} replied {reply!r:.100}")
        return reply


def _is_ready(worker: _Worker) -> bool:
    return worker.ready.done() and worker.ready.exception() is None


def _failed(worker: _Worker) -> bool:
    return worker.ready.done() and worker.ready.exception() is not None
