"""Circle packing in the unit square: AlphaEvolve's headline geometry problem and its baselines.

AlphaEvolve (Novikov et al., 2025, Appendix B.12) evolves programs that place ``n`` disjoint
circles inside the unit square so as to **maximise the sum of their radii**. Its programs found
2.6358627564 for ``n = 26`` (previous best 2.634) and 2.9379445262 for ``n = 32`` (previous best
2.936); :data:`ALPHAEVOLVE` and :data:`PREVIOUS` hold these numbers.

What this module gives the chapter:

* :func:`check_packing` -- the **independent checker**, with no tolerance: every float the
  candidate returned is turned into an exact :class:`fractions.Fraction` and the constraints
  ``x - r >= 0``, ``x + r <= 1`` (same for ``y``) and
  ``(x_i - x_j)^2 + (y_i - y_j)^2 >= (r_i + r_j)^2`` are decided exactly. A packing that overlaps
  by ``1e-15`` -- which any float tolerance would let through -- is rejected.
* :func:`repair` -- shrinks the radii of an almost-feasible float solution (an optimiser's output
  violates its constraints by ~1e-10) by the least amount that makes it pass the exact checker.
* :data:`SEED_PROGRAM` -- the program evolution starts from. It is **self-contained** (numpy,
  scipy and the standard library only): ``readingroom`` is *not* importable inside the sandbox
  (bwrap mounts the virtual environment, not ``src/``), so the helpers it uses are pasted into
  its text from this module's own source (:func:`inspect.getsource`), outside its
  ``EVOLVE-BLOCK``: the code the baselines run and the code evolution starts from are the same
  lines. It is a **search heuristic**, as AlphaEvolve's programs for its mathematical problems
  were (§3.2: "each generation of AlphaEvolve was tasked with evolving a program representing a
  search heuristic. This program was given a fixed time budget and was shown the best
  construction found by the previous best heuristic"): ``main(n, warm_start, time_budget_s,
  seed)`` starts from ``warm_start`` (or builds a cold start), runs monotonic basin hopping --
  perturb the best packing, re-optimise it with SLSQP, keep it if better -- until its process
  has used ``time_budget_s`` CPU seconds, and returns the best packing it found, never a worse
  one than its warm start; ``main(n)`` alone builds one packing from scratch (*constructor
  mode*, the earlier setting). Its move is the basin-hopping baseline's, so evolution starts
  where that baseline is. Inside the block the heuristic is split into named regions (``#
  region: init`` the cold start, ``optimise`` the local optimisation, ``move`` the
  perturbation, ``schedule`` the step size) and knobs (step, shrink, the weights that split the
  time between moves, ...); :data:`FRAGMENTS` holds real alternatives for each region (hex and
  ring starts, penalty and near-pair optimisers, swap / kick / relocate moves, step-size
  schedules), and :func:`substitute_region` swaps one in. The exact :func:`repair` and the
  guard against returning less than the warm start sit outside the block: evolution cannot
  break feasibility, only the score.
* :func:`evaluate` / :func:`packing_cascade` -- run a candidate in the sandbox and score it with
  the checker, in constructor or search mode (search mode passes the warm start and enforces
  the time budget with ``RLIMIT_CPU``); a two-stage cascade (a small ``n`` under a short time
  limit first, which must beat the plain square grid, then the full ``n``; constructor mode).
* :func:`multistart_slsqp` / :func:`basin_hopping` -- the non-evolutionary baselines, under an
  **evaluation budget** (one evaluation = one local SLSQP run from one start) or a **CPU-seconds
  budget** (the fair one against search heuristics), each returning the best *checked* packing
  and the best score after every evaluation.
* :func:`draw_packing` -- a matplotlib picture of a packing.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import numbers
import re
import time
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.optimize import minimize

from readingroom.evolve.cascade import Cascade, Stage
from readingroom.evolve.sandbox import run_sandboxed

__all__ = [
    "ALPHAEVOLVE", "BaselineResult", "FRAGMENTS", "GRACE_S", "PREVIOUS", "PackingCheck",
    "REGIONS", "SEED_PROGRAM", "basin_hopping", "check_packing", "check_time_budget",
    "check_warm_start", "draw_packing", "evaluate", "feasible_radii", "feasible_score",
    "grid_score", "largest_hole", "multistart_slsqp", "optimise_penalty", "optimise_slsqp",
    "fragment_choices", "packing_cascade", "parse_regions", "repair", "substitute_region", "violation",
]

#: AlphaEvolve's sums of radii (Novikov et al., 2025, Appendix B.12).
ALPHAEVOLVE = {26: 2.6358627564, 32: 2.9379445262}
#: The best known before AlphaEvolve, as the paper quotes them.
PREVIOUS = {26: 2.634, 32: 2.936}


# ============================================================================ the exact checker


@dataclass(frozen=True)
class PackingCheck:
    """``ok``: the packing is valid; ``score``: the sum of radii (0.0 when not ok); ``reason``:
    why not ("" when ok)."""

    ok: bool
    score: float = 0.0
    reason: str = ""


def _real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _fail(reason: str) -> PackingCheck:
    return PackingCheck(False, 0.0, reason)


def check_packing(value: Any, n: int) -> PackingCheck:
    """Decide exactly whether ``value`` is a packing of ``n`` circles in the unit square.

    ``value`` is what a candidate returned: ``{"centers": [[x, y], ...], "radii": [r, ...]}``
    (extra keys are ignored). Valid means: ``n`` centers of two finite numbers and ``n`` finite
    radii ``r > 0``; every circle inside the square (``x - r >= 0``, ``x + r <= 1``, the same for
    ``y``); no two overlapping (``(x_i - x_j)^2 + (y_i - y_j)^2 >= (r_i + r_j)^2``; touching is
    allowed). Every comparison is exact, in :class:`~fractions.Fraction` arithmetic on the very
    floats given: there is no tolerance. The score is the sum of radii, rounded once to a float.

    Never raises for a bad ``value`` (the reason says what is wrong); raises ``ValueError`` only
    for a bad ``n``.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    n = int(n)
    if not isinstance(value, Mapping):
        return _fail(f"value must be a dict with 'centers' and 'radii', got "
                     f"{type(value).__name__}")
    for key in ("centers", "radii"):
        if key not in value:
            return _fail(f"missing key {key!r}")
    centers, radii = value["centers"], value["radii"]
    if not isinstance(centers, (list, tuple)):
        return _fail(f"centers must be a list, got {type(centers).__name__}")
    if not isinstance(radii, (list, tuple)):
        return _fail(f"radii must be a list, got {type(radii).__name__}")
    if len(centers) != n:
        return _fail(f"expected {n} centers, got {len(centers)}")
    if len(radii) != n:
        return _fail(f"expected {n} radii, got {len(radii)}")
    xs: list[Fraction] = []
    ys: list[Fraction] = []
    rs: list[Fraction] = []
    for i, c in enumerate(centers):
        if not isinstance(c, (list, tuple)) or len(c) != 2:
            return _fail(f"centers[{i}] must be a pair [x, y], got {c!r:.60}")
        for k, v in enumerate(c):
            if not _real(v):
                return _fail(f"centers[{i}][{k}] must be a number, got {type(v).__name__}")
            if not math.isfinite(v):
                return _fail(f"centers[{i}][{k}] is not finite: {v!r}")
        xs.append(Fraction(c[0]))
        ys.append(Fraction(c[1]))
    for i, r in enumerate(radii):
        if not _real(r):
            return _fail(f"radii[{i}] must be a number, got {type(r).__name__}")
        if not math.isfinite(r):
            return _fail(f"radii[{i}] is not finite: {r!r}")
        if r <= 0:
            return _fail(f"radii[{i}] must be > 0, got {r!r}")
        rs.append(Fraction(r))
    for i in range(n):
        x, y, r = xs[i], ys[i], rs[i]
        for name, excess in (("x = 0", r - x), ("x = 1", x + r - 1),
                             ("y = 0", r - y), ("y = 1", y + r - 1)):
            if excess > 0:
                return _fail(f"circle {i} crosses the wall {name} by {float(excess):.3g}")
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy, s = xs[i] - xs[j], ys[i] - ys[j], rs[i] + rs[j]
            gap = dx * dx + dy * dy - s * s
            if gap < 0:
                return _fail(f"circles {i} and {j} overlap: d^2 - (r_i + r_j)^2 = "
                             f"{float(gap):.3g}")
    return PackingCheck(True, float(sum(rs)), "")


