"""A deduction engine core for the problem language: deductive rules (DD) + algebra (AR).

This is the symbolic half of an AlphaGeometry-style prover (Trinh et al., 2024; AlphaGeometry2,
arXiv 2502.03544), written from the rule semantics, not from either code base:

* :class:`Fact` — a canonical, hashable predicate (``coll``, ``para``, ``perp``, ``cong``,
  ``cyclic``, ``eqangle``, ``eqratio``, ``midp``): every spelling of the same statement is one
  key (``para a b c d == para d c b a``; ``coll`` and ``cyclic`` are point sets).
* :func:`premises` — the construction properties of a problem (from
  :data:`~readingroom.geometry.definitions.CONSTRUCTIONS`), checked on a numeric diagram.
* :class:`LinearSystem` — exact (``Fraction``) Gaussian elimination that remembers which input
  equations every row combines. Angle chasing runs it over line directions in R/piZ (units of
  pi, a constant column taken mod 1, integer row operations only so that "mod 1" stays sound);
  ratio chasing over log-lengths of segments.
* the DD rules (:data:`RULES`), matched through indexes (points by line, equal-distance groups
  by centre, angles by their normal form) rather than by enumerating all tuples of points.
* :func:`solve` — the saturation loop; :func:`format_proof` — the traced-back, numbered proof.

Every derived fact is checked numerically on the diagram before it is kept; a fact that fails
is discarded and counted (``Result.discarded``), which would signal a rule-matching bug.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from math import atan2, gcd, pi

from readingroom.geometry.definitions import CONSTRUCTIONS
from readingroom.geometry.language import GeometryInputError, Goal, Problem, parse_problem
from readingroom.geometry.numeric import Diagram, goal_residual
from readingroom.geometry.optimize import make_diagram

__all__ = [
    "FACT_NAMES",
    "Fact",
    "LinearSystem",
    "RULES",
    "Result",
    "fact",
    "format_proof", "proof_holds",
    "premises",
    "solve",
]

FACT_NAMES = ("coll", "para", "perp", "cong", "cyclic", "eqangle", "eqratio", "midp")
GOAL_NAMES = FACT_NAMES + ("simtri",)
HALF = Fraction(1, 2)

# --- facts ---------------------------------------------------------------------------------

# the symmetries of  x1 - x2 - x3 + x4 = 0  (eqangle, eqratio): swap the sides, negate both,
# exchange the middle terms
_QUAD_PERMS = ((0, 1, 2, 3), (2, 3, 0, 1), (1, 0, 3, 2), (3, 2, 1, 0),
               (0, 2, 1, 3), (2, 0, 3, 1), (1, 3, 0, 2), (3, 1, 2, 0))


def _seg(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True, order=True)
class Fact:
    """A canonical predicate; build it with :func:`fact`, which normalises the arguments."""

    name: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return " ".join((self.name, *self.args))

    @property
    def trivial(self) -> bool:
        """True for statements that hold by their spelling alone (``para a b a b``)."""
        a = self.args
        if self.name in ("coll",):
            return len(a) < 3
        if self.name == "cyclic":
            return len(a) < 4
        if self.name in ("para", "cong"):
            return a[:2] == a[2:]
        if self.name in ("eqangle", "eqratio"):
            s = [a[i:i + 2] for i in (0, 2, 4, 6)]
            return (s[0] == s[1] and s[2] == s[3]) or (s[0] == s[2] and s[1] == s[3])
        return False

    def holds(self, diagram: Diagram, tol: float = 1e-7) -> bool:
        """Whether the fact holds numerically on ``diagram``."""
        return bool(goal_residual(self.name, diagram.coords(self.args)) <= tol)


def fact(name: str, *args: str) -> Fact:
    """The canonical :class:`Fact` for ``name args``; raises :class:`GeometryInputError` on a
    wrong predicate name, argument count, or a zero-length segment."""
    if len(args) == 1 and not isinstance(args[0], str):
        args = tuple(args[0])
    if name not in FACT_NAMES:
        raise GeometryInputError(f"fact: unknown predicate {name!r} (known: "
                                 f"{', '.join(FACT_NAMES)})")
    if not all(isinstance(a, str) and a for a in args):
        raise GeometryInputError(f"fact {name}: arguments must be point names, got {args!r}")
    want = {"para": 4, "perp": 4, "cong": 4, "eqangle": 8, "eqratio": 8, "midp": 3}.get(name)
    if want is not None and len(args) != want:
        raise GeometryInputError(f"fact {name}: takes {want} points, got {len(args)}")
    if name in ("coll", "cyclic"):
        if len(args) < (3 if name == "coll" else 4):
            raise GeometryInputError(f"fact {name}: too few points {args!r}")
        return Fact(name, tuple(sorted(set(args))))
    if name == "midp":
        m, a, b = args
        if a == b:
            raise GeometryInputError(f"fact midp {' '.join(args)}: equal endpoints")
        return Fact(name, (m, *_seg(a, b)))
    segs = [_seg(args[i], args[i + 1]) for i in range(0, len(args), 2)]
    if any(s[0] == s[1] for s in segs):
        raise GeometryInputError(f"fact {name} {' '.join(args)}: a segment of zero length")
    if len(segs) == 2:
        best = min((segs[0], segs[1]), (segs[1], segs[0]))
    else:
        best = min(tuple(segs[i] for i in p) for p in _QUAD_PERMS)
    return Fact(name, tuple(p for s in best for p in s))


# --- exact linear algebra with provenance ---------------------------------------------------


def _subtract(e: dict, c, row: dict) -> None:
    """``e -= c * row`` in place, over sparse coefficient dicts (zero entries removed)."""
    for w, cw in row.items():
        x = e.get(w, 0) - c * cw
        if x:
            e[w] = x
        else:
            e.pop(w, None)


class LinearSystem:
    """Equations ``sum(c_v * v) = k`` over exact fractions, kept in reduced row echelon form.

    ``modulus=1`` makes constants live in R/Z (angles in units of pi); then only integer
    coefficients are accepted and only integer row operations are used (pivots are variables
    with coefficient +-1), which keeps "mod 1" sound; rows without such a pivot wait in
    ``stuck`` and are retried when a pivot is added. Every row carries ``prov``: the set of
    input tags it was combined from.
    """

    def __init__(self, modulus: Fraction | int | None = None, resolve=None):
        self.modulus = None if modulus is None else Fraction(modulus)
        self.rows: dict = {}  # pivot var -> (coeffs, const, prov)
        self.stuck: list = []
        self.n_added = 0
        self.resolve = resolve
        self.resolved = 0

    def _mod(self, k: Fraction) -> Fraction:
        return k % self.modulus if self.modulus is not None else k

    def reduce(self, coeffs: dict, const=0):
        """``(coeffs', const', prov)``: the expression with every pivot eliminated;
        ``sum(coeffs*v) = sum(coeffs'*v) + (const' - const)`` holds given the rows in prov."""
        e = {v: Fraction(c) for v, c in coeffs.items() if c}
        k = Fraction(const)
        prov: set = set()
        for v in [v for v in e if v in self.rows]:
            c = e.get(v, 0)
            if not c:
                continue
            rc, rk, rp = self.rows[v]
            _subtract(e, c, rc)
            k -= c * rk
            prov |= rp
        return e, self._mod(k), frozenset(prov)

    def add(self, coeffs: dict, const=0, tag=None, prov: frozenset | None = None) -> bool:
        """Add ``sum(coeffs*v) = const``; returns whether it was new (not implied)."""
        if self.modulus is not None and any(Fraction(c).denominator != 1
                                            for c in coeffs.values()):
            raise ValueError("modular systems take integer coefficients only")
        base = frozenset(prov or ()) | ({tag} if tag is not None else frozenset())
        e, k, p = self.reduce(coeffs, const)
        if not e:
            return False
        p = p | base
        self.n_added += 1
        units = [v for v, c in e.items() if abs(c) == 1] if self.modulus is not None else list(e)
        if not units and (split := self._split(e, k)) is not None:
            e, k = split
            self.resolved += 1
            units = [v for v, c in e.items() if abs(c) == 1]
        if not units:
            self.stuck.append((e, k, p))
            return True
        piv = max(units, key=repr)
        c = e[piv]
        e = {v: x / c for v, x in e.items()}
        k = self._mod(k / c)
        for v, (rc, rk, rp) in list(self.rows.items()):
            f = rc.get(piv, 0)
            if f:
                nc = dict(rc)
                _subtract(nc, f, e)
                self.rows[v] = (nc, self._mod(rk - f * k), rp | p)
        self.rows[piv] = (e, k, p)
        stuck, self.stuck = self.stuck, []
        for se, sk, sp in stuck:
            self.add(se, sk, prov=sp)
        return True

    def _split(self, e: dict, k: Fraction):
        """``g * X = k (mod 1)`` with ``g`` the gcd of the integer coefficients has ``g``
        solutions ``X = (k + j) / g``; ``resolve(X's coefficients)`` (the numeric value of X on
        the diagram, mod 1) picks the one that holds — the way a directed-angle chase reads
        which of two angles differing by a right angle the figure shows. None when there is
        no resolver, g is 1, or no solution matches the diagram."""
        if self.resolve is None or self.modulus is None:
            return None
        g = 0
        for c in e.values():
            g = gcd(g, int(c))
        if g <= 1:
            return None
        x = {v: c / g for v, c in e.items()}
        value = self.resolve(x)
        if value is None:
            return None
        for j in range(g):
            cand = ((k + j) / g) % 1
            diff = (float(cand) - value) % 1.0
            if min(diff, 1.0 - diff) < 1e-6:
                return x, cand
        return None

    def implies(self, coeffs: dict, const=0) -> frozenset | None:
        """The provenance of ``sum(coeffs*v) = const`` if the system implies it, else None."""
        e, k, p = self.reduce(coeffs, const)
        if not e:
            return p if k == 0 else None
        for se, sk, sp in self.stuck:  # an integer multiple of one row without a unit pivot
            if set(se) != set(e):
                continue
            v = next(iter(e))
            m = e[v] / se[v]
            if m.denominator == 1 and all(e[w] == m * se[w] for w in e) and \
                    self._mod(k - m * sk) == 0:
                return p | sp
        return None

    def normal_form(self, coeffs: dict):
        """A hashable normal form ``(free part, constant)`` of the expression's value:
        two expressions with equal free parts differ by the difference of their constants."""
        e, k, p = self.reduce(coeffs, 0)
        return tuple(sorted(e.items(), key=lambda t: repr(t[0]))), self._mod(-k), p


# --- premises from a problem ------------------------------------------------------------------


def premises(problem: Problem, diagram: Diagram, tol: float = 1e-7):
    """The construction properties of ``problem`` as facts.

    Returns ``(facts, warnings)``: ``facts`` is a list of ``(Fact, clause text)``, each checked
    numerically on ``diagram``; ``warnings`` lists properties dropped because they failed
    numerically or use a predicate the engine does not reason with (``aconst``, ``rconst``).
    """
    out: list[tuple[Fact, str]] = []
    warnings: list[str] = []
    seen: set[Fact] = set()
    for clause in problem.clauses:
        for c in clause.constructions:
            cdef = CONSTRUCTIONS[c.name]
            bind = dict(zip(cdef.args, c.args))
            for pname, pargs in cdef.properties:
                args = tuple(bind.get(a, a) for a in pargs)
                if pname not in FACT_NAMES:
                    warnings.append(f"{c}: property {pname} {' '.join(args)} is not used "
                                    "(predicate not supported by the engine)")
                    continue
                try:
                    f = fact(pname, *args)
                except GeometryInputError as e:
                    warnings.append(f"{c}: property {pname} {' '.join(args)} dropped ({e})")
                    continue
                if f.trivial or f in seen:
                    continue
                if not f.holds(diagram, tol):
                    warnings.append(f"{c}: property {f} fails numerically; dropped")
                    continue
                seen.add(f)
                out.append((f, str(c)))
    return out, warnings


# --- the engine -------------------------------------------------------------------------------


@dataclass
class Result:
    """The outcome of :func:`solve`. ``proof`` is the numbered proof text (None if unsolved);
    ``steps`` the facts of the proof in order; ``discarded`` the derived facts that failed
    numerically (should be 0); ``warnings`` the construction properties dropped."""

    solved: bool
    facts: int
    rounds: int
    seconds: float
    proof: list[str] | None
    goal: Fact | None = None
    steps: list[Fact] = field(default_factory=list)
    discarded: int = 0
    warnings: list[str] = field(default_factory=list)
    stop: str = ""
    #: every fact the run holds (premises, lemmas and derived facts) -> (reason, premises)
    why: dict = field(default_factory=dict, repr=False, compare=False)

    def proof_of(self, f: Fact) -> list[str]:
        """The numbered proof of any fact this run holds (not only the goal)."""
        if f not in self.why:
            raise KeyError(f"{f} is not among this run's facts")
        return _proof_lines(self.why, _trace(self.why, f))


class _Timeout(Exception):
    pass


def _negate_angle(key):
    """The normal form of the opposite directed angle (every coefficient and the constant negated,
    the constant mod 1): the key under which a mirror-image triangle's angles are indexed."""
    free, const = key
    return tuple((v, -c) for v, c in free), (-const) % 1


