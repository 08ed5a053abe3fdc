"""Tests for the second batch of DDAR additions: the angle chase's diagram split of
``g * X = k (mod pi)``, the length system (sums along lines), SSS similarity, the circumcentre
rule and the converse of the power of a point."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest

from readingroom.geometry import RULES, build_diagram, parse_problem, solve
from readingroom.geometry.ddar import LinearSystem, _Engine, fact, premises

HALF = Fraction(1, 2)


# --- LinearSystem._split ----------------------------------------------------------------------

def test_split_picks_the_solution_the_diagram_shows():
    ls = LinearSystem(modulus=1, resolve=lambda coeffs: 0.5)
    assert ls.add({"x": 2}, 0, tag="t")
    assert ls.resolved == 1 and not ls.stuck
    assert ls.implies({"x": 1}, HALF) == frozenset({"t"})
    assert ls.implies({"x": 1}, 0) is None


def test_split_with_constant_and_three_solutions():
    # 3X = 1/2 (mod 1): X in {1/6, 1/2, 5/6}; the diagram says 5/6
    ls = LinearSystem(modulus=1, resolve=lambda coeffs: 5 / 6)
    ls.add({"x": 3, "y": -3}, HALF, tag="t")
    assert ls.implies({"x": 1, "y": -1}, Fraction(5, 6)) == frozenset({"t"})


def test_split_passes_the_resolver_the_divided_row():
    seen = []
    ls = LinearSystem(modulus=1, resolve=lambda coeffs: seen.append(dict(coeffs)) or 0.0)
    ls.add({"x": 2, "y": -2}, 0, tag="t")
    assert seen == [{"x": 1, "y": -1}]
    assert ls.implies({"x": 1, "y": -1}, 0) == frozenset({"t"})


def test_without_resolver_the_row_waits():
    ls = LinearSystem(modulus=1)
    ls.add({"x": 2}, 0, tag="t")
    assert ls.resolved == 0 and len(ls.stuck) == 1
    assert ls.implies({"x": 1}, HALF) is None
    assert ls.implies({"x": 2}, 0) == frozenset({"t"})  # a multiple of the waiting row


@pytest.mark.parametrize("value", [0.3, None])
def test_a_diagram_value_matching_no_solution_leaves_the_row_waiting(value):
    ls = LinearSystem(modulus=1, resolve=lambda coeffs: value)
    ls.add({"x": 2}, 0, tag="t")
    assert ls.resolved == 0 and len(ls.stuck) == 1


def test_coprime_coefficients_are_not_split():
    calls = []
    ls = LinearSystem(modulus=1, resolve=lambda coeffs: calls.append(1) or 0.0)
    ls.add({"x": 2, "y": 3}, 0, tag="t")
    assert calls == [] and len(ls.stuck) == 1


def test_non_modular_systems_ignore_the_resolver():
    ls = LinearSystem(resolve=lambda coeffs: 0.0)
    ls.add({"x": 2}, 1, tag="t")
    assert ls.implies({"x": 1}, HALF) == frozenset({"t"})
    assert ls.resolved == 0


def test_split_angles_flag_is_checked_in_the_result():
    text = ("a b c = triangle a b c; o = circumcenter o a b c; m = midpoint m b c "
            "? eqangle o b o m a b a c")
    on = solve(text, seed=0, timeout=20)
    off = solve(text, seed=0, timeout=20, split_angles=False)
    assert on.solved and off.solved  # off: the central-angle rule does it
    assert not any("[central angle" in line for line in on.proof)
    assert any("[central angle" in line for line in off.proof)


# --- the rules, called directly on a saturated engine -----------------------------------------

def _engine(text, seed=0, require_goal=True):
    problem = parse_problem(text)
    diagram = build_diagram(problem, seed=seed, require_goal=require_goal)
    eng = _Engine(problem, diagram, time.monotonic() + 60, 1e-7)
    for f, clause in premises(problem, diagram)[0]:
        eng.add(f, "construction " + clause)
    eng.build()
    return eng


def _reasons(eng):
    return {str(f): why for f, (why, _) in eng.why.items()}


SSS = ("b c = segment b c; d = free d; e = eqdistance e d b c; "
       "t = on_bline t b d, on_bline t c e ? eqangle b t c t d t e t")
CIRC = ("a b c = triangle a b c; o = circle o a b c; h = orthocenter h a b c; "
        "x = reflect x h b c ? cong o x o a")
POW = ("t q x = triangle t q x; c = on_line c t q; s = on_line s t x, eqdistance s t t c; "
       "d = on_line d t x, eqdistance d t t q ? cyclic q c s d")
LEN = ("a b = segment a b; c = on_line c a b; d = on_line d a b, eqdistance d c a b "
       "? cong a c b d")


def test_sss_similarity_gives_the_angles_of_congruent_triangles():
    eng = _engine(SSS)
    eng.rule_sss_similar()
    r = _reasons(eng)
    assert r["eqangle b t c t d t e t"].startswith("similar triangles (SSS) ")
    for f in eng.why:
        assert f.holds(eng.diagram)


def test_sss_similarity_needs_proportional_sides():
    # a scalene triangle and a free triangle: no two triangles share their side ratios
    eng = _engine("a b c = triangle a b c; d e f = triangle d e f ? para a b d e",
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


def test_power_of_a_point_converse_fires_on_its_configuration():
    eng = _engine(POW)
    eng.rule_power_converse()
    r = _reasons(eng)
    assert r.get("cyclic c d q s") == "power of a point (converse)"


def test_power_of_a_point_converse_respects_the_sides():
    eng = _engine(POW)
    # pretend the diagram shows q and c on opposite sides of t: the rule must not fire
    eng._side = lambda t, a, b: (a, b) in (("c", "q"), ("q", "c"))
    eng.rule_power_converse()
    assert "cyclic c d q s" not in _reasons(eng)


def test_length_chase_adds_lengths_along_a_line():
    r = solve(LEN, seed=0, timeout=20)
    assert r.solved and r.discarded == 0
    assert any("[AR length chase" in line for line in r.proof)


def test_length_chase_is_what_proves_it(monkeypatch):
    monkeypatch.setattr(_Engine, "ar_length", lambda self, f: None)
    assert not solve(LEN, seed=0, timeout=20).solved


def test_rule_lengths_records_cong_from_the_length_system():
    eng = _engine(LEN)
    eng.rule_lengths()
    r = _reasons(eng)
    assert r.get("cong a c b d") == "AR length chase"


def test_new_rules_are_listed():
    names = {name for name, _ in RULES}
    assert {"similar_sss", "circumcentre", "power_converse", "AR length chase"} <= names


# --- minimal premises of AR steps ------------------------------------------------------------

@pytest.mark.parametrize("name", ["simson_line", "euler_line", "nine_point_circle", "miquel"])
def test_every_ar_step_of_a_proof_has_minimal_premises(name):
    from readingroom.geometry.problems import load_problems

    problem = {p.name: p for p in load_problems()}[name]
    r = solve(problem, seed=0, timeout=20)
    assert r.solved
    eng = _engine(str(problem))
    kinds = {"AR angle chase": ("para", "perp", "eqangle"),
             "AR ratio chase": ("cong", "eqratio", "midp")}
    checked = 0
    for step in r.steps:
        why, prem = r.why[step]
        if why not in kinds or step.name not in ("para", "perp", "eqangle", "cong", "eqratio"):
            continue
        assert eng.local_ar(step, prem), (name, str(step))
        for g in prem:
            if g.name in kinds[why]:
                assert not eng.local_ar(step, [x for x in prem if x != g]), (name, str(step))
        checked += 1
    assert checked >= 1


def test_local_ar_uses_only_the_given_premises():
    eng = _engine("a b c d = quadrangle a b c d; e = on_pline e a b c; f = on_pline f e c d "
                  "? para a e e f", require_goal=False)
    ab, bc = fact("para", "a", "e", "b", "c"), fact("para", "e", "f", "c", "d")
    target = fact("para", "a", "e", "c", "d")
    assert not eng.local_ar(target, [ab])
    assert not eng.local_ar(target, [ab, bc])  # needs b c and c d parallel too
    bd = fact("para", "b", "c", "c", "d")
    assert eng.local_ar(target, [ab, bd])
    # coll premises merge lines: with b, c, d on one line, para b c c d is free
    assert eng.local_ar(target, [ab, fact("coll", "b", "c", "d")])
    assert eng.local_ar(fact("cong", "a", "b", "c", "d"),
                        [fact("cong", "a", "b", "e", "f"), fact("cong", "e", "f", "c", "d")])
    assert not eng.local_ar(fact("cong", "a", "b", "c", "d"), [fact("cong", "a", "b", "e", "f")])


def test_minimise_shortens_a_long_angle_chase():
    # the orthocentre with both feet: the final angle chase needs few of the facts it saw
    text = ("a b c = triangle a b c; h = on_tline h b a c, on_tline h c a b; "
            "d = foot d b a c; e = foot e c a b ? perp a h b c")
    r = solve(text, seed=0, timeout=20)
    assert r.solved
    why, prem = r.why[r.goal]
    assert why == "AR angle chase"
    assert len([p for p in prem if p.name != "coll"]) <= 3
