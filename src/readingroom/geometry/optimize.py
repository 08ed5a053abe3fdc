"""Diagrams for non-constructive statements by numerical optimisation (AlphaGeometry2, §3.3).

:func:`~readingroom.geometry.diagram.build_diagram` places points clause by clause, so it cannot
draw a problem whose points are fixed by more constraints than a construction can satisfy
directly: a point on three loci, a ``points`` construction with an extra locus, or a free
triangle that an extra clause forces into a special shape (``m = midpoint m b c, on_bline m a b``
makes the angle at ``a`` right). AlphaGeometry2 (arXiv 2502.03544, "Automated diagram
generation") builds such diagrams in two stages, which :func:`optimize_diagram` follows:

1. every point is an unknown, started at random; Adam minimises the sum of squared constraint
   residuals plus terms that keep the diagram non-degenerate: no two points closer than a
   fraction of the diagram's size, no collapsed triangle in a random shape (``triangle``,
   ``quadrangle``, ...), and the diagram's size near 1 (the residuals are scale-free);
2. Levenberg–Marquardt on the residual vector (Jacobian by ``torch.func.jacrev``, float64)
   polishes the solution until ``max |residual| < tol``.

A start that does not converge, or converges to a degenerate diagram, is replaced by a fresh
random start, up to ``restarts`` times; :class:`DiagramOptimizationError` (a
:class:`~readingroom.geometry.diagram.GeometryBuildError`) names the problem if none works.

The constraints are the ``properties`` of every construction (see
:mod:`~readingroom.geometry.definitions`), so the optimiser sees only what those predicates
say: ``incenter`` and ``excenter`` have the same properties, and the optimiser may return any
of the four tritangent centres; rays (``on_opline``, ``s_angle``) are lines to it. Pinned points
(``a@1_2``) stay fixed. The goal is *not* a constraint (pass ``require_goal=True`` to reject
diagrams where it fails numerically).

Residuals (all scale-free, zero exactly when the predicate holds, for non-degenerate points;
``u``, ``v`` the segments' vectors):

* ``coll a b c`` (and each further point): the sine ``cross(b - a, c - a) / (|b - a| |c - a|)``;
* ``para`` / ``perp``: ``cross(u, v)`` / ``dot(u, v)`` over ``|u| |v|``;
* ``cong``: ``(|u|^2 - |v|^2) / (|u|^2 + |v|^2)``; ``rconst``: the same with ``value^2 |v|^2``;
* ``cyclic a b c d`` (and each further point): the 3x3 determinant ``[p - a, |p - a|^2]`` for
  ``p = b, c, d`` over ``(|b - a|^2 + |c - a|^2 + |d - a|^2)^2``;
* ``eqangle``: ``sin(angle1 - angle2)`` of the directed angles (so equality is mod pi);
  ``aconst``: ``sin(angle - value)``;
* ``midp m a b``: ``(2m - a - b) / |b - a|`` (two components);
* ``eqratio``: ``(|ab|^2 |gh|^2 - |cd|^2 |ef|^2)`` over their sum.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from readingroom.geometry.definitions import CONSTRUCTIONS
from readingroom.geometry.diagram import Diagram, GeometryBuildError, _drawables, build_diagram
from readingroom.geometry.goals import check_goal
from readingroom.geometry.language import Problem, parse_angle, parse_problem, parse_ratio

__all__ = [
    "Constraint",
    "DiagramOptimizationError",
    "OptimizedDiagram",
    "constraints",
    "make_diagram",
    "optimize_diagram",
    "residuals",
]

_SEP, _AREA = 0.15, 0.1  # stage-1 targets: pair distance over the RMS radius; normalised area
_EPS = 1e-30  # guards divisions; points are kept apart, so denominators are never this small
_PRED_POINTS = {"coll": 3, "para": 4, "perp": 4, "cong": 4, "cyclic": 4, "eqangle": 8,
                "eqratio": 8, "midp": 3, "aconst": 4, "rconst": 4}


class DiagramOptimizationError(GeometryBuildError):
    """No restart of :func:`optimize_diagram` reached a non-degenerate solution."""


@dataclass(frozen=True)
class Constraint:
    """One residual block: ``predicate`` on ``points`` (``value`` for aconst/rconst, radians or
    a ratio), from construction ``source`` (``"clause 2 'h = ...': orthocenter h a b c"``)."""

    predicate: str
    points: tuple[str, ...]
    value: float | None
    source: str

    def __str__(self) -> str:
        return " ".join((self.predicate, *self.points))


@dataclass
class OptimizedDiagram(Diagram):
    """A :class:`~readingroom.geometry.diagram.Diagram` (``check_goal`` works on it) plus how it
    was found: ``residual`` (max absolute residual), ``restarts`` (random starts used,
    1 = the first), ``adam_steps`` and ``lm_iterations`` of the successful start, ``seconds``
    (all starts), ``min_separation`` (closest pair of points over the diagram's scale)."""

    residual: float = 0.0
    restarts: int = 1
    adam_steps: int = 0
    lm_iterations: int = 0
    seconds: float = 0.0
    min_separation: float = 0.0


def _problem(problem: Problem | str) -> Problem:
    return parse_problem(problem) if isinstance(problem, str) else problem


def _label(problem: Problem) -> str:
    return f"problem {(problem.name or problem.text or str(problem))!r}"


def constraints(problem: Problem | str) -> list[Constraint]:
    """The properties of every construction of every clause, with arguments substituted.

    Variadic predicates are split: ``coll p1 p2 p3 p4`` gives ``coll p1 p2 p3`` and
    ``coll p1 p2 p4``; ``cyclic`` likewise keeps its first three points."""
    problem = _problem(problem)
    out: list[Constraint] = []
    for k, clause in enumerate(problem.clauses, start=1):
        for c in clause.constructions:
            cdef = CONSTRUCTIONS[c.name]
            bind = dict(zip(cdef.args, c.args))
            source = f"clause {k} {str(clause)!r}: {c}"
            for pred, args in cdef.properties:
                vals = [bind.get(a, a) for a in args]
                value = None
                if pred in ("aconst", "rconst"):
                    tok, vals = vals[-1], vals[:-1]
                    value = parse_angle(tok) if pred == "aconst" else parse_ratio(tok)
                if pred not in _PRED_POINTS:
                    raise NotImplementedError(f"{source}: no residual for predicate {pred!r}")
                n = _PRED_POINTS[pred]
                if pred in ("coll", "cyclic") and len(vals) > n:
                    for extra in vals[n - 1:]:
                        out.append(Constraint(pred, (*vals[: n - 1], extra), None, source))
                else:
                    out.append(Constraint(pred, tuple(vals), value, source))
    return out


def _shape_triples(problem: Problem) -> list[tuple[str, str, str]]:
    """Consecutive vertex triples of the random shapes (``triangle``, ``quadrangle``, ...)."""
    out = []
    for clause in problem.clauses:
        for c in clause.constructions:
            cdef = CONSTRUCTIONS[c.name]
            if cdef.new == cdef.args and len(cdef.args) >= 3:
                v = c.args
                out += [(v[i - 1], v[i], v[(i + 1) % len(v)]) for i in range(len(v))]
    return out


# --- the compiled system ------------------------------------------------------------------


def _torch():
    import torch  # noqa: PLC0415 - imported lazily: torch is slow to import

    return torch


class _System:
    """The problem's constraints as index tensors, one block per predicate, in float64."""

    def __init__(self, problem: Problem):
        torch = _torch()
        self.torch = torch
        self.problem = problem
        self.names = list(problem.points)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.constraints = constraints(problem)
        pinned = {n: (x, y) for cl in problem.clauses for n, x, y in cl.coords}
        self.pinned = np.array([n in pinned for n in self.names])
        self.fixed = np.zeros((len(self.names), 2))
        for n, xy in pinned.items():
            self.fixed[self.index[n]] = xy
        self.free = np.flatnonzero(~self.pinned)
        blocks: dict[str, list[int]] = {}
        values: dict[str, list[float]] = {}
        order: dict[str, list[int]] = {}
        for i, con in enumerate(self.constraints):
            blocks.setdefault(con.predicate, []).append([self.index[p] for p in con.points])
            values.setdefault(con.predicate, []).append(con.value or 0.0)
            order.setdefault(con.predicate, []).append(i)
        self.blocks = {p: torch.tensor(ix, dtype=torch.long) for p, ix in blocks.items()}
        self.values = {p: torch.tensor(v, dtype=torch.float64) for p, v in values.items()}
        # rows of each constraint in the concatenated block output, to restore problem order
        rows_of: dict[int, list[int]] = {}
        row = 0
        for pred in self.blocks:
            width = 2 if pred == "midp" else 1
            for i in order[pred]:
                rows_of[i] = list(range(row, row + width))
                row += width
        self.rows = rows_of
        self.perm = torch.tensor([r for i in range(len(self.constraints)) for r in rows_of[i]],
                                 dtype=torch.long)
        n = len(self.names)
        iu = np.triu_indices(n, 1)
        self.pairs = (torch.tensor(iu[0]), torch.tensor(iu[1]))
        tri = _shape_triples(problem)
        self.tri = (torch.tensor([[self.index[p] for p in t] for t in tri], dtype=torch.long)
                    if tri else None)

    # coordinates <-> unknowns
    def points(self, z):
        torch = self.torch
        x = torch.tensor(self.fixed, dtype=torch.float64)
        if len(self.free) == len(self.names):
            return z.reshape(-1, 2)
        return x.index_put((torch.tensor(self.free),), z.reshape(-1, 2))

    def residuals(self, x):
        """All residuals, in the order of :attr:`constraints` (``midp`` gives two rows)."""
        torch = self.torch
        out = []
        for pred, ix in self.blocks.items():
            p = x[ix]  # (k, m, 2)
            out.append(_RESIDUALS[pred](torch, p, self.values[pred]).reshape(-1))
        if not out:
            return torch.zeros(0, dtype=torch.float64)
        return torch.cat(out)[self.perm]

    def scale(self, x):
        c = x - x.mean(0)
        return (c * c).sum(1).mean().sqrt()

    def penalty(self, x, sep: float, area: float):
        """Degeneracy terms: close pairs, collapsed shape triangles, diagram size far from 1."""
        torch = self.torch
        s2 = (x - x.mean(0)).pow(2).sum(1).mean()
        pen = (s2 - 1.0) ** 2
        if len(self.names) >= 2:
            d = (x[self.pairs[0]] - x[self.pairs[1]]).pow(2).sum(1).add(1e-18).sqrt()
            pen = pen + torch.relu(sep - d / s2.sqrt()).pow(2).sum() * 100.0
        if self.tri is not None:
            a = _tri_area(x[self.tri])
            pen = pen + torch.relu(area - a.abs()).pow(2).sum() * 100.0
        return pen

    def hinges(self, x, sep: float, area: float):
        """Degeneracy residuals for stage 2: zero unless a pair or a shape gets too small."""
        torch = self.torch
        s = self.scale(x)
        out = [torch.zeros(0, dtype=torch.float64)]
        if len(self.names) >= 2:
            d = (x[self.pairs[0]] - x[self.pairs[1]]).pow(2).sum(1).add(1e-18).sqrt()
            out.append(torch.relu(sep - d / s))
        if self.tri is not None:
            out.append(torch.relu(area - _tri_area(x[self.tri]).abs()))
        return torch.cat(out)


def _cross(u, v):
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def _dot(u, v):
    return (u * v).sum(-1)


def _sq(u):
    return (u * u).sum(-1)


def _lengths(u, v):
    """|u| |v|, so that cross / lengths is a sine (a shrinking segment does not help)."""
    return (_sq(u) * _sq(v) + _EPS).sqrt()


def _tri_area(p):
    """Normalised signed area of triangles ``p`` (k, 3, 2): at most ~0.43 (equilateral)."""
    u, v = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    w = p[:, 2] - p[:, 1]
    return _cross(u, v) / (_sq(u) + _sq(v) + _sq(w) + _EPS) * 2.0


def _r_coll(torch, p, val):
    u, v = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    return _cross(u, v) / _lengths(u, v)


def _r_para(torch, p, val):
    u, v = p[:, 1] - p[:, 0], p[:, 3] - p[:, 2]
    return _cross(u, v) / _lengths(u, v)


def _r_perp(torch, p, val):
    u, v = p[:, 1] - p[:, 0], p[:, 3] - p[:, 2]
    return _dot(u, v) / _lengths(u, v)


def _r_cong(torch, p, val):
    a, b = _sq(p[:, 1] - p[:, 0]), _sq(p[:, 3] - p[:, 2])
    return (a - b) / (a + b + _EPS)


def _r_rconst(torch, p, val):
    a, b = _sq(p[:, 1] - p[:, 0]), _sq(p[:, 3] - p[:, 2]) * val * val
    return (a - b) / (a + b + _EPS)


def _r_cyclic(torch, p, val):
    b, c, d = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]
    nb, nc, nd = _sq(b), _sq(c), _sq(d)
    det = nb * _cross(c, d) - nc * _cross(b, d) + nd * _cross(b, c)
    return det / ((nb + nc + nd) ** 2 + _EPS)


