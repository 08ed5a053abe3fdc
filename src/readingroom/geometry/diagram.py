"""Numeric diagrams: a random instance of a problem, on which every fact is checked.

AlphaGeometry (Trinh et al., 2024; AlphaGeometry2, arXiv 2502.03544) builds a numeric instance
of a problem and checks each fact its engine derives on it. :func:`build_diagram` places the
points clause by clause (float64 numpy coordinates, each construction placed by
:data:`~readingroom.geometry.placements.PLACEMENTS`): one locus is sampled at random, two are
intersected, and where two intersections exist one is picked at random among those that do not
coincide with an existing point. A placement that degenerates (parallel lines, circles that
miss, a point on top of another or very far away) restarts the whole diagram with fresh
randomness, up to ``max_tries`` times; the same ``seed`` always gives the same coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from readingroom.geometry.definitions import CONSTRUCTIONS
from readingroom.geometry.goals import check_goal
from readingroom.geometry.language import Clause, GeometryInputError, Problem, parse_problem
from readingroom.geometry.placements import PLACEMENTS
from readingroom.geometry.primitives import (
    Array,
    Circle,
    _circumcenter,
    _Degenerate,
    _intersect,
    _norm,
    _pt,
    _scale,
)

__all__ = ["CircleRecord", "Diagram", "GeometryBuildError", "build_diagram"]


class GeometryBuildError(GeometryInputError):
    """No non-degenerate random instance of the problem was found."""


# --- diagrams ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CircleRecord:
    """A circle to draw: centre, radius, the centre's name (if a point) and points on it."""

    center: Array
    radius: float
    center_name: str | None
    points: tuple[str, ...]


@dataclass
class Diagram:
    """A numeric instance: point name -> float64 array ``(x, y)``, plus the lines (groups of
    collinear point names) and circles the problem's constructions use, for drawing."""

    points: dict[str, Array]
    lines: list[tuple[str, ...]] = field(default_factory=list)
    circles: list[CircleRecord] = field(default_factory=list)
    problem: Problem | None = None
    seed: int | None = None
    attempts: int = 1

    def __getitem__(self, name: str) -> Array:
        return self.points[name]

    def coords(self, names: Sequence[str]) -> list[Array]:
        try:
            return [self.points[n] for n in names]
        except KeyError as e:
            raise GeometryInputError(f"point {e.args[0]!r} is not in the diagram "
                                     f"(points: {' '.join(self.points)})") from None

    def scale(self) -> float:
        return _scale(list(self.points.values()))


def _sample(locus, rng: np.random.Generator, existing: list[Array]) -> Array:
    r = _scale(existing)
    if isinstance(locus, Circle):
        t = rng.uniform(0, 2 * np.pi)
        return locus.center + locus.radius * _pt(np.cos(t), np.sin(t))
    if locus.ray:
        return locus.point + rng.uniform(0.2, 1.2) * r * locus.direction
    centre = sum(existing) / len(existing) if existing else locus.point
    base = locus.point + float((centre - locus.point) @ locus.direction) * locus.direction
    return base + rng.uniform(-1.2, 1.2) * r * locus.direction


class _Placer:
    """Places one clause's points; raises :class:`_Degenerate` on failure."""

    close = 1e-3
    far = 100.0

    def __init__(self, rng: np.random.Generator, points: dict[str, Array]):
        self.rng = rng
        self.points = points

    def ok(self, p: Array, others: list[Array], scale: float) -> bool:
        if not np.all(np.isfinite(p)):
            return False
        if any(_norm(p - q) < self.close * scale for q in others):
            return False
        if others:
            centre = sum(others) / len(others)
            if _norm(p - centre) > self.far * scale:
                return False
        return True

    def place(self, clause: Clause) -> dict[str, Array]:
        existing = list(self.points.values())
        scale = _scale(existing) if len(existing) >= 2 else 1.0
        placed: dict[str, Array] = {}
        loci: dict[str, list] = {p: [] for p in clause.points}
        for c in clause.constructions:
            cdef = CONSTRUCTIONS[c.name]
            bind = dict(zip(cdef.args, c.args))
            vals: dict[str, Array | float] = {}
            for slot in cdef.inputs:
                vals[slot] = self.points[bind[slot]]
            for slot in cdef.numeric:
                tok = bind[slot]
                vals[slot] = float(tok[:-1] if tok.lower().endswith("o") else tok)
            out = PLACEMENTS[c.name](self.rng, vals)
            if isinstance(out, dict):
                for slot, xy in out.items():
                    name = bind[slot]
                    if name in placed:
                        loci[name].append(("point", xy))
                    else:
                        placed[name] = np.asarray(xy, dtype=np.float64)
            else:
                loci[bind[cdef.new[0]]].append(out)
        for name in clause.points:
            objs = loci[name]
            extra = objs
            if name not in placed:
                if len(objs) == 1:
                    placed[name] = _sample(objs[0], self.rng, existing)
                    extra = []
                else:
                    cands = _intersect(objs[0], objs[1])
                    others = existing + list(placed.values())
                    good = [q for q in cands if self.ok(q, others, scale)]
                    if not good:
                        raise _Degenerate(f"no usable intersection for {name}")
                    placed[name] = good[self.rng.integers(len(good))]
                    extra = objs[2:]
            for obj in extra:  # over-determined: the extra loci must pass through the point
                dist = _norm(obj[1] - placed[name]) if isinstance(obj, tuple) else obj.distance(
                    placed[name])
                if dist > 1e-9 * scale:
                    raise _Degenerate(f"{name} does not satisfy all its constructions")
        others = list(existing)
        for name in clause.points:
            if not self.ok(placed[name], others, scale):
                raise _Degenerate(f"{name} coincides with another point or is too far away")
            others.append(placed[name])
        return placed


