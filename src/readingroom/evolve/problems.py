"""The problems the loop can evolve, as :class:`~readingroom.evolve.loop.Problem` objects.

``circle-packing``: place ``n`` circles in the unit square, maximise the sum of radii (AlphaEvolve
Appendix B). The evaluator runs the candidate's ``main(n)`` in the sandbox and checks the packing
exactly (:func:`~readingroom.evolve.circles.check_packing`); MAP-Elites keeps the best program for
each combination of two features of its packing: how unequal the radii are, and how small the
smallest circle is.
"""

from __future__ import annotations

import functools

import numpy as np

from readingroom.common import check_int
from readingroom.evolve import circles
from readingroom.evolve.loop import Problem

__all__ = ["PROBLEMS", "circle_packing", "evaluate_packing", "make_problem"]

CIRCLE_STATEMENT = (
    "Place {n} non-overlapping circles inside the unit square [0, 1] x [0, 1] so that the sum of "
    "their radii is as large as possible. main(n) returns {{\"centers\": [[x, y], ...], "
    "\"radii\": [r, ...]}}; the evaluator checks containment and non-overlap exactly, with no "
    "tolerance, and scores the sum of radii. The best known sum for 26 circles is 2.6359.")


def evaluate_packing(code: str, n: int, *, timeout_s: float = 60.0) -> dict:
    """:func:`~readingroom.evolve.circles.evaluate` plus what the loop stores: ``metrics`` (the
    score and the radii's spread and minimum) and the MAP-Elites ``features``."""
    out = circles.evaluate(code, n, timeout_s=timeout_s)
    out.pop("layer", None)
    value = out.pop("value", None)
    if out["ok"]:
        radii = np.asarray(value["radii"], dtype=float)
        spread = float(radii.std() / radii.mean())
        smallest = float(radii.min())
        out["metrics"] = {"sum_radii": out["score"], "radius_spread": round(spread, 4),
                          "smallest_radius": round(smallest, 4), "wall_s": round(out["wall_s"], 2)}
        out["features"] = {"radius_spread": spread, "smallest_radius": smallest}
    return out


def circle_packing(n: int = 26, *, timeout_s: float = 60.0) -> Problem:
    """The circle-packing problem for ``n`` circles (see the module docstring)."""
    n = check_int(n, "n")
    return Problem(
        name=f"circle-packing-{n}",
        statement=CIRCLE_STATEMENT.format(n=n),
        initial_program=circles.SEED_PROGRAM,
        evaluate=functools.partial(evaluate_packing, n=n, timeout_s=timeout_s),
        features={"radius_spread": (0.0, 0.5, 5), "smallest_radius": (0.0, 0.12, 4)},
        fragments=circles.FRAGMENTS,
    )


PROBLEMS = {"circle-packing": circle_packing}


def make_problem(name: str, **kwargs) -> Problem:
    """A problem by name (a key of :data:`PROBLEMS`)."""
    if name not in PROBLEMS:
        raise ValueError(f"problem must be one of {', '.join(PROBLEMS)}, got {name!r}")
    return PROBLEMS[name](**kwargs)