def _sin_cos(u, v):
    """Sine and cosine of the directed angle from u to v, and |u||v|."""
    return _cross(u, v), _dot(u, v), _lengths(u, v)


def _r_eqangle(torch, p, val):
    s1, c1, n1 = _sin_cos(p[:, 1] - p[:, 0], p[:, 3] - p[:, 2])
    s2, c2, n2 = _sin_cos(p[:, 5] - p[:, 4], p[:, 7] - p[:, 6])
    return (s1 * c2 - c1 * s2) / (n1 * n2)


def _r_aconst(torch, p, val):
    s, c, n = _sin_cos(p[:, 1] - p[:, 0], p[:, 3] - p[:, 2])
    return (s * torch.cos(val) - c * torch.sin(val)) / n


def _r_midp(torch, p, val):
    m, a, b = p[:, 0], p[:, 1], p[:, 2]
    return (2 * m - a - b) / (_sq(b - a) + _EPS).sqrt()[:, None]


def _r_eqratio(torch, p, val):
    ab, cd = _sq(p[:, 1] - p[:, 0]), _sq(p[:, 3] - p[:, 2])
    ef, gh = _sq(p[:, 5] - p[:, 4]), _sq(p[:, 7] - p[:, 6])
    x, y = ab * gh, cd * ef
    return (x - y) / (x + y + _EPS)


