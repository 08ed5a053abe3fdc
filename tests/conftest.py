"""Test-wide settings: offline, headless, deterministic, one CPU thread per process; the order
and grouping that lets ``pytest -n`` (pytest-xdist) spread the suite over the cores; and a runtime
table for the chapters.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import pytest

# Before anything imports NumPy: the AVX2 kernel pin (readingroom.isa) goes into this process's
# environment, so the test workers and the chapters' kernels start with it too.
import readingroom  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"

# Nothing in the test suite may download anything; unit tests also run with sockets disabled
# (pytest-socket, see pyproject.toml), chapters with the network blocked in their kernel.
for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[_var] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config):
    """One CPU thread per process (the book's policy, ``readingroom.common.threads``): with one
    test worker per core, a second torch or BLAS thread per worker only fights the others."""
    from readingroom.common import use_threads

    use_threads()


CHAPTER_BUDGET_S = 120.0
RUNTIMES = BUILD / "chapter-runtimes.json"
#: Chapter name -> {"seconds", "threads"}, gathered from the test reports (in the xdist
#: controller as well as in a plain run): tests/test_chapters.py records them as user properties.
CHAPTER_RUNS: dict[str, dict] = {}


def _last_runtimes() -> dict[str, float]:
    """Chapter name -> seconds of the last recorded run (empty on a fresh clone)."""
    try:
        chapters = json.loads(RUNTIMES.read_text()).get("chapters", {})
        return {name: float(run["seconds"]) for name, run in chapters.items()}
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return {}


def pytest_collection_modifyitems(config, items):
    """Chapters first, slowest first (by the last run's times), then the unit tests.

    Under ``pytest -n N --dist loadgroup`` each chapter is its own unit of work and starts early,
    so the run does not end waiting for one long chapter; a test module whose tests share a
    module- or class-scoped fixture (a model trained once per module) stays on one worker, so the
    fixture is built once, not once per worker. Without xdist only the order changes.
    """
    last = _last_runtimes()
    chapters = [i for i in items if i.get_closest_marker("chapter")]
    chapters.sort(key=lambda i: -last.get(i.callspec.id if hasattr(i, "callspec") else "", 0.0))
    others = [i for i in items if not i.get_closest_marker("chapter")]
    for item in others:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else []
        if any(d[-1].scope in ("module", "class", "package") for d in defs if d):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
    items[:] = chapters + others


def pytest_runtest_logreport(report):
    if report.when != "call":
        return
    props = dict(report.user_properties)
    if "chapter_seconds" in props:
        CHAPTER_RUNS[props["chapter"]] = {"seconds": round(float(props["chapter_seconds"]), 1),
                                          "threads": props.get("threads", "1"),
                                          # [code-cell index, seconds] of its three slowest cells
                                          "slowest_cells": props.get("slowest_cells", [])}


def pytest_terminal_summary(terminalreporter, config):
    """Print each chapter's wall time against its budget and save them to _build/."""
    if not CHAPTER_RUNS or hasattr(config, "workerinput"):  # the xdist controller writes
        return
    tr = terminalreporter
    workers = getattr(config.option, "numprocesses", None) or 0
    tr.section("chapter runtimes (budget: %.0f s each on the 2-core CPU)" % CHAPTER_BUDGET_S)
    for name, run in CHAPTER_RUNS.items():
        flag = "" if run["seconds"] <= CHAPTER_BUDGET_S else "   <-- over budget"
        cells = ", ".join(f"#{c} {s:.0f} s" for c, s in run["slowest_cells"])
        slow = f"  slowest cells: {cells}" if cells else ""
        tr.write_line(f"{name:<32} {run['seconds']:7.1f} s  ({run['threads']} thread){flag}{slow}")
    BUILD.mkdir(exist_ok=True)
    try:
        old = json.loads(RUNTIMES.read_text())
        chapters = old["chapters"] if isinstance(old.get("chapters"), dict) else {}
    except (OSError, ValueError, AttributeError):
        chapters = {}
    chapters.update(CHAPTER_RUNS)
    record = {
        "chapters": dict(sorted(chapters.items())),
        "test_workers": workers,  # 0: no xdist, chapters ran one at a time
        "cpu_count": os.cpu_count(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    RUNTIMES.write_text(json.dumps(record, indent=2) + "\n")
    tr.write_line(f"(saved to {RUNTIMES.relative_to(ROOT)})")
