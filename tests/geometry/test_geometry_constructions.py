"""Every construction of readingroom.geometry.CONSTRUCTIONS, built on random instances: its
declared properties hold, a goal it implies holds, and an unrelated goal fails."""

from __future__ import annotations

import pytest

from readingroom.geometry import (
    CONSTRUCTIONS,
    GOALS,
    Goal,
    build_diagram,
    check_goal,
    parse_problem,
)

T = "a b c = triangle a b c; "

# name -> (problem without goal, a goal that must hold, a goal that must fail generically)
CASES: dict[str, tuple[str, str, str]] = {
    "free": ("a = free a; b = free b; c = free c", "cong a b b a", "coll a b c"),
    "segment": ("a b = segment a b; c = free c", "cong a b b a", "coll a b c"),
    "triangle": (T + "d = midpoint d b c; e = midpoint e c a", "para d e a b", "cong a b a c"),
    "quadrangle": ("a b c d = quadrangle a b c d; e = midpoint e a b; f = midpoint f b c; "
                   "g = midpoint g c d; h = midpoint h d a", "para e f g h", "cyclic a b c d"),
    "pentagon": ("a b c d e = pentagon a b c d e", "cong a b b a", "cyclic a b c d"),
    "iso_triangle": ("a b c = iso_triangle a b c", "cong a b a c", "cong b a b c"),
    "ieq_triangle": ("a b c = ieq_triangle a b c", "cong a b b c", "perp a b a c"),
    "r_triangle": ("a b c = r_triangle a b c", "perp a b a c", "cong a b a c"),
    "risos": ("a b c = risos a b c", "cong a b a c", "cong a b b c"),
    "triangle12": ("a b c = triangle12 a b c", "rconst a b a c 1/2", "rconst a b a c 1/3"),
    "trapezoid": ("a b c d = trapezoid a b c d", "para a b c d", "para a d b c"),
    "r_trapezoid": ("a b c d = r_trapezoid a b c d", "perp a b a d", "perp c b c d"),
    "eq_trapezoid": ("a b c d = eq_trapezoid a b c d", "cong a d b c", "cong a b c d"),
    "eq_quadrangle": ("a b c d = eq_quadrangle a b c d", "cong d a b c", "para d a b c"),
    "eqdia_quadrangle": ("a b c d = eqdia_quadrangle a b c d", "cong a c b d", "cong a b c d"),
    "rectangle": ("a b c d = rectangle a b c d", "cong a c b d", "perp a c b d"),
    "isquare": ("a b c d = isquare a b c d", "perp a c b d", "cong a b a c"),
    "midpoint": (T + "m = midpoint m a b", "midp m a b", "midp m a c"),
    "mirror": (T + "x = mirror x a b", "midp b a x", "midp a b x"),
    "trisegment": (T + "x y = trisegment x y a b", "cong a x x y", "cong a x a y"),
    "foot": (T + "h = foot h a b c", "perp a h b c", "perp a h a b"),
    "reflect": (T + "x = reflect x a b c", "cong b a b x", "cong a b a x"),
    "shift": (T + "x = shift x a b c", "para x a b c", "para x a b a"),
    "parallelogram": (T + "d = parallelogram a b c d", "cong a d b c", "perp a b b c"),
    "psquare": (T + "x = psquare x a b", "perp x a a b", "perp x b a b"),
    "nsquare": (T + "x = nsquare x a b", "cong x a a b", "perp x b a b"),
    "square": ("a b = segment a b; c d = square a b c d", "perp a c b d", "para a c b d"),
    "eq_triangle": ("b c = segment b c; a = eq_triangle a b c", "cong a b b c", "perp a b b c"),
    "circle": (T + "o = circle o a b c", "cong o a o c", "cong o a a b"),
    "circumcenter": (T + "o = circumcenter o a b c", "cong o b o c", "cong o a a b"),
    "orthocenter": (T + "h = orthocenter h a b c", "perp a h b c", "perp a h a b"),
    "incenter": (T + "i = incenter i a b c", "eqangle b a b i b i b c",
                 "eqangle b a b i a i a c"),
    "excenter": (T + "i = excenter i a b c", "eqangle a b a i a i a c", "cong i a i b"),
    "incenter2": (T + "x y z i = incenter2 x y z i a b c", "cong i x i z", "cong a x a y"),
    "excenter2": (T + "x y z i = excenter2 x y z i a b c", "cong b x b z", "cong i x i a"),
    "centroid": (T + "x y z g = centroid x y z g a b c", "coll a g x", "cong a g g x"),
    "ninepoints": (T + "x y z n = ninepoints x y z n a b c; h = foot h a b c", "cong n x n h",
                   "cong n x n a"),
    "intersection_ll": ("a b c d = quadrangle a b c d; x = intersection_ll x a b c d",
                        "coll x c d", "coll x a c"),
    "intersection_lp": (T + "d e = segment d e; x = intersection_lp x a b c d e",
                        "para c x d e", "perp c x d e"),
    "intersection_lt": (T + "d e = segment d e; x = intersection_lt x a b c d e",
                        "perp c x d e", "para c x d e"),
    "intersection_pp": (T + "d e f = triangle d e f; x = intersection_pp x a b c d e f",
                        "para x d e f", "para x a e f"),
    "intersection_tt": (T + "d e f = triangle d e f; x = intersection_tt x a b c d e f",
                        "perp x a b c", "para x a b c"),
    "intersection_lc": (T + "o = free o; x = intersection_lc x a o b", "cong o b o x",
                        "cong o a o x"),
    "intersection_cc": ("o w a = triangle o w a; x = intersection_cc x o w a", "cong w a w x",
                        "cong a o a x"),
    "eqangle2": (T + "x = eqangle2 x a b c", "eqangle a b a x c x c b",
                 "eqangle a b a x c b c x"),
    "trisect": (T + "x y = trisect x y a b c", "eqangle b a b x b y b c",
                "eqangle b a b x b x b c"),
    "3peq": (T + "x y z = 3peq x y z a b c", "midp z x y", "midp z b c"),
    "tangent": ("o b a = triangle o b a; x y = tangent x y a o b", "perp a x o x",
                "perp a x a o"),
    "cc_tangent0": ("o a = segment o a; w b = segment w b; x y = cc_tangent0 x y o a w b",
                    "perp x o x y", "perp x o o w"),
    "cc_tangent": ("o a = segment o a; w b = segment w b; x y z i = cc_tangent x y z i o a w b",
                   "perp z o z i", "para x y z i"),
    "2l1c": (T + "o = on_bline o a b; x y z i = 2l1c x y z i a b c o", "cong i x i z",
             "cong i x i o"),
    "e5128": ("c b = segment c b; a = on_tline a b b c; d = on_circle d c b; "
              "x y = e5128 x y a b c d", "eqangle a b a d x a x y", "eqangle a b a d x y x a"),
    "on_line": (T + "x = on_line x a b", "coll x a b", "coll x a c"),
    "on_opline": (T + "x = on_opline x a b", "coll x a b", "coll x a c"),
    "on_pline": (T + "x = on_pline x a b c", "para a x b c", "para a x a b"),
    "on_tline": (T + "x = on_tline x a b c", "perp a x b c", "para a x b c"),
    "on_bline": (T + "x = on_bline x a b", "cong x a x b", "cong x a x c"),
    "angle_bisector": (T + "x = angle_bisector x a b c", "eqangle b a b x b x b c",
                       "eqangle b a b x b c b x"),
    "angle_mirror": (T + "x = angle_mirror x a b c", "eqangle b a b c b c b x",
                     "eqangle b a b c b x b c"),
    "on_aline": (T + "d e = segment d e; x = on_aline x a b c d e", "eqangle a x a b d c d e",
                 "eqangle a x a b d e d c"),
    "lc_tangent": ("o a = segment o a; x = lc_tangent x a o", "perp a x a o", "para a x a o"),
    "s_angle": ("a b = segment a b; x = s_angle a b x 40", "aconst b a b x 40o",
                "aconst b a b x 50o"),
    "on_circle": (T + "o = free o; x = on_circle x o a", "cong o x o a", "cong o x o b"),
    "eqdistance": (T + "x = eqdistance x a b c", "cong a x b c", "cong a x a b"),
    "on_dia": (T + "x = on_dia x a b", "perp x a x b", "perp x a x c"),
    "on_circum": (T + "d = free d; x = on_circum x a b c", "cyclic a b c x", "cyclic a b d x"),
    "on_aline2": ("a b = segment a b; c d e = triangle c d e; x = on_aline2 x a b c d e",
                  "eqangle x a x b d c d e", "eqangle x a x b d e d c"),
    "eqangle3": ("a b = segment a b; d e f = triangle d e f; x = eqangle3 x a b d e f",
                 "eqangle x a x b d e d f", "eqangle x a x b d f d e"),
}

