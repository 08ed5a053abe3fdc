"""Tests for readingroom.geometry.goals: the numeric checks of the goal predicates."""

from __future__ import annotations

import numpy as np

from readingroom.geometry import (
    CHECKERS,
    GOALS,
    build_diagram,
    check_aconst,
    check_coll,
    check_cong,
    check_contri,
    check_cyclic,
    check_eqangle,
    check_eqratio,
    check_goal,
    check_midp,
    check_para,
    check_perp,
    check_rconst,
    check_simtri,
)



def P(x, y):
    return np.array([x, y], dtype=float)


O, X, Y, XY = P(0, 0), P(1, 0), P(0, 1), P(1, 1)


def _rot(p, ang, s=1.0):
    c, si = np.cos(ang), np.sin(ang)
    return s * P(c * p[0] - si * p[1], si * p[0] + c * p[1])


def test_checkers_cover_the_goals():
    assert set(CHECKERS) == set(GOALS)


def test_coll_para_perp():
    assert check_coll(O, X, P(3, 0)) and not check_coll(O, X, Y)
    assert check_coll([O, X, P(2, 0), P(-5, 0)])  # one sequence works too
    assert check_para(O, X, Y, P(2, 1)) and not check_para(O, X, O, Y)
    assert check_perp(O, X, Y, P(0, 3)) and not check_perp(O, X, O, XY)
    assert not check_para(O, O, X, Y)  # zero-length segment: degenerate, never true


def test_cong_cyclic_midp_eqratio():
    assert check_cong(O, X, O, Y) and not check_cong(O, X, O, XY)
    assert check_cyclic(X, Y, P(-1, 0), P(0, -1)) and not check_cyclic(X, Y, P(-1, 0), P(0, -2))
    assert check_midp(P(0.5, 0.5), O, XY) and not check_midp(P(0.5, 0.4), O, XY)
    assert check_eqratio(O, X, O, P(2, 0), O, Y, O, P(0, 2))
    assert not check_eqratio(O, X, O, P(2, 0), O, Y, O, P(0, 3))


def test_eqangle_is_directed_mod_pi():
    a, b = O, X
    c, d = O, _rot(X, 0.3)  # angle(ab, cd) = 0.3
    e, f = P(5, 5), P(5, 5) + _rot(X, 1.0)
    g, h = P(5, 5), P(5, 5) + _rot(X, 1.3)  # angle(ef, gh) = 0.3
    assert check_eqangle(a, b, c, d, e, f, g, h)
    assert check_eqangle(b, a, c, d, e, f, h, g)  # line directions do not matter
    assert not check_eqangle(a, b, c, d, g, h, e, f)  # -0.3
    assert not check_eqangle(a, b, c, d, e, f, P(5, 5), P(5, 5) + _rot(X, 1.4))


def test_simtri_contri():
    a, b, c = O, P(2, 0), P(0.5, 1.5)
    t = [_rot(p, 0.7, 1.7) + P(3, -1) for p in (a, b, c)]
    m = [P(-p[0], p[1]) for p in (a, b, c)]  # mirror image
    assert check_simtri(a, b, c, *t) and check_simtri(a, b, c, *m)
    assert not check_simtri(a, b, c, t[1], t[0], t[2])
    assert check_contri(a, b, c, *m) and not check_contri(a, b, c, *t)


def test_aconst_rconst():
    assert check_aconst(O, X, O, _rot(X, np.pi / 3), value=np.pi / 3)
    assert check_aconst(O, X, O, -_rot(X, np.pi / 3), value=np.pi / 3)  # mod pi
    assert not check_aconst(O, X, O, _rot(X, -np.pi / 3), value=np.pi / 3)
    assert check_rconst(O, X, O, P(0, 2), value=0.5) and not check_rconst(O, X, O, Y, value=0.5)


def test_check_goal_strings_and_values():
    d = build_diagram("a b = segment a b; x = s_angle a b x 30", seed=0)
    assert check_goal(d, "aconst b a b x pi/6") and check_goal(d, "aconst b a b x 30o")
    assert not check_goal(d, "aconst b a b x pi/4")

