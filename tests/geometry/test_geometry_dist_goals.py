"""AlphaGeometry2's ``distseq`` and ``distmeq`` goals (arXiv 2502.03544, Section 2), end to end,
in the book's spelling: linear equations of distances and of log-distances,

* ``distseq a1 b1 ... an bn t1 ... tn``: ``t1 |a1b1| + ... + tn |anbn| = 0`` (rational t_i),
  proved by the length chase;
* ``distmeq a1 b1 ... an bn t1 ... tn y``: ``t1 log|a1b1| + ... + tn log|anbn| = log y``
  (integer t_i; y = 1 only, the ratio chase holding no constants), proved by the ratio chase.

Parsed and formatted, checked numerically, proved, replayed by the independent checker (which
rejects a tampered coefficient), and not proved when false."""

from __future__ import annotations

import math
from fractions import Fraction

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
from readingroom.geometry.goals import check_distmeq, check_distseq, goal_residual
from readingroom.geometry.problems import DIFFICULTY, load_problems

T = "a b c = triangle a b c; "
MEDIAN = "a b c = r_triangle a b c; m = midpoint m b c ? distseq a m b c 2 -1"
QUARTER = "a b = segment a b; m = midpoint m a b; c = midpoint c a m ? distseq c b a b 1 -3/4"
CHORDS = (T + "o = circumcenter o a b c; d = on_circle d o a; p = intersection_ll p a b c d ? "
          "distmeq p a p b p c p d 1 1 -1 -1 1")
BISECTOR = (T + "d = angle_bisector d b a c, on_line d b c ? "
            "distmeq d b d c a b a c 1 -1 -1 1 1")
MIDLINE = T + "m = midpoint m a b; n = midpoint n a c ? distseq m n b c 2 -1"


def _with_goal(text: str, goal: str) -> str:
    return text.split("?")[0] + "? " + goal


def _last_fact(proof: list[str]) -> str:
    return proof[-1].split("  [")[0].split(". ", 1)[1]


def _tamper_coefficient(text: str) -> str:
    """The goal with its first coefficient changed (2 -> 3, 1 -> 2, -3/4 -> 1/4)."""
    g = parse_problem(text).goal
    nums = list(g.numbers)
    nums[0] = "3" if nums[0] == "2" else "2" if nums[0] == "1" else "1/4"
    return " ".join((g.name, *g.points, *nums))


# --- the language ---------------------------------------------------------------------------


def test_goaldefs_count_segments_coefficients_and_a_value():
    s, m = GOALS["distseq"], GOALS["distmeq"]
    assert s.count_points(3) == 2 and s.count_points(6) == 4 and s.count_points(9) == 6
    assert m.count_points(4) == 2 and m.count_points(7) == 4 and m.count_points(13) == 8
    for n in (0, 1, 2, 4, 5, 7):
        assert s.count_points(n) is None, n
    for n in (0, 1, 3, 5, 6, 8):
        assert m.count_points(n) is None, n
    assert s.signature() == "distseq p1 p2 ... t1 ..."
    assert m.signature() == "distmeq p1 p2 ... t1 ... value"
    assert s.coeff_kind == "rational" and m.coeff_kind == "integer"
    assert GOALS["angeq"].coeff_kind == "integer"  # unchanged


@pytest.mark.parametrize("text", [MEDIAN, QUARTER, CHORDS, BISECTOR, MIDLINE])
def test_parse_and_format_round_trip(text):
    p = parse_problem(text)
    assert p.goal.name in ("distseq", "distmeq")
    assert parse_problem(format_problem(p)) == p
    assert str(p.goal) == text.split("? ")[1]


def test_points_and_numbers_of_a_goal():
    g = parse_goal("distseq a m b c 2 -1")
    assert g.points == ("a", "m", "b", "c") and g.numbers == ("2", "-1")
    g = parse_goal("distseq c b a b m c 1 -3/4 +1/2")
    assert g.points == ("c", "b", "a", "b", "m", "c") and g.numbers == ("1", "-3/4", "+1/2")
    g = parse_goal("distmeq p a p b p c p d 1 1 -1 -1 1")
    assert g.points == ("p", "a", "p", "b", "p", "c", "p", "d")
    assert g.numbers == ("1", "1", "-1", "-1", "1")