_RESIDUALS = {"coll": _r_coll, "para": _r_para, "perp": _r_perp, "cong": _r_cong,
              "rconst": _r_rconst, "cyclic": _r_cyclic, "eqangle": _r_eqangle,
              "aconst": _r_aconst, "midp": _r_midp, "eqratio": _r_eqratio}


# --- public functions -----------------------------------------------------------------------


def _coords_array(system: _System, coords) -> np.ndarray:
    if isinstance(coords, Diagram):
        coords = coords.points
    if isinstance(coords, Mapping):
        missing = [n for n in system.names if n not in coords]
        if missing:
            raise GeometryBuildError(f"{_label(system.problem)}: no coordinates for "
                                     f"{' '.join(missing)}")
        return np.array([np.asarray(coords[n], dtype=np.float64) for n in system.names])
    arr = np.asarray(coords, dtype=np.float64)
    if arr.shape != (len(system.names), 2):
        raise GeometryBuildError(f"{_label(system.problem)}: expected coordinates of shape "
                                 f"({len(system.names)}, 2), got {arr.shape}")
    return arr


def residuals(problem: Problem | str, coords) -> np.ndarray:
    """The residual vector of ``problem``'s construction properties at ``coords`` (a mapping
    name -> (x, y), a :class:`Diagram`, or an array (n, 2) in the order of
    ``problem.points``); one entry per :func:`constraints` item, two for ``midp``."""
    system = _System(_problem(problem))
    torch = system.torch
    x = torch.tensor(_coords_array(system, coords), dtype=torch.float64)
    return system.residuals(x).numpy().copy()


