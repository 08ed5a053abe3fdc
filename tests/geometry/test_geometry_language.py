"""Tests for readingroom.geometry.language: parsing, formatting, problem files and errors."""

from __future__ import annotations

import pytest

from readingroom.geometry import (
    Clause,
    Construction,
    GeometryInputError,
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


@pytest.mark.parametrize(
    "text, match",
    [
        ("only_a_name\n", "odd number of non-blank lines"),
        ("a = free a\nb = free b\n", "looks like a problem"),
        ("p\na = free a\np\nb = free b\n", "duplicate problem name 'p'"),
        ("p\na = fre a\n", r"problem 'p': clause 1 'a = fre a': construction 'fre a': unknown"),
    ],
)
def test_parse_file_errors(text, match):
    with pytest.raises(GeometryInputError, match=match):
        parse_file(text)


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty problem text"),
        ("   ", "empty problem text"),
        ("a b c = triangle a b c; h = orthocentre h a b c ? perp a h b c",
         r"problem 'demo': clause 2 'h = orthocentre h a b c': construction 'orthocentre h a b c'"
         r": unknown construction 'orthocentre'; did you mean 'orthocenter'\?"),
        ("a b c = triangel a b c", r"unknown construction 'triangel'; did you mean 'triangle'"),
        ("a b = segment a b; m = midpoint m a",
         r"clause 2 .*construction 'midpoint m a': midpoint takes 3 arguments "
         r"\('x = midpoint x a b'\), got 2"),
        ("a b = segment a b; m = midpoint m a c", r"point 'c' is used before it is defined"),
        ("a b = segment a b; x y = on_line x a b, on_line y x b",
         r"point 'x' is used before it is defined \(it is a new point of this clause"),
        ("a b c = triangle a b c; a = midpoint a b c", r"clause 2 .*point 'a' is redefined"),
        ("a a = segment a a", r"point 'a' is listed twice"),
        ("a b = segment a b; ; c = free c", r"clause 2 '': empty clause"),
        ("a b = segment a b; ? cong a b a b", r"clause 2 '': empty clause"),
        ("a b segment a b", r"malformed clause \(no '='\)"),
        ("a = b = free a", r"malformed clause \(more than one '='\)"),
        (" = free a", r"no new points left of '='"),
        ("a = ", r"no construction right of '='"),
        ("a = free a, ", r"empty construction"),
        ("a-b = free a", r"invalid point name 'a-b'"),
        ("a b c = triangle a b c; d = on_line e a b",
         r"argument 'e' fills the new-point slot 'x' of on_line .* not among the clause's new"),
        ("a b c = triangle a b c; d = on_line a b c",
         r"argument 'a' fills the new-point slot 'x' .* is an existing point"),
        ("a b = segment a b; c d = midpoint c a b", r"new point\(s\) d not introduced"),
        ("a b = segment a b; x = s_angle a b x sixty",
         r"argument 'y' of s_angle must be a number, got 'sixty'"),
        ("a b c = triangle a b c ? perpendicular a b a c",
         r"problem 'demo': goal 'perpendicular a b a c': unknown goal predicate 'perpendicular'; "
         r"did you mean 'perp'"),
        ("a b c = triangle a b c ? perp a b c", r"perp takes 4 points .*got 3 arguments"),
        ("a b c = triangle a b c ? coll a b", r"coll takes at least 3 points"),
        ("a b c = triangle a b c ? eqangle a b a c a b", r"eqangle takes 8 points"),
        ("a b c = triangle a b c ? perp a b c z", r"point 'z' is not defined by the problem"),
        ("a b c = triangle a b c ? aconst a b a c much", r"cannot read the value 'much' of aconst"),
        ("a b c = triangle a b c ? rconst a b a c 1/0", r"cannot read the value '1/0' of rconst"),
        ("a b c = triangle a b c ?", r"empty goal after '\?'"),
        ("a b c = triangle a b c ? cong a b a c ? cong a b b c", r"more than one '\?'"),
    ],
)
def test_errors(text, match):
    with pytest.raises(GeometryInputError, match=match):
        parse_problem(text, name="demo")


def test_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_problem("a = nothing a")
    with pytest.raises(GeometryInputError, match="expected a string"):
        parse_problem(None)  # type: ignore[arg-type]


def test_problem_equality_ignores_source_text():
    a = parse_problem("a b c = triangle; d = on_line b c", "p")
    b = parse_problem("a b c = triangle a b c; d = on_line d b c", "p")
    assert a == b and a.text != b.text
    assert isinstance(a, Problem)
