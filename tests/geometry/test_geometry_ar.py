"""Tests for readingroom.geometry.ar, the algebraic reasoning: exact linear systems with
provenance (angle chasing mod pi, ratio chasing), the diagram's split of ``g * X = k (mod pi)``,
the length system (sums along lines), and the minimal premises of AR steps."""

from __future__ import annotations

from fractions import Fraction

import pytest

from readingroom.geometry import LinearSystem, fact, solve
from readingroom.geometry.ddar import _Engine

HALF = Fraction(1, 2)


# --- AR on hand-built equations ---------------------------------------------------------------


def test_angle_chase_two_perps_are_parallel_not_perp():
    s = LinearSystem(modulus=1)  # line directions in units of pi, mod 1
    s.add({"l1": 1, "l3": -1}, Fraction(1, 2), tag="perp l1 l3")
    s.add({"l2": 1, "l3": -1}, Fraction(1, 2), tag="perp l2 l3")
    assert s.implies({"l1": 1, "l2": -1}, 0) == {"perp l1 l3", "perp l2 l3"}
    assert s.implies({"l1": 1, "l2": -1}, Fraction(1, 2)) is None  # not perpendicular
    assert s.implies({"l1": 1, "l3": -1}, Fraction(-1, 2)) == {"perp l1 l3"}  # -1/2 == 1/2
    assert s.implies({"l1": 1, "l4": -1}, 0) is None


def test_angle_chase_eqangle_from_para_and_premises():
    s = LinearSystem(modulus=1)
    s.add({"ab": 1, "cd": -1}, 0, tag="para ab cd")
    s.add({"ef": 1, "gh": -1}, 0, tag="para ef gh")
    s.add({"xy": 1, "zw": -1}, 0, tag="para xy zw")  # unrelated
    # angle(ab, ef) = angle(cd, gh):  ab - ef - cd + gh = 0
    assert s.implies({"ab": 1, "ef": -1, "cd": -1, "gh": 1}, 0) == {"para ab cd", "para ef gh"}
    # a perp chain: three right angles make a right angle
    t = LinearSystem(modulus=1)
    for i in range(3):
        t.add({f"l{i}": 1, f"l{i + 1}": -1}, Fraction(1, 2), tag=i)
    assert t.implies({"l0": 1, "l3": -1}, Fraction(1, 2)) == {0, 1, 2}
    assert t.implies({"l0": 1, "l2": -1}, 0) == {0, 1}


def test_angle_mod_one_is_sound_with_coefficient_two():
    s = LinearSystem(modulus=1)
    s.add({"x": 2}, 0, tag="2x=0")  # x is 0 or 1/2: neither may be concluded
    assert s.implies({"x": 1}, 0) is None
    assert s.implies({"x": 1}, Fraction(1, 2)) is None
    assert s.implies({"x": 2}, 0) == {"2x=0"}
    s.add({"x": 1, "y": -1}, Fraction(1, 2), tag="perp x y")  # now x has a unit pivot
    assert s.implies({"y": 2}, 0) == {"2x=0", "perp x y"}  # 2y = 2x - 1 = 0 mod 1


def test_ratio_chase_transitivity_with_premises():
    s = LinearSystem()
    s.add({"ab": 1, "cd": -1}, tag="cong ab cd")
    s.add({"cd": 1, "ef": -1}, tag="cong cd ef")
    s.add({"gh": 1, "ij": -1, "kl": -1, "mn": 1}, tag="eqratio gh ij kl mn")
    assert s.implies({"ab": 1, "ef": -1}) == {"cong ab cd", "cong cd ef"}
    assert s.implies({"ab": 1, "gh": -1}) is None
    assert s.implies({"gh": 1, "kl": -1, "ij": -1, "mn": 1}) == {"eqratio gh ij kl mn"}
    assert s.add({"ab": 1, "ef": -1}) is False  # implied: not new


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


# --- the length system -----------------------------------------------------------------------

def _reasons(eng):
    return {str(f): why for f, (why, _) in eng.why.items()}


LEN = ("a b = segment a b; c = on_line c a b; d = on_line d a b, eqdistance d c a b "
       "? cong a c b d")


def test_length_chase_adds_lengths_along_a_line():
    r = solve(LEN, seed=0, timeout=20)
    assert r.solved and r.discarded == 0
    assert any("[AR length chase" in line for line in r.proof)


def test_length_chase_is_what_proves_it(monkeypatch):
    monkeypatch.setattr(_Engine, "ar_length", lambda self, f: None)
    assert not solve(LEN, seed=0, timeout=20).solved