def _separation(x: np.ndarray) -> float:
    """Closest pair of points over the diagram scale (max distance from the centroid)."""
    if len(x) < 2:
        return float("inf")
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    d[np.diag_indices(len(x))] = np.inf
    scale = max(1e-300, float(np.sqrt(((x - x.mean(0)) ** 2).sum(1)).max()))
    return float(d.min() / scale)


def _levenberg_marquardt(system: _System, z, tol: float, max_iter: int):
    """Levenberg-Marquardt on the residuals plus small degeneracy hinges that vanish at any
    acceptable diagram. Stops when the largest entry is below ``tol`` or no step helps."""
    torch = system.torch
    from torch.func import jacrev  # noqa: PLC0415

    def f(v):
        x = system.points(v)
        return torch.cat([system.residuals(x), system.hinges(x, 0.05, 0.03)])

    jac = jacrev(f)
    r = f(z)
    cost = float(r @ r)
    lam = 1e-3
    eye = torch.eye(z.numel(), dtype=torch.float64)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        if r.numel() == 0 or float(r.abs().max()) < tol:
            return z, r, it - 1
        j = jac(z)
        jtj, g = j.T @ j, j.T @ r
        improved = False
        for _ in range(12):
            step = torch.linalg.solve(jtj + lam * (eye * (1.0 + jtj.diagonal().mean())), -g)
            z_new = z + step
            r_new = f(z_new)
            c_new = float(r_new @ r_new)
            if np.isfinite(c_new) and c_new < cost:
                z, r, cost = z_new, r_new, c_new
                lam = max(lam / 5.0, 1e-15)
                improved = True
                break
            lam *= 8.0
        if not improved:
            break
    return z, r, it


