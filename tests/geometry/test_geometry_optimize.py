"""Tests for readingroom.geometry.optimize: diagrams by optimisation (AlphaGeometry2 §3.3)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from readingroom.geometry import (
    Diagram,
    GeometryBuildError,
    build_diagram,
    check_goal,
    parse_problem,
)
from readingroom.geometry.optimize import (
    Constraint,
    DiagramOptimizationError,
    OptimizedDiagram,
    constraints,
    optimize_diagram,
    residuals,
)

# Constructive problems: build_diagram places these directly; the optimiser must reproduce them
# from random starts without its placements. (name, text, seed)
CONSTRUCTIVE = [
    ("orthocenter", "a b c = triangle a b c; h = on_tline h b a c, on_tline h c a b "
     "? perp a h b c", 0),
    ("midline", "a b c = triangle a b c; m = midpoint m a b; n = midpoint n a c ? para m n b c", 0),
    ("cyclic_quad", "a b c = triangle a b c; d = on_circum d a b c; e = on_line e a c, "
     "on_line e b d ? eqratio e a e b e d e c", 0),
    # incenter has the same properties as excenter: any tritangent centre is a solution, and
    # the goal (equal distances to two sides) holds for all four.
    ("incenter", "a b c = triangle a b c; i = incenter i a b c; d = foot d i b c; "
     "e = foot e i c a ? cong i d i e", 2),
]

# Non-constructive problems: a point on three loci, or a construction with an extra locus, that
# only a special configuration of the free points satisfies. (name, text, seed)
NON_CONSTRUCTIVE = [
    # the midpoint of bc is on the bisector of angle a only if ab = ac
    ("isosceles_by_bisector", "a b c = triangle a b c; d = on_line d b c, on_bline d b c, "
     "angle_bisector d b a c ? cong a b a c", 0),
    # ah = ao forces angle a = 60 or 120 degrees; then b, c, o, h are concyclic
    ("ah_equals_ao", "a b c = triangle a b c; o = circumcenter o a b c; "
     "h = orthocenter h a b c, eqdistance h a a o ? cyclic b c o h", 0),
    # the midpoint m of bc with ma = mb: the angle at a is right (Thales)
    ("thales", "a b c = triangle a b c; m = midpoint m b c, on_bline m a b ? perp a b a c", 0),
    # x on the circumcircle, on the parallel to bc through a and on the bisector of a free
    # segment de: d, e must move; abcx is an isosceles trapezoid
    ("three_loci", "a b c = triangle a b c; o = circumcenter o a b c; d = free d; e = free e; "
     "x = on_circle x o a, on_pline x a b c, on_bline x d e ? cong x b a c", 1),
    # x on bc, on the circle with diameter ab, and equidistant from a and a free point d
    ("foot_three_loci", "a b c = triangle a b c; d = free d; "
     "x = on_line x b c, on_bline x a d, on_dia x a b ? perp a x b c", 0),
]

CONTRADICTORY = [
    # d on line ab and on the parallel to ab through c: only if the triangle is flat
    ("two_parallels", "a b c = triangle a b c; d = on_pline d c a b, on_line d a b"),
    # the midpoint of ab is at distance ab from a: only if a = b
    ("midpoint_too_far", "a b = segment a b; m = midpoint m a b, eqdistance m a a b"),
]


@functools.lru_cache(maxsize=None)
def _solve(name: str, text: str, seed: int) -> OptimizedDiagram:
    return optimize_diagram(parse_problem(text, name), seed=seed)


def _all_cases():
    return CONSTRUCTIVE + NON_CONSTRUCTIVE


def _max_residual(d: Diagram) -> float:
    r = residuals(d.problem, d)
    return float(np.abs(r).max()) if r.size else 0.0


@pytest.mark.parametrize("name,text,seed", CONSTRUCTIVE, ids=[c[0] for c in CONSTRUCTIVE])
def test_constructive_problems_converge_and_goal_holds(name, text, seed):
    d = _solve(name, text, seed)
    assert isinstance(d, Diagram) and isinstance(d, OptimizedDiagram)
    assert d.residual < 1e-9 and _max_residual(d) < 1e-9
    assert check_goal(d)
    assert list(d.points) == list(parse_problem(text).points)
    assert all(v.dtype == np.float64 and v.shape == (2,) for v in d.points.values())
    assert 1 <= d.restarts <= 10 and d.attempts == d.restarts


@pytest.mark.parametrize("name,text,seed", NON_CONSTRUCTIVE,
                         ids=[c[0] for c in NON_CONSTRUCTIVE])
def test_non_constructive_problems(name, text, seed):
    problem = parse_problem(text, name)
    with pytest.raises(GeometryBuildError):  # over-determined: random placement never fits
        build_diagram(problem, max_tries=20)
    d = _solve(name, text, seed)
    assert d.residual < 1e-9 and _max_residual(d) < 1e-9
    assert check_goal(d)


def test_non_constructive_goals_are_not_vacuous():
    # the goals fail on a generic triangle: the optimiser really moved the free points
    generic = build_diagram("a b c = triangle a b c", seed=3)
    assert not check_goal(generic, "cong a b a c") and not check_goal(generic, "perp a b a c")
    d = _solve(*NON_CONSTRUCTIVE[1])
    p = {k: d[k] for k in "abc"}
    u, v = p["b"] - p["a"], p["c"] - p["a"]
    angle = np.degrees(np.arccos(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))
    assert min(abs(angle - 60), abs(angle - 120)) < 1e-6


def test_no_degenerate_diagrams():
    for case in _all_cases():
        d = _solve(*case)
        pts = np.array(list(d.points.values()))
        dist = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
        dist[np.diag_indices(len(pts))] = np.inf
        assert dist.min() > 1e-3 * d.scale(), case[0]
        assert d.min_separation > 1e-3
        a, b, c = d["a"], d["b"], d["c"]  # every case starts with a triangle
        cross = (b - a)[0] * (c - a)[1] - (b - a)[1] * (c - a)[0]
        assert abs(cross) > 1e-3 * d.scale() ** 2, case[0]


def test_determinism():
    text = NON_CONSTRUCTIVE[2][1]
    d1, d2 = optimize_diagram(text, seed=5), optimize_diagram(text, seed=5)
    assert d1.restarts == d2.restarts
    for k in d1.points:
        np.testing.assert_array_equal(d1[k], d2[k])
    d3 = optimize_diagram(text, seed=6)
    assert not np.allclose(d1["a"], d3["a"])


@pytest.mark.parametrize("name,text", CONTRADICTORY, ids=[c[0] for c in CONTRADICTORY])
def test_contradictory_constraints_raise(name, text):
    with pytest.raises(DiagramOptimizationError,
                       match=rf"problem '{name}': no random start out of 2 converged"):
        optimize_diagram(parse_problem(text, name), restarts=2)
    assert issubclass(DiagramOptimizationError, GeometryBuildError)


def test_error_names_unnamed_problem_by_text():
    text = CONTRADICTORY[1][1]
    with pytest.raises(GeometryBuildError, match=r"problem 'a b = segment a b; m = midpoint"):
        optimize_diagram(text, restarts=1, steps=50)


def test_pinned_points_stay_fixed():
    d = optimize_diagram("a@0_0 b@1_0 = segment a b; c = s_angle a b c 60, on_circle c a b "
                         "? cong a b b c", seed=0)
    np.testing.assert_array_equal(d["a"], [0, 0])
    np.testing.assert_array_equal(d["b"], [1, 0])
    assert abs(abs(d["c"][1]) - np.sqrt(3) / 2) < 1e-9 and check_goal(d)


def test_constraints_and_residuals():
    text = "a b c d = isquare a b c d; m = midpoint m a c; x = on_circum x a b c"
    cons = constraints(text)
    assert all(isinstance(c, Constraint) for c in cons)
    assert [str(c) for c in cons if "midpoint" in c.source] == [
        "coll m a c", "cong m a m c", "midp m a c"]
    assert str(cons[-1]) == "cyclic a b c x" and cons[-1].source.startswith("clause 3 ")
    # coll with four points is split into triples
    assert [str(c) for c in constraints("a b = segment a b; x y = trisegment x y a b")][:2] == [
        "coll x a b", "coll y a b"]
    exact = {"a": (0, 0), "b": (1, 0), "c": (1, 1), "d": (0, 1), "m": (0.5, 0.5),
             "x": (0.5, 0.5 + np.sqrt(0.5))}
    r = residuals(text, exact)
    assert r.shape == (len(cons) + 1,)  # midp contributes two rows
    assert np.abs(r).max() < 1e-15
    scaled = residuals(text, {k: 7.0 * np.array(v) + 3.0 for k, v in exact.items()})
    assert np.abs(scaled).max() < 1e-14  # scale- and translation-free
    bad = dict(exact, x=(0.5, 1.3))
    assert np.abs(residuals(text, bad)).max() > 1e-3


def test_residual_values_and_angle_residuals():
    # s_angle gives aconst, triangle12 gives rconst
    r = residuals("a b = segment a b; x = s_angle a b x 90", {"a": (0, 0), "b": (1, 0),
                                                                "x": (1, 2)})
    assert abs(r).max() < 1e-15
    r = residuals("a b c = triangle12 a b c", np.array([[0, 0], [1, 0], [0, 2.0]]))
    assert abs(r).max() < 1e-15
    r = residuals("a b c = triangle12 a b c", np.array([[0, 0], [1, 0], [0, 1.0]]))
    assert abs(r).max() > 0.1
    # eqangle is directed mod pi: the mirror image of a bisector point is not on it
    text = "a b c = triangle a b c; x = angle_bisector x a b c"
    pts = {"a": (1, 0), "b": (0, 0), "c": (0, 1), "x": (1, 1)}
    assert abs(residuals(text, pts)).max() < 1e-15
    assert abs(residuals(text, dict(pts, x=(1, 2)))).max() > 0.1


# --- make_diagram: the constructive builder first, the optimiser for what it cannot place ------

RIGHT = "a b c = triangle a b c; m = midpoint m b c, on_bline m a b ? perp a b a c"


def test_make_diagram_uses_the_constructive_builder_when_it_can():
    from readingroom.geometry.optimize import make_diagram

    text = "a b c = triangle a b c; m = midpoint m a b ? cong m a m b"
    d = make_diagram(text, seed=3)
    ref = build_diagram(parse_problem(text), seed=3, require_goal=True)
    assert not isinstance(d, OptimizedDiagram)
    assert all(np.allclose(d.points[k], ref.points[k]) for k in ref.points)


def test_make_diagram_falls_back_to_the_optimiser():
    from readingroom.geometry.optimize import make_diagram

    d = make_diagram(RIGHT, seed=0)
    assert isinstance(d, OptimizedDiagram) and d.residual < 1e-9
    assert check_goal(d)


def test_make_diagram_reports_both_failures():
    from readingroom.geometry.optimize import make_diagram

    # m cannot be the midpoint of two different sides of a triangle
    impossible = "a b c = triangle a b c; m = midpoint m b c, midpoint m a b"
    with pytest.raises(GeometryBuildError, match="optimiser found no instance either"):
        make_diagram(impossible, seed=0)


def test_solve_and_search_prove_a_non_constructive_statement():
    from readingroom.geometry import proof_holds, search, solve

    r = solve(RIGHT, seed=0)
    assert r.solved and r.discarded == 0
    assert any("thales" in line for line in r.proof)
    assert proof_holds(parse_problem(RIGHT), r, seeds=(11, 12))  # fresh optimised diagrams
    found = search(parse_problem(RIGHT), timeout=30)
    assert found.solved and found.aux == []