def grid_score(n: int) -> float:
    """The sum of radii of the plain square grid: ``n`` equal circles in a ``k x k`` grid with
    ``k = ceil(sqrt(n))`` (``n / (2k)``); the floor a construction should beat."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return n / (2 * math.ceil(math.sqrt(n)))


# ============================================================================ the helpers
# These functions are pasted into SEED_PROGRAM's text (inspect.getsource): they may use only
# math, Fraction, numpy as np, scipy.optimize.minimize and each other.


def repair(centers, radii):
    """Shrink ``radii`` by the least amount that makes the packing pass the *exact* checker.

    Centers are clipped into the unit square; each radius is cut to the walls, then every
    overlapping pair is scaled down to touch, and the last few ulps are taken off one
    ``np.nextafter`` at a time until the exact (:class:`~fractions.Fraction`) test holds.
    Shrinking a radius never breaks a constraint already satisfied, so one pass suffices.
    A circle left with radius 0 (an optimiser may squeeze one out, even inside another) is moved
    to the largest empty spot of a 256 x 256 grid of probes and given that spot's radius.
    Returns ``(centers [n, 2], radii [n])`` as float arrays.
    """
    c = np.clip(np.array(centers, dtype=float).reshape(-1, 2), 0.0, 1.0)   # [n, 2]
    r = np.array(radii, dtype=float).reshape(-1)                          # [n]
    r = np.where(np.isfinite(r), np.maximum(r, 0.0), 0.0)
    c[~np.isfinite(c)] = 0.5
    n = len(r)
    fx = [Fraction(float(v)) for v in c[:, 0]]
    fy = [Fraction(float(v)) for v in c[:, 1]]

    def inside(i):
        ri = Fraction(float(r[i]))
        return fx[i] >= ri and fx[i] + ri <= 1 and fy[i] >= ri and fy[i] + ri <= 1

    def apart(i, j):
        dx, dy = fx[i] - fx[j], fy[i] - fy[j]
        s = Fraction(float(r[i])) + Fraction(float(r[j]))
        return dx * dx + dy * dy >= s * s

    for i in range(n):
        x, y = c[i]
        r[i] = min(r[i], x, 1.0 - x, y, 1.0 - y)
        while r[i] > 0 and not inside(i):
            r[i] = np.nextafter(r[i], 0.0)
    for i in range(n):
        for j in range(i + 1, n):
            if apart(i, j):
                continue
            d = math.hypot(c[i, 0] - c[j, 0], c[i, 1] - c[j, 1])
            s = r[i] + r[j]
            if s > 0:
                r[i], r[j] = r[i] * (d / s), r[j] * (d / s)
            while not apart(i, j):
                r[i], r[j] = np.nextafter(r[i], 0.0), np.nextafter(r[j], 0.0)
    g = (np.arange(256) + 0.5) / 256
    probe = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)                # [P, 2]
    for i in np.flatnonzero(r <= 0):
        others = np.flatnonzero(np.arange(n) != i)
        gap = np.minimum(probe, 1.0 - probe).min(1)                       # [P]
        if len(others):
            d = np.sqrt(((probe[:, None, :] - c[others][None]) ** 2).sum(-1))
            gap = np.minimum(gap, (d - r[others][None]).min(1))
        k = int(np.argmax(gap))
        if gap[k] <= 0:
            continue
        c[i], r[i] = probe[k], gap[k] * (1.0 - 1e-9)
        fx[i], fy[i] = Fraction(float(c[i, 0])), Fraction(float(c[i, 1]))
        while r[i] > 0 and not (inside(i) and all(apart(i, j) for j in others)):
            r[i] = np.nextafter(r[i], 0.0)
    return c, r


def feasible_radii(centers):
    """For fixed centers ``[n, 2]``, radii that are feasible at once: each circle's distance to
    the nearest wall, capped at half the distance to its nearest neighbour."""
    c = np.asarray(centers, dtype=float)                                  # [n, 2]
    wall = np.min(np.stack([c[:, 0], 1.0 - c[:, 0], c[:, 1], 1.0 - c[:, 1]]), axis=0)
    d = np.sqrt(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1))           # [n, n]
    np.fill_diagonal(d, np.inf)
    return np.clip(np.minimum(wall, d.min(axis=1) / 2.0), 0.0, None)


def violation(centers, radii):
    """The largest constraint violation of a float packing (0.0 if feasible in floats)."""
    c, r = np.asarray(centers, dtype=float), np.asarray(radii, dtype=float)
    worst = max(0.0, float(np.max(r - c[:, 0])), float(np.max(c[:, 0] + r - 1.0)),
                float(np.max(r - c[:, 1])), float(np.max(c[:, 1] + r - 1.0)),
                float(np.max(-r)))
    if len(r) > 1:
        i, j = np.triu_indices(len(r), 1)
        d = np.sqrt(((c[i] - c[j]) ** 2).sum(-1))
        worst = max(worst, float(np.max(r[i] + r[j] - d)))
    return worst


def feasible_score(centers, radii, tol=1e-9):
    """Sum of radii if the float packing violates nothing by more than ``tol``, else ``-inf``
    (for comparing candidates *inside* a search; the exact checker has the last word)."""
    return float(np.sum(radii)) if violation(centers, radii) <= tol else -np.inf


def optimise_slsqp(centers, radii, maxiter=300, retries=2, deadline=None, margin=None):
    """One local optimisation: maximise ``sum(r)`` over ``(x, y, r)`` with SLSQP, subject to the
    containment constraints ``x - r >= 0``, ``1 - x - r >= 0`` (and in ``y``) and the
    non-overlap constraints ``|c_i - c_j|^2 - (r_i + r_j)^2 >= 0``, with exact Jacobians.
    Starts from ``centers [n, 2]``, ``radii [n]``; returns the optimised pair (floats: the
    result is feasible only up to SLSQP's tolerance -- :func:`repair` it).

    SLSQP sometimes stops far from feasible ("inequality constraints incompatible", about one
    run in four from random starts at n = 26); then it is restarted, up to ``retries`` times,
    from a penalty relaxation (:func:`optimise_penalty`) of the first start's centers -- the
    first retry as they are, each later one jittered by seeded Gaussian noise (0.02, seed = the
    attempt), since both optimisers are deterministic and a repeated start fails again.

    ``deadline``: a value of ``time.process_time()`` (this process's CPU seconds) at which the
    run stops where it is (the iterate so far is returned) and no retry starts; ``None``: no
    limit. A search heuristic with a time budget passes its own deadline here.

    ``margin``: constrain only the pairs whose gap ``|c_i - c_j| - r_i - r_j`` at the start is
    below ``margin`` (``None``: every pair). SLSQP's cost grows with the number of constraints,
    so from a perturbed packing, where far pairs stay far, this is faster (about 1.7 times at
    n = 26 with ``margin=0.1``); if the result overlaps anywhere, SLSQP runs again from it with
    every pair."""
    c0 = np.asarray(centers, dtype=float)
    r0 = np.asarray(radii, dtype=float)
    n = len(r0)
    eye = np.eye(n)
    zero = np.zeros((n, n))
    walls = np.vstack([np.hstack([eye, zero, -eye]), np.hstack([-eye, zero, -eye]),
                       np.hstack([zero, eye, -eye]), np.hstack([zero, -eye, -eye])])  # [4n, 3n]
    shift = np.concatenate([np.zeros(n), np.ones(n), np.zeros(n), np.ones(n)])
    grad = np.concatenate([np.zeros(2 * n), -np.ones(n)])

    def late():
        return deadline is not None and time.process_time() > deadline

    def stop(z):
        if late():
            raise StopIteration

    def solve(c0, r0, i, j):
        rows = np.arange(len(i))

        def cons(z):
            x, y, r = z[:n], z[n:2 * n], z[2 * n:]
            dx, dy, s = x[i] - x[j], y[i] - y[j], r[i] + r[j]
            return np.concatenate([walls @ z + shift, dx * dx + dy * dy - s * s])

        def cons_jac(z):
            x, y, r = z[:n], z[n:2 * n], z[2 * n:]
            dx, dy, s = x[i] - x[j], y[i] - y[j], r[i] + r[j]
            jp = np.zeros((len(i), 3 * n))                                # [P, 3n]
            jp[rows, i], jp[rows, j] = 2 * dx, -2 * dx
            jp[rows, n + i], jp[rows, n + j] = 2 * dy, -2 * dy
            jp[rows, 2 * n + i], jp[rows, 2 * n + j] = -2 * s, -2 * s
            return np.vstack([walls, jp])

        z0 = np.concatenate([c0[:, 0], c0[:, 1], r0])
        res = minimize(lambda z: -np.sum(z[2 * n:]), z0, jac=lambda z: grad, method="SLSQP",
                       bounds=[(0.0, 1.0)] * (2 * n) + [(0.0, 0.5)] * n,
                       constraints=[{"type": "ineq", "fun": cons, "jac": cons_jac}],
                       options={"maxiter": int(maxiter), "ftol": 1e-12}, callback=stop)
        return np.stack([res.x[:n], res.x[n:2 * n]], axis=1), res.x[2 * n:]

    every = np.triu_indices(n, 1)                                         # [P] pairs
    start = np.clip(c0, 0.0, 1.0)
    for attempt in range(1 + int(retries)):
        i, j = every
        if margin is not None:
            near = np.sqrt(((c0[i] - c0[j]) ** 2).sum(-1)) - r0[i] - r0[j] < margin
            i, j = i[near], j[near]
        c, r = solve(c0, r0, i, j)
        if len(i) < len(every[0]) and violation(c, r) > 1e-6 and not late():
            c, r = solve(c, r, *every)
        if violation(c, r) <= 1e-6 or late():
            break
        s = start if attempt == 0 else np.clip(
            start + np.random.default_rng(attempt).normal(0.0, 0.02, start.shape), 0.01, 0.99)
        c0, r0 = optimise_penalty(s, feasible_radii(s), maxiter, deadline=deadline)
    return c, r


def optimise_penalty(centers, radii, maxiter=300, rounds=4, deadline=None):
    """A quadratic-penalty relaxation: minimise ``-sum(r) + mu * (sum of squared violations)``
    with L-BFGS-B for ``mu = 10, 100, 1000, ...`` (``rounds`` values), each round warm-started
    from the last. Cheap per step, and free to pass circles through each other early on; the
    result is only nearly feasible, so polish it with :func:`optimise_slsqp`. ``deadline`` (a
    ``time.process_time()`` value) stops it where it is, as in :func:`optimise_slsqp`."""
    c0 = np.asarray(centers, dtype=float)
    r0 = np.asarray(radii, dtype=float)
    n = len(r0)
    i, j = np.triu_indices(n, 1)

    def f(z, mu):
        x, y, r = z[:n], z[n:2 * n], z[2 * n:]
        dx, dy = x[i] - x[j], y[i] - y[j]
        d = np.sqrt(dx * dx + dy * dy) + 1e-12
        over = np.maximum(r[i] + r[j] - d, 0.0)                           # [P]
        wl = [np.maximum(r - x, 0.0), np.maximum(x + r - 1.0, 0.0),
              np.maximum(r - y, 0.0), np.maximum(y + r - 1.0, 0.0)]       # 4 x [n]
        val = -np.sum(r) + mu * (np.sum(over ** 2) + sum(np.sum(w ** 2) for w in wl))
        g = np.zeros(3 * n)
        g[2 * n:] = -1.0
        ux, uy = dx / d, dy / d
        for (idx, sign) in ((i, 1.0), (j, -1.0)):
            np.add.at(g, idx, -2 * mu * over * ux * sign)
            np.add.at(g, n + idx, -2 * mu * over * uy * sign)
            np.add.at(g, 2 * n + idx, 2 * mu * over)
        g[:n] += 2 * mu * (-wl[0] + wl[1])
        g[n:2 * n] += 2 * mu * (-wl[2] + wl[3])
        g[2 * n:] += 2 * mu * (wl[0] + wl[1] + wl[2] + wl[3])
        return val, g

    def stop(z):
        if deadline is not None and time.process_time() > deadline:
            raise StopIteration

    z = np.concatenate([c0[:, 0], c0[:, 1], r0])
    for k in range(int(rounds)):
        res = minimize(f, z, args=(10.0 ** (k + 1),), jac=True, method="L-BFGS-B",
                       bounds=[(0.0, 1.0)] * (2 * n) + [(0.0, 0.5)] * n,
                       options={"maxiter": int(maxiter)}, callback=stop)
        z = res.x
        if deadline is not None and time.process_time() > deadline:
            break
    return np.stack([z[:n], z[n:2 * n]], axis=1), z[2 * n:]


def largest_hole(centers, radii, skip, rng, probes=2000):
    """Where circle ``skip`` could grow largest: of ``probes`` uniform random points of the
    square, the one farthest (net of radii) from the other circles and from the walls. The move
    "remove the circle and reinsert it in the largest hole" of a search heuristic."""
    c = np.asarray(centers, dtype=float)                                  # [n, 2]
    r = np.asarray(radii, dtype=float)                                    # [n]
    probe = rng.uniform(0.0, 1.0, (int(probes), 2))                       # [P, 2]
    others = np.arange(len(r)) != skip
    gap = np.minimum(probe, 1.0 - probe).min(1)                           # [P]
    if others.any():
        d = np.sqrt(((probe[:, None, :] - c[others][None]) ** 2).sum(-1))  # [P, n - 1]
        gap = np.minimum(gap, (d - r[others]).min(1))
    return probe[int(np.argmax(gap))]


# ============================================================================ the seed program

_REGION_START = re.compile(r"^(\s*)#\s*region:\s*([A-Za-z_]\w*)\s*$")
_REGION_END = re.compile(r"^\s*#\s*endregion\s*$")

#: The named regions of the seed program's EVOLVE-BLOCK, in order: ``init`` (a cold start),
#: ``optimise`` (one local optimisation), ``move`` (a hop of the search), ``schedule`` (the step
#: size of each hop).
REGIONS = ("init", "optimise", "move", "schedule")

# The snippets of a region read the names the seed program defines there and leave behind what
# the region's function returns. ``init``: reads n, rng, JITTER; leaves ``centers`` [n, 2] and
# ``radii`` [n]. ``optimise``: turns ``centers``, ``radii`` into better ones, stopping at
# ``deadline`` (CPU seconds, or None). ``move``: perturbs ``c`` [n, 2] and ``r`` [n] (copies of
# the best packing) with ``step`` and ``rng``. ``schedule``: sets ``step`` from STEP, the hop
# index ``k``, the fraction ``frac`` of the time budget used, the hops since the last
# improvement ``stall`` and ``rng``. Every snippet may use the knobs (SEED, JITTER, MAXITER, STEP,
# SHRINK, KICK, MARGIN, W_SHAKE, W_RELOCATE, W_SWAP, W_KICK) and the helpers (optimise_slsqp,
# optimise_penalty, feasible_radii, feasible_score, violation, largest_hole). The first snippet
# of each list is the seed's own.
FRAGMENTS: dict[str, list[str]] = {
    "init": [
        # a jittered square grid
        """\
k = int(np.ceil(np.sqrt(n)))
g = (np.arange(k) + 0.5) / k
centers = np.array([(x, y) for y in g for x in g])[:n]
centers = np.clip(centers + rng.normal(0.0, JITTER, centers.shape), 0.01, 0.99)
radii = feasible_radii(centers)
""",
        # a hexagonal grid (alternate rows shifted by half a step), n of its points at random
        """\
rows = int(np.ceil(np.sqrt(n * 2.0 / np.sqrt(3.0))))
cols = int(np.ceil(n / rows))
pts = np.array([((c + 0.5 + 0.5 * (r % 2)) / (cols + 1.5), (r + 0.5) / rows)
                for r in range(rows) for c in range(cols + 1)])
centers = pts[np.sort(rng.choice(len(pts), size=n, replace=False))]
centers = np.clip(centers + rng.normal(0.0, JITTER, centers.shape), 0.01, 0.99)
radii = feasible_radii(centers)
""",
        # concentric rings around the centre: 1, 6, 12, 18, ... points
        """\
pts, ring, left = [(0.5, 0.5)], 1, n - 1
rings = 1
while 3 * rings * (rings + 1) < n - 1:
    rings += 1
while left > 0:
    m = min(left, 6 * ring)
    a = 2.0 * np.pi * np.arange(m) / m + rng.uniform(0.0, 2.0 * np.pi)
    rho = 0.44 * ring / rings
    pts += [(0.5 + rho * np.cos(t), 0.5 + rho * np.sin(t)) for t in a]
    left, ring = left - m, ring + 1
centers = np.clip(np.array(pts[:n]) + rng.normal(0.0, JITTER, (n, 2)), 0.01, 0.99)
radii = feasible_radii(centers)
""",
        # uniform random centers: the best of 64 draws by smallest pairwise distance
        """\
best, best_d = None, -1.0
for _ in range(64):
    cand = rng.uniform(0.05, 0.95, (n, 2))
    d = np.sqrt(((cand[:, None, :] - cand[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    if d.min() > best_d:
        best, best_d = cand, d.min()
centers = best
radii = feasible_radii(centers)
""",
        # a ring of large circles along the walls around a jittered grid of smaller ones
        """\
m = min(n, max(4, int(round(0.5 * n))))
t = (np.arange(m) + 0.5) / m * 4.0
side, u = np.floor(t).astype(int), t - np.floor(t)
edge = 0.12
x = np.select([side == 0, side == 1, side == 2], [u, 1.0 - edge + 0 * u, 1.0 - u], edge + 0 * u)
y = np.select([side == 0, side == 1, side == 2], [edge + 0 * u, u, 1.0 - edge + 0 * u], 1.0 - u)
outer = np.clip(np.stack([x, y], 1), edge, 1.0 - edge)
k = int(np.ceil(np.sqrt(max(n - m, 1))))
g = 0.25 + 0.5 * (np.arange(k) + 0.5) / k
inner = np.array([(a, b) for b in g for a in g])[:n - m].reshape(-1, 2)
centers = np.clip(np.concatenate([outer, inner]) + rng.normal(0.0, JITTER, (n, 2)), 0.01, 0.99)
radii = feasible_radii(centers)
""",
    ],
    "optimise": [
        # one SLSQP run
        """\
centers, radii = optimise_slsqp(centers, radii, MAXITER, deadline=deadline)
""",
        # penalty relaxation with L-BFGS-B, then an SLSQP polish
        """\
centers, radii = optimise_penalty(centers, radii, MAXITER, deadline=deadline)
centers, radii = optimise_slsqp(centers, radii, MAXITER, deadline=deadline)
""",
        # SLSQP, then a second SLSQP from the result with every radius shrunk a little
        """\
centers, radii = optimise_slsqp(centers, radii, MAXITER, deadline=deadline)
centers, radii = optimise_slsqp(centers, 0.999 * radii, MAXITER, deadline=deadline)
""",
        # SLSQP without the penalty restarts: a hop that fails is dropped, not rescued
        """\
centers, radii = optimise_slsqp(centers, radii, MAXITER, retries=0, deadline=deadline)
""",
        # SLSQP on the near pairs only (gap below MARGIN), no restarts: cheaper hops
        """\
centers, radii = optimise_slsqp(centers, radii, MAXITER, retries=0, deadline=deadline,
                                margin=MARGIN)
""",
    ],
    "move": [
        # shake every circle; with odds W_RELOCATE : W_SHAKE also move the smallest circle into
        # the largest hole (the move of the basin-hopping baseline)
        """\
r *= SHRINK
c = np.clip(c + rng.normal(0.0, step, c.shape), 0.01, 0.99)
if rng.uniform() < W_RELOCATE / (W_SHAKE + W_RELOCATE):
    m = int(np.argmin(r))
    c[m], r[m] = largest_hole(c, r, m, rng), 0.0
""",
        # a jiggle, then one of four moves; the weights W_* split the time between them
        """\
r *= SHRINK
c = np.clip(c + rng.normal(0.0, 0.1 * step, c.shape), 0.01, 0.99)
w = np.array([W_SHAKE, W_RELOCATE, W_SWAP, W_KICK], dtype=float)
move = rng.choice(len(w), p=w / w.sum())
if move == 0:      # shake every circle
    c = np.clip(c + rng.normal(0.0, step, c.shape), 0.01, 0.99)
elif move == 1:    # one of the three smallest circles into the largest hole
    m = int(np.argsort(r)[rng.integers(0, min(3, len(r)))])
    c[m], r[m] = largest_hole(c, r, m, rng), 0.0
elif move == 2:    # two circles trade places (so their sizes change places)
    pair = rng.permutation(len(r))
    i, j = pair[0], pair[-1]
    c[[i, j]] = c[[j, i]]
else:              # kick one to four circles far, and halve them
    idx = rng.choice(len(r), min(len(r), int(rng.integers(1, 5))), replace=False)
    c[idx] = np.clip(c[idx] + rng.normal(0.0, KICK, (len(idx), 2)), 0.01, 0.99)
    r[idx] *= 0.5
""",
        # shake every circle, then relocate one of the three smallest or swap two circles
        """\
r *= SHRINK
c = np.clip(c + rng.normal(0.0, step, c.shape), 0.01, 0.99)
u = rng.uniform() * (W_SHAKE + W_RELOCATE + W_SWAP)
if u < W_RELOCATE:
    m = int(np.argsort(r)[rng.integers(0, min(3, len(r)))])
    c[m], r[m] = largest_hole(c, r, m, rng), 0.0
elif u < W_RELOCATE + W_SWAP:
    pair = rng.permutation(len(r))
    i, j = pair[0], pair[-1]
    c[[i, j]] = c[[j, i]]
""",
        # kick one to four circles far (halving them) and jiggle the rest
        """\
r *= SHRINK
idx = rng.choice(len(r), min(len(r), int(rng.integers(1, 5))), replace=False)
c[idx] = np.clip(c[idx] + rng.normal(0.0, KICK, (len(idx), 2)), 0.01, 0.99)
r[idx] *= 0.5
c = np.clip(c + rng.normal(0.0, 0.1 * step, c.shape), 0.01, 0.99)
""",
        # a small and a large circle trade places; jiggle
        """\
r *= SHRINK
order = np.argsort(r)
half = max(1, len(r) // 2)
i, j = order[rng.integers(0, half)], order[rng.integers(half, len(r))]
c[[i, j]] = c[[j, i]]
c = np.clip(c + rng.normal(0.0, 0.1 * step, c.shape), 0.01, 0.99)
""",
        # remove the smallest circle and reinsert it in the largest hole; jiggle
        """\
r *= SHRINK
m = int(np.argmin(r))
c[m], r[m] = largest_hole(c, r, m, rng), 0.0
c = np.clip(c + rng.normal(0.0, 0.1 * step, c.shape), 0.01, 0.99)
""",
    ],
    "schedule": [
        # uniform in [STEP / 4, 2 STEP] (the basin-hopping baseline's)
        """\
step = STEP * rng.uniform(0.25, 2.0)
""",
        # log-uniform in [STEP / 10, 3 STEP]: mostly small hops, now and then a large one
        """\
step = STEP * float(np.exp(rng.uniform(np.log(0.1), np.log(3.0))))
""",
        # constant
        """\
step = STEP
""",
        # cooling: from STEP down to STEP / 10 as the time budget runs out
        """\
step = STEP * (1.0 - 0.9 * frac)
""",
        # growing with the hops since the last improvement, from STEP / 5 up to 3 STEP
        """\
step = STEP * min(3.0, 0.2 * 1.3 ** stall)
""",
    ],
}


def _indent(snippet: str, pad: str) -> str:
    return "".join(pad + ln if ln.strip() else ln for ln in snippet.splitlines(keepends=True))


def _helper_source(fn) -> str:
    return inspect.getsource(fn).rstrip() + "\n"


def _region(name: str, pad: str) -> str:
    return f"{pad}# region: {name}\n{_indent(FRAGMENTS[name][0], pad)}{pad}# endregion\n"


def _build_seed() -> str:
    helpers = "\n\n".join(_helper_source(f) for f in (
        feasible_radii, violation, feasible_score, largest_hole, optimise_penalty,
        optimise_slsqp))
    p4, p8 = " " * 4, " " * 8
    return f'''\
"""Circle packing: place n disjoint circles in the unit square, maximising the sum of radii.

main(n, warm_start=None, time_budget_s=None, seed=0) returns {{"centers": [[x, y]] * n,
"radii": [r] * n, "cpu_s": s}}; the evaluator checks the packing exactly. Without a time budget
it constructs one packing from scratch. With one it is a search heuristic (AlphaEvolve, section
3.2): it starts from warm_start, the best packing found so far (from scratch when there is
none), improves it until time_budget_s CPU seconds have passed, and returns the best packing it
found -- never a worse one than warm_start.
"""

import math
import time
from fractions import Fraction

import numpy as np
from scipy.optimize import minimize


{helpers}

# EVOLVE-BLOCK-START
SEED = 0          # the random seed of the search
JITTER = 0.02     # noise added to the initial layout of a cold start
MAXITER = 300     # iterations per local optimisation
STEP = 0.03       # size of a hop: the standard deviation of the perturbation
SHRINK = 0.9      # radii are scaled by this before a hop is re-optimised
KICK = 0.08       # how far a kicked circle moves
MARGIN = 0.1      # pairs farther apart are left out of a local optimisation (where one says so)
W_SHAKE = 1.0     # the time split between the moves: relative weights of shaking every circle,
W_RELOCATE = 1.0  # moving a small circle into the largest hole,
W_SWAP = 1.0      # letting two circles trade places,
W_KICK = 1.0      # and kicking a few circles far


def construct(n, rng, deadline=None):
    """A cold start: centers [n, 2] and radii [n] of a (nearly) feasible packing."""
{_region("init", p4)}    return polish(centers, radii, deadline)


def polish(centers, radii, deadline=None):
    """One local optimisation; stops when time.process_time() passes deadline (None: never)."""
{_region("optimise", p4)}    return centers, radii


def perturb(c, r, step, rng):
    """A hop: a perturbed copy of the packing (c [n, 2], r [n]) for polish to re-optimise."""
    c, r = np.array(c, dtype=float), np.array(r, dtype=float)
{_region("move", p4)}    return c, r


def search(centers, radii, deadline, rng):
    """Monotonic basin hopping until time.process_time() passes deadline: perturb the best
    packing, re-optimise it, keep it if it is better. Returns the best packing found."""
    best_s, best_c, best_r = feasible_score(centers, radii), centers, radii
    start, k, stall = time.process_time(), 0, 0
    while time.process_time() < deadline:
        frac = (time.process_time() - start) / max(deadline - start, 1e-9)
{_region("schedule", p8)}        c, r = polish(*perturb(best_c, best_r, step, rng), deadline)
        s = feasible_score(c, r)
        if s > best_s:
            best_s, best_c, best_r, stall = s, c, r, 0
        else:
            stall += 1
        k += 1
    return best_c, best_r
# EVOLVE-BLOCK-END


{_helper_source(repair)}

def main(n=26, warm_start=None, time_budget_s=None, seed=0):
    """The packing of n circles; with time_budget_s, the best one a search from warm_start found
    in that many CPU seconds (see the module docstring)."""
    clock = time.process_time()
    n = int(n)
    rng = np.random.default_rng([int(SEED) % 2 ** 32, int(seed) % 2 ** 32])
    deadline = None if time_budget_s is None else clock + float(time_budget_s)
    start = None
    if warm_start is None:
        centers, radii = construct(n, rng, deadline)
    else:
        start = repair(warm_start["centers"], warm_start["radii"])
        centers, radii = start
    if deadline is not None and n >= 2:
        centers, radii = search(np.array(centers, dtype=float), np.array(radii, dtype=float),
                                deadline, rng)
    centers, radii = repair(centers, radii)
    if start is not None and float(np.sum(start[1])) > float(np.sum(radii)):
        centers, radii = start                     # never less than the warm start
    return {{"centers": centers.tolist(), "radii": radii.tolist(),
            "cpu_s": time.process_time()}}
'''


def parse_regions(code: str) -> dict[str, str]:
    """``{name: text}`` of every ``# region: name`` ... ``# endregion`` in ``code`` (the lines
    between the markers, as written). Raises ``ValueError`` for an unclosed, nested or repeated
    region."""
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, got {type(code).__name__}")
    out: dict[str, str] = {}
    name, start = None, 0
    lines = code.splitlines(keepends=True)
    for k, line in enumerate(lines):
        m = _REGION_START.match(line)
        if m:
            if name is not None:
                raise ValueError(f"line {k + 1}: region {m.group(2)!r} inside region {name!r}")
            if m.group(2) in out:
                raise ValueError(f"line {k + 1}: region {m.group(2)!r} repeated")
            name, start = m.group(2), k + 1
        elif _REGION_END.match(line):
            if name is None:
                raise ValueError(f"line {k + 1}: '# endregion' without a region")
            out[name], name = "".join(lines[start:k]), None
    if name is not None:
        raise ValueError(f"region {name!r} is not closed")
    return out


def fragment_choices(code: str, fragments: Mapping[str, Sequence[str]]) -> dict[str, int | None]:
    """For each region of ``code`` that ``fragments`` names, the index of the fragment its body
    is (compared with whitespace collapsed), or ``None`` for a body no fragment has (a mutated
    one): which alternatives an evolved program ended up with."""
    def norm(text: str) -> str:
        return " ".join(text.split())

    return {name: next((i for i, f in enumerate(fragments[name]) if norm(f) == norm(body)), None)
            for name, body in parse_regions(code).items() if name in fragments}


def substitute_region(code: str, name: str, snippet: str) -> str:
    """``code`` with the body of region ``name`` replaced by ``snippet`` (unindented text; it is
    indented like the region's marker). Raises ``ValueError`` if the region is not there."""
    if not isinstance(snippet, str):
        raise TypeError(f"snippet must be a str, got {type(snippet).__name__}")
    regions = parse_regions(code)
    if name not in regions:
        raise ValueError(f"no region {name!r} in the program; it has {sorted(regions)}")
    lines = code.splitlines(keepends=True)
    k0 = next(k for k, ln in enumerate(lines)
              if (m := _REGION_START.match(ln)) and m.group(2) == name)
    k1 = next(k for k in range(k0 + 1, len(lines)) if _REGION_END.match(lines[k]))
    pad = _REGION_START.match(lines[k0]).group(1)
    text = snippet if snippet.endswith("\n") or not snippet else snippet + "\n"
    return "".join(lines[:k0 + 1]) + _indent(text, pad) + "".join(lines[k1:])


#: The program evolution starts from (self-contained: numpy, scipy and the standard library).
SEED_PROGRAM = _build_seed()


# ============================================================================ evaluation

_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

#: CPU seconds a search-mode candidate may use beyond its time budget before ``RLIMIT_CPU``
#: kills it: the interpreter's start and imports (about 0.5 s here), the final exact repair, and
#: a local optimisation that overshoots its deadline by an iteration.
GRACE_S = 3.0


def check_time_budget(value: Any, name: str = "time_budget_s") -> float:
    """``value`` as a float if it is a finite number of seconds > 0; else ``ValueError`` naming
    ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def check_warm_start(warm_start: Any, n: int) -> dict:
    """``warm_start`` as ``{"centers": [[x, y]] * n, "radii": [r] * n}`` of plain floats, if it
    is a well-formed packing of ``n`` circles: ``n`` pairs of finite numbers and ``n`` finite
    radii ``>= 0`` (extra keys are dropped). It need not be feasible: the candidate repairs it.
    Raises ``ValueError`` saying what is wrong with ``warm_start``."""
    if not isinstance(warm_start, Mapping) or "centers" not in warm_start \
            or "radii" not in warm_start:
        raise ValueError(f"warm_start must be a dict with 'centers' and 'radii', got "
                         f"{type(warm_start).__name__}")
    centers, radii = warm_start["centers"], warm_start["radii"]
    for key, value, what in (("centers", centers, "pairs"), ("radii", radii, "numbers")):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"warm_start[{key!r}] must be a list of {n} {what}, got "
                             f"{type(value).__name__}")
        if len(value) != n:
            raise ValueError(f"warm_start[{key!r}] must hold {n} {what}, got {len(value)}")
    for i, c in enumerate(centers):
        if not isinstance(c, (list, tuple)) or len(c) != 2 or not all(
                _real(v) and math.isfinite(v) for v in c):
            raise ValueError(f"warm_start['centers'][{i}] must be a pair of finite numbers, "
                             f"got {c!r:.60}")
    for i, r in enumerate(radii):
        if not (_real(r) and math.isfinite(r) and r >= 0):
            raise ValueError(f"warm_start['radii'][{i}] must be a finite number >= 0, got {r!r}")
    return {"centers": [[float(x), float(y)] for x, y in centers],
            "radii": [float(r) for r in radii]}


def evaluate(code: str, n: int, *, timeout_s: float = 60.0, memory_mb: int = 1024,
             layer: str = "auto", time_budget_s: float | None = None,
             warm_start: Mapping | None = None, seed: int | None = None,
             grace_s: float = GRACE_S) -> dict:
    """Run the candidate ``code`` in the sandbox and check the packing it returns.

    Two modes:

    * **constructor** (``time_budget_s=None``): ``main(n)`` builds a packing from scratch, under
      the wall-clock ``timeout_s``.
    * **search** (``time_budget_s`` seconds): AlphaEvolve's way with its mathematical problems
      (§3.2): the program is a search heuristic, "given a fixed time budget" and "shown the best
      construction found by the previous best heuristic", and must improve on it. Called as
      ``main(n, warm_start, time_budget_s, seed)``; ``warm_start`` is that construction
      (checked by :func:`check_warm_start`; ``None``: start from scratch), ``seed`` its random
      seed (default: a CRC-32 of ``code`` and ``warm_start``, so a different program or a
      different start searches differently). The budget is enforced: the candidate's process
      gets ``RLIMIT_CPU = ceil(time_budget_s + grace_s)`` CPU seconds (beyond them it is killed,
      reason ``"sandbox: cpu"``), and ``timeout_s`` stays the wall-clock hard cap.

    Returns ``{"ok", "score", "reason", "wall_s", "cpu_s", "layer", "value"}``: ``score`` is the
    sum of radii when the packing passes :func:`check_packing` (else ``None``); ``reason`` is the
    sandbox's or the checker's ("" when ok); ``value`` is the returned packing (``None`` unless
    ok); ``cpu_s`` is the CPU time the candidate *reports* (its ``"cpu_s"`` key, a finite number
    >= 0; else ``None``): self-reported, used only to account for time, never for the score.
    Never raises for anything the candidate does; raises ``ValueError`` for a bad ``n``,
    ``time_budget_s`` (not a finite number > 0, or not below ``timeout_s``), ``grace_s``,
    ``seed`` or ``warm_start`` (malformed, or given without a time budget).
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    n = int(n)
    cpu_s = None
    if time_budget_s is None:
        if warm_start is not None:
            raise ValueError("warm_start needs a time_budget_s (search mode); got "
                             "time_budget_s=None")
        args: tuple = (n,)
    else:
        budget = check_time_budget(time_budget_s)
        if isinstance(grace_s, bool) or not isinstance(grace_s, numbers.Real) or \
                not math.isfinite(grace_s) or grace_s < 0:
            raise ValueError(f"grace_s must be a finite number of seconds >= 0, got {grace_s!r}")
        if not (isinstance(timeout_s, numbers.Real) and timeout_s > budget):
            raise ValueError(f"timeout_s (the hard cap, {timeout_s!r} s) must exceed "
                             f"time_budget_s ({budget!r} s)")
        warm = None if warm_start is None else check_warm_start(warm_start, n)
        if seed is None:
            seed = zlib.crc32(json.dumps(warm).encode(), zlib.crc32(code.encode())) \
                if isinstance(code, str) else 0
        elif isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be an int >= 0 or None, got {seed!r}")
        args = (n, warm, budget, int(seed))
        cpu_s = math.ceil(budget + float(grace_s))
    res = run_sandboxed(code, entry="main", args=args, timeout_s=timeout_s, cpu_s=cpu_s,
                        memory_mb=memory_mb, layer=layer, extra_env=_ENV)
    out = {"ok": False, "score": None, "reason": "", "wall_s": res.wall_s, "cpu_s": None,
           "layer": res.layer, "value": None}
    if not res.ok:
        out["reason"] = f"sandbox: {res.reason}"
        return out
    if isinstance(res.value, Mapping):
        reported = res.value.get("cpu_s")
        if _real(reported) and math.isfinite(reported) and reported >= 0:
            out["cpu_s"] = float(reported)
    check = check_packing(res.value, n)
    if not check.ok:
        out["reason"] = f"check: {check.reason}"
        return out
    out.update(ok=True, score=check.score, value=res.value)
    return out


class PackingError(RuntimeError):
    """A candidate failed in the sandbox or the checker (raised by a cascade stage)."""


def _stage(code: str, n: int, timeout_s: float, memory_mb: int) -> dict:
    out = evaluate(code, n, timeout_s=timeout_s, memory_mb=memory_mb)
    if not out["ok"]:
        raise PackingError(out["reason"])
    return out


def packing_cascade(n: int, *, timeout_s: float = 120.0, small_timeout_s: float = 20.0,
                    memory_mb: int = 1024):
    """AlphaEvolve's evaluation cascade for circle packing, two stages:

    1. ``"small"``: ``main(max(4, n // 4))`` under ``small_timeout_s``; the packing must pass the
       checker and its sum of radii must reach :func:`grid_score` of that size (the plain square
       grid), or the full run is skipped;
    2. ``"full"``: ``main(n)`` under ``timeout_s``; its score is the candidate's.

    Returns a :class:`~readingroom.evolve.cascade.Cascade` (``cascade(code)``); it pickles (the
    stage functions are ``functools.partial`` of a module-level function).
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    small = max(4, int(n) // 4)
    return Cascade([
        Stage("small", functools.partial(_stage, n=small, timeout_s=small_timeout_s,
                                         memory_mb=memory_mb), threshold=grid_score(small)),
        Stage("full", functools.partial(_stage, n=int(n), timeout_s=timeout_s,
                                        memory_mb=memory_mb)),
    ])


# ============================================================================ baselines


@dataclass
class BaselineResult:
    """A baseline's run: the best checked packing, its score, and ``curve[k]`` = the best score
    after ``k + 1`` evaluations (``-inf`` until one passes the checker); ``times[k]`` = the CPU
    seconds spent when evaluation ``k + 1`` ended. ``budget``: the evaluations allowed (``None``:
    only ``seconds`` bounded the run); ``seconds``: the CPU seconds allowed (``None``: only
    ``budget``); ``cpu_s``: the CPU seconds used (``time.process_time``)."""

    method: str
    n: int
    budget: int | None
    seed: int
    score: float
    best: dict | None
    curve: list[float] = field(default_factory=list)
    scores: list[float | None] = field(default_factory=list)   # each evaluation's own score
    wall_s: float = 0.0
    maxiter: int = 300
    seconds: float | None = None
    cpu_s: float = 0.0
    times: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _check_budget_args(n: Any, budget: Any, seed: Any, seconds: Any = None) -> None:
    for name, v, lo in (("n", n, 2), ("budget", budget, 1), ("seed", seed, 0)):
        if name == "budget" and v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
    if seconds is not None:
        check_time_budget(seconds, "seconds")
    elif budget is None:
        raise ValueError("give a budget (evaluations) or seconds (CPU seconds), or both; got "
                         "neither")


def _one_run(centers, radii, n: int, maxiter: int, deadline: float | None = None) -> \
        tuple[float | None, dict, np.ndarray, np.ndarray]:
    """One evaluation: SLSQP from a start (cut at the CPU-clock ``deadline``), exact repair,
    exact check."""
    c, r = optimise_slsqp(centers, radii, maxiter, deadline=deadline)
    c, r = repair(c, r)
    value = {"centers": c.tolist(), "radii": r.tolist()}
    check = check_packing(value, n)
    return (check.score if check.ok else None), value, c, r


def _random_start(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    c = rng.uniform(0.05, 0.95, (n, 2))
    return c, feasible_radii(c)


def _run_baseline(method: str, n: int, budget: int | None, seed: int, maxiter: int, propose,
                  seconds: float | None = None) -> BaselineResult:
    _check_budget_args(n, budget, seed, seconds)
    rng = np.random.default_rng(seed)
    start, clock = time.monotonic(), time.process_time()
    deadline = None if seconds is None else clock + float(seconds)
    best_score, best, state = -math.inf, None, None
    curve: list[float] = []
    scores: list[float | None] = []
    times: list[float] = []
    k = 0
    while (budget is None or k < budget) and (deadline is None or
                                              time.process_time() < deadline):
        c0, r0 = propose(rng, k, state)
        score, value, c, r = _one_run(c0, r0, int(n), maxiter, deadline)
        scores.append(score)
        if score is not None and score > best_score:
            best_score, best, state = score, value, (c, r)
        curve.append(best_score)
        times.append(round(time.process_time() - clock, 3))
        k += 1
    return BaselineResult(method, int(n), None if budget is None else int(budget), int(seed),
                          best_score, best, curve, scores, round(time.monotonic() - start, 3),
                          int(maxiter), None if seconds is None else float(seconds),
                          round(time.process_time() - clock, 3), times)


def multistart_slsqp(n: int, budget: int | None = None, seed: int = 0, *, maxiter: int = 300,
                     seconds: float | None = None) -> BaselineResult:
    """Multistart: independent SLSQP runs (:func:`optimise_slsqp`), each from uniform random
    centers with :func:`feasible_radii`; each result repaired and checked exactly; keep the
    best. It stops after ``budget`` runs or ``seconds`` CPU seconds (``time.process_time``; the
    run in progress is cut at that moment), whichever comes first."""
    return _run_baseline("multistart_slsqp", n, budget, seed, maxiter,
                         lambda rng, k, state: _random_start(rng, n), seconds)


def basin_hopping(n: int, budget: int | None = None, seed: int = 0, *, maxiter: int = 300,
                  step: float = 0.03, relocate: float = 0.5,
                  seconds: float | None = None) -> BaselineResult:
    """Monotonic basin hopping: the first evaluation starts at random (as in
    :func:`multistart_slsqp`); every later one perturbs the **best packing so far** and
    re-optimises it with SLSQP, kept only if its checked score is higher. A perturbation moves
    every center by Gaussian noise (``step``, scaled by a factor drawn from [0.25, 2] each time)
    and, with probability ``relocate``, also moves the smallest circle to the largest empty spot
    of 2000 random probes (:func:`largest_hole`); radii are shrunk by 10% to give the optimiser
    room. It stops after ``budget`` evaluations or ``seconds`` CPU seconds, as
    :func:`multistart_slsqp` does. (The seed program's search is this very move, chained over
    evaluations: where evolution starts.)"""
    if not (isinstance(step, numbers.Real) and step > 0):
        raise ValueError(f"step must be a positive number, got {step!r}")
    if not (isinstance(relocate, numbers.Real) and 0 <= relocate <= 1):
        raise ValueError(f"relocate must be in [0, 1], got {relocate!r}")

    def propose(rng, k, state):
        if state is None:
            return _random_start(rng, n)
        c, r = state[0].copy(), 0.9 * state[1]
        c = np.clip(c + rng.normal(0.0, step * rng.uniform(0.25, 2.0), c.shape), 0.01, 0.99)
        if rng.uniform() < relocate:
            m = int(np.argmin(r))
            c[m], r[m] = largest_hole(c, r, m, rng), 0.0
        return c, r

    return _run_baseline("basin_hopping", n, budget, seed, maxiter, propose, seconds)


# ============================================================================ drawing


def draw_packing(value: Any, ax=None, *, title: str | None = None):
    """Draw the unit square and the circles of ``value`` (``{"centers", "radii"}``); the title
    gives ``n`` and the checked sum of radii (or why the checker rejects it). Returns the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, Rectangle

    if not isinstance(value, Mapping) or "centers" not in value or "radii" not in value:
        raise ValueError("value must be a dict with 'centers' and 'radii'")
    centers, radii = value["centers"], value["radii"]
    n = len(radii)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.add_patch(Rectangle((0, 0), 1, 1, fill=False, lw=1.2, color="black"))
    r_max = max(radii) if n else 1.0
    cmap = plt.get_cmap("viridis")
    for (x, y), r in zip(centers, radii):
        ax.add_patch(Circle((x, y), r, facecolor=cmap(0.15 + 0.7 * r / r_max), alpha=0.55,
                            edgecolor="black", lw=0.6))
    check = check_packing(value, n) if n else PackingCheck(False, 0.0, "no circles")
    if title is None:
        title = (f"n = {n}, sum of radii = {check.score:.10f}" if check.ok
                 else f"n = {n}, invalid: {check.reason:.60}")
    ax.set_title(title, fontsize=10)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xticks([0, 0.5, 1])
    ax.set_yticks([0, 0.5, 1])
    return ax
