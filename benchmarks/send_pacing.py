"""The send limiter on the real clock: the rate it keeps, and what a stalled loop does to it.

    python -m benchmarks.send_pacing [--per-second 30] [--sends 150] [--runs 3]

Each run makes `--sends` messages to as many private chats at once and notes when each
passes the limiter (python-telegram-bot's rate limiter, before any request). A second set
of runs blocks the event loop for half a second once the sends are under way, as a busy bot
can: the busiest second must still hold no more than the rate allows.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time

from benchmarks._common import print_footer, print_header
from bot.sending.ratelimit import SendLimiter
from tests.support.windows import max_in_window

STALL_SECONDS = 0.5


async def one_run(per_second: float, sends: int, *, stall: bool) -> list[float]:
    """When each of `sends` messages, all made at once, passed the limiter."""
    limiter = SendLimiter(per_second)
    went: list[float] = []

    async def send() -> bool:
        went.append(time.monotonic())
        if stall and len(went) == sends // 4:
            time.sleep(STALL_SECONDS)  # blocks the whole loop, as heavy work on it would
        return True

    await asyncio.gather(
        *(
            limiter.process_request(send, (), {}, "sendMessage", {"chat_id": chat}, None)
            for chat in range(1, sends + 1)
        )
    )
    return went


def report(label: str, went: list[float], per_second: float) -> None:
    gaps = [b - a for a, b in itertools.pairwise(went)]
    rate = (len(went) - 1) / (went[-1] - went[0])
    print(
        f"{label:<28} {rate:6.2f}/s  median gap {1000 * statistics.median(gaps):6.2f} ms"
        f"  busiest second {max_in_window(went)} (allowed {int(per_second) + 1})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-second", type=float, default=30.0)
    parser.add_argument("--sends", type=int, default=150)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print_header("send pacing")
    for stall in (False, True):
        for run in range(1, args.runs + 1):
            went = asyncio.run(one_run(args.per_second, args.sends, stall=stall))
            label = f"run {run}" + (f", {STALL_SECONDS} s stall" if stall else "")
            report(label, went, args.per_second)
    print_footer()


if __name__ == "__main__":
    main()
