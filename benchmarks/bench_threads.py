"""Benchmark: the book's chapters on a quiet CPU and on a CPU shared with busy processes.

A reader's laptop or a CI runner is rarely idle. This script executes chapters exactly as
``make test`` does (:func:`readingroom.harness.run_chapter`: nbval in a child process, network
blocked, nothing written to the Jupyter cache) while ``L`` competing processes spin a pure-Python
loop on the same cores, for each ``L`` in ``--loads`` and each thread policy in ``--threads``
(``READINGROOM_THREADS``: ``1``, the book's default, or ``auto``, the libraries' own default of one
thread per core). The figure to keep low is the ratio ``seconds under load / seconds quiet``: on a
machine with ``C`` cores, a fair share of the CPU predicts ``max(1, (L + 1) / C)`` for a chapter
that computes with one thread.

    python benchmarks/bench_threads.py                         # every chapter, loads 0 1 2, 1 thread
    python benchmarks/bench_threads.py --chapters template --threads 1 auto
    python benchmarks/bench_threads.py --quick --out /tmp/t.json   # a 2 s torch loop, not chapters

Writes JSON (default ``book/data/bench_threads.json``) with the machine, date, command, one row
per (chapter, threads, load) and, per chapter and policy, the ratios to the quiet run. Each run's
order is quiet first, then each load, so a warm file cache favours no load level.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import cpu_name

from readingroom.common import run_provenance

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "book" / "data" / "bench_threads.json"

#: The competing process: a pure-Python loop, as in the issue that measured the slowdown.
BUSY = "while True: pass"

#: ``--quick``'s workload: a small MLP trained for a fixed number of steps (about 2 s).
QUICK_WORKLOAD = """
import time, torch
from readingroom.common import use_threads
use_threads()
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 64))
opt = torch.optim.SGD(net.parameters(), lr=0.01)
x = torch.randn(256, 64)
for _ in range(300):
    loss = (net(x) - x).pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
