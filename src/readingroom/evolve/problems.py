"""The problems the loop can evolve, as :class:`~readingroom.evolve.loop.Problem` objects.

``circle-packing``: place ``n`` circles in the unit square, maximise the sum of radii (AlphaEvolve
Appendix B). The evaluator runs the candidate's ``main(n)`` in the sandbox and checks the packing
exactly (:func:`~readingroom.evolve.circles.check_packing`); MAP-Elites keeps the best program for
each combination of two features of its packing: how unequal the radii are, and how small the
smallest circle is. With ``time_budget_s`` the programs are search heuristics (AlphaEvolve §3.2):
each child gets its parent's packing (:func:`packing_of`, stored in the parent's metrics) as a
warm start and ``time_budget_s`` CPU seconds to improve on it.
"""

from __future__ import annotations

import functools

import numpy as np

from readingroom.common import check_int
from readingroom.evolve import circles
from readingroom.evolve.loop import Problem

__all__ = ["PROBLEMS", "circle_packing", "evaluate_packing", "make_problem", "packing_of"]

CIRCLE_STATEMENT = (
    "Place {n} non-overlapping circles inside the unit square [0, 1] x [0, 1] so that the sum of "
    "their radii is as large as possible. main(n) returns {{\"centers\": [[x, y], ...], "
    "\"radii\": [r, ...]}}; the evaluator checks containment and non-overlap exactly, with no "
    "tolerance, and scores the sum of radii. The best known sum for 26 circles is 2.6359.")
SEARCH_STATEMENT = (
    " The program is a search heuristic: main(n, warm_start, time_budget_s, seed) gets the best "
    "packing found so far (warm_start, or None) and {seconds:g} CPU seconds, and returns the "
    "best packing it finds.")


def evaluate_packing(code: str, n: int, *, timeout_s: float = 60.0,
                     time_budget_s: float | None = None, warm_start: dict | None = None) -> dict:
    """:func:`~readingroom.evolve.circles.evaluate` (search mode when ``time_budget_s`` is
    given) plus what the loop stores: ``metrics`` (the score, the radii's spread and minimum,
    the seconds, and the checked ``packing`` itself, the next warm start) and the MAP-Elites
    ``features``. A failed run's metrics hold only its seconds."""
    out = circles.evaluate(code, n, timeout_s=timeout_s, time_budget_s=time_budget_s,
                           warm_start=warm_start)
    out.pop("layer", None)
    value = out.pop("value", None)
    seconds = {"wall_s": round(out["wall_s"], 2)}
    if out["cpu_s"] is not None:
        seconds["cpu_s"] = round(out["cpu_s"], 3)
    out["metrics"] = seconds
    if out["ok"]:
        radii = np.asarray(value["radii"], dtype=float)
        spread = float(radii.std() / radii.mean())
        smallest = float(radii.min())
        out["metrics"] = {"sum_radii": out["score"], "radius_spread": round(spread, 4),
                          "smallest_radius": round(smallest, 4), **seconds,
                          "packing": {"centers": value["centers"], "radii": value["radii"]}}
        out["features"] = {"radius_spread": spread, "smallest_radius": smallest}
    return out


def packing_of(program) -> dict | None:
    """The checked packing a program returned (its metrics' ``"packing"``), the warm start of
    its children; ``None`` if it has none."""
    metrics = getattr(program, "metrics", None) or {}
    return metrics.get("packing")


def circle_packing(n: int = 26, *, timeout_s: float = 60.0,
                   time_budget_s: float | None = None) -> Problem:
    """The circle-packing problem for ``n`` circles (see the module docstring). With
    ``time_budget_s`` (CPU seconds per evaluation, below ``timeout_s``, the wall-clock hard cap)
    the programs are search heuristics warm-started from their parent's packing."""
    n = check_int(n, "n")
    statement = CIRCLE_STATEMENT.format(n=n)
    if time_budget_s is not None:
        time_budget_s = circles.check_time_budget(time_budget_s)
        if not timeout_s > time_budget_s:
            raise ValueError(f"timeout_s (the hard cap, {timeout_s!r} s) must exceed "
                             f"time_budget_s ({time_budget_s!r} s)")
        statement += SEARCH_STATEMENT.format(seconds=time_budget_s)
    return Problem(
        name=f"circle-packing-{n}",
        statement=statement,
        initial_program=circles.SEED_PROGRAM,
        evaluate=functools.partial(evaluate_packing, n=n, timeout_s=timeout_s,
                                   time_budget_s=time_budget_s),
        features={"radius_spread": (0.0, 0.5, 5), "smallest_radius": (0.0, 0.12, 4)},
        fragments=circles.FRAGMENTS,
        warm_start=None if time_budget_s is None else packing_of,
    )


def matmul_decomposition(n: int = 2, m: int = 2, p: int = 2, rank: int = 7, *, trials: int = 3,
                         timeout_s: float = 60.0) -> Problem:
    """A rank-``rank`` decomposition of the ``<n, m, p>`` matrix multiplication tensor
    (AlphaEvolve §3.1; :mod:`readingroom.evolve.matmul`): each evaluation runs ``trials`` seeds,
    rounds to half-integers and checks exactly; the score is the mean of 1.0 per exact trial and
    a graded score below 0.5 per inexact one. MAP-Elites keeps the best program for each
    combination of the fraction of non-zero coefficients and the largest coefficient."""
    from readingroom.evolve import matmul

    n, m, p, rank = (check_int(v, name) for name, v in (("n", n), ("m", m), ("p", p),
                                                         ("rank", rank)))
    statement = matmul.STATEMENT.format(n=n, m=m, p=p, rank=rank, nm=n * m, mp=m * p, np=n * p)
    return Problem(
        name=f"matmul-{n}x{m}x{p}-rank{rank}",
        statement=statement,
        initial_program=matmul.SEED_PROGRAM,
        evaluate=functools.partial(matmul.evaluate_matmul, n=n, m=m, p=p, rank=rank,
                                   trials=check_int(trials, "trials"), timeout_s=timeout_s),
        features={"nonzero_fraction": (0.0, 1.0, 5), "max_coefficient": (0.0, 3.0, 3)},
        fragments=matmul.FRAGMENTS,
    )


PROBLEMS = {"circle-packing": circle_packing, "matmul": matmul_decomposition}


def make_problem(name: str, **kwargs) -> Problem:
    """A problem by name (a key of :data:`PROBLEMS`)."""
    if name not in PROBLEMS:
        raise ValueError(f"problem must be one of {', '.join(PROBLEMS)}, got {name!r}")
    return PROBLEMS[name](**kwargs)
