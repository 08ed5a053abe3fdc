"""Plane primitives for the numeric diagrams: points as float64 arrays, lines (or rays) and
circles, and their intersections.

These are the loci that constructions place points on (:mod:`~readingroom.geometry.placements`)
and that :func:`~readingroom.geometry.diagram.build_diagram` intersects. A computation that
degenerates (parallel lines, circles that miss, a zero-length direction) raises
:class:`_Degenerate`, and the diagram builder retries with fresh randomness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Circle", "Line"]

Array = np.ndarray
_TINY = 1e-12


class _Degenerate(Exception):
    """Internal: this placement failed; retry with fresh randomness."""


# --- loci ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """The line ``point + t * direction`` (``direction`` a unit vector); ``t >= 0`` if ``ray``."""

    point: Array
    direction: Array
    ray: bool = False

    def distance(self, p: Array) -> float:
        v = p - self.point
        return abs(_cross(self.direction, v))


@dataclass(frozen=True)
class Circle:
    center: Array
    radius: float

    def distance(self, p: Array) -> float:
        return abs(float(np.linalg.norm(p - self.center)) - self.radius)


def _pt(x: float, y: float) -> Array:
    return np.array([x, y], dtype=np.float64)


def _cross(u: Array, v: Array) -> float:
    return float(u[0] * v[1] - u[1] * v[0])


def _norm(v: Array) -> float:
    return float(np.hypot(v[0], v[1]))


def _unit(v: Array) -> Array:
    n = _norm(v)
    if n < _TINY:
        raise _Degenerate("zero-length direction")
    return v / n


def _perp(v: Array) -> Array:
    return _pt(-v[1], v[0])


def _rot(v: Array, ang: float) -> Array:
    c, s = np.cos(ang), np.sin(ang)
    return _pt(c * v[0] - s * v[1], s * v[0] + c * v[1])


def _dir(v: Array) -> float:
    return float(np.arctan2(v[1], v[0]))


def _line(p: Array, direction: Array, ray: bool = False) -> Line:
    return Line(p.astype(np.float64), _unit(direction), ray)


def _foot(p: Array, a: Array, b: Array) -> Array:
    u = _unit(b - a)
    return a + u * float(np.dot(p - a, u))


def _circumcenter(a: Array, b: Array, c: Array) -> Array:
    d = 2.0 * _cross(b - a, c - a)
    if abs(d) < _TINY * max(1.0, _norm(b - a) * _norm(c - a)):
        raise _Degenerate("collinear points have no circumcircle")
    b2, c2 = b - a, c - a
    nb, nc = float(b2 @ b2), float(c2 @ c2)
    return a + _pt(c2[1] * nb - b2[1] * nc, b2[0] * nc - c2[0] * nb) / d


def _inter_ll(l1: Line, l2: Line) -> list[Array]:
    den = _cross(l1.direction, l2.direction)
    if abs(den) < 1e-9:
        raise _Degenerate("parallel lines do not meet")
    t = _cross(l2.point - l1.point, l2.direction) / den
    return [l1.point + t * l1.direction]


def _inter_lc(l: Line, c: Circle) -> list[Array]:
    f = l.point - c.center
    b = float(f @ l.direction)
    disc = b * b - (float(f @ f) - c.radius**2)
    if disc < 0:
        raise _Degenerate("line misses circle")
    s = np.sqrt(disc)
    ts = [-b - s, -b + s]
    if l.ray:
        ts = [t for t in ts if t > -1e-9]
    return [l.point + t * l.direction for t in ts]


def _inter_cc(c1: Circle, c2: Circle) -> list[Array]:
    v = c2.center - c1.center
    d = _norm(v)
    if d < _TINY:
        raise _Degenerate("concentric circles")
    a = (c1.radius**2 - c2.radius**2 + d * d) / (2 * d)
    h2 = c1.radius**2 - a * a
    if h2 < 0:
        raise _Degenerate("circles do not meet")
    m = c1.center + v * (a / d)
    h = np.sqrt(h2)
    w = _perp(v) / d
    return [m + h * w, m - h * w]


def _intersect(o1, o2) -> list[Array]:
    if isinstance(o1, Line) and isinstance(o2, Line):
        pts = _inter_ll(o1, o2)
        for o in (o1, o2):  # a ray only keeps points on its side
            if o.ray and float((pts[0] - o.point) @ o.direction) < -1e-9:
                raise _Degenerate("lines meet behind a ray")
        return pts
    if isinstance(o1, Circle) and isinstance(o2, Circle):
        return _inter_cc(o1, o2)
    line, circ = (o1, o2) if isinstance(o1, Line) else (o2, o1)
    return _inter_lc(line, circ)


def _scale(pts: list[Array]) -> float:
    if len(pts) < 2:
        return 1.0
    centre = sum(pts) / len(pts)
    return max(1e-3, max(_norm(p - centre) for p in pts))