def _new_pairs(done: set, t, others):
    """The triangles of ``others`` to match with triangle ``t`` (vertex by vertex): not the same
    three points, and not already matched with it in either direction (``done`` remembers)."""
    x, y, z = t
    for p, q, r in others:
        if {x, y, z} == {p, q, r}:
            continue
        key = frozenset(((x, p), (y, q), (z, r)))
        if key in done:
            continue
        done.add(key)
        yield p, q, r


def _direction_sum(diagram: Diagram, coeffs: dict, points_of) -> float | None:
    """``sum(c * direction(line))`` on ``diagram`` in units of pi, mod 1; ``points_of(line)``
    gives two points of a line. None for a non-integer coefficient."""
    total = 0.0
    for li, c in coeffs.items():
        if Fraction(c).denominator != 1:
            return None
        a, b = points_of(li)
        pa, pb = diagram.coords((a, b))
        total += int(c) * (atan2(pb[1] - pa[1], pb[0] - pa[0]) / pi)
    return total % 1.0


def _merge_groups(facts, name: str, shared: int) -> list[tuple[set, set]]:
    """Point sets of the ``name`` facts (coll or cyclic), merged while two sets share at least
    ``shared`` points (two points fix a line, three a circle), each with the facts it came from."""
    groups: list[tuple[set, set]] = []
    for f in facts:
        if f.name != name:
            continue
        pts, sup = set(f.args), {f}
        merged = True
        while merged:
            merged = False
            for g in groups:
                if len(g[0] & pts) >= shared:
                    pts |= g[0]
                    sup |= g[1]
                    groups.remove(g)
                    merged = True
                    break
        groups.append((pts, sup))
    return groups


