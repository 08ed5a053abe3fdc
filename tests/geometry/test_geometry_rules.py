"""Tests for readingroom.geometry.rules, the deductive rules: circle centre (tangent-chord angle,
its converse, central angle), converse midline, median to the hypotenuse, angle bisector
theorem and SAS similarity; SSS similarity, the circumcentre and the converse of the power of a
point; and the catalogue. Each rule gets a small problem that it solves and that the engine
without it does not; every proof step is re-checked numerically on fresh random diagrams.

The first group runs with ``split_angles=False``: with the split on, the angle chase resolves
``2X = k (mod pi)`` from the diagram and proves the circle-centre theorems by itself (tested
below), so the rules would not show in the proofs."""

from __future__ import annotations

import re

import pytest

from readingroom.geometry import RULES, fact, parse_problem, proof_holds, solve
from readingroom.geometry.ddar import _Engine


T = "a b c = triangle a b c; "

CASES = [
    # (rule name in the proof, engine method that implements it, problem)
    ("tangent-chord angle", "rules_centre",
     T + "o = circumcenter o a b c; t = lc_tangent t a o ? eqangle a t a b c a c b"),
    ("tangent-chord angle (converse)", "rules_centre",
     T + "o = circumcenter o a b c; t = on_aline t a b a c b ? perp o a a t"),
    ("central angle", "rules_centre",
     T + "o = circumcenter o a b c; m = midpoint m b c ? eqangle o b o m a b a c"),
    ("central angle", "rules_centre",  # no perpendicular through o: the altitude serves
     T + "h = orthocenter h a b c; o = circumcenter o a b c ? eqangle a b a h a o a c"),
    ("midline (converse)", "rule_midline_converse",
     T + "m = midpoint m a b; n = on_line n a c, on_pline n m b c ? midp n a c"),
    ("median to the hypotenuse", "rule_hypotenuse_median",
     "a b c = r_triangle a b c; m = midpoint m b c ? cong m a m b"),
    ("angle bisector theorem", "rule_bisector",
     T + "d = angle_bisector d b a c, on_line d b c ? eqratio d b d c a b a c"),
    ("similar triangles (SAS)", "rule_sas_similar",
     T + "d = midpoint d b c; e = midpoint e c a; f = midpoint f a b; "
         "g = on_line g a d, on_line g b e ? coll c g f"),
    ("centre of a circle (two chords)", "rule_centre_chords",
     T + "d = on_circum d a b c; o = on_bline o a b, on_bline o c d ? cong o a o c"),
]


@pytest.mark.parametrize("rule,method,text", CASES, ids=[c[0] for c in CASES])
def test_new_rule_proves_its_problem(rule, method, text):
    r = solve(text, seed=0, timeout=20, split_angles=False)
    assert r.solved and r.discarded == 0, (text, r.stop)
    pattern = re.escape("[" + rule) + r"( \S+ ~ \S+)?:"
    assert any(re.search(pattern, line) for line in r.proof), "\n".join(r.proof)
    assert r.steps[-1] == r.goal
    assert proof_holds(parse_problem(text), r, seeds=(11, 12, 13)), text


@pytest.mark.parametrize("rule,method,text", CASES, ids=[c[0] for c in CASES])
def test_without_the_rule_the_problem_is_not_solved(monkeypatch, rule, method, text):
    monkeypatch.setattr(_Engine, method, lambda self: None)
    r = solve(text, seed=0, timeout=20, split_angles=False)
    assert not r.solved and r.discarded == 0


@pytest.mark.parametrize("rule,method,text", [c for c in CASES if c[1] == "rules_centre"],
                         ids=[c[0] for c in CASES if c[1] == "rules_centre"])
def test_split_angle_chase_proves_the_centre_theorems_without_the_rule(monkeypatch, rule,
                                                                      method, text):
    # the inscribed angle is half the central angle: 2X = k, resolved from the diagram
    monkeypatch.setattr(_Engine, method, lambda self: None)
    r = solve(text, seed=0, timeout=20)
    assert r.solved and r.discarded == 0
    assert any("[AR angle chase" in line for line in r.proof)
    assert proof_holds(parse_problem(text), r, seeds=(11, 12, 13)), text


def test_centre_and_triangle_rules_are_listed():
    names = {name for name, _ in RULES}
    assert {"tangent_chord", "tangent_chord_converse", "central_angle", "midline_converse",
            "hypotenuse_median", "angle_bisector", "similar_sas"} <= names


def test_no_rule_matches_a_wrong_configuration_on_the_problem_set():
    from readingroom.geometry.problems import load_problems
    for problem in load_problems():
        r = solve(problem, seed=0, timeout=10)
        assert r.discarded == 0, problem.name
        assert r.stop in ("solved", "saturated"), (problem.name, r.stop)


# --- the rules, called directly on an engine --------------------------------------------------

