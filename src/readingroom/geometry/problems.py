"""The book's own geometry problem set: ``problems.txt``, shipped inside the package.

47 classical theorems and olympiad-style facts, formalised for this book in the AlphaGeometry
language (two lines per problem: a name, then the problem; ``#`` lines are comments), ordered
from easy to hard. Each problem has a one-line description in :data:`DESCRIPTIONS` and a
difficulty tag in :data:`DIFFICULTY`:

* ``"easy"`` — the deduction engine alone (:func:`readingroom.geometry.ddar.solve`) proves it;
* ``"aux"`` — a textbook proof needs one or two auxiliary points (the feet of altitudes, an
  antipode, the midpoint of a diagonal ...); DD + AR alone saturates without the goal;
* ``"hard"`` — several auxiliary points, or reasoning the rules lack (ratios with constants,
  projective theorems such as Pappus and Desargues).

Every goal holds numerically on random diagrams (the tests check it); the tags record what
DD + AR does today, and ``tests/geometry/test_geometry_problems.py`` pins the solved set.
"""

from __future__ import annotations

from importlib import resources
from typing import Literal

from readingroom.geometry.language import Problem, parse_file

__all__ = ["DESCRIPTIONS", "DIFFICULTIES", "DIFFICULTY", "load_problems", "problems_text"]

Difficulty = Literal["easy", "aux", "hard"]
DIFFICULTIES: tuple[str, ...] = ("easy", "aux", "hard")

# name -> (difficulty, one-line description)
_TABLE: dict[str, tuple[Difficulty, str]] = {
    # --- easy: DD + AR alone
    "midline": ("easy", "the segment joining the midpoints of two sides is parallel to the third"),
    "thales": ("easy", "an angle inscribed in a semicircle is a right angle"),
    "isosceles_median": ("easy", "the median to the base of an isosceles triangle is an altitude"),
    "inscribed_angle": ("easy", "inscribed angles on the same chord are equal"),
    "parallel_cut_ratio": ("easy", "a parallel to a side cuts the other two sides proportionally"),
    "intersecting_chords": ("easy", "intersecting chords: pa * pb = pc * pd, written as a ratio"),
    "power_of_a_point": ("easy", "two secants from an outside point: pa * pc = pb * pd"),
    "varignon": ("easy", "the midpoints of a quadrilateral's sides form a parallelogram"),
    "altitudes_from_feet": ("easy", "the altitudes concur, with the two feet given as points"),
    "simson_line": ("easy", "the feet from a point of the circumcircle to the sides are collinear"),
    "miquel": ("easy", "Miquel: the circles through a vertex and two side points share a point"),
    "reim": ("easy", "Reim: chords through the two common points of two circles are parallel"),
    "reflection_orthocenter_circumcircle": (
        "easy", "the orthocentre reflected in a side lies on the circumcircle"),
    "orthic_incenter": ("easy", "the altitudes bisect the angles of the orthic triangle"),
    "arc_midpoint": ("easy", "the bisector from a meets the circumcircle at the arc midpoint"),
    "incenter_excenter_lemma": (
        "easy", "incentre-excentre lemma: that arc midpoint is as far from b as from the incentre"),
    # AlphaGeometry2's "find" goals: the answer is a value
    "equilateral_angle": ("easy", "find the angle of an equilateral triangle (acompute)"),
    "square_diagonal_angle": ("easy", "find the angle between a square's diagonal and its side"),
    "hypotenuse_median_ratio": (
        "easy", "find median to the hypotenuse : hypotenuse (rcompute)"),
    # AlphaGeometry2's linear equations of directed angles (angeq), mod pi
    "incenter_angle": ("easy", "the incentre sees bc at 90 + a/2 degrees: 2 angle(ib, ic) = "
                               "angle(ab, ac) (angeq)"),
    "diameter_angle_sum": ("easy", "the angles at the ends of a diameter add up to a right angle "
                                   "(angeq)"),
    # AlphaGeometry2's linear equations of distances (distseq) and log-distances (distmeq)
    "hypotenuse_median_half": ("easy", "the median to the hypotenuse is half of it: 2 |am| - |bc| "
                                       "= 0 (distseq)"),
    "intersecting_chords_product": ("easy", "intersecting chords as a product: pa * pb / (pc * pd) "
                                            "= 1 (distmeq)"),
    # --- aux: one or two auxiliary points
    "orthocenter": ("aux", "the altitudes concur (needs the feet of the altitudes)"),
    "parallelogram_diagonals": ("aux", "the diagonals of a parallelogram bisect each other"),
    "trapezoid_midline": (
        "aux", "the midline of a trapezoid is parallel to the bases (midpoint of a diagonal)"),
    "tangent_chord": ("aux", "tangent-chord angle equals the inscribed angle (the antipode)"),
    "equal_tangents": ("aux", "the two tangents from an outside point have equal length"),
    "isogonal_orthocenter_circumcenter": (
        "aux", "ah and ao are isogonal: angle(ab, ah) = angle(ao, ac)"),
    "central_angle": ("aux", "the central angle is twice the inscribed angle (half of it at om)"),
    "angle_bisector_ratio": ("aux", "the angle bisector divides bc in the ratio ab : ac"),
    "hypotenuse_median": ("aux", "the median to the hypotenuse is half the hypotenuse"),
    "feet_midpoint_equidistant": (
        "aux", "the midpoint of bc is equidistant from the feet of the altitudes from b and c"),
    "central_angle_twice": ("aux", "the central angle is twice the inscribed angle (angeq; the "
                                   "diameter through c)"),
    # --- hard
    "midpoint_reflection_orthocenter": (
        "hard", "the orthocentre reflected in the midpoint of bc lies on the circumcircle"),
    "orthocenter_distance_circumcenter": ("hard", "ah = 2 om: half of ah equals om"),
    "nine_point_circle": ("hard", "the three midpoints and a foot of an altitude are concyclic"),
    "nine_point_centre": ("hard", "the nine-point centre is as far from a foot as from a midpoint"),
    "centroid_medians": ("hard", "the three medians concur (Ceva / the centroid's 2 : 1)"),
    "euler_line": ("hard", "orthocentre, circumcentre and centroid are collinear"),
    "incenter_excenter_cyclic": (
        "hard", "b, c, the incentre and the excentre opposite a are concyclic"),
    "midline_ratio": ("hard", "find midline : third side (rcompute; the ratio chase with its "
                              "constants)"),
    "butterfly": ("hard", "butterfly theorem: m, the midpoint of chord pq, is the midpoint of xy"),
    "pappus": ("hard", "Pappus: the cross-joins of two point triples on two lines are collinear"),
    "desargues": ("hard", "Desargues: triangles perspective from a point are perspective from a "
                          "line"),
    "pascal": ("hard", "Pascal: opposite sides of a hexagon inscribed in a circle meet on a line"),
    "gauss_line": ("hard", "the midpoints of the three diagonals of a complete quadrilateral are "
                           "collinear"),
}


#: name -> one-line description of the statement
DESCRIPTIONS: dict[str, str] = {name: text for name, (_, text) in _TABLE.items()}
#: name -> difficulty tag, one of :data:`DIFFICULTIES`
DIFFICULTY: dict[str, str] = {name: tag for name, (tag, _) in _TABLE.items()}


def problems_text() -> str:
    """The text of the packaged ``problems.txt``."""
    return resources.files("readingroom.geometry").joinpath("problems.txt").read_text()


def load_problems() -> list[Problem]:
    """The packaged problems, parsed, in file order (easy first)."""
    return parse_file(problems_text())