class _Engine:
    def __init__(self, problem: Problem, diagram: Diagram, deadline: float, tol: float,
                 split_angles: bool = True):
        self.split_angles = split_angles
        self.problem = problem
        self.diagram = diagram
        self.deadline = deadline
        self.tol = tol
        self.why: dict[Fact, tuple[str, tuple[Fact, ...]]] = {}
        self.order: dict[Fact, int] = {}
        self.discarded: list[tuple[Fact, str]] = []
        self.points = list(problem.points)
        self.new_count = 0
        self._ncl: dict = {}

    # bookkeeping
    def tick(self):
        if time.monotonic() > self.deadline:
            raise _Timeout

    def add(self, f: Fact | None, reason: str, prem=()) -> bool:
        if f is None or f.trivial or f in self.why or any(p is None for p in prem):
            return False
        if not f.holds(self.diagram, self.tol):
            self.discarded.append((f, reason))
            return False
        prem = tuple(sorted({p for p in prem if p != f}, key=lambda p: self.order[p]))
        self.why[f] = (reason, prem)
        self.order[f] = len(self.order)
        self.new_count += 1
        return True

    def try_fact(self, name, *args) -> Fact | None:
        try:
            f = fact(name, *args)
        except GeometryInputError:
            return None
        return None if f.trivial else f

    # structures rebuilt every round
    def build(self):
        self.tick()
        # lines: coll facts merged when they share two points
        groups = _merge_groups(self.why, "coll", 2)
        self.line_pts: list[frozenset] = [frozenset(g[0]) for g in groups]
        self.line_sup: list[frozenset] = [frozenset(g[1]) for g in groups]
        self.line_of: dict[tuple[str, str], int] = {}
        for i, pts in enumerate(self.line_pts):
            for a, b in itertools.combinations(sorted(pts), 2):
                self.line_of[(a, b)] = i
        for a, b in itertools.combinations(sorted(self.points), 2):
            if (a, b) not in self.line_of:
                self.line_of[(a, b)] = len(self.line_pts)
                self.line_pts.append(frozenset((a, b)))
                self.line_sup.append(frozenset())
        self.lines_through: dict[str, list[int]] = defaultdict(list)
        for i, pts in enumerate(self.line_pts):
            for p in pts:
                self.lines_through[p].append(i)
        # circles: cyclic facts merged when they share three points
        cgroups = _merge_groups(self.why, "cyclic", 3)
        self.circles = [(frozenset(p), frozenset(s)) for p, s in cgroups]
        # the two linear systems
        self.angles = LinearSystem(modulus=1,
                                   resolve=self.angle_value if self.split_angles else None)
        self.ratios = LinearSystem()
        for f in self.why:
            if f.name in ("para", "perp", "eqangle"):
                e, k, sup = self.angle_eq(f)
                self.angles.add(e, k, tag=f, prov=sup)
            elif f.name in ("cong", "eqratio", "midp"):
                self.ratios.add(self.ratio_eq(f), 0, tag=f)
        self.build_lengths()
        self.tick()
        self._anf: dict = {}
        self._rnf: dict = {}

    def build_lengths(self):
        """The third linear system: lengths of segments. ``cong`` and ``midp`` facts, and on
        every line of three or more points ``|ac| = |ab| + |bc|`` for ``b`` between ``a`` and
        ``c``, the order along the line read off the diagram (as AlphaGeometry reads sides and
        orders numerically)."""
        self.lengths = LinearSystem()
        for f in self.why:
            a = f.args
            if f.name == "cong":
                self.lengths.add({_seg(a[0], a[1]): 1, _seg(a[2], a[3]): -1}, tag=f)
            elif f.name == "midp":
                am, mb = _seg(a[0], a[1]), _seg(a[0], a[2])
                self.lengths.add({am: 1, mb: -1}, tag=f)
                self.lengths.add({am: 1, mb: 1, _seg(a[1], a[2]): -1}, tag=f)
        for pts, sup in zip(self.line_pts, self.line_sup):
            if len(pts) < 3:
                continue
            names = sorted(pts)
            xy = self.diagram.coords(names)
            u = xy[1] - xy[0]
            order = [n for _, n in sorted(zip((float((p - xy[0]) @ u) for p in xy), names))]
            for i, j in itertools.combinations(range(len(order)), 2):
                if j > i + 1:
                    a, b, c = order[i], order[j - 1], order[j]
                    self.lengths.add({_seg(a, c): 1, _seg(a, b): -1, _seg(b, c): -1},
                                     prov=frozenset(sup))
        self._lnf: dict = {}

    def ar_length(self, f: Fact | None) -> tuple[Fact, tuple] | None:
        """``f`` (a cong) if the length system implies it, with the premises combined."""
        if f is None or f.trivial or f.name != "cong":
            return None
        if f in self.why:
            return f, ()
        a = f.args
        p = self.lengths.implies({_seg(a[0], a[1]): 1, _seg(a[2], a[3]): -1}, 0)
        return None if p is None else (f, tuple(p))

    def rule_lengths(self):
        """Segments of equal length in the length system (sums along lines, midpoints and
        congruences) that the log-length system does not yet know to be equal: cong."""
        byl = defaultdict(list)
        for a, b in itertools.combinations(sorted(self.points), 2):
            nf = self.lengths.normal_form({(a, b): 1})
            if nf[0]:
                byl[nf[0]].append((a, b))
        for segs in byl.values():
            for s1, s2 in itertools.combinations(segs, 2):
                if self.seg_nf(s1) == self.seg_nf(s2):
                    continue
                f = self.try_fact("cong", *s1, *s2)
                if f is not None:
                    self.derive(self.ar_length(f), "AR length chase")
        self.tick()

    def harvest(self, points) -> None:
        """Make explicit what the algebra knows about ``points`` (para, perp and cong between
        their segments), as derived facts with their premises: the AR consequences a run holds
        only implicitly, so that they can be shared as lemmas."""
        pts = sorted(set(points) & set(self.points))
        lines = sorted({self.L(a, b) for a, b in itertools.combinations(pts, 2)})
        bydir = defaultdict(list)
        for li in lines:
            nf = self.angles.normal_form({li: 1})
            bydir[nf[0]].append((nf[1], li))
        for group in bydir.values():
            for (k1, l1), (k2, l2) in itertools.combinations(group, 2):
                if (k1 - k2) % 1 not in (0, HALF):
                    continue
                name = "para" if (k1 - k2) % 1 == 0 else "perp"
                a, b = sorted(self.line_pts[l1] & set(pts))[:2]
                c, d = sorted(self.line_pts[l2] & set(pts))[:2]
                self.derive(self.ar_angle(self.try_fact(name, a, b, c, d)), "AR angle chase")
            self.tick()
        bylen = defaultdict(list)
        for seg in itertools.combinations(pts, 2):
            bylen[self.seg_nf(seg)].append(seg)
        for segs in bylen.values():
            for s1, s2 in zip(segs, segs[1:]):
                self.derive(self.ar_ratio(self.try_fact("cong", *s1, *s2)), "AR ratio chase")
        self.tick()

    def local_ar(self, f: Fact, premises) -> bool:
        """Whether ``premises`` alone imply ``f`` through the angle chase (``f`` a para, perp or
        eqangle) or the ratio chase (a cong or eqratio): the ``coll`` premises define the
        lines, the other premises are the equations."""
        angle = f.name in ("para", "perp", "eqangle")
        groups = [pts for pts, _ in _merge_groups([p for p in premises if p.name == "coll"],
                                                  "coll", 2)]

        def line(a, b):
            for i, pts in enumerate(groups):
                if a in pts and b in pts:
                    return i
            return _seg(a, b)

        def equation(g):
            if not angle:
                return self.ratio_eq(g), 0
            a = g.args
            ls = [line(a[i], a[i + 1]) for i in range(0, len(a), 2)]
            e: dict = defaultdict(int)
            if g.name in ("para", "perp"):
                e[ls[0]] += 1
                e[ls[1]] -= 1
                return dict(e), (HALF if g.name == "perp" else Fraction(0))
            for li, sgn in zip(ls, (1, -1, -1, 1)):
                e[li] += sgn
            return dict(e), Fraction(0)

        def value(coeffs):  # the diagram's value of a combination of these lines
            return _direction_sum(self.diagram, coeffs, lambda li: (
                sorted(groups[li])[:2] if isinstance(li, int) else li))

        kinds = ("para", "perp", "eqangle") if angle else ("cong", "eqratio", "midp")
        ls = (LinearSystem(modulus=1, resolve=value if self.split_angles else None)
              if angle else LinearSystem())
        for g in premises:
            if g.name in kinds:
                ls.add(*equation(g), tag=g)
        return ls.implies(*equation(f)) is not None

    def minimise(self, f: Fact) -> None:
        """Drop premises an AR step of ``f`` does not need: each equation among its premises is
        removed in turn and kept out if the rest still imply ``f`` (:meth:`local_ar`: the lines
        are those the step's own ``coll`` premises define, not the run's final lines, which
        later facts may have merged; those premises are all kept). Greedy, so the result is
        minimal — no single equation can be dropped — though not necessarily the smallest."""
        reason, prem = self.why[f]
        angle = reason == "AR angle chase" and f.name in ("para", "perp", "eqangle")
        ratio = reason == "AR ratio chase" and f.name in ("cong", "eqratio")
        if not (angle or ratio):
            return
        kinds = ("para", "perp", "eqangle") if angle else ("cong", "eqratio", "midp")
        colls = [p for p in prem if p.name == "coll"]
        eqs = [p for p in prem if p.name in kinds]
        if not self.local_ar(f, colls + eqs):  # not reproducible locally: leave it as it is
            return
        for g in list(eqs):
            trial = [x for x in eqs if x != g]
            if self.local_ar(f, colls + trial):
                eqs = trial
        keep = set(eqs)
        self.why[f] = (reason, tuple(p for p in prem if p in keep or p.name == "coll"))

    def angle_value(self, coeffs: dict) -> float | None:
        """The value of ``sum(c * direction(line))`` on the diagram, in units of pi, mod 1."""
        return _direction_sum(self.diagram, coeffs, lambda li: sorted(self.line_pts[li])[:2])

    def L(self, a, b) -> int:
        return self.line_of[_seg(a, b)]

    def angle_eq(self, f: Fact):
        a = f.args
        ls = [self.L(a[i], a[i + 1]) for i in range(0, len(a), 2)]
        e: dict = defaultdict(int)
        if f.name in ("para", "perp"):
            e[ls[0]] += 1
            e[ls[1]] -= 1
            k = HALF if f.name == "perp" else Fraction(0)
        else:
            for li, s in zip(ls, (1, -1, -1, 1)):
                e[li] += s
            k = Fraction(0)
        sup = frozenset().union(*(self.line_sup[i] for i in ls))
        return dict(e), k, sup

    def ratio_eq(self, f: Fact) -> dict:
        a = f.args
        e: dict = defaultdict(int)
        if f.name == "midp":
            e[_seg(a[0], a[1])] += 1
            e[_seg(a[0], a[2])] -= 1
        else:
            segs = [_seg(a[i], a[i + 1]) for i in range(0, len(a), 2)]
            for s, c in zip(segs, (1, -1) if len(segs) == 2 else (1, -1, -1, 1)):
                e[s] += c
        return dict(e)

    # derivations through AR: the target fact with the premises the algebra combined
    def ar_angle(self, f: Fact | None) -> tuple[Fact, tuple] | None:
        if f is None or f.trivial:
            return None
        if f in self.why:
            return f, ()
        e, k, sup = self.angle_eq(f)
        p = self.angles.implies(e, k)
        if p is None:
            return None
        return f, tuple(p | sup)

    def ar_ratio(self, f: Fact | None) -> tuple[Fact, tuple] | None:
        if f is None or f.trivial:
            return None
        if f in self.why:
            return f, ()
        p = self.ratios.implies(self.ratio_eq(f), 0)
        return None if p is None else (f, tuple(p))

    def derive(self, got, reason) -> Fact | None:
        """Record an AR-derived fact (if new) and return it."""
        if got is None:
            return None
        f, prem = got
        if f not in self.why and not self.add(f, reason, prem):
            return None
        return f

    def angle_nf(self, l1: int, l2: int):
        """Normal form of d(l1) - d(l2)."""
        key = (l1, l2)
        if key not in self._anf:
            nf = self.angles.normal_form({l1: 1, l2: -1} if l1 != l2 else {})
            self._anf[key] = (nf[0], nf[1])
        return self._anf[key]

    def seg_nf(self, s: tuple[str, str]):
        if s not in self._rnf:
            nf = self.ratios.normal_form({s: 1})
            self._rnf[s] = (nf[0], nf[1])
        return self._rnf[s]

    # --- goal ------------------------------------------------------------------------------
    def prove_goal(self, goal: Goal) -> Fact | None:
        n, a = goal.name, goal.args
        if n in FACT_NAMES:
            try:
                f0 = fact(n, *a)
            except GeometryInputError:
                f0 = None
            if f0 is not None and f0.trivial:
                if f0 not in self.why:
                    self.why[f0] = ("trivial: holds by its spelling", ())
                    self.order[f0] = len(self.order)
                return f0
        if n in ("para", "perp", "eqangle"):
            return self.derive(self.ar_angle(self.try_fact(n, *a)), "AR angle chase")
        if n in ("cong", "eqratio"):
            f = self.try_fact(n, *a)
            return (self.derive(self.ar_ratio(f), "AR ratio chase")
                    or self.derive(self.ar_length(f), "AR length chase"))
        if n == "coll":
            f = self.try_fact(n, *a)
            if f is None:
                return None
            for pts, sup in zip(self.line_pts, self.line_sup):
                if set(f.args) <= pts:
                    return f if f in self.why else (f if self.add(f, "lines", sup) else None)
            return None
        if n == "cyclic":
            f = self.try_fact(n, *a)
            if f is None:
                return None
            for pts, sup in self.circles:
                if set(f.args) <= pts:
                    return f if f in self.why else (f if self.add(f, "circle", sup) else None)
            return None
        if n == "midp":
            f = self.try_fact(n, *a)
            if f in self.why:
                return f
            m, x, y = a
            c = self.prove_goal(Goal("coll", (m, x, y)))
            g = self.derive(self.ar_ratio(self.try_fact("cong", m, x, m, y)), "AR ratio chase")
            if c is not None and g is not None and self.add(f, "midpoint", (c, g)):
                return f
            return None
        if n == "simtri":
            a1, b1, c1, a2, b2, c2 = a
            for sign in (1, -1):
                if sign == 1:
                    e1 = self.try_fact("eqangle", a1, b1, a1, c1, a2, b2, a2, c2)
                    e2 = self.try_fact("eqangle", b1, c1, b1, a1, b2, c2, b2, a2)
                else:
                    e1 = self.try_fact("eqangle", a1, b1, a1, c1, a2, c2, a2, b2)
                    e2 = self.try_fact("eqangle", b1, c1, b1, a1, b2, a2, b2, c2)
                g1, g2 = self.ar_angle(e1), self.ar_angle(e2)
                if g1 and g2:
                    f1 = self.derive(g1, "AR angle chase")
                    f2 = self.derive(g2, "AR angle chase")
                    st = Fact("simtri", tuple(a))
                    if f1 is not None and f2 is not None and (
                            st in self.why or self.add(st, "similar triangles", (f1, f2))):
                        return st
            return None
        raise GeometryInputError(f"goal {goal}: predicate {n!r} is not supported by the "
                                 f"deduction engine (supported: {', '.join(GOAL_NAMES)})")

    # --- DD rules --------------------------------------------------------------------------
    def noncoll(self, a, b, c) -> bool:
        """Not collinear, symbolically (different lines) and numerically (non-degeneracy)."""
        if self.L(a, b) == self.L(a, c):
            return False
        key = frozenset((a, b, c))
        if key not in self._ncl:
            self._ncl[key] = goal_residual("coll", self.diagram.coords((a, b, c))) > 1e-6
        return self._ncl[key]

    def rule_para_coll(self):
        """Two lines through one point with the same direction are one line: coll."""
        for p in self.points:
            byd = defaultdict(list)
            for li in self.lines_through[p]:
                nf = self.angles.normal_form({li: 1})
                byd[(nf[0], nf[1])].append(li)
            for ls in byd.values():
                for l1, l2 in itertools.combinations(ls, 2):
                    q = min(self.line_pts[l1] - {p})
                    r = min(self.line_pts[l2] - {p})
                    par = self.derive(self.ar_angle(self.try_fact("para", p, q, p, r)),
                                      "AR angle chase")
                    if par is not None:
                        self.add(self.try_fact("coll", p, q, r), "parallel lines through a point",
                                 (par,))
        self.tick()

    def equidistant(self):
        """centre -> groups of points at equal distance from it (ratio normal forms)."""
        out = {}
        for o in self.points:
            byd = defaultdict(list)
            for x in self.points:
                if x != o:
                    byd[self.seg_nf(_seg(o, x))].append(x)
            out[o] = [g for g in byd.values() if len(g) >= 2]
        return out

    def cong(self, a, b, c, d) -> Fact | None:
        return self.derive(self.ar_ratio(self.try_fact("cong", a, b, c, d)), "AR ratio chase")

    def rules_distance(self):
        eq = self.equidistant()
        centres_of = defaultdict(list)  # (a, b) -> centres x with xa = xb
        for o, groups in eq.items():
            for g in groups:
                g = sorted(g)
                for a, b in itertools.combinations(g, 2):
                    centres_of[(a, b)].append(o)
                # centre of a circle: four equidistant points are concyclic
                if len(g) >= 4:
                    known = any(set(g) <= pts for pts, _ in self.circles)
                    if not known:
                        prem = [self.cong(o, g[0], o, x) for x in g[1:]]
                        if all(prem):
                            self.add(self.try_fact("cyclic", *g), "centre equidistant", prem)
                for a, b in itertools.combinations(g, 2):
                    # isosceles triangle: base angles
                    if self.noncoll(o, a, b):
                        got = self.ar_angle(self.try_fact("eqangle", a, o, a, b, b, a, b, o))
                        if got is None:
                            c = self.cong(o, a, o, b)
                            self.add(self.try_fact("eqangle", a, o, a, b, b, a, b, o),
                                     "isosceles base angles", (c,))
                    # thales: the centre on the chord ab -> ab is a diameter
                    elif self.L(o, a) == self.L(o, b):
                        for c in g:
                            if c not in (a, b):
                                f = self.try_fact("perp", c, a, c, b)
                                if f is not None and f not in self.why:
                                    ca, cb = self.cong(o, a, o, b), self.cong(o, a, o, c)
                                    self.add(f, "thales (diameter)",
                                             (ca, cb, *self.line_sup[self.L(a, b)]))
                self.tick()
        # perpendicular bisector: two centres of the same pair
        for (a, b), cs in centres_of.items():
            for x, y in itertools.combinations(cs, 2):
                f = self.try_fact("perp", x, y, a, b)
                if f is not None and self.ar_angle(f) is None:
                    self.add(f, "perpendicular bisector", (self.cong(x, a, x, b),
                                                           self.cong(y, a, y, b)))
            # midpoint: a centre on the line ab
            for x in cs:
                if self.L(x, a) == self.L(a, b):
                    f = self.try_fact("midp", x, a, b)
                    if f is not None and f not in self.why:
                        self.add(f, "midpoint (coll + cong)",
                                 (*self.line_sup[self.L(a, b)], self.cong(x, a, x, b)))
        self.tick()

    def rule_isosceles_converse(self):
        """eqangle a o a b b a b o (base angles equal) => cong o a o b."""
        for a, b in itertools.combinations(self.points, 2):
            lab = self.L(a, b)
            for o in self.points:
                if o in (a, b) or not self.noncoll(o, a, b):
                    continue
                # d(ao) - d(ab) = d(ba) - d(bo)  <=>  d(ao) + d(bo) - 2 d(ab) = 0
                nf = self.angles.normal_form({self.L(a, o): 1, self.L(b, o): 1, lab: -2})
                if not nf[0] and nf[1] == 0:
                    f = self.try_fact("cong", o, a, o, b)
                    if f is not None and self.ar_ratio(f) is None:
                        e = self.derive(self.ar_angle(self.try_fact(
                            "eqangle", a, o, a, b, b, a, b, o)), "AR angle chase")
                        if e is not None:
                            self.add(f, "isosceles (equal base angles)", (e,))
        self.tick()

    def rule_midline(self):
        mids = [f for f in self.why if f.name == "midp"]
        for f, g in itertools.combinations(mids, 2):
            m, *ab = f.args
            n, *cd = g.args
            common = set(ab) & set(cd)
            if len(common) != 1 or m == n:
                continue
            a = common.pop()
            b = ab[0] if ab[1] == a else ab[1]
            c = cd[0] if cd[1] == a else cd[1]
            h = self.try_fact("para", m, n, b, c)
            if h is not None and self.ar_angle(h) is None:
                self.add(h, "midline", (f, g))
        self.tick()

    def rules_circle(self):
        # converse: points seeing a segment under the same directed angle are concyclic
        for a, b in itertools.combinations(self.points, 2):
            byk = defaultdict(list)
            for c in self.points:
                if c in (a, b) or not self.noncoll(c, a, b):
                    continue
                byk[self.angle_nf(self.L(c, a), self.L(c, b))].append(c)
            for cs in byk.values():
                for c, d in itertools.combinations(cs, 2):
                    if any({a, b, c, d} <= pts for pts, _ in self.circles):
                        continue
                    e = self.derive(self.ar_angle(self.try_fact(
                        "eqangle", c, a, c, b, d, a, d, b)), "AR angle chase")
                    if e is not None:
                        self.add(self.try_fact("cyclic", a, b, c, d), "equal angles on a chord",
                                 (e,))
            self.tick()
        # inscribed angles on the same chord are equal
        for pts, sup in self.circles:
            for a, b in itertools.combinations(sorted(pts), 2):
                for c, d in itertools.combinations(sorted(pts - {a, b}), 2):
                    f = self.try_fact("eqangle", c, a, c, b, d, a, d, b)
                    if f is not None and f not in self.why and self.ar_angle(f) is None:
                        self.add(f, "inscribed angles", sup)
            self.tick()

    def rule_similar(self):
        """Triangles with two equal directed angles (or opposite: mirror image) are similar;
        matched by hashing each ordered triangle's angle signature."""
        ang = {}
        tris = []
        for a, b, c in itertools.permutations(self.points, 3):
            if a > b or a > c or not self.noncoll(a, b, c):
                continue  # each cyclic order once per orientation: a is the smallest name
            tris.append((a, b, c))
        index = defaultdict(list)
        for t in tris:
            for r in range(3):
                x, y, z = t[r:] + t[:r]
                ka = self.angle_nf(self.L(x, y), self.L(x, z))
                kb = self.angle_nf(self.L(y, z), self.L(y, x))
                ang[(x, y, z)] = (ka, kb)
                index[(ka, kb)].append((x, y, z))
        self.tick()

        done = set()
        for (x, y, z), (ka, kb) in ang.items():
            for other, sign in ((index.get((ka, kb), ()), 1),
                                (index.get((_negate_angle(ka), _negate_angle(kb)), ()), -1)):
                for p, q, r in _new_pairs(done, (x, y, z), other):
                    if sign == 1:
                        e1 = self.try_fact("eqangle", x, y, x, z, p, q, p, r)
                        e2 = self.try_fact("eqangle", y, z, y, x, q, r, q, p)
                    else:
                        e1 = self.try_fact("eqangle", x, y, x, z, p, r, p, q)
                        e2 = self.try_fact("eqangle", y, z, y, x, q, p, q, r)
                    targets = [self.try_fact("eqratio", x, y, x, z, p, q, p, r),
                               self.try_fact("eqratio", y, z, y, x, q, r, q, p)]
                    targets = [t for t in targets if t is not None and self.ar_ratio(t) is None]
                    if not targets:
                        continue
                    f1 = self.derive(self.ar_angle(e1), "AR angle chase")
                    f2 = self.derive(self.ar_angle(e2), "AR angle chase")
                    if f1 is None or f2 is None:
                        continue
                    for t in targets:
                        self.add(t, "similar triangles " + ("" if sign == 1 else "(mirrored) ")
                                 + f"{x}{y}{z} ~ {p}{q}{r}", (f1, f2))
            self.tick()


    # --- rules added: circle centre, converse midline, hypotenuse median, bisector, SAS ---------
    def _is_perp(self, l1: int, l2: int) -> bool:
        return self.angle_nf(l1, l2) == ((), HALF)

    def _is_para(self, l1: int, l2: int) -> bool:
        return l1 == l2 or self.angle_nf(l1, l2) == ((), Fraction(0))

    def _other(self, li: int, p: str) -> str | None:
        rest = sorted(self.line_pts[li] - {p})
        return rest[0] if rest else None

    def rules_centre(self):
        """o the centre of a circle through a, b, c (cong o a o b o c):
        tangent-chord angle, central angle via a line perpendicular to a chord, and the
        converse of the tangent-chord angle."""
        dirs_key, by_dir = {}, defaultdict(list)
        for li in range(len(self.line_pts)):
            nf = self.angles.normal_form({li: 1})
            dirs_key[li] = (nf[0], nf[1])
            by_dir[(nf[0], nf[1])].append(li)
        for o, groups in self.equidistant().items():
            for g in groups:
                g = sorted(g)
                if len(g) < 3:
                    continue
                for a in g:
                    loa = self.L(o, a)
                    lines_a = [li for li in self.lines_through[a] if li != loa]
                    for b, c in itertools.permutations([x for x in g if x != a], 2):
                        if not self.noncoll(a, b, c):
                            continue
                        key = self.angle_nf(self.L(c, a), self.L(c, b))
                        for li in lines_a:
                            if li in (self.L(a, b), self.L(a, c)):
                                continue
                            x = self._other(li, a)
                            if x is None:
                                continue
                            if self._is_perp(li, loa):
                                # tangent at a: angle(ax, ab) = angle(ca, cb)
                                f = self.try_fact("eqangle", a, x, a, b, c, a, c, b)
                                if f is not None and self.ar_angle(f) is None:
                                    pp = self.derive(self.ar_angle(
                                        self.try_fact("perp", o, a, a, x)), "AR angle chase")
                                    self.add(f, "tangent-chord angle",
                                             (pp, self.cong(o, a, o, b), self.cong(o, a, o, c)))
                            elif self.angle_nf(li, self.L(a, b)) == key:
                                f = self.try_fact("perp", o, a, a, x)
                                if f is not None and self.ar_angle(f) is None:
                                    e = self.derive(self.ar_angle(self.try_fact(
                                        "eqangle", a, x, a, b, c, a, c, b)), "AR angle chase")
                                    self.add(f, "tangent-chord angle (converse)",
                                             (e, self.cong(o, a, o, b), self.cong(o, a, o, c)))
                    self.tick()
                # central angle: a line xy perpendicular to the chord bc (through o if any)
                # angle(ab, ac) = angle(ob, xy)
                for b, c in itertools.combinations(g, 2):
                    lbc = self.L(b, c)
                    if self.L(o, b) == lbc:
                        continue
                    free, k = dirs_key[lbc]
                    cands = by_dir.get((free, (k + HALF) % 1), [])
                    if not cands:
                        continue
                    through_o = [li for li in cands if o in self.line_pts[li]]
                    li = min(through_o) if through_o else min(cands)
                    x, y = sorted(self.line_pts[li])[:2]
                    if o in self.line_pts[li]:
                        x, y = o, self._other(li, o)
                    pm = None
                    for a in g:
                        if a in (b, c) or not self.noncoll(a, b, c):
                            continue
                        f = self.try_fact("eqangle", a, b, a, c, o, b, x, y)
                        if f is None or self.ar_angle(f) is not None:
                            continue
                        if pm is None:
                            pm = self.derive(self.ar_angle(
                                self.try_fact("perp", x, y, b, c)), "AR angle chase")
                        self.add(f, "central angle", (pm, self.cong(o, a, o, b),
                                                      self.cong(o, a, o, c)))
                self.tick()

    def rule_midline_converse(self):
        """midp m a b, coll n a c, para m n b c => midp n a c."""
        for f in [f for f in self.why if f.name == "midp"]:
            m, a0, b0 = f.args
            for x, y in ((a0, b0), (b0, a0)):
                for c in self.points:
                    if c in (m, a0, b0) or not self.noncoll(x, y, c):
                        continue
                    lxc, lyc = self.L(x, c), self.L(y, c)
                    for n in self.line_pts[lxc]:
                        if n in (x, c, m) or not self._is_para(self.L(m, n), lyc):
                            continue
                        g = self.try_fact("midp", n, x, c)
                        if g is None or g in self.why:
                            continue
                        pa = self.derive(self.ar_angle(self.try_fact("para", m, n, y, c)),
                                         "AR angle chase")
                        self.add(g, "midline (converse)", (f, pa, *self.line_sup[lxc]))
            self.tick()

    def rule_hypotenuse_median(self):
        """midp m b c, perp a b a c => cong m a m b."""
        for f in [f for f in self.why if f.name == "midp"]:
            m, b, c = f.args
            for a in self.points:
                if a in (m, b, c) or not self.noncoll(a, b, c):
                    continue
                if not self._is_perp(self.L(a, b), self.L(a, c)):
                    continue
                g = self.try_fact("cong", m, a, m, b)
                if g is None or self.ar_ratio(g) is not None:
                    continue
                pp = self.derive(self.ar_angle(self.try_fact("perp", a, b, a, c)),
                                 "AR angle chase")
                self.add(g, "median to the hypotenuse", (f, pp))
            self.tick()

    def rule_bisector(self):
        """ad bisects angle bac (internally or externally), d on bc => db/dc = ab/ac."""
        for a in self.points:
            for b, c in itertools.combinations(self.points, 2):
                if a in (b, c) or not self.noncoll(a, b, c):
                    continue
                lab, lac, lbc = self.L(a, b), self.L(a, c), self.L(b, c)
                for d in self.line_pts[lbc]:
                    if d in (b, c):
                        continue
                    lad = self.L(a, d)
                    if self.angle_nf(lab, lad) != self.angle_nf(lad, lac):
                        continue
                    g = self.try_fact("eqratio", d, b, d, c, a, b, a, c)
                    if g is None or self.ar_ratio(g) is not None:
                        continue
                    e = self.derive(self.ar_angle(self.try_fact(
                        "eqangle", a, b, a, d, a, d, a, c)), "AR angle chase")
                    self.add(g, "angle bisector theorem", (e, *self.line_sup[lbc]))
            self.tick()

    def _orient(self, a, b, c) -> int:
        pa, pb, pc = self.diagram.coords((a, b, c))
        x = (pb[0] - pa[0]) * (pc[1] - pa[1]) - (pb[1] - pa[1]) * (pc[0] - pa[0])
        return 1 if x > 0 else -1

    def rule_sas_similar(self):
        """eqratio x y x z p q p r with the angle at x equal to the angle at p (same
        orientation; or opposite for mirror images) => similar: the other angles are equal."""
        index = defaultdict(list)
        tris = []
        for x in self.points:
            for y, z in itertools.permutations(self.points, 2):
                if x in (y, z):
                    continue
                if not self.noncoll(x, y, z):
                    continue
                ka = self.angle_nf(self.L(x, y), self.L(x, z))
                kr = self.ratios.normal_form({_seg(x, y): 1, _seg(x, z): -1})
                kr = (kr[0], kr[1])
                o = self._orient(x, y, z)
                tris.append((x, y, z, ka, kr, o))
                index[(ka, kr, o)].append((x, y, z))
            self.tick()

        done = set()
        for x, y, z, ka, kr, o in tris:
            for others, sign in ((index.get((ka, kr, o), ()), 1),
                                 (index.get((_negate_angle(ka), kr, -o), ()), -1)):
                for p, q, r in _new_pairs(done, (x, y, z), others):
                    if sign == 1:
                        targets = [self.try_fact("eqangle", y, z, y, x, q, r, q, p),
                                   self.try_fact("eqangle", z, x, z, y, r, p, r, q)]
                        e = self.try_fact("eqangle", x, y, x, z, p, q, p, r)
                    else:
                        targets = [self.try_fact("eqangle", y, z, y, x, q, p, q, r),
                                   self.try_fact("eqangle", z, x, z, y, r, q, r, p)]
                        e = self.try_fact("eqangle", x, y, x, z, p, r, p, q)
                    targets = [t for t in targets if t is not None and self.ar_angle(t) is None]
                    if not targets:
                        continue
                    fe = self.derive(self.ar_angle(e), "AR angle chase")
                    fr = self.derive(self.ar_ratio(self.try_fact(
                        "eqratio", x, y, x, z, p, q, p, r)), "AR ratio chase")
                    if fe is None or fr is None:
                        continue
                    for t in targets:
                        self.add(t, "similar triangles (SAS) "
                                 + ("" if sign == 1 else "(mirrored) ")
                                 + f"{x}{y}{z} ~ {p}{q}{r}", (fe, fr))
            self.tick()

    def rule_sss_similar(self):
        """xy/xz = pq/pr and yz/xz = qr/pr (three sides in proportion; congruent triangles when
        the sides are equal) => the angles are equal, directed alike for triangles of the same
        orientation and opposite for mirror images. Matched by hashing each ordered triangle's
        two side ratios (normal forms of the log-length system)."""
        index = defaultdict(list)
        sig = {}
        for x, y, z in itertools.permutations(self.points, 3):
            if not self.noncoll(x, y, z):
                continue
            k1 = self.ratios.normal_form({_seg(x, y): 1, _seg(x, z): -1})
            k2 = self.ratios.normal_form({_seg(y, z): 1, _seg(x, z): -1})
            key = ((k1[0], k1[1]), (k2[0], k2[1]))
            sig[(x, y, z)] = key
            index[key].append((x, y, z))
        self.tick()
        done = set()
        for (x, y, z), key in sig.items():
            for p, q, r in _new_pairs(done, (x, y, z), index[key]):
                same = self._orient(x, y, z) == self._orient(p, q, r)
                targets = []
                for (u, v, w), (u2, v2, w2) in (((x, y, z), (p, q, r)), ((y, z, x), (q, r, p)),
                                                ((z, x, y), (r, p, q))):
                    t = (self.try_fact("eqangle", u, v, u, w, u2, v2, u2, w2) if same else
                         self.try_fact("eqangle", u, v, u, w, u2, w2, u2, v2))
                    if t is not None and self.ar_angle(t) is None:
                        targets.append(t)
                if not targets:
                    continue
                prem = []
                for a, b, c, d in ((x, y, x, z), (y, z, x, z)):
                    e = self.try_fact("eqratio", a, b, c, d, *((p, q, p, r) if a == x else
                                                              (q, r, p, r)))
                    if e is None:
                        continue
                    g = self.derive(self.ar_ratio(e), "AR ratio chase")
                    if g is None:
                        break
                    prem.append(g)
                else:
                    for t in targets:
                        self.add(t, "similar triangles (SSS) " + ("" if same else "(mirrored) ")
                                 + f"{x}{y}{z} ~ {p}{q}{r}", prem)
            self.tick()

    def rule_power_converse(self):
        """Converse of the power of a point: q, c on one line through t and s, d on another,
        tq * tc = ts * td (directed: q and c on the same side of t exactly when s and d are,
        read off the diagram) => cyclic q c s d."""
        for t in self.points:
            lines = [li for li in self.lines_through[t] if len(self.line_pts[li]) >= 3]
            for l1, l2 in itertools.combinations(lines, 2):
                for q, c in itertools.combinations(sorted(self.line_pts[l1] - {t}), 2):
                    for s, d in itertools.combinations(sorted(self.line_pts[l2] - {t}), 2):
                        for s_, d_ in ((s, d), (d, s)):
                            nf = self.ratios.normal_form({_seg(t, q): 1, _seg(t, c): 1,
                                                          _seg(t, s_): -1, _seg(t, d_): -1})
                            if nf[0] or nf[1] != 0:
                                continue
                            if any(set((q, c, s_, d_)) <= pts for pts, _ in self.circles):
                                continue
                            if self._side(t, q, c) != self._side(t, s_, d_):
                                continue
                            e = self.derive(self.ar_ratio(self.try_fact(
                                "eqratio", t, q, t, s_, t, d_, t, c)), "AR ratio chase")
                            if e is not None:
                                self.add(self.try_fact("cyclic", q, c, s_, d_),
                                         "power of a point (converse)",
                                         (e, *self.line_sup[l1], *self.line_sup[l2]))
            self.tick()

    def _side(self, t, a, b) -> bool:
        """Whether a and b (collinear with t) lie on the same side of t, on the diagram."""
        pt, pa, pb = self.diagram.coords((t, a, b))
        return float((pa - pt) @ (pb - pt)) > 0

    def rule_circumcentre(self):
        """o equidistant from three points a, b, c of a circle (cong o a o b o c), x on the same
        circle => cong o x o a: the centre of a circle is equidistant from all its points."""
        for o, groups in self.equidistant().items():
            for g in groups:
                if len(g) < 3:
                    continue
                for pts, sup in self.circles:
                    on = sorted(set(g) & pts)
                    if len(on) < 3 or o in pts:
                        continue
                    a, b, c = on[:3]
                    prem = (self.cong(o, a, o, b), self.cong(o, a, o, c), *sup)
                    for x in sorted(pts - set(g)):
                        f = self.try_fact("cong", o, x, o, a)
                        if f is not None and self.ar_ratio(f) is None:
                            self.add(f, "centre of a circle", prem)
            self.tick()