def _reasons(eng):
    return {str(f): why for f, (why, _) in eng.why.items()}


SSS = ("b c = segment b c; d = free d; e = eqdistance e d b c; "
       "t = on_bline t b d, on_bline t c e ? eqangle b t c t d t e t")
CIRC = ("a b c = triangle a b c; o = circle o a b c; h = orthocenter h a b c; "
        "x = reflect x h b c ? cong o x o a")
POW = ("t q x = triangle t q x; c = on_line c t q; s = on_line s t x, eqdistance s t t c; "
       "d = on_line d t x, eqdistance d t t q ? cyclic q c s d")


def test_sss_similarity_gives_the_angles_of_congruent_triangles(engine):
    eng = engine(SSS)
    eng.rule_sss_similar()
    r = _reasons(eng)
    assert r["eqangle b t c t d t e t"].startswith("similar triangles (SSS) ")
    for f in eng.why:
        assert f.holds(eng.diagram)


def test_sss_similarity_needs_proportional_sides(engine):
    # a scalene triangle and a free triangle: no two triangles share their side ratios
    eng = engine("a b c = triangle a b c; d e f = triangle d e f ? para a b d e",
                 require_goal=False)
    before = len(eng.why)
    eng.rule_sss_similar()
    assert len(eng.why) == before


def test_circumcentre_rule_extends_cong_to_every_point_of_the_circle():
    r = solve(CIRC, seed=0, timeout=20)  # the rules first derive cyclic a b c x
    assert r.solved and r.discarded == 0
    assert any("[centre of a circle" in line for line in r.proof)


def test_without_circumcentre_or_sss_their_problems_are_not_solved(monkeypatch):
    for text, method in ((CIRC, "rule_circumcentre"), (SSS, "rule_sss_similar")):
        with monkeypatch.context() as m:
            m.setattr(_Engine, method, lambda self: None)
            assert not solve(text, seed=0, timeout=20).solved, method
        assert solve(text, seed=0, timeout=20).solved, method


def test_power_of_a_point_converse_fires_on_its_configuration(engine):
    eng = engine(POW)
    eng.rule_power_converse()
    r = _reasons(eng)
    assert r.get("cyclic c d q s") == "power of a point (converse)"


def test_power_of_a_point_converse_respects_the_sides(engine):
    eng = engine(POW)
    # pretend the diagram shows q and c on opposite sides of t: the rule must not fire
    eng._side = lambda t, a, b: (a, b) in (("c", "q"), ("q", "c"))
    eng.rule_power_converse()
    assert "cyclic c d q s" not in _reasons(eng)


def test_sss_circumcentre_power_and_length_rules_are_listed():
    names = {name for name, _ in RULES}
    assert {"similar_sss", "circumcentre", "power_converse", "AR length chase"} <= names




PERP_BISECTOR = "a b = segment a b; m = midpoint m a b; x = on_tline x m m a ? cong x a x b"


def test_perpendicular_bisector_converse_fires_on_its_configuration(engine):
    eng = engine(PERP_BISECTOR)
    eng.rule_perp_bisector_converse()
    why = {str(f): (reason, [str(p) for p in prem]) for f, (reason, prem) in eng.why.items()}
    assert why["cong a x b x"] == ("perpendicular bisector (converse)",
                                   ["midp m a b", "perp a b m x"])


def test_perpendicular_bisector_converse_needs_the_perpendicular(engine):
    # x on a line through the midpoint that is not perpendicular to ab: nothing is concluded,
    # nor even tried (a tried, false conclusion would show among the discarded facts)
    eng = engine("a b = segment a b; m = midpoint m a b; c = free c; x = on_line x m c ? "
                 "cong x a x b", require_goal=False)
    eng.rule_perp_bisector_converse()
    rule = "perpendicular bisector (converse)"
    assert not any(r == rule for r, _ in eng.why.values())
    assert not any(r == rule for _, r in eng.discarded)


def test_the_centre_of_two_parallel_chords_is_not_concluded(engine):
    # abdc an isosceles trapezoid in a circle (cd parallel to ab), o on the common perpendicular
    # bisector of the two chords: oa = ob and oc = od, but o need not be the centre
    eng = engine("a b c = triangle a b c; d = on_circum d a b c, on_pline d c a b; "
                 "o = on_bline o a b ? cong o a o b", require_goal=False)
    eng.add(fact("cong", "o", "c", "o", "d"), "given")
    eng.build()
    eng.rule_centre_chords()
    rule = "centre of a circle (two chords)"
    assert not any(r == rule for r, _ in eng.why.values())
    assert not any(r == rule for _, r in eng.discarded)


def test_perpendicular_bisector_converse_and_centre_chords_are_listed():
    names = {name for name, _ in RULES}
    assert {"perp_bisector_converse", "centre_chords"} <= names
