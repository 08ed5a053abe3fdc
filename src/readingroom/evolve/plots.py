"""Drawing an evolutionary run: its progress, its MAP-Elites grid, its islands, its lineage.

Everything here reads a :class:`~readingroom.evolve.database.ProgramDatabase` (or curves taken
from one), so the same functions draw a live run after every batch (:class:`LiveDashboard`) and a
committed run read back from its SQLite file.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from readingroom.common.checks import check_float
from readingroom.common.plotting import BOOK_COLORS, get_axes
from readingroom.evolve.database import Program, ProgramDatabase

__all__ = [
    "LiveDashboard", "best_curve", "island_curves", "lineage_rows", "lineage_table",
    "plot_curves", "plot_dashboard", "plot_grid", "plot_islands", "plot_progress",
]


def _check_db(db: object) -> ProgramDatabase:
    if not isinstance(db, ProgramDatabase):
        raise TypeError(f"db must be a ProgramDatabase, got {type(db).__name__}")
    return db


def _evaluated(db: ProgramDatabase) -> list[Program]:
    """Children that were run (a diff that did not apply was never evaluated)."""
    return [p for p in db.children() if not (p.reason or "").startswith("diff: ")]


def best_curve(programs: Sequence[Program]) -> list[float]:
    """The best score after each program of ``programs`` (NaN until the first success)."""
    out, best = [], float("nan")
    for p in programs:
        if p.status == "ok" and p.score is not None and not (best >= p.score):
            best = float(p.score)
        out.append(best)
    return out


def island_curves(db: ProgramDatabase) -> dict[int, tuple[list[int], list[float]]]:
    """Per island, ``(evaluation index, best score so far on that island)`` after each of its
    evaluated children; the index counts evaluations over the whole run."""
    db = _check_db(db)
    runs: dict[int, tuple[list[int], list[float]]] = {i: ([], []) for i in range(db.islands)}
    root = db.get(1)
    best = {i: (root.score if root.score is not None else float("nan"))
            for i in range(db.islands)}
    for k, p in enumerate(_evaluated(db), start=1):
        if p.status == "ok" and p.score is not None and not (best[p.island] >= p.score):
            best[p.island] = float(p.score)
        xs, ys = runs[p.island]
        xs.append(k)
        ys.append(best[p.island])
    return runs


def plot_progress(db: ProgramDatabase, ax: Axes | None = None, *,
                  references: Mapping[str, float] | None = None) -> Axes:
    """Every evaluated child's score (dots; failures as crosses on the floor) and the best score
    so far (line), against the evaluation count; ``references`` draws labelled horizontal lines
    (e.g. the paper's record)."""
    db = _check_db(db)
    ax = get_axes(ax)
    done = _evaluated(db)
    xs = np.arange(1, len(done) + 1)
    scores = np.array([p.score if p.status == "ok" and p.score is not None else np.nan
                       for p in done], dtype=float)
    ok = np.isfinite(scores)
    root = db.get(1).score
    ax.scatter(xs[ok], scores[ok], s=10, color=BOOK_COLORS[0], alpha=0.45, label="children",
               zorder=2)
    ax.plot(np.r_[0, xs], [root, *best_curve([db.get(1), *done])[1:]], color=BOOK_COLORS[1],
            linewidth=2, label="best so far", zorder=3)
    finite = scores[ok]
    floor = min([root, *finite.tolist()]) if finite.size else root
    if (~ok).any():
        ax.scatter(xs[~ok], np.full((~ok).sum(), floor), marker="x", s=14, color="grey",
                   label=f"failed ({int((~ok).sum())})", zorder=2)
    for i, (name, value) in enumerate((references or {}).items()):
        ax.axhline(value, color=BOOK_COLORS[(i + 3) % len(BOOK_COLORS)], linestyle="--",
                   linewidth=1, label=f"{name} ({value:.4f})")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("score")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_grid(db: ProgramDatabase, island: int | None = None, ax: Axes | None = None) -> Axes:
    """The MAP-Elites grid of ``island`` (default: the island holding the best program) over
    its first two feature dimensions: each occupied cell coloured by its elite's score."""
    db = _check_db(db)
    if len(db.shape) != 2:
        raise ValueError(f"plot_grid draws a grid of two features; this database has "
                         f"{len(db.shape)}")
    ax = get_axes(ax)
    if island is None:
        best = db.best()
        island = 0 if best is None else best.island
    grid = db.grid(island, values="score")
    (name_y, (lo_y, hi_y, _)), (name_x, (lo_x, hi_x, _)) = list(db.features.items())
    image = ax.imshow(grid, origin="lower", cmap="viridis", aspect="auto",
                      extent=(lo_x, hi_x, lo_y, hi_y))
    ax.figure.colorbar(image, ax=ax, label="elite's score")
    ax.set_xlabel(name_x.replace("_", " "))
    ax.set_ylabel(name_y.replace("_", " "))
    filled = int(np.isfinite(grid).sum())
    ax.set_title(f"island {island}: {filled} of {grid.size} cells filled", fontsize=10)
    return ax


def plot_islands(db: ProgramDatabase, ax: Axes | None = None) -> Axes:
    """The best score so far on each island, against the run's evaluation count (migrations
    copy an island's best to its neighbour, so the curves jump together)."""
    db = _check_db(db)
    ax = get_axes(ax)
    for i, (xs, ys) in island_curves(db).items():
        if xs:
            ax.step(xs, ys, where="post", color=BOOK_COLORS[i % len(BOOK_COLORS)],
                    label=f"island {i}")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best score on the island")
    ax.legend(fontsize=8)
    return ax


def plot_dashboard(db: ProgramDatabase, axes: Sequence[Axes], *,
                   references: Mapping[str, float] | None = None) -> None:
    """:func:`plot_progress`, :func:`plot_grid` and :func:`plot_islands` on three axes."""
    if len(axes) != 3:
        raise ValueError(f"axes must hold three Axes, got {len(axes)}")
    plot_progress(db, axes[0], references=references)
    plot_grid(db, ax=axes[1])
    plot_islands(db, axes[2])


class LiveDashboard:
    """Draw a run as it goes: pass it as ``run_evolution(..., on_batch=dashboard)``.

    In a notebook it redraws one figure in place (an IPython display handle) at most every
    ``every_s`` seconds and once more on :meth:`close`; elsewhere it only keeps the figure.
    ``history`` collects ``(seconds, evaluations, best score)`` after every batch.
    """

    def __init__(self, *, references: Mapping[str, float] | None = None, every_s: float = 2.0,
                 figsize: tuple[float, float] = (13.0, 3.6)):
        import matplotlib.pyplot as plt

        check_float(every_s, "every_s", low=0)
        self.references = dict(references or {})
        self.every_s = float(every_s)
        self.fig, self.axes = plt.subplots(1, 3, figsize=figsize)
        plt.close(self.fig)  # shown through the display handle, not by the notebook's backend
        self.history: list[tuple[float, int, float]] = []
        self._start = time.perf_counter()
        self._last = -float("inf")
        self._handle: Any = None
        self._db: ProgramDatabase | None = None

    def _draw(self) -> None:
        for ax in self.fig.axes[3:]:  # the grid's colour bar from the last draw
            ax.remove()
        for ax in self.axes:
            ax.clear()
        plot_dashboard(self._db, self.axes, references=self.references)
        if self.fig.get_layout_engine() is None:  # the book's style already lays figures out
            self.fig.set_layout_engine("constrained")
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:  # pragma: no cover - IPython ships with the book's dependencies
            return
        if get_ipython() is None:
            return
        if self._handle is None:
            self._handle = display(self.fig, display_id=True)
        else:
            self._handle.update(self.fig)

    def __call__(self, db: ProgramDatabase) -> None:
        self._db = _check_db(db)
        done = _evaluated(db)
        best = best_curve([db.get(1), *done])[-1]
        now = time.perf_counter() - self._start
        self.history.append((now, len(done), best))
        if now - self._last >= self.every_s:
            self._last = now
            self._draw()

    def close(self, db: ProgramDatabase | None = None) -> None:
        """Draw the final state: of ``db`` (e.g. the run's file reopened after
        :func:`~readingroom.evolve.loop.run_evolution` closed it), else of the last batch seen."""
        if db is not None:
            self._db = _check_db(db)
        if self._db is None:
            raise RuntimeError("the dashboard has not seen a batch yet")
        self._draw()


def plot_curves(curves: Mapping[str, Sequence[float]], ax: Axes | None = None, *,
                x: Mapping[str, Sequence[float]] | None = None, xlabel: str = "evaluations",
                references: Mapping[str, float] | None = None) -> Axes:
    """Best score so far of several methods, one line each (``curves``: name -> scores); ``x``
    gives each method's own x values (e.g. seconds) instead of 1, 2, ..."""
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty mapping name -> best-so-far scores")
    ax = get_axes(ax)
    for i, (name, ys) in enumerate(curves.items()):
        ys = np.asarray(ys, dtype=float)
        xs = np.arange(1, ys.size + 1) if x is None else np.asarray(x[name], dtype=float)
        if xs.shape != ys.shape:
            raise ValueError(f"x of {name!r} has {xs.size} values for {ys.size} scores")
        ax.step(xs, ys, where="post", color=BOOK_COLORS[i % len(BOOK_COLORS)], label=name,
                linewidth=1.8)
    for j, (name, value) in enumerate((references or {}).items()):
        ax.axhline(value, color="grey", linestyle=("--", ":", "-.")[j % 3], linewidth=1,
                   label=f"{name} ({value:.4f})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("best score")
    ax.legend(fontsize=8, loc="lower right")
    return ax


def _diff_summary(diff: str | None, limit: int = 70) -> str:
    """The first changed line of a SEARCH/REPLACE diff (what the REPLACE side says first that
    the SEARCH side did not), shortened to ``limit`` characters."""
    if not diff:
        return ""
    search, replace, side = [], [], None
    for line in diff.splitlines():
        marker = line.strip()
        if marker.startswith("<<<<<<<"):
            side = search
        elif marker.startswith("=======") and side is search:
            side = replace
        elif marker.startswith(">>>>>>>"):
            side = None
        elif side is not None:
            side.append(line.strip())
    new = [ln for ln in replace if ln and ln not in search]
    text = new[0] if new else (replace[0] if replace else diff.strip().splitlines()[0])
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def lineage_rows(db: ProgramDatabase, program_id: int | None = None) -> list[dict[str, Any]]:
    """The lineage of ``program_id`` (default: the best program), root first: per program its
    id, island, origin, score, the change in score from its parent and the first line its diff
    changed."""
    db = _check_db(db)
    if program_id is None:
        best = db.best()
        if best is None:
            raise ValueError("the database holds no successful program")
        program_id = best.id
    rows, previous = [], None
    for p in db.lineage(program_id):
        gain = None if previous is None or p.score is None else p.score - previous
        rows.append({"id": p.id, "island": p.island, "origin": p.origin, "score": p.score,
                     "gain": gain, "change": "(initial program)" if p.parent_id is None else
                     ("(migrated copy)" if p.origin == "migrant" else _diff_summary(p.diff))})
        previous = p.score if p.score is not None else previous
    return rows


def lineage_table(db: ProgramDatabase, program_id: int | None = None) -> str:
    """:func:`lineage_rows` as plain text, one program per line."""
    lines = [f"{'id':>5} {'isl':>3} {'score':>9} {'gain':>9}  change"]
    for r in lineage_rows(db, program_id):
        score = "failed" if r["score"] is None else f"{r['score']:.5f}"
        gain = "" if r["gain"] is None else f"{r['gain']:+.5f}"
        lines.append(f"{r['id']:>5} {r['island']:>3} {score:>9} {gain:>9}  {r['change']}")
    return "\n".join(lines)