print(float(loss))
"""


def autogroup() -> str:
    """Whether Linux groups the CPU by session (``/proc/sys/kernel/sched_autogroup_enabled``):
    ``"on"``, ``"off"`` or ``"unknown"`` (not Linux, or the file is not readable)."""
    try:
        value = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
    except OSError:
        return "unknown"
    return {"1": "on", "0": "off"}.get(value, "unknown")


@contextlib.contextmanager
def busy_processes(n: int):
    """``n`` child processes spinning a pure-Python loop for the duration of the block.

    Each starts a session of its own, as separate programs on a reader's machine do. This
    matters on Linux with autogroup on: the scheduler shares the CPU fairly between sessions
    first, and the chapter's kernel runs in a session of its own, so busy loops that shared
    one session would take one share between them and slow the chapter far less than ``n``
    separate programs do.
    """
    procs = [subprocess.Popen([sys.executable, "-c", BUSY], start_new_session=True)
             for _ in range(n)]
    try:
        time.sleep(0.5 if n else 0.0)  # let them start before the clock does
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


@contextlib.contextmanager
def threads_env(policy: str):
    """``READINGROOM_THREADS=policy`` (and no OpenMP override) for the block."""
    saved = {k: os.environ.get(k) for k in ("READINGROOM_THREADS", "OMP_NUM_THREADS",
                                            "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    for key in saved:
        os.environ.pop(key, None)
    os.environ["READINGROOM_THREADS"] = policy
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_chapter_timed(chapter, workdir: Path) -> tuple[float, bool]:
    from readingroom.harness import run_chapter

    run = run_chapter(chapter, workdir=workdir, cache_dir=None, timeout_s=1800)
    if not run.passed:
        print(run.report[-3000:], file=sys.stderr)
    return run.seconds, run.passed


def run_quick_timed(_chapter, workdir: Path) -> tuple[float, bool]:
    from readingroom.common import thread_env

    env = {**os.environ, **thread_env()}
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", QUICK_WORKLOAD], env=env, cwd=workdir,
                          capture_output=True, text=True)
    return time.perf_counter() - start, proc.returncode == 0


def write_record(args: argparse.Namespace, rows: list[dict], ratios: dict, cores: int, *,
                 complete: bool) -> None:
    """Write the JSON so far (``complete`` is False while rows are still to come)."""
    record = {
        "device": cpu_name(),
        "device_type": "cpu",
        "cpu_count": cores,
        "python_version": platform.python_version(),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv])),
        "busy_process": BUSY,
        "busy_sessions": "one session per busy process",
        "sched_autogroup": autogroup(),
        "quick": args.quick,
        "complete": complete,
        "timing": "time.perf_counter around one execution (kernel start included)",
        "results": rows,
        "ratios": ratios,
        # where and from which commit (the record itself left out of 'dirty')
        "provenance": run_provenance(shlex.join(getattr(sys, "orig_argv", [sys.executable,
                                                                           *sys.argv])),
                                     outputs=(args.out,)),
        "max_ratio": {p: max(r[p][k] for r in ratios.values() for k in r.get(p, {}))
                      for p in args.threads if any(p in r for r in ratios.values())},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", nargs="+", default=None,
                        help="chapter names (default: every chapter in _toc.yml)")
    parser.add_argument("--loads", nargs="+", type=int, default=[0, 1, 2],
                        help="numbers of competing busy processes (default: 0 1 2)")
    parser.add_argument("--threads", nargs="+", default=["1"],
                        help="READINGROOM_THREADS policies to compare (default: 1)")
    parser.add_argument("--quick", action="store_true",
                        help="time a 2 s torch loop instead of chapters (loads 0 and 1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where to write the JSON (default: book/data/bench_threads.json)")
    args = parser.parse_args(argv)
    # The busy processes run in sessions of their own, so a signal to this process group does
    # not reach them: on SIGTERM (e.g. from `timeout`) exit through busy_processes' cleanup.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if any(n < 0 for n in args.loads):
        parser.error(f"--loads must be non-negative ints, got {args.loads}")
    if 0 not in args.loads:
        args.loads = [0, *args.loads]  # the ratios need the quiet run
    from readingroom.common import thread_count

    for policy in args.threads:
        try:
            thread_count(policy)
        except (TypeError, ValueError) as err:
            parser.error(f"--threads: {err}")

    if args.quick:
        names, runner, loads = ["quick-workload"], run_quick_timed, [0, 1]
        targets = {"quick-workload": None}
    else:
        from readingroom.harness import toc_chapters

        chapters = {c.name: c for c in toc_chapters(REPO)}
        names = args.chapters or list(chapters)
        unknown = [n for n in names if n not in chapters]
        if unknown:
            parser.error(f"--chapters: no chapter named {', '.join(unknown)}; "
                         f"known: {', '.join(chapters)}")
        runner, loads, targets = run_chapter_timed, sorted(set(args.loads)), chapters

    cores = os.cpu_count() or 1
    rows, ratios, ok = [], {}, True
    with tempfile.TemporaryDirectory(prefix="bench_threads_") as tmp:
        for name in names:
            for policy in args.threads:
                quiet = None
                for load in loads:
                    with threads_env(policy), busy_processes(load):
                        seconds, passed = runner(targets[name], Path(tmp) / f"{name}-{load}")
                    ok &= passed
                    quiet = seconds if load == 0 else quiet
                    ratio = seconds / quiet
                    fair = max(1.0, (load + 1) / cores)
                    rows.append({"chapter": name, "threads": policy, "load": load,
                                 "seconds": round(seconds, 1), "passed": passed,
                                 "ratio_to_quiet": round(ratio, 2), "fair_share_ratio": fair})
                    ratios.setdefault(name, {}).setdefault(policy, {})[str(load)] = round(ratio, 2)
                    write_record(args, rows, ratios, cores, complete=False)  # a stopped run keeps its rows
                    print(f"{name:<20} threads={policy:<5} load={load}: {seconds:7.1f} s  "
                          f"x{ratio:.2f} of quiet (fair share x{fair:.2f})"
                          f"{'' if passed else '  FAILED'}", flush=True)

    write_record(args, rows, ratios, cores, complete=True)
    print(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