def _drawables(problem: Problem, points: dict[str, Array]):
    groups: list[set[str]] = []
    circles: list[CircleRecord] = []
    for clause in problem.clauses:
        for c in clause.constructions:
            cdef = CONSTRUCTIONS[c.name]
            bind = dict(zip(cdef.args, c.args))
            for grp in cdef.lines:
                groups.append({bind[s] for s in grp})
            for centre, through in cdef.circles:
                names = tuple(bind[s] for s in through)
                try:
                    if centre is not None:
                        cen = points[bind[centre]]
                        rec = CircleRecord(cen, _norm(points[names[0]] - cen), bind[centre], names)
                    else:
                        cen = _circumcenter(*(points[n] for n in names[:3]))
                        rec = CircleRecord(cen, _norm(points[names[0]] - cen), None, names)
                except _Degenerate:
                    continue
                if not any(np.allclose(rec.center, o.center) and np.isclose(rec.radius, o.radius)
                           for o in circles):
                    circles.append(rec)
    merged: list[set[str]] = []
    for g in groups:  # two groups sharing two points are the same line
        g = set(g)
        changed = True
        while changed:
            changed = False
            for m in list(merged):
                if len(m & g) >= 2:
                    g |= m
                    merged.remove(m)
                    changed = True
        merged.append(g)
    order = {n: i for i, n in enumerate(points)}
    lines = [tuple(sorted(m, key=order.__getitem__)) for m in merged if len(m) >= 2]
    return lines, circles


def build_diagram(problem: Problem | str, seed: int | None = 0, max_tries: int = 200,
                  require_goal: bool = False, tol: float = 1e-6) -> Diagram:
    """A random numeric instance of ``problem`` (a :class:`Problem` or its text).

    Deterministic for a given ``seed``. Raises :class:`GeometryBuildError` naming the clause
    that kept failing if no non-degenerate instance is found in ``max_tries`` attempts.

    The language does not say *which* intersection of a line and a circle is meant, and some
    statements hold for one choice only (IMO 2005 P5, IMO 2018 P1 in IMO-AG-30). With
    ``require_goal=True`` instances where the goal fails numerically are rejected too, as
    AlphaGeometry does when it builds a problem; the error then says so.
    """
    if isinstance(problem, str):
        problem = parse_problem(problem)
    rng = np.random.default_rng(seed)
    fails: dict[int, tuple[int, str]] = {}
    goal_fails = 0
    for attempt in range(1, max_tries + 1):
        points: dict[str, Array] = {}
        placer = _Placer(rng, points)
        for k, clause in enumerate(problem.clauses):
            pinned = {n: _pt(x, y) for n, x, y in clause.coords}
            try:
                if len(pinned) == len(clause.points):
                    new = pinned
                else:
                    new = placer.place(clause)
                    new.update(pinned)
            except (_Degenerate, FloatingPointError, ZeroDivisionError) as e:
                count, _ = fails.get(k, (0, ""))
                fails[k] = (count + 1, str(e))
                break
            points.update(new)
        else:
            lines, circles = _drawables(problem, points)
            diagram = Diagram(points, lines, circles, problem, seed, attempt)
            if not require_goal or problem.goal is None or check_goal(diagram, tol=tol):
                return diagram
            goal_fails += 1
    name = f"problem {problem.name!r}: " if problem.name else ""
    if not fails:
        raise GeometryBuildError(f"{name}the goal {str(problem.goal)!r} failed numerically in all "
                                 f"{max_tries} random instances")
    k = max(fails, key=lambda i: fails[i][0])
    count, why = fails[k]
    goal = f"; the goal failed in {goal_fails} complete instances" if goal_fails else ""
    raise GeometryBuildError(
        f"{name}clause {k + 1} {str(problem.clauses[k])!r}: could not place its points in "
        f"{max_tries} random attempts (failed {count} times here; last reason: {why}){goal}")