def optimize_diagram(problem: Problem | str, seed: int | None = 0, restarts: int = 20,
                     steps: int = 1500, tol: float = 1e-10, lr: float = 0.03,
                     min_separation: float = 1e-3, require_goal: bool = False,
                     goal_tol: float = 1e-6, switch: float = 1e-4) -> OptimizedDiagram:
    """A numeric diagram of ``problem`` found by optimisation (see the module docstring).

    Deterministic for a given ``seed``. A start is accepted when the largest absolute residual
    is below ``tol``, no two points are closer than ``min_separation`` times the diagram's
    scale (the largest distance from the centroid), no shape triangle is flat and, with
    ``require_goal``, the goal holds to ``goal_tol``. Raises :class:`DiagramOptimizationError`
    naming the problem and the worst constraint if no start out of ``restarts`` is accepted.
    """
    problem = _problem(problem)
    system = _System(problem)
    torch = system.torch
    rng = np.random.default_rng(seed)
    n = len(system.names)
    t0 = time.perf_counter()
    best: tuple[float, str] = (float("inf"), "")
    sep, area = _SEP, _AREA
    for attempt in range(1, restarts + 1):
        init = rng.normal(size=(n, 2))
        z = torch.tensor(init[system.free].reshape(-1), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([z], lr=lr)
        decay = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.01 ** (1.0 / max(1, steps)))
        used, history = 0, []
        for used in range(1, steps + 1):  # noqa: B007
            opt.zero_grad()
            x = system.points(z)
            r = system.residuals(x)
            res2 = (r * r).sum()
            loss = res2 + system.penalty(x, sep, area)
            loss.backward()
            opt.step()
            decay.step()
            if used % 10 == 0:
                val = float(res2.detach())
                history.append(val)
                if val < switch or (len(history) > 30 and val > 0.9 * history[-21]):
                    break  # converged enough for LM, or stalled: let LM try from here
        z = z.detach()
        z, _, lm_iters = _levenberg_marquardt(system, z, tol, max_iter=100)
        r = system.residuals(system.points(z))
        x = system.points(z).numpy().copy()
        worst = float(r.abs().max()) if r.numel() else 0.0
        why = ""
        if not np.all(np.isfinite(x)) or not worst < tol:
            k = int(r.abs().argmax()) if r.numel() else 0
            con = next(c for i, c in enumerate(system.constraints) if k in system.rows[i])
            why = f"residual {worst:.2e} at {con} (from {con.source})"
        elif _separation(x) < min_separation:
            why = f"two points closer than {min_separation} of the diagram's size"
        elif system.tri is not None and float(
                _tri_area(torch.tensor(x)[system.tri]).abs().min()) < 1e-3:
            why = "a shape's triangle is flat"
        points = {name: x[i].copy() for i, name in enumerate(system.names)}
        if not why and require_goal and problem.goal is not None:
            if not check_goal(Diagram(points, problem=problem), tol=goal_tol):
                why = f"the goal {str(problem.goal)!r} fails numerically"
        if not why:
            lines, circles = _drawables(problem, points)
            return OptimizedDiagram(
                points, lines, circles, problem, seed, attempt, residual=worst,
                restarts=attempt, adam_steps=used, lm_iterations=lm_iters,
                seconds=time.perf_counter() - t0, min_separation=_separation(x))
        score = worst if np.isfinite(worst) else float("inf")
        if score <= best[0] or not best[1]:
            best = (score, why)
    raise DiagramOptimizationError(
        f"{_label(problem)}: no random start out of {restarts} converged to a non-degenerate "
        f"diagram (tol {tol:g}); best start: {best[1]}")



def make_diagram(problem: Problem | str, seed: int = 0, require_goal: bool = True) -> Diagram:
    """A numeric diagram of ``problem``: the constructive builder's random instance
    (:func:`~readingroom.geometry.diagram.build_diagram`), or, for a statement it cannot place
    (AlphaGeometry2's non-constructive statements, a point fixed by more conditions than one
    construction can meet), the optimiser's (:func:`optimize_diagram`). With ``require_goal``
    (ignored for a problem without a goal) the goal must hold on it.

    Raises:
        GeometryBuildError: neither finds an instance (the message gives both reasons).
    """
    problem = _problem(problem)
    need_goal = bool(require_goal) and problem.goal is not None
    try:
        return build_diagram(problem, seed=seed, require_goal=need_goal)
    except GeometryBuildError as err:
        try:
            return optimize_diagram(problem, seed=seed, require_goal=need_goal)
        except (GeometryBuildError, NotImplementedError) as opt_err:
            raise GeometryBuildError(f"{err}; the optimiser found no instance either: "
                                     f"{opt_err}") from None
