"""Numeric diagrams: a random instance of a problem, and numeric checks of goal predicates.

:func:`build_diagram` places the points clause by clause (float64 numpy coordinates). A
construction of kind ``"points"`` computes its new points directly (random shapes get a random
rotation, scale, shift and reflection); a ``"locus"`` construction gives a :class:`Line` (or
ray) or a :class:`Circle`: one locus is sampled at random, two are intersected, and where two
intersections exist one is picked at random among those that do not coincide with an existing
point. A placement that degenerates (parallel lines, circles that miss, a point on top of
another or very far away) restarts the whole diagram with fresh randomness, up to
``max_tries`` times; the same ``seed`` always gives the same coordinates.

:func:`check_goal` evaluates a goal predicate on a diagram; the ``check_*`` functions take
coordinates and are usable on any arguments. Angles are directed and taken modulo pi, as in
AlphaGeometry: ``eqangle a b c d e f g h`` says that the angle from line ab to line cd equals
the angle from line ef to line gh. Tolerances are relative (sines of angles, ratios of lengths).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from readingroom.geometry.definitions import CONSTRUCTIONS, GOALS
from readingroom.geometry.language import (
    Clause,
    GeometryInputError,
    Goal,
    Problem,
    parse_angle,
    parse_goal,
    parse_problem,
    parse_ratio,
)

__all__ = [
    "CHECKERS",
    "Circle",
    "CircleRecord",
    "Diagram",
    "GeometryBuildError",
    "Line",
    "build_diagram",
    "check_aconst",
    "check_coll",
    "check_cong",
    "check_contri",
    "check_cyclic",
    "check_eqangle",
    "check_eqratio",
    "check_goal",
    "check_midp",
    "check_para",
    "check_perp",
    "check_rconst",
    "check_simtri",
    "goal_residual",
]

Array = np.ndarray
_TINY = 1e-12


class GeometryBuildError(GeometryInputError):
    """No non-degenerate random instance of the problem was found."""


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


# --- random shapes -------------------------------------------------------------------------


def _similarity(rng: np.random.Generator, *pts: Array) -> list[Array]:
    """Random rotation, scale in [0.5, 2], shift in [-1, 1]^2 and reflection of a point set."""
    centre = sum(pts) / len(pts)
    ang = rng.uniform(0, 2 * np.pi)
    scale = rng.uniform(0.5, 2.0)
    shift = rng.uniform(-1, 1, 2)
    flip = rng.random() < 0.5
    out = []
    for p in pts:
        q = _rot(p - centre, ang) * scale + shift
        if flip:
            q = _pt(-q[0], q[1])
        out.append(q)
    return out


def _named(names: str, pts: Sequence[Array]) -> dict[str, Array]:
    return dict(zip(names.split(), pts))


def _triangle(rng, p):
    ang = rng.uniform(0.2, 0.8) * np.pi
    c = rng.uniform(0.5, 2.0) * _pt(np.cos(ang), np.sin(ang))
    return _named("a b c", _similarity(rng, _pt(0, 0), _pt(1, 0), c))


def _quadrangle(rng, p):
    phi = rng.uniform(0.3, 0.7) * np.pi
    e = _pt(np.cos(phi), np.sin(phi))
    s1, s2, t1, t2 = rng.uniform(0.3, 1.0, 4)
    return _named("a b c d", _similarity(rng, _pt(-s1, 0), -t1 * e, _pt(s2, 0), t2 * e))


def _pentagon(rng, p):
    gaps = rng.uniform(0.6, 1.4, 5)
    angs = np.cumsum(gaps / gaps.sum() * 2 * np.pi)
    radii = rng.uniform(0.85, 1.15, 5)
    pts = [r * _pt(np.cos(t), np.sin(t)) for r, t in zip(radii, angs)]
    return _named("a b c d e", _similarity(rng, *pts))


def _iso_triangle(rng, p):
    w, h = rng.uniform(0.5, 1.5, 2)
    return _named("a b c", _similarity(rng, _pt(0, h), _pt(-w / 2, 0), _pt(w / 2, 0)))


def _ieq_triangle(rng, p):
    return _named("a b c", _similarity(rng, _pt(0, 0), _pt(1, 0), _pt(0.5, np.sqrt(3) / 2)))


def _r_triangle(rng, p):
    u, v = rng.uniform(0.5, 2.0, 2)
    return _named("a b c", _similarity(rng, _pt(0, 0), _pt(0, u), _pt(v, 0)))


def _risos(rng, p):
    return _named("a b c", _similarity(rng, _pt(0, 0), _pt(0, 1), _pt(1, 0)))


def _triangle12(rng, p):
    b, c = _pt(0, 0), _pt(rng.uniform(1.5, 2.5), 0)
    a = _inter_cc(Circle(b, 1.0), Circle(c, 2.0))[rng.integers(2)]
    return _named("a b c", _similarity(rng, a, b, c))


def _trapezoid(rng, p):
    base, h, x0 = rng.uniform(0.5, 2.0), rng.uniform(0.5, 2.0), rng.uniform(0.2, 0.5)
    return _named("a b c d", _similarity(rng, _pt(x0, h), _pt(x0 + base, h), _pt(1, 0), _pt(0, 0)))


def _r_trapezoid(rng, p):
    u, v = rng.uniform(0.5, 1.5, 2)
    return _named("a b c d", _similarity(rng, _pt(0, 1), _pt(u, 1), _pt(v, 0), _pt(0, 0)))


def _eq_trapezoid(rng, p):
    ln, h = rng.uniform(0.5, 2.0, 2)
    return _named("a b c d", _similarity(
        rng, _pt(0, 0), _pt(1, 0), _pt(0.5 + ln / 2, h), _pt(0.5 - ln / 2, h)))


def _eq_quadrangle(rng, p):
    ln = rng.uniform(0.5, 2.0)
    alpha = rng.uniform(np.pi / 3, 2 * np.pi / 3)
    beta = rng.uniform(0.25, alpha - 0.25)
    a, b = _pt(0, 0), _pt(1, 0)
    d = a + ln * _pt(np.cos(alpha), np.sin(alpha))
    c = b + ln * _pt(np.cos(beta), np.sin(beta))
    return _named("a b c d", _similarity(rng, a, b, c, d))


def _eqdia_quadrangle(rng, p):
    m, n = rng.uniform(0.3, 0.7, 2)
    ang = rng.uniform(-0.25 * np.pi, 0.25 * np.pi)
    a, c = _pt(-m, 0), _pt(1 - m, 0)
    b, d = _rot(_pt(0, -n), ang), _rot(_pt(0, 1 - n), ang)
    return _named("a b c d", _similarity(rng, a, b, c, d))


def _rectangle(rng, p):
    ln = rng.uniform(0.5, 2.0)
    return _named("a b c d", _similarity(rng, _pt(0, 0), _pt(0, 1), _pt(ln, 1), _pt(ln, 0)))


def _isquare(rng, p):
    return _named("a b c d", _similarity(rng, _pt(0, 0), _pt(1, 0), _pt(1, 1), _pt(0, 1)))


# --- constructions from existing points --------------------------------------------------


def _incenter(a, b, c, sign=1.0):
    la, lb, lc = _norm(b - c), _norm(c - a), _norm(a - b)
    w = sign * la + lb + lc
    if abs(w) < _TINY:
        raise _Degenerate("no excentre")
    return (sign * la * a + lb * b + lc * c) / w


def _touch(i, a, b, c):
    return {"x": _foot(i, b, c), "y": _foot(i, c, a), "z": _foot(i, a, b), "i": i}


def _eq_triangle(rng, p):
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return {"x": p["b"] + _rot(p["c"] - p["b"], sign * np.pi / 3)}


def _eqangle2(rng, p):
    # angle(ab, ax) = angle(cx, cb): dir(ax) = dir(ab) + t and dir(cx) = dir(cb) - t.
    t = rng.uniform(0.1, 0.9) * np.pi
    la = _line(p["a"], _rot(p["b"] - p["a"], t))
    lc = _line(p["c"], _rot(p["b"] - p["c"], -t))
    return {"x": _inter_ll(la, lc)[0]}


def _trisect(rng, p):
    a, b, c = p["a"], p["b"], p["c"]
    ta = _dir(a - b)
    delta = (_dir(c - b) - ta + np.pi) % (2 * np.pi) - np.pi  # signed angle in (-pi, pi)
    ac = _line(a, c - a)
    x = _inter_ll(_line(b, _pt(np.cos(ta + delta / 3), np.sin(ta + delta / 3))), ac)[0]
    y = _inter_ll(_line(b, _pt(np.cos(ta + 2 * delta / 3), np.sin(ta + 2 * delta / 3))), ac)[0]
    return {"x": x, "y": y}


def _3peq(rng, p):
    a, b, c = p["a"], p["b"], p["c"]
    z = b + (c - b) * rng.uniform(-0.5, 1.5)
    x = _inter_ll(_line(2 * z - c, a - c), _line(a, b - a))[0]
    return {"x": x, "y": 2 * z - x, "z": z}


def _tangent(rng, p):
    a, o = p["a"], p["o"]
    pts = _inter_cc(Circle(o, _norm(p["b"] - o)), Circle((a + o) / 2, _norm(a - o) / 2))
    if rng.random() < 0.5:
        pts.reverse()
    return {"x": pts[0], "y": pts[1]}


def _common_tangents(o: Array, r1: float, w: Array, r2: float) -> list[tuple[Array, Array]]:
    """Touch points (on o's circle, on w's circle) of the two external common tangents."""
    v = w - o
    d = _norm(v)
    if d < _TINY:
        raise _Degenerate("concentric circles")
    k = (r2 - r1) / d
    if abs(k) >= 1 - 1e-9:
        raise _Degenerate("one circle inside the other: no external common tangent")
    e, s = v / d, np.sqrt(1 - k * k)
    out = []
    for sign in (1.0, -1.0):
        n = k * e + sign * s * _perp(e)
        out.append((o - r1 * n, w - r2 * n))
    return out


def _cc_tangent0(rng, p):
    pairs = _common_tangents(p["o"], _norm(p["a"] - p["o"]), p["w"], _norm(p["b"] - p["w"]))
    x, y = pairs[rng.integers(2)]
    return {"x": x, "y": y}


def _cc_tangent(rng, p):
    (x, y), (z, i) = _common_tangents(
        p["o"], _norm(p["a"] - p["o"]), p["w"], _norm(p["b"] - p["w"]))
    return {"x": x, "y": y, "z": z, "i": i}


def _2l1c(rng, p):
    """Circle in angle acb, tangent to lines ca and cb, and internally tangent to circle o."""
    a, b, c, o = p["a"], p["b"], p["c"], p["o"]
    big_r = _norm(a - o)
    ua, ub = _unit(a - c), _unit(b - c)
    u = _unit(ua + ub)  # internal bisector at c
    s = np.sqrt(max(0.0, (1 - float(ua @ ub)) / 2))  # sin of half the angle at c
    f = c - o
    # |c + t u - o| = R - t s  ->  (1 - s^2) t^2 + 2 (u.f + R s) t + |f|^2 - R^2 = 0
    qa, qb, qc = 1 - s * s, 2 * (float(u @ f) + big_r * s), float(f @ f) - big_r**2
    disc = qb * qb - 4 * qa * qc
    if qa < _TINY or disc < 0:
        raise _Degenerate("no circle tangent to both lines and the circle")
    roots = [(-qb + sg * np.sqrt(disc)) / (2 * qa) for sg in (1.0, -1.0)]
    roots = [t for t in roots if t > 1e-9 and big_r - t * s > 1e-9]
    if not roots:
        raise _Degenerate("no circle tangent to both lines and the circle")
    t = roots[rng.integers(len(roots))]
    i = c + t * u
    z = o + big_r * _unit(i - o)
    return {"x": _foot(i, a, c), "y": _foot(i, b, c), "z": z, "i": i}


def _e5128(rng, p):
    a, b, c, d = p["a"], p["b"], p["c"], p["d"]
    y = (a + b) / 2
    pts = _inter_lc(_line(d, y - d), Circle(c, _norm(b - c)))
    x = max(pts, key=lambda q: _norm(q - d))
    return {"x": x, "y": y}


# --- loci --------------------------------------------------------------------------------


def _angle_circle(a: Array, b: Array, theta: float) -> Circle:
    """The circle of points x with directed angle(xa, xb) = theta (mod pi)."""
    if abs(np.sin(theta)) < 1e-9:
        raise _Degenerate("zero angle: the locus is line ab, not a circle")
    m, half = (a + b) / 2, _norm(b - a) / 2
    n = _unit(_perp(b - a))
    for sign in (1.0, -1.0):
        centre = m + sign * half / np.tan(theta) * n
        circ = Circle(centre, _norm(a - centre))
        probe = centre + circ.radius * _rot(_unit(a - centre), 2.0)  # a point on the arc
        if abs(np.sin(_dir(b - probe) - _dir(a - probe) - theta)) < 1e-6:
            return circ
    raise _Degenerate("angle circle")  # pragma: no cover - one of the signs always matches


def _circum(a: Array, b: Array, c: Array) -> Circle:
    centre = _circumcenter(a, b, c)
    return Circle(centre, _norm(a - centre))


def _aline_dir(p, x0, b, d, c, e) -> float:
    """Direction of line (x0, x) with angle(x0 x, x0 b) = angle(d c, d e)."""
    return _dir(p[b] - p[x0]) + _dir(p[c] - p[d]) - _dir(p[e] - p[d])


_Impl = Callable[[np.random.Generator, dict], "dict[str, Array] | Line | Circle"]

_IMPL: dict[str, _Impl] = {
    "free": lambda rng, p: {"a": rng.uniform(-1, 1, 2)},
    "segment": lambda rng, p: {"a": rng.uniform(-1, 1, 2), "b": rng.uniform(-1, 1, 2)},
    "triangle": _triangle,
    "quadrangle": _quadrangle,
    "pentagon": _pentagon,
    "iso_triangle": _iso_triangle,
    "ieq_triangle": _ieq_triangle,
    "r_triangle": _r_triangle,
    "risos": _risos,
    "triangle12": _triangle12,
    "trapezoid": _trapezoid,
    "r_trapezoid": _r_trapezoid,
    "eq_trapezoid": _eq_trapezoid,
    "eq_quadrangle": _eq_quadrangle,
    "eqdia_quadrangle": _eqdia_quadrangle,
    "rectangle": _rectangle,
    "isquare": _isquare,
    "midpoint": lambda rng, p: {"x": (p["a"] + p["b"]) / 2},
    "mirror": lambda rng, p: {"x": 2 * p["b"] - p["a"]},
    "trisegment": lambda rng, p: {"x": p["a"] + (p["b"] - p["a"]) / 3,
                                  "y": p["a"] + 2 * (p["b"] - p["a"]) / 3},
    "foot": lambda rng, p: {"x": _foot(p["a"], p["b"], p["c"])},
    "reflect": lambda rng, p: {"x": 2 * _foot(p["a"], p["b"], p["c"]) - p["a"]},
    "shift": lambda rng, p: {"x": p["b"] + p["c"] - p["d"]},
    "parallelogram": lambda rng, p: {"x": p["a"] + p["c"] - p["b"]},
    "psquare": lambda rng, p: {"x": p["a"] + _rot(p["b"] - p["a"], np.pi / 2)},
    "nsquare": lambda rng, p: {"x": p["a"] + _rot(p["b"] - p["a"], -np.pi / 2)},
    "square": lambda rng, p: {"x": p["b"] + _rot(p["a"] - p["b"], -np.pi / 2),
                              "y": p["a"] + _rot(p["b"] - p["a"], np.pi / 2)},
    "eq_triangle": _eq_triangle,
    "circle": lambda rng, p: {"x": _circumcenter(p["a"], p["b"], p["c"])},
    "circumcenter": lambda rng, p: {"x": _circumcenter(p["a"], p["b"], p["c"])},
    "orthocenter": lambda rng, p: {
        "x": p["a"] + p["b"] + p["c"] - 2 * _circumcenter(p["a"], p["b"], p["c"])},
    "incenter": lambda rng, p: {"x": _incenter(p["a"], p["b"], p["c"])},
    "excenter": lambda rng, p: {"x": _incenter(p["a"], p["b"], p["c"], -1.0)},
    "incenter2": lambda rng, p: _touch(_incenter(p["a"], p["b"], p["c"]), p["a"], p["b"], p["c"]),
    "excenter2": lambda rng, p: _touch(
        _incenter(p["a"], p["b"], p["c"], -1.0), p["a"], p["b"], p["c"]),
    "centroid": lambda rng, p: {"x": (p["b"] + p["c"]) / 2, "y": (p["c"] + p["a"]) / 2,
                                "z": (p["a"] + p["b"]) / 2, "i": (p["a"] + p["b"] + p["c"]) / 3},
    "ninepoints": lambda rng, p: {
        "x": (p["b"] + p["c"]) / 2, "y": (p["c"] + p["a"]) / 2, "z": (p["a"] + p["b"]) / 2,
        "i": _circumcenter((p["b"] + p["c"]) / 2, (p["c"] + p["a"]) / 2, (p["a"] + p["b"]) / 2)},
    "intersection_ll": lambda rng, p: {"x": _inter_ll(
        _line(p["a"], p["b"] - p["a"]), _line(p["c"], p["d"] - p["c"]))[0]},
    "intersection_lp": lambda rng, p: {"x": _inter_ll(
        _line(p["a"], p["b"] - p["a"]), _line(p["c"], p["n"] - p["m"]))[0]},
    "intersection_lt": lambda rng, p: {"x": _inter_ll(
        _line(p["a"], p["b"] - p["a"]), _line(p["c"], _perp(p["e"] - p["d"])))[0]},
    "intersection_pp": lambda rng, p: {"x": _inter_ll(
        _line(p["a"], p["c"] - p["b"]), _line(p["d"], p["f"] - p["e"]))[0]},
    "intersection_tt": lambda rng, p: {"x": _inter_ll(
        _line(p["a"], _perp(p["c"] - p["b"])), _line(p["d"], _perp(p["f"] - p["e"])))[0]},
    "intersection_lc": lambda rng, p: {"x": 2 * _foot(p["o"], p["a"], p["b"]) - p["b"]},
    "intersection_cc": lambda rng, p: {"x": 2 * _foot(p["a"], p["o"], p["w"]) - p["a"]},
    "eqangle2": _eqangle2,
    "trisect": _trisect,
    "3peq": _3peq,
    "tangent": _tangent,
    "cc_tangent0": _cc_tangent0,
    "cc_tangent": _cc_tangent,
    "2l1c": _2l1c,
    "e5128": _e5128,
    # loci
    "on_line": lambda rng, p: _line(p["a"], p["b"] - p["a"]),
    "on_opline": lambda rng, p: _line(p["a"], p["a"] - p["b"], ray=True),
    "on_pline": lambda rng, p: _line(p["a"], p["c"] - p["b"]),
    "on_tline": lambda rng, p: _line(p["a"], _perp(p["c"] - p["b"])),
    "on_bline": lambda rng, p: _line((p["a"] + p["b"]) / 2, _perp(p["b"] - p["a"])),
    "angle_bisector": lambda rng, p: _line(
        p["b"], _unit(p["a"] - p["b"]) + _unit(p["c"] - p["b"])),
    "angle_mirror": lambda rng, p: _line(
        p["b"], _rot(p["a"] - p["b"], 2 * (_dir(p["c"] - p["b"]) - _dir(p["a"] - p["b"]))),
        ray=True),
    "on_aline": lambda rng, p: _line(
        p["a"], _rot(_pt(1, 0), _aline_dir(p, "a", "b", "d", "c", "e")), ray=True),
    "lc_tangent": lambda rng, p: _line(p["a"], _perp(p["o"] - p["a"])),
    "s_angle": lambda rng, p: _line(
        p["b"], _rot(p["a"] - p["b"], np.deg2rad(p["y"])), ray=True),
    "on_circle": lambda rng, p: Circle(p["o"], _norm(p["a"] - p["o"])),
    "eqdistance": lambda rng, p: Circle(p["a"], _norm(p["b"] - p["c"])),
    "on_dia": lambda rng, p: Circle((p["a"] + p["b"]) / 2, _norm(p["a"] - p["b"]) / 2),
    "on_circum": lambda rng, p: _circum(p["a"], p["b"], p["c"]),
    "on_aline2": lambda rng, p: _angle_circle(
        p["a"], p["b"], _dir(p["e"] - p["d"]) - _dir(p["c"] - p["d"])),
    "eqangle3": lambda rng, p: _angle_circle(
        p["a"], p["b"], _dir(p["f"] - p["d"]) - _dir(p["e"] - p["d"])),
}

missing = set(CONSTRUCTIONS) ^ set(_IMPL)
assert not missing, f"constructions without a numeric implementation: {missing}"
del missing


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


def _scale(pts: list[Array]) -> float:
    if len(pts) < 2:
        return 1.0
    centre = sum(pts) / len(pts)
    return max(1e-3, max(_norm(p - centre) for p in pts))


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
            out = _IMPL[c.name](self.rng, vals)
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


# --- checks --------------------------------------------------------------------------------


def _sin_between(u: Array, v: Array) -> float | None:
    nu, nv = _norm(u), _norm(v)
    if nu < _TINY or nv < _TINY:
        return None
    return _cross(u, v) / (nu * nv)


def _rel(x: float, y: float) -> float:
    return abs(x - y) / max(abs(x), abs(y), _TINY)


def _angle_of(a, b, c, d) -> float | None:
    """Directed angle from line ab to line cd (radians; meaningful mod pi)."""
    if _norm(b - a) < _TINY or _norm(d - c) < _TINY:
        return None
    return _dir(d - c) - _dir(b - a)


def goal_residual(name: str, pts: Sequence[Array], value: float | None = None) -> float:
    """A scale-free residual of predicate ``name``: 0 when it holds exactly, ``inf`` when the
    points are degenerate for it (e.g. a zero-length segment)."""
    p = [np.asarray(q, dtype=np.float64) for q in pts]
    inf = float("inf")
    if name == "coll":
        if len(p) < 3:
            return 0.0
        base = max(((i, j) for i in range(len(p)) for j in range(len(p)) if i < j),
                   key=lambda ij: _norm(p[ij[0]] - p[ij[1]]))
        a, b = p[base[0]], p[base[1]]
        if _norm(b - a) < _TINY:
            return 0.0
        return max(abs(_cross(_unit(b - a), q - a)) / _norm(b - a) for q in p)
    if name in ("para", "perp"):
        u, v = p[1] - p[0], p[3] - p[2]
        s = _sin_between(u, v)
        if s is None:
            return inf
        return abs(s) if name == "para" else abs(float(u @ v)) / (_norm(u) * _norm(v))
    if name == "cong":
        return _rel(_norm(p[1] - p[0]), _norm(p[3] - p[2]))
    if name == "cyclic":
        uniq: list[Array] = []
        for q in p:
            if not any(_norm(q - u) < 1e-9 * max(1.0, _norm(q)) for u in uniq):
                uniq.append(q)
        if len(uniq) <= 3:
            return 0.0
        try:
            cen = _circumcenter(*uniq[:3])
        except _Degenerate:
            return inf
        r = _norm(uniq[0] - cen)
        return max(abs(_norm(q - cen) - r) / r for q in uniq[3:])
    if name == "eqangle":
        a1, a2 = _angle_of(*p[:4]), _angle_of(*p[4:])
        if a1 is None or a2 is None:
            return inf
        return abs(np.sin(a1 - a2))
    if name == "eqratio":
        ab, cd, ef, gh = (_norm(p[i + 1] - p[i]) for i in (0, 2, 4, 6))
        return _rel(ab * gh, cd * ef)
    if name == "midp":
        m, a, b = p
        ab = _norm(b - a)
        if ab < _TINY:
            return inf
        return _norm(m - (a + b) / 2) / ab
    if name in ("simtri", "contri"):
        s1 = [_norm(p[1] - p[0]), _norm(p[2] - p[1]), _norm(p[0] - p[2])]
        s2 = [_norm(p[4] - p[3]), _norm(p[5] - p[4]), _norm(p[3] - p[5])]
        if min(s1) < _TINY or min(s2) < _TINY:
            return inf
        if name == "contri":
            return max(_rel(x, y) for x, y in zip(s1, s2))
        return max(_rel(s1[0] * s2[1], s1[1] * s2[0]), _rel(s1[1] * s2[2], s1[2] * s2[1]))
    if name == "aconst":
        ang = _angle_of(*p[:4])
        if ang is None:
            return inf
        return abs(np.sin(ang - value))
    if name == "rconst":
        cd = _norm(p[3] - p[2])
        if cd < _TINY:
            return inf
        return _rel(_norm(p[1] - p[0]) / cd, value)
    raise GeometryInputError(f"unknown predicate {name!r} (known: {', '.join(GOALS)})")


def _checker(name: str):
    def check(*pts, value: float | None = None, tol: float = 1e-6) -> bool:
        if len(pts) == 1 and np.ndim(pts[0]) == 2:
            pts = tuple(pts[0])
        return bool(goal_residual(name, pts, value) <= tol)

    check.__name__ = f"check_{name}"
    check.__doc__ = (f"Whether ``{GOALS[name].signature()}`` holds for these coordinates "
                     f"({GOALS[name].doc}); points as separate arrays or one sequence.")
    return check


check_coll = _checker("coll")
check_para = _checker("para")
check_perp = _checker("perp")
check_cong = _checker("cong")
check_cyclic = _checker("cyclic")
check_eqangle = _checker("eqangle")
check_eqratio = _checker("eqratio")
check_midp = _checker("midp")
check_simtri = _checker("simtri")
check_contri = _checker("contri")
check_aconst = _checker("aconst")
check_rconst = _checker("rconst")

CHECKERS: dict[str, Callable[..., bool]] = {
    n: globals()[f"check_{n}"] for n in GOALS
}


def check_goal(diagram: Diagram, goal: Goal | str | None = None, tol: float = 1e-6) -> bool:
    """Whether ``goal`` (default: the diagram's problem's goal) holds numerically."""
    if goal is None:
        if diagram.problem is None or diagram.problem.goal is None:
            raise GeometryInputError("check_goal: no goal given and the diagram's problem has none")
        goal = diagram.problem.goal
    if isinstance(goal, str):
        goal = parse_goal(goal, set(diagram.points))
    gdef = GOALS.get(goal.name)
    if gdef is None:
        raise GeometryInputError(f"unknown goal predicate {goal.name!r}")
    value = None
    if gdef.n_values:
        tok = goal.args[-1]
        value = parse_angle(tok) if goal.name == "aconst" else parse_ratio(tok)
    pts = diagram.coords(goal.points)
    return bool(goal_residual(goal.name, pts, value) <= tol)
