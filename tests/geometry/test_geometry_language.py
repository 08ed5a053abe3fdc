"""Tests for readingroom.geometry.language: parsing, formatting and problem files
(the parser's error messages are rows of test_geometry_bad_input)."""

from __future__ import annotations

import pytest

from readingroom.geometry import (
    Clause,
    Construction,
    Goal,
    Problem,
    format_problem,
    parse_file,
    parse_goal,
    parse_problem,
)
from readingroom.geometry.language import parse_angle, parse_ratio

ORTHO = "a b c = triangle a b c; h = on_tline h b a c, on_tline h c a b ? perp a h b c"


def test_parse_structure():
    p = parse_problem(ORTHO, name="ortho")
    assert p.name == "ortho" and p.text == ORTHO
    assert p.clauses[0] == Clause(("a", "b", "c"), (Construction("triangle", ("a", "b", "c")),))
    assert p.clauses[1].points == ("h",)
    assert p.clauses[1].constructions == (
        Construction("on_tline", ("h", "b", "a", "c")),
        Construction("on_tline", ("h", "c", "a", "b")),
    )
    assert p.goal == Goal("perp", ("a", "h", "b", "c"))
    assert p.points == ("a", "b", "c", "h")


@pytest.mark.parametrize(
    "text",
    [
        ORTHO,
        "a b = segment a b; x y = square a b x y; m = midpoint m a x ? cong m a m x",
        "a b c = triangle a b c; d = parallelogram a b c d ? para a b c d",
        "a b = segment a b; x = s_angle a b x 30 ? aconst b a b x pi/6",
        "a b c = triangle12 a b c ? rconst a b a c 1/2",
        "a b c = triangle a b c; o = circle o a b c",  # no goal
        "x@4.96_-0.13 y@-1.0_-1.25 z@-2.84_-4.91 = triangle x y z; o = circle o x y z"
        " ? cong o x o y",
    ],
)
def test_round_trip(text):
    p = parse_problem(text, "t")
    assert format_problem(p) == text
    assert parse_problem(format_problem(p), "t") == p
    assert str(p) == text


def test_short_form_fills_new_points():
    p = parse_problem("a b c = triangle; d = on_line b c; e = parallelogram a b c ? para a b c e")
    assert format_problem(p) == ("a b c = triangle a b c; d = on_line d b c; "
                                 "e = parallelogram a b c e ? para a b c e")
    # equal after a round trip through the canonical form
    assert parse_problem(format_problem(p)) == p


def test_whitespace_is_tolerated():
    p = parse_problem("  a b c =  triangle a b c ;h = orthocenter h a b c?perp a h b c  ")
    assert format_problem(p) == "a b c = triangle a b c; h = orthocenter h a b c ? perp a h b c"


def test_pinned_coordinates():
    p = parse_problem("a@1_2 b@-0.5_3e-1 = segment a b")
    assert p.clauses[0].coords == (("a", 1.0, 2.0), ("b", -0.5, 0.3))


def test_values():
    assert parse_angle("pi/3") == pytest.approx(3.141592653589793 / 3)
    assert parse_angle("2pi/3") == pytest.approx(2 * 3.141592653589793 / 3)
    assert parse_angle("60o") == pytest.approx(3.141592653589793 / 3)
    assert parse_angle("45") == pytest.approx(3.141592653589793 / 4)
    assert parse_ratio("1/2") == 0.5 and parse_ratio("0.25") == 0.25


def test_parse_goal():
    assert parse_goal("coll a b c d") == Goal("coll", ("a", "b", "c", "d"))
    assert parse_goal("aconst a b c d 2pi/3").points == ("a", "b", "c", "d")


FILE = """
first
a b c = triangle a b c; h = orthocenter h a b c ? perp a h b c

# a comment
second
a b = segment a b; m = midpoint m a b ? cong m a m b

"""


def test_parse_file_text_and_path(tmp_path):
    probs = parse_file(FILE)
    assert [p.name for p in probs] == ["first", "second"]
    assert probs[1].goal == Goal("cong", ("m", "a", "m", "b"))
    f = tmp_path / "problems.txt"
    f.write_text(FILE)
    assert parse_file(f) == probs
    assert parse_file(str(f)) == probs


def test_problem_equality_ignores_source_text():
    a = parse_problem("a b c = triangle; d = on_line b c", "p")
    b = parse_problem("a b c = triangle a b c; d = on_line d b c", "p")
    assert a == b and a.text != b.text
    assert isinstance(a, Problem)