RULES = (
    ("para_coll", "two lines through one point with the same direction are one line"),
    ("centre_cyclic", "four points equidistant from a centre are concyclic"),
    ("isosceles", "cong o a o b => eqangle a o a b b a b o (base angles)"),
    ("isosceles_converse", "eqangle a o a b b a b o => cong o a o b"),
    ("thales", "centre o on chord ab, c on the circle => perp c a c b"),
    ("perp_bisector", "cong x a x b, cong y a y b => perp x y a b"),
    ("midpoint", "coll m a b, cong m a m b => midp m a b"),
    ("midline", "midp m a b, midp n a c => para m n b c"),
    ("cyclic_converse", "eqangle c a c b d a d b => cyclic a b c d"),
    ("inscribed_angle", "cyclic a b c d => eqangle c a c b d a d b"),
    ("similar_triangles", "two equal directed angles (or two opposite) => eqratio of sides"),
    ("tangent_chord", "cong o a o b o c, perp o a a x => eqangle a x a b c a c b"),
    ("tangent_chord_converse", "cong o a o b o c, eqangle a x a b c a c b => perp o a a x"),
    ("central_angle", "cong o a o b o c, perp x y b c => eqangle a b a c o b x y"),
    ("midline_converse", "midp m a b, coll n a c, para m n b c => midp n a c"),
    ("hypotenuse_median", "midp m b c, perp a b a c => cong m a m b"),
    ("angle_bisector", "eqangle a b a d a d a c, coll d b c => eqratio d b d c a b a c"),
    ("similar_sas", "eqratio x y x z p q p r, equal angle at x and p => the other angles"),
    ("similar_sss", "three sides in proportion => the angles (directed by orientation)"),
    ("circumcentre", "cong o a o b o c, cyclic a b c x => cong o x o a"),
    ("power_converse", "coll t q c, coll t s d, tq*tc = ts*td (same sides) => cyclic q c s d"),
    ("AR angle chase", "para/perp/eqangle as linear equations in line directions mod pi"),
    ("AR ratio chase", "cong/eqratio/midp as linear equations in log-lengths"),
    ("AR length chase", "cong/midp and sums along lines as linear equations in lengths"),
)


