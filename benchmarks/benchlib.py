"""Helpers shared by the benchmark scripts: the machine's name and a wall-clock median timer.

Imported by the ``bench_*.py`` scripts next to it (``python benchmarks/bench_x.py`` puts this
folder on ``sys.path``). Not a benchmark itself: ``run_all.py`` only runs ``bench_*.py``.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["cpu_name", "median_ms_wall"]


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo where there is one, else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def median_ms_wall(fn: Callable[[], object], warmup: int, reps: int,
                   sync: Callable[[], object] = lambda: None) -> float:
    """Median wall time of ``fn()`` in ms over ``reps`` calls, after ``warmup`` calls;
    ``sync`` (e.g. ``torch.cuda.synchronize``) runs before and after each timed call."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)
