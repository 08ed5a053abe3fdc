"""The vocabulary of the problem language: constructions and goal predicates.

AlphaGeometry (Trinh et al., 2024) and AlphaGeometry2 (arXiv 2502.03544) state a problem as a
sequence of *constructions*; each one introduces new points and says which existing points it
uses. This module is the table of those constructions, written as plain data:

* ``args`` — the argument names in the order they are written, e.g. ``foot x a b c``;
* ``new`` — which of those arguments are the new points the construction introduces;
* ``numeric`` — arguments that are numbers, not points (only ``s_angle``'s angle in degrees);
* ``kind`` — ``"points"`` if the construction places its new points itself (from the existing
  points and possibly random free parameters, e.g. ``triangle`` or ``midpoint``), or
  ``"locus"`` if it only confines its single new point to a line or circle, so that two such
  constructions in one clause are intersected (``x = on_line x a b, on_circle x o c``);
* ``properties`` — the predicates that hold after the construction, in the goal language (with
  the argument names); the tests check every one of them numerically;
* ``lines`` / ``circles`` — what a drawing should show: groups of collinear argument names, and
  circles written ``"centre: p q"`` (centre argument, then points on it) or ``": a b c"`` (no
  named centre; the circle through the first three points).

The semantics follow the published definitions of AlphaGeometry (its ``defs.txt``); the numeric
realisation of each construction is in :mod:`readingroom.geometry.placements`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CONSTRUCTIONS", "GOALS", "ConstructionDef", "GoalDef"]


@dataclass(frozen=True)
class ConstructionDef:
    """One construction of the vocabulary (see the module docstring for the fields)."""

    name: str
    args: tuple[str, ...]
    new: tuple[str, ...]
    kind: Literal["points", "locus"]
    doc: str
    properties: tuple[tuple[str, tuple[str, ...]], ...] = ()
    numeric: tuple[str, ...] = ()
    lines: tuple[tuple[str, ...], ...] = ()
    circles: tuple[tuple[str | None, tuple[str, ...]], ...] = ()

    @property
    def arity(self) -> int:
        return len(self.args)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Arguments that must be existing points."""
        return tuple(a for a in self.args if a not in self.new and a not in self.numeric)

    def signature(self) -> str:
        """The full written form, e.g. ``'x = foot x a b c'``."""
        return f"{' '.join(self.new)} = {self.name} {' '.join(self.args)}"


@dataclass(frozen=True)
class GoalDef:
    """A goal predicate: ``n_points`` point arguments (``variadic``: at least that many) and
    ``n_values`` trailing numeric arguments (``aconst``/``rconst``), read as an angle or a ratio
    (``value_kind``).

    ``per_group`` > 0 makes the goal take one or more *groups* of ``n_points`` points, all the
    points first, then ``per_group`` non-zero coefficients for each group (integers, or
    rationals such as ``'1/2'`` where ``coeff_kind`` is ``"rational"``), then the ``n_values``
    values: AlphaGeometry2's linear equations (arXiv 2502.03544, Section 2) of angles
    ``angeq a1 b1 c1 d1 ... an bn cn dn t1 ... tn y``, of distances
    ``distseq a1 b1 ... an bn t1 ... tn`` and of log-distances
    ``distmeq a1 b1 ... an bn t1 ... tn y``. :meth:`count_points` tells how many of a goal's
    arguments are points."""

    name: str
    n_points: int
    doc: str
    variadic: bool = False
    n_values: int = 0
    value_kind: Literal["angle", "ratio"] = "ratio"
    per_group: int = 0
    coeff_kind: Literal["integer", "rational"] = "integer"

    def count_points(self, n_args: int) -> int | None:
        """How many of ``n_args`` arguments are points; None when no reading fits the count."""
        if self.per_group:
            groups, rest = divmod(n_args - self.n_values, self.n_points + self.per_group)
            return groups * self.n_points if groups >= 1 and rest == 0 else None
        n = n_args - self.n_values
        return n if n == self.n_points or (self.variadic and n > self.n_points) else None

    def signature(self) -> str:
        pts = " ".join(f"p{i + 1}" for i in range(self.n_points))
        more = " ..." if self.variadic or self.per_group else ""
        coeffs = " t1 ..." if self.per_group else ""
        vals = " value" * self.n_values
        return f"{self.name} {pts}{more}{coeffs}{vals}"