@pytest.mark.parametrize("goal, words", [
    ("distseq a b 1 -1", ["distseq takes one or more groups of 2 points, 1 rational",
                          "got 4 arguments"]),
    ("distseq a b c d 1", ["got 5 arguments"]),
    ("distseq a b c 1 -1", ["got 5 arguments"]),
    ("distseq a b c d 0 1", ["coefficients of distseq must be non-zero rationals", "'0'"]),
    ("distseq a b c d 1 0/3", ["non-zero rationals", "'0/3'"]),
    ("distseq a b c d 1 1/0", ["non-zero rationals", "'1/0'"]),
    ("distseq a b c d 1 0.5", ["non-zero rationals", "'0.5'"]),
    ("distseq a b c d 1 x", ["non-zero rationals", "'x'"]),
    ("distseq a b c d 1 1/-2", ["non-zero rationals", "'1/-2'"]),
    ("distseq a b 1 c 1 -1", ["invalid point name '1'"]),
    ("distseq a b c z 1 -1", ["point 'z' is not defined"]),
    ("distmeq a b c d 1 -1", ["distmeq takes one or more groups of 2 points, 1 integer",
                              "and 1 value", "got 6 arguments"]),
    ("distmeq a b c d 1 -1/2 1", ["coefficients of distmeq must be non-zero integers",
                                  "'-1/2'"]),
    ("distmeq a b c d 1 0 1", ["non-zero integers", "'0'"]),
    ("distmeq a b c d 1 -1 half", ["cannot read the value 'half' of distmeq"]),
    ("distmeq a b c d 1 -1 0", ["value of distmeq must be a positive rational", "'0'"]),
    ("distmeq a b c d 1 -1 -2", ["value of distmeq must be a positive rational", "'-2'"]),
    ("distmeq a b c d 1 -1 -1/2", ["value of distmeq must be a positive rational", "'-1/2'"]),
])
def test_bad_distance_goals_are_refused_clearly(goal, words):
    with pytest.raises(GeometryInputError) as err:
        parse_problem(T + "d = free d ? " + goal, name="bad")
    msg = str(err.value)
    assert f"goal '{goal.split()[0]}" in msg
    for w in words:
        assert w in msg, (w, msg)


def test_the_value_is_any_positive_rational():
    assert parse_goal("distmeq a b c d 1 -1 1.0").numbers[-1] == "1.0"
    assert parse_goal("distmeq a b c d 1 -1 2/2").numbers[-1] == "2/2"
    assert parse_goal("distmeq a b c d 2 -2 1/4").numbers[-1] == "1/4"
    assert parse_goal("distmeq a b c d 1 1 12").numbers[-1] == "12"


# --- numerically ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [MEDIAN, QUARTER, CHORDS, BISECTOR, MIDLINE])
def test_true_statement_holds_and_a_wrong_coefficient_fails(text):
    p = parse_problem(text)
    wrong = parse_problem(_with_goal(text, _tamper_coefficient(text))).goal
    for seed in range(4):
        d = build_diagram(p, seed=seed)
        assert check_goal(d)
        assert not check_goal(d, wrong)


def test_check_on_coordinates():
    o, x, y = (np.array(v, dtype=float) for v in ((0, 0), (3, 0), (0, 4)))
    # |ox| = 3, |oy| = 4, |xy| = 5
    assert check_distseq(o, x, o, y, x, y, value=((1, 1, -Fraction(7, 5)), None))
    assert check_distseq(o, x, x, y, value=((5, -3), None))
    assert not check_distseq(o, x, x, y, value=((1, -1), None))
    assert check_distmeq(o, x, o, y, x, y, value=((2, 2, -2), 144 / 25 * 1.0))  # 9*16/25
    assert check_distmeq(o, x, o, x, x, y, value=((1, 1, -2), 9 / 25))
    assert not check_distmeq(o, x, x, y, value=((1, -1), 1.0))
    # the residuals are relative: the same figure ten times larger gives the same ones
    big = [10 * v for v in (o, x, x, y)]
    for name, val in (("distseq", ((1, -1), None)), ("distmeq", ((1, -1), 1.0))):
        assert goal_residual(name, [o, x, x, y], val) == pytest.approx(
            goal_residual(name, big, val))
    assert goal_residual("distseq", [o, o, x, y], ((1, -1), None)) == math.inf  # zero length
    assert goal_residual("distmeq", [o, x, y, y], ((1, -1), 1.0)) == math.inf


# --- the prover and the checker -------------------------------------------------------------


@pytest.mark.parametrize("name, reason", [("hypotenuse_median_half", "AR length chase"),
                                          ("intersecting_chords_product", "AR ratio chase")])
def test_ddar_proves_the_books_distance_problems_and_the_checker_accepts(name, reason):
    p = {q.name: q for q in load_problems()}[name]
    assert p.goal.name in ("distseq", "distmeq") and name in DIFFICULTY
    r = solve(p, timeout=10)
    assert r.solved and r.discarded == 0
    assert _last_fact(r.proof) == str(p.goal)
    assert f"[{reason}: " in r.proof[-1]
    assert proof_holds(p, r)
    v = check_proof(p, r.proof)
    assert v.ok, v.error


@pytest.mark.parametrize("text, reason", [(QUARTER, "AR length chase"),
                                          (BISECTOR, "AR ratio chase")])
def test_more_distance_statements_are_proved_and_checked(text, reason):
    p = parse_problem(text)
    r = solve(p, timeout=10)
    assert r.solved and _last_fact(r.proof) == str(p.goal) and f"[{reason}: " in r.proof[-1]
    assert check_proof(p, r.proof).ok


