"""Runs engine work off the event loop, one batch at a time, so the encoder sees batches."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

from knowledge import Answer, Engine

MAX_BATCH = 32


class AnswerBatcher:
    """Questions queue up while the engine works on a batch; the next batch takes them all."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: asyncio.Queue[tuple[str, asyncio.Future[Answer]]] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="answer-batcher")

    async def answer(self, question: str) -> Answer:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        await self._queue.put((question, future))
        return await future

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            engine = self.engine
            questions = [question for question, _ in batch]
            try:
                answers = await loop.run_in_executor(self._executor, engine.answer_many, questions)
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)
