"""How long engine worker processes take to start: all of them, and a replacement.

    python -m benchmarks.workers [--workers 2] [--rounds 3]

Each round is a fresh process, as a bot's start is: it starts `--workers` workers over the
bundled corpus (its index built beforehand), answers one question, kills a worker and times
its replacement until it is ready. Both start methods are measured, alternately: the fork
server (shipped: it imports the engine's modules once) and spawn (each worker imports
everything itself).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import print_footer, print_header, print_table
from bot.serving.workers import EngineWorkers, StartMethod
from knowledge import Engine, EngineConfig

QUESTION = "What share of tax revenue comes from SMEs?"
POLL = 0.01


async def one_round(config: EngineConfig, count: int, method: StartMethod) -> list[float]:
    """Seconds to the first worker ready, to all ready, and for a killed one's replacement."""
    workers = EngineWorkers(config, count, start_method=method)
    started = time.perf_counter()
    try:
        await workers.start()
        first = time.perf_counter() - started
        while not all(w.ready.done() for w in workers._workers):
            await asyncio.sleep(POLL)
        every = time.perf_counter() - started
        await workers.answer_many([QUESTION])
        victim = workers._workers[-1]
        killed = time.perf_counter()
        os.kill(victim.process.pid or 0, signal.SIGKILL)
        while workers._workers[-1] is victim or not workers._workers[-1].ready.done():
            await asyncio.sleep(POLL)
        replaced = time.perf_counter() - killed
        return [first, every, replaced]
    finally:
        await workers.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "INDEX_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # a round, in a process of its own
        method, index_dir = args.one
        config = EngineConfig(index_dir=Path(index_dir))
        print(json.dumps(asyncio.run(one_round(config, args.workers, method))))
        return
    print_header("engine worker start-up")
    with tempfile.TemporaryDirectory() as scratch:
        index_dir = Path(scratch) / "index"
        Engine.load(EngineConfig(index_dir=index_dir))  # the index exists: workers load it
        figures: dict[StartMethod, list[list[float]]] = {"forkserver": [], "spawn": []}
        for _ in range(args.rounds):
            for method, runs in figures.items():
                command = [sys.executable, "-m", "benchmarks.workers", "--workers"]
                command += [str(args.workers), "--one", method, str(index_dir)]
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                runs.append(json.loads(done.stdout.splitlines()[-1]))
    rows = [
        [method] + [f"{statistics.median(r[i] for r in runs):.2f} s" for i in range(3)]
        for method, runs in figures.items()
    ]
    print_table(["start method", "first ready", f"all {args.workers} ready", "replacement"], rows)
    print(f"(medians of {args.rounds} rounds, alternating)")
    print_footer()


if __name__ == "__main__":
    main()