def test_rule_lengths_records_cong_from_the_length_system(engine):
    eng = engine(LEN)
    eng.rule_lengths()
    r = _reasons(eng)
    assert r.get("cong a c b d") == "AR length chase"


# --- minimal premises of AR steps ------------------------------------------------------------

@pytest.mark.parametrize("name", ["simson_line", "euler_line", "nine_point_circle", "miquel"])
def test_every_ar_step_of_a_proof_has_minimal_premises(name, engine):
    from readingroom.geometry.problems import load_problems

    problem = {p.name: p for p in load_problems()}[name]
    r = solve(problem, seed=0, timeout=20)
    assert r.solved
    eng = engine(str(problem))
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


def test_local_ar_uses_only_the_given_premises(engine):
    eng = engine("a b c d = quadrangle a b c d; e = on_pline e a b c; f = on_pline f e c d "
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


# --- constants in the ratio chase ------------------------------------------------------------

@pytest.mark.parametrize("r,terms", [
    (Fraction(12), {("", 2): 2, ("", 3): 1}),
    (Fraction(1, 2), {("", 2): -1}),
    (Fraction(9, 8), {("", 3): 2, ("", 2): -3}),
    (Fraction(1), {}),
    (Fraction(97, 1), {("", 97): 1}),
])
def test_log_terms_writes_log_r_over_the_primes(r, terms):
    from readingroom.geometry.ar import log_terms
    assert log_terms(r) == terms


@pytest.mark.parametrize("r", [Fraction(0), Fraction(-2)])
def test_log_terms_refuses_a_ratio_that_is_not_positive(r):
    from readingroom.geometry.ar import log_terms
    with pytest.raises(ValueError, match="must be positive"):
        log_terms(r)


def test_fixed_variables_are_never_pivots_and_constants_alone_are_refused():
    from readingroom.geometry.ar import _is_log_const
    ls = LinearSystem(fixed=_is_log_const)
    # |am| = |ab| / 2 and |ab| = 3 |cd|: so |am| = (3/2) |cd|
    assert ls.add({("a", "m"): 1, ("a", "b"): -1, ("", 2): 1})
    assert ls.add({("a", "b"): 1, ("c", "d"): -1, ("", 3): -1})
    assert all(not _is_log_const(v) for v in ls.rows)
    assert ls.implies({("a", "m"): 1, ("c", "d"): -1, ("", 3): -1, ("", 2): 1}) is not None
    assert ls.implies({("a", "m"): 1, ("c", "d"): -1}) is None  # not equal
    # a row over the constants alone (log 2 = log 3) is refused, not used as a pivot
    assert not ls.add({("", 2): 1, ("", 3): -1})
    assert all(not _is_log_const(v) for v in ls.rows)


def test_the_ratio_chase_pins_a_constant_ratio(engine):
    eng = engine("a b c = triangle a b c; m = midpoint m a b; n = midpoint n a c ? "
                 "rcompute m n b c")
    assert eng.ratio_constant(("a", "m"), ("a", "b")) == Fraction(1, 2)
    assert eng.ratio_constant(("a", "b"), ("a", "m")) == Fraction(2)
    assert eng.ratio_constant(("a", "m"), ("a", "c")) is None  # not a constant


def test_log_terms_keeps_a_cofactor_beyond_trial_division_as_one_symbol():
    from readingroom.geometry.ar import log_terms
    big = 2**127 - 1  # a Mersenne prime, far beyond trial division
    assert log_terms(Fraction(4 * big)) == {("", 2): 2, ("", big): 1}
    assert log_terms(Fraction(1, big)) == {("", big): -1}


@pytest.mark.parametrize("r,exponents", [
    (Fraction(12, 5), {2: 2, 3: 1, 5: -1}),
    (Fraction(1), {}),
    (Fraction(2**127 - 1), {2**127 - 1: 1}),  # beyond trial division: one symbol
])
def test_prime_exponents_splits_a_rational_over_its_primes(r, exponents):
    from readingroom.geometry.language import prime_exponents
    assert prime_exponents(r) == exponents


@pytest.mark.parametrize("r", [Fraction(0), Fraction(-3, 4)])
def test_prime_exponents_refuses_a_ratio_that_is_not_positive(r):
    from readingroom.geometry.language import prime_exponents
    with pytest.raises(ValueError, match="must be positive"):
        prime_exponents(r)