@pytest.mark.parametrize("text", [MEDIAN, CHORDS, QUARTER])
def test_the_checker_rejects_a_tampered_coefficient(text):
    p = parse_problem(text)
    r = solve(p)
    assert r.solved
    last = r.proof[-1]
    goal_text = str(p.goal)
    assert last.split(". ", 1)[1].startswith(goal_text + "  [")
    tampered = r.proof[:-1] + [last.replace(goal_text, _tamper_coefficient(text))]
    v = check_proof(p, tampered)
    assert not v.ok
    assert v.error.startswith(f"step {len(r.proof)} ") and " chase" in v.error
    assert not check_proof(p, r.proof[:-1]).ok  # stops short of the goal


def test_the_checker_reads_equal_statements_as_one():
    # the same equation scaled (and for distmeq negated) is the same goal; the checker accepts it
    p = parse_problem(MEDIAN)
    r = solve(p)
    scaled = r.proof[:-1] + [r.proof[-1].replace("distseq a m b c 2 -1", "distseq b c a m -1/2 1")]
    assert check_proof(p, scaled).ok
    q = parse_problem(CHORDS)
    r = solve(q)
    neg = r.proof[:-1] + [r.proof[-1].replace(" 1 1 -1 -1 1  [", " -1 -1 1 1 1  [")]
    assert check_proof(q, neg).ok


def test_a_statement_that_does_not_hold_is_not_proved():
    for text in (MEDIAN, CHORDS, QUARTER):
        wrong = parse_problem(_with_goal(text, _tamper_coefficient(text)))
        diagram = build_diagram(wrong, seed=0)  # a figure of the premises; the goal fails on it
        assert not check_goal(diagram)
        r = solve(wrong, diagram=diagram, timeout=5)
        assert not r.solved and r.proof is None and r.discarded == 0


@pytest.mark.parametrize("goal", ["distseq m n b c 2 -1", "distmeq m n b c 1 -1 1/2",
                                  "distmeq a m a b 1 -1 1/2", "distmeq b c m n 2 -2 4"])
def test_the_midline_half_is_proved_by_the_ratio_chase_with_constants(goal):
    # |mn| = |bc| / 2: the similar triangles give mn / bc = am / ab, and the midpoint's own row
    # in the ratio chase, log|am| - log|ab| = -log 2, carries the constant
    p = parse_problem(T + "m = midpoint m a b; n = midpoint n a c ? " + goal)
    r = solve(p, timeout=10)
    assert r.solved and _last_fact(r.proof) == str(p.goal)
    assert "[AR ratio chase: " in r.proof[-1] and "midp m a b" in r.proof[-1]
    assert check_proof(p, r.proof).ok
    # with the other midpoint cited in its place the constant has no source
    swapped = r.proof[:-1] + [r.proof[-1].replace("midp m a b", "midp n a c")]
    assert not check_proof(p, swapped).ok


def test_a_wrong_constant_is_not_proved():
    p = parse_problem(T + "m = midpoint m a b; n = midpoint n a c ? distmeq m n b c 1 -1 1/3")
    diagram = build_diagram(p, seed=0)
    assert not check_goal(diagram)
    assert not solve(p, diagram=diagram, timeout=5).solved


def test_a_length_equation_the_lines_make_true_is_proved_from_the_order_on_a_line():
    p = parse_problem("a b = segment a b; m = midpoint m a b ? distseq a m m b a b 1 1 -1")
    r = solve(p)
    assert r.solved and check_proof(p, r.proof).ok


def test_equal_lengths_written_as_distseq_is_cong_to_the_checker():
    p = parse_problem("a b c = iso_triangle a b c ? distseq a b a c 1 -1")
    r = solve(p)
    assert r.solved
    v = check_proof(p, r.proof[:-1] + [r.proof[-1].replace("distseq a b a c 1 -1", "cong a b a c")])
    assert v.ok, v.error


# --- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize("text", [MEDIAN, CHORDS])
def test_cli_solve_prints_and_checks_a_distance_proof(capsys, text):
    assert main(["solve", text]) == 0
    out = capsys.readouterr().out
    assert out.startswith("solved by ddar in") and "proof:\n  1. " in out
    *_, last, verdict = out.rstrip().splitlines()
    assert last.split("  [")[0].split(". ", 1)[1] == text.split("? ")[1]
    assert verdict.startswith("checker: checked: all ") and "follow from their cited" in verdict


def test_cli_proves_and_checks_a_value_other_than_one(capsys):
    assert main(["solve", _with_goal(MIDLINE, "distmeq b c m n 1 -1 2")]) == 0
    out = capsys.readouterr().out
    assert "distmeq b c m n 1 -1 2  [AR ratio chase" in out
    assert out.rstrip().splitlines()[-1].startswith("checker: checked: all ")


def test_cli_refuses_a_value_that_is_not_positive(capsys):
    assert main(["solve", _with_goal(CHORDS, "distmeq p a p b p c p d 1 1 -1 -1 -2")]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and "positive rational" in err and "Traceback" not in err
