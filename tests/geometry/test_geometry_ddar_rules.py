"""Tests for the DD rules added to readingroom.geometry.ddar: circle centre (tangent-chord angle,
its converse, central angle), converse midline, median to the hypotenuse, angle bisector
theorem and SAS similarity. Each rule gets a small problem that it solves and that the engine
without it does not; every proof step is re-checked numerically on fresh random diagrams.

These run with ``split_angles=False``: with the split on, the angle chase resolves
``2X = k (mod pi)`` from the diagram and proves the circle-centre theorems by itself (tested
below), so the rules would not show in the proofs."""

from __future__ import annotations

import re

import pytest

from readingroom.geometry import RULES, parse_problem, proof_holds, solve
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


def test_new_rules_are_listed():
    names = {name for name, _ in RULES}
    assert {"tangent_chord", "tangent_chord_converse", "central_angle", "midline_converse",
            "hypotenuse_median", "angle_bisector", "similar_sas"} <= names


def test_no_rule_matches_a_wrong_configuration_on_the_problem_set():
    from readingroom.geometry.problems import load_problems
    for problem in load_problems():
        r = solve(problem, seed=0, timeout=10)
        assert r.discarded == 0, problem.name
        assert r.stop in ("solved", "saturated"), (problem.name, r.stop)
