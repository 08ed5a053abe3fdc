"""Goal predicates checked numerically: a scale-free residual for each predicate of the language.

:func:`check_goal` evaluates a goal predicate on a diagram; the ``check_*`` functions take
coordinates and are usable on any arguments. Angles are directed and taken modulo pi, as in
AlphaGeometry (Trinh et al., 2024; AlphaGeometry2, arXiv 2502.03544): ``eqangle a b c d e f g h``
says that the angle from line ab to line cd equals the angle from line ef to line gh.
Tolerances are relative (sines of angles, ratios of lengths). ``angeq`` is AlphaGeometry2's
linear equation of directed angles (arXiv 2502.03544, Section 2) in this book's spelling:
``angeq a1 b1 c1 d1 ... an bn cn dn t1 ... tn y`` says that
``t1 * angle(a1b1, c1d1) + ... + tn * angle(anbn, cndn) + y * pi = 0 (mod pi)``.
``distseq`` and ``distmeq`` are its linear equations of distances and of log-distances (same
section, same spelling): ``distseq a1 b1 ... an bn t1 ... tn`` says that
``t1 |a1b1| + ... + tn |anbn| = 0`` (rational ``t_i``; residual relative to
``sum |t_i| |a_ib_i|``), and ``distmeq a1 b1 ... an bn t1 ... tn y`` that
``t1 log|a1b1| + ... + tn log|anbn| = log y`` (integer ``t_i``; the residual, a difference of
logarithms, is a relative error).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from readingroom.geometry.definitions import GOALS
from readingroom.geometry.language import (
    GeometryInputError,
    Goal,
    parse_angle,
    parse_goal,
    parse_ratio,
)
from readingroom.geometry.primitives import (
    _TINY,
    Array,
    _circumcenter,
    _cross,
    _Degenerate,
    _dir,
    _norm,
    _unit,
)

if TYPE_CHECKING:  # the diagram builder checks goals: a run-time import would be circular
    from readingroom.geometry.diagram import Diagram

__all__ = [
    "CHECKERS",
    "check_aconst",
    "check_acompute",
    "check_angeq",
    "check_coll",
    "check_cong",
    "check_contri",
    "check_cyclic",
    "check_distmeq",
    "check_distseq",
    "check_eqangle",
    "check_eqratio",
    "check_goal",
    "check_midp",
    "check_para",
    "check_perp",
    "check_rconst",
    "check_rcompute",
    "check_simtri",
    "goal_residual",
    "goal_value",
]


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


def goal_value(name: str, numbers: Sequence[str]):
    """The ``value`` argument of :func:`goal_residual` for a goal's numeric arguments (those
    after its points): None when it has none, radians for an angle, the ratio for a ratio, and
    for the linear equations the pair ``(coefficients, value)``: ``angeq`` integer coefficients
    and y in radians, ``distseq`` rational coefficients (``Fraction``) and None, ``distmeq``
    integer exponents and y."""
    gdef = GOALS.get(name)
    if gdef is None:
        raise GeometryInputError(f"unknown predicate {name!r} (known: {', '.join(GOALS)})")
    if gdef.per_group:
        n = len(numbers) - gdef.n_values
        read = Fraction if gdef.coeff_kind == "rational" else int
        coeffs = tuple(read(t) for t in numbers[:n])
        if not gdef.n_values:
            return coeffs, None
        tok = numbers[-1]
        return coeffs, parse_angle(tok) if gdef.value_kind == "angle" else parse_ratio(tok)
    if not gdef.n_values:
        return None
    tok = numbers[-1]
    return parse_angle(tok) if gdef.value_kind == "angle" else parse_ratio(tok)


def goal_residual(name: str, pts: Sequence[Array], value=None) -> float:
    """A scale-free residual of predicate ``name``: 0 when it holds exactly, ``inf`` when the
    points are degenerate for it (e.g. a zero-length segment). ``value``: see
    :func:`goal_value` (``angeq``: ``(coefficients, y)``, y in radians; ``distseq``:
    ``(coefficients, None)``; ``distmeq``: ``(exponents, y)``)."""
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
    if name == "angeq":
        coeffs, y = value
        if len(p) != 4 * len(coeffs):
            raise GeometryInputError(f"angeq: {len(coeffs)} coefficients need "
                                     f"{4 * len(coeffs)} points, got {len(p)}")
        total = float(y)
        for i, t in enumerate(coeffs):
            ang = _angle_of(*p[4 * i:4 * i + 4])
            if ang is None:
                return inf
            total += int(t) * ang
        return abs(np.sin(total))
    if name in ("distseq", "distmeq"):
        coeffs, y = value
        if len(p) != 2 * len(coeffs):
            raise GeometryInputError(f"{name}: {len(coeffs)} coefficients need "
                                     f"{2 * len(coeffs)} points, got {len(p)}")
        lengths = [_norm(p[2 * i + 1] - p[2 * i]) for i in range(len(coeffs))]
        if min(lengths) < _TINY:
            return inf
        if name == "distseq":  # relative to the size of the terms
            total = sum(float(t) * x for t, x in zip(coeffs, lengths))
            return abs(total) / sum(abs(float(t)) * x for t, x in zip(coeffs, lengths))
        if not float(y) > 0:
            return inf
        return abs(sum(int(t) * math.log(x) for t, x in zip(coeffs, lengths))
                   - math.log(float(y)))
    if name == "rconst":
        cd = _norm(p[3] - p[2])
        if cd < _TINY:
            return inf
        return _rel(_norm(p[1] - p[0]) / cd, value)
    if name == "acompute":  # a question, not a statement: it holds where it can be asked
        return 0.0 if _angle_of(*p[:4]) is not None else inf
    if name == "rcompute":
        return 0.0 if min(_norm(p[1] - p[0]), _norm(p[3] - p[2])) >= _TINY else inf
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
check_acompute = _checker("acompute")
check_angeq = _checker("angeq")
check_distseq = _checker("distseq")
check_distmeq = _checker("distmeq")
check_rcompute = _checker("rcompute")

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
    value = goal_value(goal.name, goal.numbers)
    pts = diagram.coords(goal.points)
    return bool(goal_residual(goal.name, pts, value) <= tol)