def _trace(why: dict, goal_fact: Fact) -> list[Fact]:
    """Facts needed for ``goal_fact`` (``why``: fact -> (reason, premises)), premises before
    conclusions."""
    out: list[Fact] = []
    seen: set = set()

    def visit(f):
        if f in seen:
            return
        seen.add(f)
        prem = why[f][1]
        for p in prem:
            visit(p)
        out.append(f)

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10000))
    try:
        visit(goal_fact)
    finally:
        sys.setrecursionlimit(old)
    return out


def _proof_lines(why_of: dict, steps: list[Fact]) -> list[str]:
    lines = []
    for i, f in enumerate(steps, start=1):
        why, prem = why_of[f]
        tail = f"{why}: {', '.join(str(p) for p in prem)}" if prem else why
        lines.append(f"{i}. {f}  [{tail}]")
    return lines


def solve(problem: Problem | str, diagram: Diagram | None = None, seed: int = 0,
          max_rounds: int = 20, timeout: float = 30.0, tol: float = 1e-7,
          split_angles: bool = True, known=(), harvest=None) -> Result:
    """Saturate the facts of ``problem`` with the DD rules and AR until its goal is derived,
    nothing new appears, ``max_rounds`` rounds have run, or ``timeout`` seconds have passed.

    ``diagram`` (default: :func:`~readingroom.geometry.optimize.make_diagram`, the constructive
    builder or, for a non-constructive statement, the optimiser, with the goal holding) is the
    numeric instance every premise and derived fact is checked on. ``split_angles`` lets the
    angle chase resolve ``g * X = k (mod pi)`` into the one of its ``g`` solutions the diagram
    shows (see :meth:`LinearSystem._split`); without it such rows wait, unused, for a pivot.
    ``known`` is a sequence of ``(Fact, reason)`` taken as further premises (facts another run
    proved, e.g. lemmas shared between search branches); each is checked on the diagram like
    every other fact. ``harvest`` (a set of point names): when the goal is not reached, the
    para, perp and cong facts between those points that the algebra implies are recorded as
    facts too (see :meth:`_Engine.harvest`), ready to be shared.
    """
    t0 = time.monotonic()
    if isinstance(problem, str):
        problem = parse_problem(problem)
    if not isinstance(problem, Problem):
        raise GeometryInputError(f"solve: expected a Problem or its text, got "
                                 f"{type(problem).__name__}")
    if problem.goal is None:
        raise GeometryInputError(f"solve: problem {problem.name!r} has no goal ('? ...')")
    if problem.goal.name not in GOAL_NAMES:
        raise GeometryInputError(
            f"solve: goal {problem.goal}: predicate {problem.goal.name!r} is not supported by "
            f"the deduction engine (supported: {', '.join(GOAL_NAMES)})")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise GeometryInputError(f"solve: timeout must be a positive number of seconds, got "
                                 f"{timeout!r}")
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
        raise GeometryInputError(f"solve: max_rounds must be a positive integer, got "
                                 f"{max_rounds!r}")
    if diagram is None:
        diagram = make_diagram(problem, seed=seed, require_goal=True)
    elif not isinstance(diagram, Diagram):
        raise GeometryInputError(f"solve: diagram must be a Diagram, got "
                                 f"{type(diagram).__name__}")
    missing = [p for p in problem.points if p not in diagram.points]
    if missing:
        raise GeometryInputError(f"solve: the diagram lacks point(s) {' '.join(missing)}")
    eng = _Engine(problem, diagram, t0 + timeout, tol, split_angles=bool(split_angles))
    given, warnings = premises(problem, diagram, tol)
    for f, text in given:
        eng.add(f, f"construction {text}")
    for item in known:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Fact)
                and isinstance(item[1], str)):
            raise GeometryInputError(f"solve: known must hold (Fact, reason) pairs, got "
                                     f"{item!r}")
        missing = [p for p in item[0].args if p not in diagram.points]
        if missing:
            raise GeometryInputError(f"solve: known fact {item[0]} names point(s) "
                                     f"{' '.join(missing)} the problem lacks")
        eng.add(item[0], item[1])
    goal_fact = None
    rounds = 0
    stop = "saturated"
    try:
        while True:
            eng.build()
            goal_fact = eng.prove_goal(problem.goal)
            if goal_fact is not None:
                stop = "solved"
                break
            if rounds >= max_rounds:
                stop = "max_rounds"
                break
            rounds += 1
            eng.new_count = 0
            eng.rule_para_coll()
            eng.rules_distance()
            eng.rule_isosceles_converse()
            eng.rule_midline()
            eng.rules_circle()
            eng.rule_similar()
            eng.rules_centre()
            eng.rule_midline_converse()
            eng.rule_hypotenuse_median()
            eng.rule_bisector()
            eng.rule_sas_similar()
            eng.rule_sss_similar()
            eng.rule_circumcentre()
            eng.rule_lengths()
            eng.rule_power_converse()
            if eng.new_count == 0:
                break
    except _Timeout:
        stop = "timeout"
        goal_fact = None
    if goal_fact is None and harvest:
        try:
            eng.deadline = max(eng.deadline, time.monotonic() + 1.0)
            eng.build()
            eng.harvest(harvest)
        except _Timeout:
            pass
    proof = steps = None
    if goal_fact is not None:
        for f in _trace(eng.why, goal_fact):  # shorter AR steps can make later steps unused
            eng.minimise(f)
        steps = _trace(eng.why, goal_fact)
        proof = _proof_lines(eng.why, steps)
    return Result(solved=goal_fact is not None, facts=len(eng.why), rounds=rounds,
                  seconds=time.monotonic() - t0, proof=proof, goal=goal_fact,
                  steps=steps or [], discarded=len(eng.discarded), warnings=warnings, stop=stop,
                  why=eng.why)


def proof_holds(problem: Problem | str, result: Result, seeds=(11, 12, 13),
                tol: float = 1e-6) -> bool:
    """Whether every fact of ``result``'s proof holds numerically on fresh random diagrams of
    ``problem`` (one per seed) in which its goal holds: the guard against a rule that matched a
    wrong configuration on the one diagram the engine used. (A statement such as "f on line ad
    with df = be" has two placements, and the theorem holds in one; diagrams of the other say
    nothing about the proof.)"""
    if not isinstance(result, Result):
        raise TypeError(f"result must be a Result of solve(), got {type(result).__name__}")
    problem = parse_problem(problem) if isinstance(problem, str) else problem
    for seed in seeds:
        diagram = make_diagram(problem, seed=seed, require_goal=True)
        if not all(step.holds(diagram, tol) for step in result.steps):
            return False
    return True


def format_proof(result: Result) -> str:
    """The numbered proof of a solved :class:`Result`, one step a line."""
    if not isinstance(result, Result):
        raise GeometryInputError(f"format_proof: expected a Result, got {type(result).__name__}")
    if not result.solved or result.proof is None:
        return f"not solved ({result.stop}; {result.facts} facts, {result.rounds} rounds)"
    return "\n".join(result.proof)
