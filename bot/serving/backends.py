"""Where answers come from: the `AnswerBackend` protocol, and the engine in a thread beside the
event loop (`EngineThread`); the engine in worker processes is `bot.serving.workers`."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from knowledge import Answer, Document, Engine, EngineConfig, Listing, collection, limit_threads

# The engine's second stage costs about 65 ms of CPU for each question the first ranking is
# unsure of (a third of them). Each engine (a worker process, or the engine thread) gives it
# to at most this many questions a second, in bursts of up to this many: a team asking a few
# questions a minute always gets it, and a bot flooded with questions keeps up without
# (BENCHMARKS.md, the bot under load: 5 a second cost the p50 at 100 questions/s 20-40 ms).
SECOND_STAGE_PER_SECOND = 2.0


class SecondStageBudget:
    """A token bucket of questions that may get the engine's second stage: a batch gets it
    when the bucket holds a token for each of its questions."""

    def __init__(
        self,
        per_second: float = SECOND_STAGE_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = per_second
        self._clock = clock
        self._tokens = per_second
        self._last = clock()

    def allows(self, questions: list[str]) -> bool:
        now = self._clock()
        self._tokens = min(self._rate, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if len(questions) > self._tokens:
            return False
        self._tokens -= len(questions)
        return True


class Reloaded(BaseModel):
    """What a rebuild produced."""

    model_config = ConfigDict(frozen=True)

    documents: int
    passages: int
    status: str

    @classmethod
    def of(cls, engine: Engine) -> Reloaded:
        return cls(
            documents=len(engine.documents),
            passages=len(engine.index.passages),
            status=engine.index_status,
        )


class AnswerBackend(Protocol):
    """Where answers come from: `EngineThread`, or `bot.serving.workers.EngineWorkers`."""

    @property
    def capacity(self) -> int:
        """How many batches it works on at once."""
        ...

    @property
    def documents(self) -> list[Document]: ...

    async def start(self) -> None: ...

    async def answer_many(self, questions: list[str]) -> list[Answer]: ...

    async def reload(self) -> Reloaded: ...

    async def add(self, documents: list[Document]) -> list[Listing]: ...

    async def remove(self, doc_ids: list[str]) -> list[Listing]: ...

    async def close(self) -> None: ...


class EngineThread:
    """An engine loaded in this process, working in one thread beside the event loop."""

    capacity = 1

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")
        self.budget = SecondStageBudget()

    @classmethod
    def load(cls, config: EngineConfig) -> EngineThread:
        """The engine loaded here, with the cores shared with the event loop."""
        _share_cores_with_the_event_loop()
        engine = Engine.load(config)
        engine.warm_second_stage()
        return cls(engine)

    @property
    def documents(self) -> list[Document]:
        return self.engine.documents

    async def start(self) -> None:
        return None

    async def answer_many(self, questions: list[str]) -> list[Answer]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._answer_many, questions)

    def _answer_many(self, questions: list[str]) -> list[Answer]:
        """Answers from the collection as it is on disk (reloaded if another process changed it)."""
        self.engine = self.engine.refreshed()
        return self.engine.answer_many(questions, second_stage=self.budget.allows(questions))

    async def reload(self) -> Reloaded:
        """A new engine built in another thread; this one answers until it is ready."""
        engine = await asyncio.to_thread(self.engine.reloaded)
        self.engine = engine
        return Reloaded.of(engine)

    async def add(self, documents: list[Document]) -> list[Listing]:
        return await self._change(collection.add, documents)

    async def remove(self, doc_ids: list[str]) -> list[Listing]:
        return await self._change(collection.remove, doc_ids)

    async def _change(self, change: Callable[..., list[Listing]], payload: object) -> list[Listing]:
        """`collection.add` or `.remove` in another thread, then a reload."""
        engine = self.engine
        done = await asyncio.to_thread(change, engine.config, payload, lambda: engine.encoder)
        await self.reload()
        return done

    async def close(self) -> None:
        self._executor.shutdown(wait=True)


def _share_cores_with_the_event_loop() -> None:
    """The encoder works in a thread beside the event loop: leave the loop a core, and make
    the interpreter switch threads often so sends are not held up behind engine work."""
    limit_threads(max(1, (os.cpu_count() or 1) - 1))
    sys.setswitchinterval(0.0005)
