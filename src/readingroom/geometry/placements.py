"""Construction placements: how each construction of the problem language places its points
on a numeric diagram.

The numeric semantics of :data:`~readingroom.geometry.definitions.CONSTRUCTIONS` (the
published definitions of AlphaGeometry, Trinh et al., 2024; AlphaGeometry2, arXiv 2502.03544):
:data:`PLACEMENTS` maps every construction to a function of the random generator and the
coordinates of its input points. A construction of kind ``"points"`` computes its new points
directly (random shapes get a random rotation, scale, shift and reflection); a ``"locus"``
construction returns a :class:`~readingroom.geometry.primitives.Line` (or ray) or a
:class:`~readingroom.geometry.primitives.Circle`, which
:func:`~readingroom.geometry.diagram.build_diagram` samples or intersects with another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from readingroom.geometry.definitions import CONSTRUCTIONS
from readingroom.geometry.primitives import (
    _TINY,
    Array,
    Circle,
    Line,
    _circumcenter,
    _Degenerate,
    _dir,
    _foot,
    _inter_cc,
    _inter_lc,
    _inter_ll,
    _line,
    _norm,
    _perp,
    _pt,
    _rot,
    _unit,
)

__all__ = ["PLACEMENTS"]

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


#: a placement: (random generator, input slot -> coordinates) -> new slot -> coordinates,
#: or the locus the new point lies on
Placement = Callable[[np.random.Generator, dict], "dict[str, Array] | Line | Circle"]

PLACEMENTS: dict[str, Placement] = {
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

missing = set(CONSTRUCTIONS) ^ set(PLACEMENTS)
assert not missing, f"constructions without a numeric implementation: {missing}"
del missing
