"""Chapter timing: every chapter reports how long it ran against its time budget.

A chapter starts a timer in its first cell, marks laps after its expensive cells and reports at
the end::

    timer = start_chapter("nsa", budget_s=120)
    ...                       # train
    timer.lap("train")
    ...                       # evaluate
    timer.lap("evaluate")
    timer.report(preset)      # Chapter 'nsa' ran in 41.7 s on cpu preset on cpu (budget 120 s)

Going over budget prints a warning but never raises: a slow machine must not break the book.
:func:`start_chapter` also applies the book's thread policy (:mod:`~readingroom.common.threads`:
one CPU thread unless ``READINGROOM_THREADS`` says otherwise), and the report names the count.
"""

from __future__ import annotations

import time

from .checks import check_float
from .device import Preset
from .threads import use_threads

__all__ = ["ChapterTimer", "start_chapter"]

_clock = time.perf_counter  # monotonic wall clock (a module attribute so tests can replace it)


class ChapterTimer:
    """Wall-clock timer for one chapter, with named laps and a time budget.

    Args:
        name: the chapter's name, a non-empty str.
        budget_s: the time the chapter should take on the CPU preset, in seconds (> 0).
    """

    def __init__(self, name: str, budget_s: float = 120.0, threads: int | None = None) -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a non-empty str, got {type(name).__name__}")
        if not name.strip():
            raise ValueError(f"name must be a non-empty str, got {name!r}")
        self.name = name
        self.budget_s = check_float(budget_s, "budget_s", low=0, low_open=True)
        self.threads = threads  # CPU threads the chapter computes with (None: not recorded)
        self.laps: list[tuple[str, float]] = []  # (label, seconds since start)
        self._start = _clock()

    @property
    def elapsed(self) -> float:
        """Seconds since the timer started."""
        return _clock() - self._start

    def lap(self, label: str) -> float:
        """Record a lap named ``label`` and return the seconds since the start."""
        if not isinstance(label, str):
            raise TypeError(f"label must be a non-empty str, got {type(label).__name__}")
        if not label.strip():
            raise ValueError(f"label must be a non-empty str, got {label!r}")
        seconds = self.elapsed
        self.laps.append((label, seconds))
        return seconds

    def report(self, preset: Preset | None = None) -> float:
        """Print the total time, the per-lap breakdown and, when over budget, a warning.

        Args:
            preset: the chapter's :class:`~readingroom.common.device.Preset`, named in the report.

        Returns:
            Seconds since the start.
        """
        if preset is not None and not isinstance(preset, Preset):
            raise TypeError(f"preset must be a Preset or None, got {type(preset).__name__}")
        total = self.elapsed
        where = f" on {preset.name} preset on {preset.device}" if preset is not None else ""
        if self.threads is not None:
            where += f" with {self.threads} CPU thread{'s' if self.threads != 1 else ''}"
        print(f"Chapter {self.name!r} ran in {total:.1f} s{where} (budget {self.budget_s:g} s)")
        previous = 0.0
        width = max((len(label) for label, _ in self.laps), default=0)
        for label, at in self.laps:
            print(f"  {label:<{width}}  {at - previous:7.1f} s  (at {at:.1f} s)")
            previous = at
        if total > self.budget_s:
            print(
                f"WARNING: chapter {self.name!r} took {total:.1f} s, over its {self.budget_s:g} s "
                f"budget by {total - self.budget_s:.1f} s; shrink the cpu preset."
            )
        return total

    def __repr__(self) -> str:
        return (
            f"ChapterTimer(name={self.name!r}, budget_s={self.budget_s:g}, "
            f"elapsed={self.elapsed:.1f})"
        )


def start_chapter(name: str, budget_s: float = 120.0) -> ChapterTimer:
    """Apply the thread policy and start timing the chapter ``name`` (budget ``budget_s`` s)."""
    timer = ChapterTimer(name, budget_s)  # validates before anything is changed
    timer.threads = use_threads()
    return timer