SEEDS = (0, 1, 2)


def test_every_construction_has_a_case():
    assert set(CASES) == set(CONSTRUCTIONS)


def test_definitions_are_consistent():
    for name, cdef in CONSTRUCTIONS.items():
        assert cdef.name == name
        assert set(cdef.new) <= set(cdef.args) and cdef.new
        assert len(set(cdef.args)) == len(cdef.args)
        assert cdef.kind in ("points", "locus")
        if cdef.kind == "locus":
            assert len(cdef.new) == 1
        for pred, args in cdef.properties:
            assert pred in GOALS, (name, pred)
            n_pts = len(args) - GOALS[pred].n_values
            assert set(args[:n_pts]) <= set(cdef.args) - set(cdef.numeric), (name, pred, args)
        for group in cdef.lines:
            assert set(group) <= set(cdef.args)
        for centre, through in cdef.circles:
            assert centre is None or centre in cdef.args
            assert set(through) <= set(cdef.args)


@pytest.mark.parametrize("name", sorted(CASES))
def test_construction_goals(name):
    text, good, bad = CASES[name]
    for seed in SEEDS:
        d = build_diagram(parse_problem(f"{text} ? {good}", name), seed=seed)
        assert check_goal(d), (name, seed, good)
        assert not check_goal(d, bad), (name, seed, bad)


