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

__all__ = ["cpu_name", "kernel_main", "kernel_provenance", "median_ms_wall"]


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


def kernel_provenance(device, *, on_gpu: bool, quick: bool) -> dict:
    """The provenance fields every kernel benchmark records: device, threads, Triton backend
    (compiled or interpreted), versions, UTC date, exact command, timing method, ``quick``."""
    import datetime as _dt
    import shlex
    import sys

    import readingroom.kernels as rk
    import torch
    import triton

    return {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else cpu_name(),
        "device_type": device.type,
        "torch_threads": torch.get_num_threads(),
        "backend": rk.describe_backend(),
        "interpreted": rk.INTERPRETED,
        "torch_version": torch.__version__,
        "triton_version": triton.__version__,
        "python_version": platform.python_version(),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv])),
        "timing": (
            "triton.testing.do_bench, median, ms" if on_gpu
            else "time.perf_counter, median of repeated calls, ms"
        ),
        "quick": quick,
    }


def kernel_main(argv, *, name: str, doc: str, run, default_out: Path, repo: Path,
                quick_help: str, cpu_note: str) -> int:
    """The command line every kernel benchmark shares: ``[--quick] [--out PATH]``; runs
    ``run(quick=...)``, writes its record as JSON and repeats the interpreter note on a CPU."""
    import argparse
    import json

    import readingroom.kernels as rk

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument(
        "--out", type=Path, default=default_out,
        help=f"where to write the JSON (default: {default_out.relative_to(repo)})",
    )
    args = parser.parse_args(argv)

    print(f"{name}: {rk.describe_backend()}", flush=True)
    record = run(quick=args.quick)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    if record["interpreted"]:
        print("note: " + cpu_note)
    return 0
