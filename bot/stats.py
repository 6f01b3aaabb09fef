"""Counters and latency percentiles since start, for /stats."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from knowledge import Answer


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    answered: int = 0
    abstained: int = 0
    polling_conflicts: int = 0  # getUpdates refused: another instance polls with this token
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def record(self, answer: Answer, seconds: float) -> None:
        self.answered += 1
        self.abstained += answer.abstained
        self.latencies_ms.append(seconds * 1000)

    def percentiles(self) -> tuple[float, float, float]:
        if not self.latencies_ms:
            return 0.0, 0.0, 0.0
        p50, p95, p99 = np.percentile(np.asarray(self.latencies_ms), [50, 95, 99])
        return float(p50), float(p95), float(p99)

    def uptime(self) -> str:
        seconds = int(time.monotonic() - self.started)
        hours, rest = divmod(seconds, 3600)
        return f"{hours}h {rest // 60:02d}m {rest % 60:02d}s"
