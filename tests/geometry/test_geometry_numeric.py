"""Tests for readingroom.geometry.numeric (checkers, diagrams, errors) and draw."""

from __future__ import annotations

import numpy as np
import pytest

from readingroom.geometry import (
    CHECKERS,
    GOALS,
    Diagram,
    GeometryBuildError,
    GeometryInputError,
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
    draw_diagram,
    parse_problem,
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
    with pytest.raises(GeometryInputError, match="point 'z' is not defined"):
        check_goal(d, "cong a b a z")
    with pytest.raises(GeometryInputError, match="no goal given"):
        check_goal(d)


def test_determinism():
    text = "a b c = triangle a b c; o = circle o a b c; d = on_circle d o a; e = on_line e a d"
    d1, d2 = build_diagram(text, seed=7), build_diagram(text, seed=7)
    assert list(d1.points) == list(d2.points) == ["a", "b", "c", "o", "d", "e"]
    for k in d1.points:
        np.testing.assert_array_equal(d1[k], d2[k])
        assert d1[k].dtype == np.float64
    d3 = build_diagram(text, seed=8)
    assert not np.allclose(d1["a"], d3["a"])


def test_pinned_coordinates_are_kept():
    d = build_diagram("a@1_2 b@3_2 = segment a b; m = midpoint m a b", seed=0)
    np.testing.assert_array_equal(d["a"], [1, 2])
    np.testing.assert_array_equal(d["m"], [2, 2])


def test_build_error_names_the_clause():
    text = "a b = segment a b; c = midpoint c a b; d = on_line d a b, on_line d a c"
    with pytest.raises(GeometryBuildError,
                       match=r"clause 3 'd = on_line d a b, on_line d a c': could not place "
                             r"its points in 5 random attempts .*parallel lines"):
        build_diagram(text, max_tries=5)


def test_overdetermined_clause_fails_cleanly():
    with pytest.raises(GeometryBuildError, match=r"clause 2 'x = midpoint x a b, on_line x a c'"):
        build_diagram("a b c = triangle a b c; x = midpoint x a b, on_line x a c", max_tries=5)


def test_require_goal():
    text = "a b c = triangle a b c ? cong a b a c"
    assert not check_goal(build_diagram(text))
    with pytest.raises(GeometryBuildError,
                       match=r"goal 'cong a b a c' failed numerically in all 5"):
        build_diagram(text, max_tries=5, require_goal=True)


def test_diagram_records_lines_and_circles():
    d = build_diagram("a b c = triangle a b c; o = circle o a b c; m = midpoint m a b", seed=0)
    assert isinstance(d, Diagram) and d.problem is not None
    assert ("a", "b", "m") in d.lines and ("b", "c") in d.lines
    (circ,) = d.circles
    assert circ.center_name == "o" and circ.radius == pytest.approx(np.linalg.norm(d["a"] - d["o"]))


def test_draw_diagram():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = parse_problem("a b c = triangle a b c; o = circle o a b c; h = orthocenter h a b c"
                      " ? perp a h b c", "ortho")
    d = build_diagram(p, seed=0)
    ax = draw_diagram(d)
    try:
        labels = {t.get_text() for t in ax.texts}
        assert labels == {"a", "b", "c", "o", "h"}
        assert len(ax.lines) == len(d.lines) >= 3
        assert len(ax.patches) == 1
        assert "ortho" in ax.get_title() and "perp a h b c" in ax.get_title()
    finally:
        plt.close(ax.figure)
    fig, ax2 = plt.subplots()
    try:
        assert draw_diagram(d, ax=ax2, label=False) is ax2 and not ax2.texts
    finally:
        plt.close(fig)
