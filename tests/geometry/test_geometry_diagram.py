"""Tests for readingroom.geometry.diagram (random instances, errors) and draw."""

from __future__ import annotations

import numpy as np
import pytest

from readingroom.geometry import (
    Diagram,
    GeometryBuildError,
    build_diagram,
    check_goal,
    draw_diagram,
    parse_problem,
)


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
