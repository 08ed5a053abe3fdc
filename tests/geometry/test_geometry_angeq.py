"""AlphaGeometry2's ``angeq`` goal (arXiv 2502.03544, Section 2), end to end: a linear equation
of directed angles, ``angeq a1 b1 c1 d1 ... an bn cn dn t1 ... tn y`` meaning
``t1 * angle(a1b1, c1d1) + ... + tn * angle(anbn, cndn) + y * pi = 0 (mod pi)``.

Parsed and formatted, checked numerically, proved by the angle chase, replayed by the
independent checker (which rejects a tampered proof), and refused when it does not hold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from readingroom.geometry import (
    GOALS,
    GeometryInputError,
    build_diagram,
    check_goal,
    check_proof,
    format_problem,
    parse_goal,
    parse_problem,
    proof_holds,
    solve,
)
from readingroom.geometry.__main__ import main
from readingroom.geometry.goals import check_angeq, goal_residual
from readingroom.geometry.problems import DIFFICULTY, load_problems

T = "a b c = triangle a b c; "
CENTRAL = T + "o = circumcenter o a b c ? angeq o a o b c a c b 1 -2 0"
DIAMETER = ("b c = segment b c; o = midpoint o b c; a = on_circle a o b ? "
            "angeq a b b c b c c a 1 1 1pi/2")
INCENTRE = T + "i = incenter i a b c ? angeq i b i c a b a c 2 -1 0"


def _with_goal(text: str, goal: str) -> str:
    return text.split("?")[0] + "? " + goal


# --- the language ---------------------------------------------------------------------------


def test_goaldef_counts_groups_of_points_coefficients_and_a_value():
    g = GOALS["angeq"]
    assert g.count_points(6) == 4 and g.count_points(11) == 8 and g.count_points(16) == 12
    for n in (0, 1, 4, 5, 7, 10, 12):
        assert g.count_points(n) is None, n
    assert g.signature() == "angeq p1 p2 p3 p4 ... t1 ... value"
    # the other goals are counted as before
    assert GOALS["aconst"].count_points(5) == 4 and GOALS["aconst"].count_points(6) is None
    assert GOALS["coll"].count_points(5) == 5 and GOALS["coll"].count_points(2) is None


@pytest.mark.parametrize("text", [CENTRAL, DIAMETER, INCENTRE])
def test_parse_and_format_round_trip(text):
    p = parse_problem(text)
    assert p.goal.name == "angeq"
    assert parse_problem(format_problem(p)) == p
    assert str(p.goal) == text.split("? ")[1]


def test_points_and_numbers_of_a_goal():
    g = parse_goal("angeq o a o b c a c b 1 -2 0")
    assert g.points == ("o", "a", "o", "b", "c", "a", "c", "b")
    assert g.numbers == ("1", "-2", "0")
    g = parse_goal("angeq a b c d 3 60o")
    assert g.points == ("a", "b", "c", "d") and g.numbers == ("3", "60o")


@pytest.mark.parametrize("goal, words", [
    ("angeq a b c d 1", ["angeq takes one or more groups of 4 points", "got 5 arguments"]),
    ("angeq a b c 1 0", ["angeq takes one or more groups of 4 points"]),
    ("angeq a b c d a b c 1 1 0", ["got 10 arguments"]),
    ("angeq a b c d a b c d 1 0", ["got 10 arguments"]),
    ("angeq a b c d 1/2 0", ["coefficients of angeq must be non-zero integers", "'1/2'"]),
    ("angeq a b c d 0.5 0", ["non-zero integers", "'0.5'"]),
    ("angeq a b c d 0 0", ["non-zero integers", "'0'"]),
    ("angeq a b c d c d a b 1 x 0", ["non-zero integers", "'x'"]),
    ("angeq a b c d 1 half", ["cannot read the value 'half' of angeq"]),
    ("angeq a b c 1 1 0", ["invalid point name '1'"]),
    ("angeq a b c z 1 0", ["point 'z' is not defined"]),
])
def test_bad_angeq_goals_are_refused_clearly(goal, words):
    with pytest.raises(GeometryInputError) as err:
        parse_problem(T + "d = free d ? " + goal, name="bad")
    msg = str(err.value)
    assert "goal 'angeq" in msg
    for w in words:
        assert w in msg, (w, msg)


# --- numerically ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [CENTRAL, DIAMETER, INCENTRE])
def test_true_angeq_holds_and_a_wrong_value_or_coefficient_fails(text):
    p = parse_problem(text)
    args = p.goal.args
    wrong_y = _with_goal(text, " ".join(("angeq", *args[:-1], "1pi/3")))
    coeffs = list(args[len(p.goal.points):-1])
    coeffs[0] = str(int(coeffs[0]) + 1)
    wrong_t = _with_goal(text, " ".join(("angeq", *p.goal.points, *coeffs, args[-1])))
    for seed in range(4):
        d = build_diagram(p, seed=seed)
        assert check_goal(d)
        assert not check_goal(d, parse_problem(wrong_y).goal)
        assert not check_goal(d, parse_problem(wrong_t).goal)


def test_check_angeq_on_coordinates():
    a, b, c, d = (np.array(v, dtype=float) for v in ((0, 0), (1, 0), (0, 0), (1, 1)))
    # angle(ab, cd) = pi/4: pi/4 - pi/4 = 0, 2 * pi/4 - pi/2 = 0, 4 * pi/4 = pi = 0 (mod pi)
    assert check_angeq(a, b, c, d, value=((1,), -math.pi / 4))
    assert check_angeq(a, b, c, d, value=((2,), math.pi / 2))
    assert check_angeq(a, b, c, d, value=((4,), 0.0))
    assert not check_angeq(a, b, c, d, value=((1,), 0.0))
    assert not check_angeq(a, b, c, d, value=((2,), 0.0))
    assert goal_residual("angeq", [a, a, c, d], ((1,), 0.0)) == math.inf  # zero-length segment


# --- the prover and the checker -------------------------------------------------------------


@pytest.mark.parametrize("name", ["central_angle_twice", "diameter_angle_sum", "incenter_angle"])
def test_ddar_proves_the_books_angeq_problems_and_the_checker_accepts(name):
    p = {q.name: q for q in load_problems()}[name]
    assert p.goal.name == "angeq" and name in DIFFICULTY
    r = solve(p, timeout=10)
    assert r.solved and r.discarded == 0
    last = r.proof[-1].split("  [")[0].split(". ", 1)[1]
    assert last == str(p.goal)
    assert r.proof[-1].endswith("]") and "[AR angle chase: " in r.proof[-1]
    assert proof_holds(p, r)
    v = check_proof(p, r.proof)
    assert v.ok, v.error


def test_the_checker_rejects_a_tampered_angeq():
    p = parse_problem(CENTRAL)
    r = solve(p)
    assert r.solved
    last = r.proof[-1]
    assert " 1 -2 0  [" in last
    # a coefficient changed: the central angle three times the inscribed one
    tampered = r.proof[:-1] + [last.replace(" 1 -2 0  [", " 1 -3 0  [")]
    v = check_proof(p, tampered)
    assert not v.ok
    assert v.error.startswith(f"step {len(r.proof)} ") and "AR angle chase" in v.error
    # the value changed: off by a right angle
    tampered = r.proof[:-1] + [last.replace(" 1 -2 0  [", " 1 -2 1pi/2  [")]
    assert not check_proof(p, tampered).ok
    # a true angeq that is not the goal is not a proof of it
    other = r.proof[:-1] + [last.replace(" 1 -2 0  [", " -1 2 0  [")]  # the same equation negated
    assert check_proof(p, other).ok
    assert not check_proof(p, r.proof[:-1]).ok  # stops short of the goal


def test_an_angeq_that_does_not_hold_is_not_proved():
    wrong = parse_problem(_with_goal(CENTRAL, "angeq o a o b c a c b 1 -2 1pi/2"))
    diagram = build_diagram(wrong, seed=0)  # a figure of the premises; the goal fails on it
    assert not check_goal(diagram)
    r = solve(wrong, diagram=diagram, timeout=5)
    assert not r.solved and r.proof is None and r.discarded == 0
    # one coefficient off: also not proved
    wrong = parse_problem(_with_goal(CENTRAL, "angeq o a o b c a c b 1 -1 0"))
    r = solve(wrong, diagram=build_diagram(wrong, seed=0), timeout=5)
    assert not r.solved


def test_an_equation_the_lines_make_true_is_proved_without_premises():
    # the three angles of a triangle: as directed angles of lines they cancel, sum 0 (mod pi)
    p = parse_problem(T + "d = free d ? angeq a b a c b c b a c a c b 1 1 1 0")
    r = solve(p)
    assert r.solved and len(r.steps) == 1
    assert check_proof(p, r.proof).ok
    # ...and a wrong constant for it is refused before any proof (the figure refutes it)
    bad = parse_problem(T + "d = free d ? angeq a b a c b c b a c a c b 1 1 1 1pi/3")
    assert not solve(bad, diagram=build_diagram(bad, seed=0)).solved


# --- the command line -------------------------------------------------------------------------


def test_cli_solve_prints_and_checks_an_angeq_proof(capsys):
    assert main(["solve", CENTRAL]) == 0  # with the search, which DDAR alone settles here
    out = capsys.readouterr().out
    assert out.startswith("solved by ddar in") and "proof:\n  1. " in out
    *_, last, verdict = out.rstrip().splitlines()
    assert last.split("  [")[0].split(". ", 1)[1] == "angeq o a o b c a c b 1 -2 0"
    assert verdict.startswith("checker: checked: all ") and "follow from their cited" in verdict


def test_cli_refuses_a_non_integer_coefficient(capsys):
    assert main(["solve", _with_goal(CENTRAL, "angeq o a o b c a c b 1 -1/2 0")]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and "non-zero integers" in err and "Traceback" not in err
