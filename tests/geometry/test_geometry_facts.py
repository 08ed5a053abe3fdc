"""Tests for readingroom.geometry.facts: canonical facts (every spelling of a statement is one
key) and the premises a problem's constructions state."""

from __future__ import annotations


from readingroom.geometry import (
    build_diagram,
    fact,
    parse_problem,
    premises,
)

T = "a b c = triangle a b c; "

# --- canonical facts --------------------------------------------------------------------------


def test_equivalent_spellings_are_one_fact():
    assert fact("para", "a", "b", "c", "d") == fact("para", "d", "c", "b", "a")
    assert hash(fact("para", "a", "b", "c", "d")) == hash(fact("para", "c", "d", "b", "a"))
    assert fact("perp", "a", "b", "c", "d") == fact("perp", "d", "c", "a", "b")
    assert fact("cong", "a", "b", "c", "d") == fact("cong", "d", "c", "b", "a")
    assert fact("coll", "c", "a", "b") == fact("coll", "b", "c", "a", "a")
    assert fact("cyclic", "d", "c", "b", "a") == fact("cyclic", "a", "b", "c", "d")
    assert fact("midp", "m", "b", "a") == fact("midp", "m", "a", "b")
    e = fact("eqangle", "a", "b", "c", "d", "e", "f", "g", "h")
    for spelled in [("e", "f", "g", "h", "a", "b", "c", "d"),  # swap sides
                    ("c", "d", "a", "b", "g", "h", "e", "f"),  # negate both angles
                    ("a", "b", "e", "f", "c", "d", "g", "h"),  # exchange the middle lines
                    ("b", "a", "d", "c", "f", "e", "h", "g")]:  # reverse the segments
        assert fact("eqangle", *spelled) == e
    r = fact("eqratio", "a", "b", "c", "d", "e", "f", "g", "h")
    assert fact("eqratio", "a", "b", "e", "f", "c", "d", "g", "h") == r
    assert fact("eqratio", "g", "h", "e", "f", "c", "d", "a", "b") == r
    assert len({e, r, fact("para", "a", "b", "c", "d")}) == 3


def test_different_facts_differ():
    assert fact("para", "a", "b", "c", "d") != fact("perp", "a", "b", "c", "d")
    assert fact("para", "a", "b", "c", "d") != fact("para", "a", "c", "b", "d")
    assert fact("midp", "m", "a", "b") != fact("midp", "a", "m", "b")
    assert (fact("eqangle", "a", "b", "c", "d", "e", "f", "g", "h")
            != fact("eqangle", "a", "b", "c", "d", "g", "h", "e", "f"))  # the opposite angle
    assert fact("para", "a", "b", "a", "b").trivial
    assert not fact("perp", "a", "b", "c", "d").trivial
    assert str(fact("para", "n", "m", "c", "b")) == "para b c m n"


# --- premises ---------------------------------------------------------------------------------


def test_premises_of_a_problem():
    p = parse_problem(T + "m = midpoint m a b; x y z = triangle12 x y z")
    facts, warnings = premises(p, build_diagram(p, seed=1))
    names = {str(f) for f, _ in facts}
    assert {"coll a b m", "cong a m b m", "midp m a b"} <= names
    assert all(text.startswith("midpoint") for f, text in facts)
    assert len(warnings) == 1 and "rconst" in warnings[0]