def _props(text: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``"coll x a b; cong x a x b"`` -> ``(("coll", ("x", "a", "b")), ...)``."""
    out = []
    for part in text.split(";"):
        toks = part.split()
        if toks:
            out.append((toks[0], tuple(toks[1:])))
    return tuple(out)


def _lines(text: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(p.split()) for p in text.split(",") if p.strip())


def _circles(text: str) -> tuple[tuple[str | None, tuple[str, ...]], ...]:
    out = []
    for part in text.split(","):
        if not part.strip():
            continue
        centre, through = part.split(":")
        out.append((centre.strip() or None, tuple(through.split())))
    return tuple(out)


def _def(
    name: str,
    signature: str,
    kind: str,
    doc: str,
    props: str = "",
    lines: str = "",
    circles: str = "",
    numeric: str = "",
) -> ConstructionDef:
    """``signature`` is ``"new points = all args"``, e.g. ``"x = x a b c"``."""
    new, args = signature.split("=")
    return ConstructionDef(
        name=name,
        args=tuple(args.split()),
        new=tuple(new.split()),
        kind=kind,  # type: ignore[arg-type]
        doc=doc,
        properties=_props(props),
        numeric=tuple(numeric.split()),
        lines=_lines(lines),
        circles=_circles(circles),
    )


P, L = "points", "locus"

_TABLE = [
    # --- free configurations (all points new, random shape) --------------------------------
    _def("free", "a = a", P, "a free point"),
    _def("segment", "a b = a b", P, "two free points", lines="a b"),
    _def("triangle", "a b c = a b c", P, "a random triangle", lines="a b, b c, c a"),
    _def("quadrangle", "a b c d = a b c d", P, "a random convex quadrilateral",
         lines="a b, b c, c d, d a"),
    _def("pentagon", "a b c d e = a b c d e", P, "a random convex pentagon",
         lines="a b, b c, c d, d e, e a"),
    _def("iso_triangle", "a b c = a b c", P, "isosceles triangle with apex a (ab = ac)",
         "cong a b a c; eqangle b a b c c b c a", "a b, b c, c a"),
    _def("ieq_triangle", "a b c = a b c", P, "an equilateral triangle",
         "cong a b b c; cong b c c a; eqangle a b a c c a c b", "a b, b c, c a"),
    _def("r_triangle", "a b c = a b c", P, "a right triangle with the right angle at a",
         "perp a b a c", "a b, b c, c a"),
    _def("risos", "a b c = a b c", P, "a right isosceles triangle, right angle at a",
         "perp a b a c; cong a b a c; eqangle b a b c c b c a", "a b, b c, c a"),
    _def("triangle12", "a b c = a b c", P, "a triangle with ab : ac = 1 : 2",
         "rconst a b a c 1/2", "a b, b c, c a"),
    _def("trapezoid", "a b c d = a b c d", P, "a trapezoid with ab parallel to cd",
         "para a b c d", "a b, b c, c d, d a"),
    _def("r_trapezoid", "a b c d = a b c d", P, "a right trapezoid: ab // cd, ab perp ad",
         "para a b c d; perp a b a d", "a b, b c, c d, d a"),
    _def("eq_trapezoid", "a b c d = a b c d", P, "an isosceles trapezoid: ab // cd, da = bc",
         "para d c a b; cong d a b c", "a b, b c, c d, d a"),
    _def("eq_quadrangle", "a b c d = a b c d", P, "a quadrilateral with da = bc",
         "cong d a b c", "a b, b c, c d, d a"),
    _def("eqdia_quadrangle", "a b c d = a b c d", P, "a quadrilateral with equal diagonals",
         "cong d b a c", "a b, b c, c d, d a, a c, b d"),
    _def("rectangle", "a b c d = a b c d", P, "a rectangle abcd",
         "perp a b b c; para a b c d; para a d b c; perp a b a d; cong a b c d; cong a d b c;"
         " cong a c b d", "a b, b c, c d, d a"),
    _def("isquare", "a b c d = a b c d", P, "a square abcd",
         "perp a b b c; cong a b b c; para a b c d; para a d b c; perp a d d c; cong b c c d;"
         " cong c d d a; perp a c b d; cong a c b d", "a b, b c, c d, d a"),
    # --- points placed from existing points -----------------------------------------------
    _def("midpoint", "x = x a b", P, "the midpoint of ab", "coll x a b; cong x a x b; midp x a b",
         "a x b"),
    _def("mirror", "x = x a b", P, "the reflection of a through the point b",
         "coll x a b; cong b a b x; midp b a x", "a b x"),
    _def("trisegment", "x y = x y a b", P, "the two points dividing ab in three equal parts",
         "coll x a b; coll y a b; cong x a x y; cong y x y b", "a x y b"),
    _def("foot", "x = x a b c", P, "the foot of the perpendicular from a to bc",
         "perp x a b c; coll x b c", "x b c, a x"),
    _def("reflect", "x = x a b c", P, "the reflection of a in the line bc",
         "cong b a b x; cong c a c x; perp b c a x", "b c, a x"),
    _def("shift", "x = x b c d", P, "the point x = b + c - d (so xb = cd and xc = bd)",
         "cong x b c d; cong x c b d; para x b c d; para x c b d", "x b, x c, d b, d c"),
    _def("parallelogram", "x = a b c x", P, "the fourth vertex x of the parallelogram abcx",
         "para a b c x; para a x b c; cong a b c x; cong a x b c", "a b, b c, c x, x a"),
    _def("psquare", "x = x a b", P, "b rotated by +90 degrees about a",
         "cong x a a b; perp x a a b", "a b, a x"),
    _def("nsquare", "x = x a b", P, "b rotated by -90 degrees about a",
         "cong x a a b; perp x a a b", "a b, a x"),
    _def("square", "x y = a b x y", P, "the square abxy erected on ab",
         "perp a b b x; cong a b b x; para a b x y; para a y b x; perp a y y x; cong b x x y;"
         " cong x y y a; perp a x b y; cong a x b y", "a b, b x, x y, y a"),
    _def("eq_triangle", "x = x b c", P, "x makes an equilateral triangle with bc (either side)",
         "cong x b b c; cong b c c x; eqangle b x b c c b c x", "x b, b c, c x"),
    _def("circle", "x = x a b c", P, "the centre x of the circle through a, b, c",
         "cong x a x b; cong x b x c", circles="x: a b c"),
    _def("circumcenter", "x = x a b c", P, "the circumcentre x of the triangle abc",
         "cong x a x b; cong x b x c", circles="x: a b c"),
    _def("orthocenter", "x = x a b c", P, "the orthocentre of abc",
         "perp x a b c; perp x b c a; perp x c a b", "a b, b c, c a, a x, b x, c x"),
    _def("incenter", "x = x a b c", P, "the incentre of abc",
         "eqangle a b a x a x a c; eqangle c a c x c x c b; eqangle b c b x b x b a",
         "a b, b c, c a, a x, b x, c x"),
    _def("excenter", "x = x a b c", P, "the excentre of abc opposite a",
         "eqangle a b a x a x a c; eqangle c a c x c x c b; eqangle b c b x b x b a",
         "a b, b c, c a, a x"),
    _def("incenter2", "x y z i = x y z i a b c", P,
         "incentre i of abc and its touch points x on bc, y on ca, z on ab",
         "eqangle a b a i a i a c; eqangle c a c i c i c b; coll x b c; perp i x b c;"
         " coll y c a; perp i y c a; coll z a b; perp i z a b; cong i x i y; cong i y i z",
         "b x c, c y a, a z b", "i: x y z"),
    _def("excenter2", "x y z i = x y z i a b c", P,
         "excentre i of abc opposite a and its touch points x, y, z on lines bc, ca, ab",
         "eqangle a b a i a i a c; eqangle c a c i c i c b; coll x b c; perp i x b c;"
         " coll y c a; perp i y c a; coll z a b; perp i z a b; cong i x i y; cong i y i z",
         "b x c, c y a, a z b", "i: x y z"),
    _def("centroid", "x y z i = x y z i a b c", P,
         "midpoints x of bc, y of ca, z of ab, and the centroid i",
         "coll x b c; cong x b x c; coll y c a; cong y c y a; coll z a b; cong z a z b;"
         " coll a x i; coll b y i; coll c z i", "b x c, c y a, a z b, a i x, b i y, c i z"),
    _def("ninepoints", "x y z i = x y z i a b c", P,
         "midpoints x, y, z of bc, ca, ab and the centre i of the nine-point circle",
         "coll x b c; cong x b x c; coll y c a; cong y c y a; coll z a b; cong z a z b;"
         " cong i x i y; cong i y i z", "b x c, c y a, a z b", "i: x y z"),
    _def("intersection_ll", "x = x a b c d", P, "the intersection of lines ab and cd",
         "coll x a b; coll x c d", "x a b, x c d"),
    _def("intersection_lp", "x = x a b c m n", P,
         "the intersection of line ab with the parallel to mn through c",
         "coll x a b; para c x m n", "x a b, c x, m n"),
    _def("intersection_lt", "x = x a b c d e", P,
         "the intersection of line ab with the perpendicular to de through c",
         "coll x a b; perp x c d e", "x a b, c x, d e"),
    _def("intersection_pp", "x = x a b c d e f", P,
         "the intersection of the parallel to bc through a and the parallel to ef through d",
         "para x a b c; para x d e f", "x a, b c, x d, e f"),
    _def("intersection_tt", "x = x a b c d e f", P,
         "the intersection of the perpendicular to bc through a and to ef through d",
         "perp x a b c; perp x d e f", "x a, b c, x d, e f"),
    _def("intersection_lc", "x = x a o b", P,
         "the second intersection of line ab with the circle centred at o through b",
         "coll x a b; cong o b o x", "x a b", "o: b x"),
    _def("intersection_cc", "x = x o w a", P,
         "the second intersection of the circles centred o and w through a",
         "cong o a o x; cong w a w x", "o w", "o: a x, w: a x"),
    _def("eqangle2", "x = x a b c", P, "a point x with angle(ab, ax) = angle(cx, cb)",
         "eqangle a b a x c x c b", "a b, b c, a x, c x"),
    _def("trisect", "x y = x y a b c", P, "the trisectors of angle abc meet ac at x, y",
         "coll x a c; coll y a c; eqangle b a b x b x b y; eqangle b x b y b y b c",
         "a x y c, b a, b x, b y, b c"),
    _def("3peq", "x y z = x y z a b c", P,
         "z on line bc, x on ab, y on ac, with z the midpoint of xy",
         "coll z b c; coll x a b; coll y a c; coll x y z; cong z x z y",
         "b c z, a b x, a c y, x z y"),
    _def("tangent", "x y = x y a o b", P,
         "the touch points x, y of the tangents from a to the circle centred o through b",
         "cong o x o b; perp a x o x; cong o y o b; perp a y o y", "a x, a y, o x, o y",
         "o: b x y"),
    _def("cc_tangent0", "x y = x y o a w b", P,
         "one common tangent xy of circles (o through a) and (w through b)",
         "cong o x o a; cong w y w b; perp x o x y; perp y w y x", "x y, o x, w y",
         "o: a x, w: b y"),
    _def("cc_tangent", "x y z i = x y z i o a w b", P,
         "the two external common tangents xy and zi of circles (o through a), (w through b)",
         "cong o x o a; cong w y w b; perp x o x y; perp y w y x; cong o z o a; cong w i w b;"
         " perp z o z i; perp i w i z", "x y, z i", "o: a x z, w: b y i"),
    _def("2l1c", "x y z i = x y z i a b c o", P,
         "circle centred i tangent to lines ac (at x), bc (at y) and internally to the circle "
         "centred o through a (at z)",
         "coll x a c; coll y b c; cong o a o z; coll i o z; cong i x i y; cong i y i z;"
         " perp i x a c; perp i y b c", "a x c, b y c, o i z", "o: a z, i: x y z"),
    _def("e5128", "x y = x y a b c d", P,
         "y the midpoint of ab, x the second intersection of line dy with circle (c through b)",
         "cong c b c x; coll y a b; coll x y d; eqangle a b a d x a x y", "a y b, d y x",
         "c: b d x"),
    # --- loci: lines -------------------------------------------------------------------------
    _def("on_line", "x = x a b", L, "x on the line ab", "coll x a b", "x a b"),
    _def("on_opline", "x = x a b", L, "x on the ray from a away from b", "coll x a b", "x a b"),
    _def("on_pline", "x = x a b c", L, "x on the line through a parallel to bc",
         "para x a b c", "x a, b c"),
    _def("on_tline", "x = x a b c", L, "x on the line through a perpendicular to bc",
         "perp x a b c", "x a, b c"),
    _def("on_bline", "x = x a b", L, "x on the perpendicular bisector of ab",
         "cong x a x b; eqangle a x a b b a b x", "a b, x a, x b"),
    _def("angle_bisector", "x = x a b c", L, "x on the internal bisector of angle abc",
         "eqangle b a b x b x b c", "b a, b c, b x"),
    _def("angle_mirror", "x = x a b c", L, "x on the mirror image of ray ba in line bc",
         "eqangle b a b c b c b x", "b a, b c, b x"),
    _def("on_aline", "x = x a b c d e", L,
         "x on the line through a with angle(ax, ab) = angle(dc, de)",
         "eqangle a x a b d c d e", "a x, a b, d c, d e"),
    _def("lc_tangent", "x = x a o", L,
         "x on the tangent at a to the circle centred o through a", "perp a x a o", "a x, a o",
         "o: a"),
    _def("s_angle", "x = a b x y", L,
         "x on the ray from b making the angle y (degrees) with ray ba",
         "aconst b a b x y", "b a, b x", numeric="y"),
    # --- loci: circles -----------------------------------------------------------------------
    _def("on_circle", "x = x o a", L, "x on the circle centred o through a", "cong o x o a",
         circles="o: a x"),
    _def("eqdistance", "x = x a b c", L, "x with ax = bc (circle centred a, radius bc)",
         "cong x a b c", "b c", "a: x"),
    _def("on_dia", "x = x a b", L, "x on the circle with diameter ab", "perp x a x b",
         "a b, x a, x b", ": a b x"),
    _def("on_circum", "x = x a b c", L, "x on the circle through a, b, c", "cyclic a b c x",
         circles=": a b c x"),
    _def("on_aline2", "x = x a b c d e", L,
         "x on the circle of points seeing ab at the angle cde: angle(xa, xb) = angle(dc, de)",
         "eqangle x a x b d c d e", "x a, x b, d c, d e", ": a b x"),
    _def("eqangle3", "x = x a b d e f", L,
         "x on the circle of points with angle(xa, xb) = angle(de, df)",
         "eqangle x a x b d e d f", "x a, x b, d e, d f", ": a b x"),
]

CONSTRUCTIONS: dict[str, ConstructionDef] = {d.name: d for d in _TABLE}
assert len(CONSTRUCTIONS) == len(_TABLE), "duplicate construction name"

GOALS: dict[str, GoalDef] = {
    g.name: g
    for g in [
        GoalDef("coll", 3, "the points are collinear", variadic=True),
        GoalDef("para", 4, "line p1p2 is parallel to line p3p4"),
        GoalDef("perp", 4, "line p1p2 is perpendicular to line p3p4"),
        GoalDef("cong", 4, "|p1p2| = |p3p4|"),
        GoalDef("cyclic", 4, "the points lie on one circle", variadic=True),
        GoalDef("eqangle", 8, "angle(p1p2, p3p4) = angle(p5p6, p7p8) (directed, mod pi)"),
        GoalDef("eqratio", 8, "|p1p2| / |p3p4| = |p5p6| / |p7p8|"),
        GoalDef("midp", 3, "p1 is the midpoint of p2p3"),
        GoalDef("simtri", 6, "triangles p1p2p3 and p4p5p6 are similar (either orientation)"),
        GoalDef("contri", 6, "triangles p1p2p3 and p4p5p6 are congruent (either orientation)"),
        GoalDef("aconst", 4,
                "angle(p1p2, p3p4) = value (directed, counterclockwise, mod pi); value is "
                "written as a fraction of pi ('2pi/3', 'pi/4') or degrees ('60o' or '60')",
                n_values=1, value_kind="angle"),
        GoalDef("rconst", 4, "|p1p2| / |p3p4| = value; value is 'p/q' or a decimal",
                n_values=1),
        # AlphaGeometry2's "find" goals (arXiv 2502.03544, Section 2): the answer is a value
        GoalDef("acompute", 4, "find the directed angle from line p1p2 to line p3p4 (mod pi)"),
        GoalDef("rcompute", 4, "find the ratio |p1p2| / |p3p4|"),
        # AlphaGeometry2's linear equation of directed angles (arXiv 2502.03544, Section 2), in
        # this book's spelling (the paper's argument order was not checked against its table)
        GoalDef("angeq", 4,
                "t1 * angle(a1b1, c1d1) + ... + tn * angle(anbn, cndn) + value = 0 (directed, "
                "mod pi), written 'angeq a1 b1 c1 d1 ... an bn cn dn t1 ... tn value': n groups "
                "of four points, n non-zero integer coefficients, and value as for aconst",
                n_values=1, value_kind="angle", per_group=1),
        # AlphaGeometry2's linear equations of distances and of log-distances (arXiv
        # 2502.03544, Section 2), in this book's spelling (argument order as for angeq)
        GoalDef("distseq", 2,
                "t1 * |a1b1| + ... + tn * |anbn| = 0, written 'distseq a1 b1 ... an bn t1 ... "
                "tn': n segments, then n non-zero rational coefficients ('2', '-1', '1/2')",
                per_group=1, coeff_kind="rational"),
        GoalDef("distmeq", 2,
                "t1 * log|a1b1| + ... + tn * log|anbn| = log value, i.e. |a1b1|^t1 * ... * "
                "|anbn|^tn = value, written 'distmeq a1 b1 ... an bn t1 ... tn value': n "
                "segments, n non-zero integer exponents, and a positive rational value",
                n_values=1, per_group=1),
    ]
}