@pytest.mark.parametrize("name", sorted(CASES))
def test_construction_properties(name):
    """The predicates ``definitions`` declares for the construction hold on the built points."""
    problem = parse_problem(CASES[name][0], name)
    (use,) = [c for cl in problem.clauses for c in cl.constructions if c.name == name][-1:]
    cdef = CONSTRUCTIONS[name]
    bind = dict(zip(cdef.args, use.args))
    for seed in SEEDS:
        d = build_diagram(problem, seed=seed)
        for pred, args in cdef.properties:
            goal = Goal(pred, tuple(bind.get(a, a) for a in args))
            assert check_goal(d, goal), (name, seed, str(goal))


@pytest.mark.parametrize("seed", range(5))
def test_on_opline_stays_on_the_far_side(seed):
    d = build_diagram(T + "x = on_opline x a b", seed=seed)
    a, b, x = d["a"], d["b"], d["x"]
    assert (x - a) @ (b - a) < 0


@pytest.mark.parametrize("seed", range(5))
def test_two_loci_give_a_point_on_both(seed):
    d = build_diagram(T + "o = free o; x = on_line x a b, on_circle x o c", seed=seed)
    assert check_goal(d, "coll x a b") and check_goal(d, "cong o x o c")
    d = build_diagram(T + "x = on_bline x a b, on_dia x b c", seed=seed)
    assert check_goal(d, "cong x a x b") and check_goal(d, "perp x b x c")


def test_circle_intersection_avoids_existing_points():
    # both circles pass through c: the new point must be the other intersection
    for seed in range(5):
        d = build_diagram(T + "o = circle o a b c; x = on_circle x o c, on_circle x a c", seed)
        assert abs(d["x"] - d["c"]).max() > 1e-3


def test_trisect_and_incenter_sides():
    d = build_diagram(T + "x y = trisect x y a b c; i = incenter i a b c", seed=3)
    a, c = d["a"], d["c"]
    for p in ("x", "y"):  # on the segment ac, x nearer to a
        t = (d[p] - a) @ (c - a) / ((c - a) @ (c - a))
        assert 0 < t < 1
    assert ((d["x"] - a) @ (c - a)) < ((d["y"] - a) @ (c - a))
