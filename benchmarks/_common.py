"""Shared helpers: the header, timing statistics, peak memory and plain-text tables."""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import sys
from collections.abc import Sequence

import faiss
import numpy as np

import knowledge

# Settings that change the figures, as the caller gave them (before `limit_threads`).
_GIVEN_ENV = {k: os.environ[k] for k in ("HF_HUB_OFFLINE", "OMP_NUM_THREADS") if k in os.environ}
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def print_header(title: str) -> None:
    """The exact command line, then what the figures were measured on."""
    env = "".join(f"{k}={shlex.quote(v)} " for k, v in _GIVEN_ENV.items())
    print(f"$ {env}{shlex.join(sys.orig_argv)}")
    print(f"# {title} | {os.cpu_count()} cores, load average {load_average()} at start")


def print_footer() -> None:
    """The load average at the end: other work on the machine inflates wall-clock figures."""
    print(f"# load average {load_average()} at end")


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def percentiles(samples: Sequence[float], points: Sequence[int] = (50, 95, 99)) -> list[float]:
    """The given percentiles of `samples`."""
    return [float(x) for x in np.percentile(np.asarray(samples, dtype=np.float64), points)]


def ms(seconds: Sequence[float]) -> str:
    """p50 / p95 / p99 of durations in seconds, shown in milliseconds."""
    return " / ".join(f"{1000 * p:.1f}" for p in percentiles(seconds))


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB).

    Only for a process started by exec from a small one (a shell): Linux carries the
    parent's peak into a forked child's ru_maxrss, even across exec; see `own_peak_rss_mb`.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def own_peak_rss_mb() -> float:
    """Peak resident set size of this process's own memory (VmHWM), in MiB; for children."""
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def goal(value: float, limit: float) -> str:
    """`ok` or `MISSED` against an upper limit."""
    return "ok" if value <= limit else "MISSED"


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns separated by two spaces, with a rule under the header."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for line in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def threads_option(parser: argparse.ArgumentParser) -> None:
    """Add `--threads N`, for `limit_threads`."""
    parser.add_argument(
        "--threads",
        type=int,
        help="cap the threads of faiss and the encoder (default: one per core)",
    )


def limit_threads(count: int | None) -> None:
    """Cap the threads: faiss's and the encoder's now, and child processes' through the
    environment. None leaves the defaults."""
    if count is not None:
        os.environ["OMP_NUM_THREADS"] = str(count)
        faiss.omp_set_num_threads(count)
        knowledge.limit_threads(count)
