"""Algebraic reasoning (AR): angle, ratio and length chasing as exact linear algebra.

The "AR" of AlphaGeometry's DD + AR (Trinh et al., 2024; AlphaGeometry2, arXiv 2502.03544),
written from the rule semantics, not from either code base:

* :class:`LinearSystem` — exact (``Fraction``) Gaussian elimination that remembers which input
  equations every row combines. Angle chasing runs it over line directions in R/piZ (units of
  pi, a constant column taken mod 1, integer row operations only so that "mod 1" stays sound);
  ratio chasing over log-lengths of segments; length chasing over lengths.
* :class:`AlgebraicReasoning` — the engine's side of it: ``para``, ``perp`` and ``eqangle`` as
  equations in line directions, ``cong``, ``eqratio`` and ``midp`` in log-lengths, ``cong``,
  ``midp`` and sums along lines in lengths; which facts the systems imply and from which
  premises, each AR step's premises cut down to a minimal set.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from fractions import Fraction
from math import atan2, gcd, pi

from readingroom.geometry.diagram import Diagram
from readingroom.geometry.facts import Fact, _merge_groups, _seg
from readingroom.geometry.language import Goal, angle_fraction, prime_exponents

__all__ = ["HALF", "RATIO_FACTS", "AlgebraicReasoning", "LinearSystem", "log_terms"]

#: the facts the ratio chase holds as equations in log-lengths
RATIO_FACTS = ("cong", "eqratio", "midp", "rconst", "distmeq")

#: a right angle, in the angle chase's units of pi
HALF = Fraction(1, 2)


def _is_log_const(v) -> bool:
    """Whether a ratio-chase variable is the constant ``log p`` of a prime (``("", p)``)."""
    return isinstance(v, tuple) and len(v) == 2 and v[0] == ""


def log_terms(r: Fraction) -> dict:
    """``log r`` of a positive rational as ``{("", p): exponent}`` over its primes
    (:func:`~readingroom.geometry.language.prime_exponents`): the ratio chase's constants, which
    stay symbols (the logarithms of distinct primes are linearly independent over the
    rationals, so no relation among them is lost)."""
    return {("", p): e for p, e in prime_exponents(r).items()}

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
    input tags it was combined from. ``fixed(v)`` marks variables that stand for known
    constants (the ratio chase's ``log p`` of a prime ``p``): they are never pivots, and a row
    over them alone is refused.
    """

    def __init__(self, modulus: Fraction | int | None = None, resolve=None, fixed=None):
        self.modulus = None if modulus is None else Fraction(modulus)
        self.fixed = fixed
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
        if self.fixed is not None:
            units = [v for v in units if not self.fixed(v)]
            if all(self.fixed(v) for v in e):  # a relation among the constants alone: refused
                return False
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


class AlgebraicReasoning:
    """The AR half of the deduction engine: a mixin of :class:`readingroom.geometry.ddar._Engine`,
    which holds the facts (``why``), the lines (``line_pts``, ``line_sup``, :meth:`L`) and the
    diagram. Three linear systems over the facts held, rebuilt every round (``angles``,
    ``ratios``, ``lengths``), and the facts they imply with the premises they combined."""

    def build_systems(self):
        """The angle and ratio systems of the facts held, and the length system
        (:meth:`build_lengths`); the normal-form caches start empty."""
        # the two linear systems
        self.angles = LinearSystem(modulus=1,
                                   resolve=self.angle_value if self.split_angles else None)
        self.ratios = LinearSystem(fixed=_is_log_const)
        for f in self.why:
            if f.name in ("para", "perp", "eqangle"):
                e, k, sup = self.angle_eq(f)
                self.angles.add(e, k, tag=f, prov=sup)
            elif f.name in RATIO_FACTS:
                for row in self.ratio_rows(f):
                    self.ratios.add(row, 0, tag=f)
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
        """Whether ``premises`` alone imply ``f`` through the angle chase (``f`` a para, perp,
        eqangle or angeq) or the ratio chase (a cong, eqratio or distmeq): the ``coll`` premises
        define the lines, the other premises are the equations."""
        angle = f.name in ("para", "perp", "eqangle", "angeq")
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
            e: dict = defaultdict(int)
            if g.name == "angeq":  # sum t_i (dir(c_i d_i) - dir(a_i b_i)) = -y
                goal = Goal(g.name, g.args)
                p = goal.points
                for i, t in enumerate(goal.numbers[:-1]):
                    e[line(p[4 * i + 2], p[4 * i + 3])] += int(t)
                    e[line(p[4 * i], p[4 * i + 1])] -= int(t)
                return {li: c for li, c in e.items() if c}, (-angle_fraction(goal.numbers[-1])) % 1
            a = g.args
            ls = [line(a[i], a[i + 1]) for i in range(0, len(a), 2)]
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

        kinds = ("para", "perp", "eqangle") if angle else RATIO_FACTS
        ls = (LinearSystem(modulus=1, resolve=value if self.split_angles else None)
              if angle else LinearSystem(fixed=_is_log_const))
        for g in premises:
            if g.name in kinds:
                for row in ([equation(g)] if angle else [(r, 0) for r in self.ratio_rows(g)]):
                    ls.add(*row, tag=g)
        return ls.implies(*equation(f)) is not None

    def minimise(self, f: Fact) -> None:
        """Drop premises an AR step of ``f`` does not need: each equation among its premises is
        removed in turn and kept out if the rest still imply ``f`` (:meth:`local_ar`: the lines
        are those the step's own ``coll`` premises define, not the run's final lines, which
        later facts may have merged; those premises are all kept). Greedy, so the result is
        minimal — no single equation can be dropped — though not necessarily the smallest."""
        reason, prem = self.why[f]
        angle = reason == "AR angle chase" and f.name in ("para", "perp", "eqangle", "angeq")
        ratio = reason == "AR ratio chase" and f.name in ("cong", "eqratio", "distmeq", "rconst")
        if not (angle or ratio):
            return
        kinds = ("para", "perp", "eqangle") if angle else RATIO_FACTS
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

    def ratio_constant(self, ab, cd) -> Fraction | None:
        """``|ab| / |cd|`` if the ratio chase pins it to a constant: the normal form of
        ``log|ab| - log|cd|`` holds no segment, only ``log p`` terms."""
        free, k, _ = self.ratios.normal_form({ab: 1, cd: -1})
        if k != 0 or not all(_is_log_const(v) for v, _ in free):
            return None
        r = Fraction(1)
        for (_, p), e in free:
            if Fraction(e).denominator != 1:
                return None
            r *= Fraction(p) ** int(e)
        return r

    def ratio_rows(self, f: Fact) -> list[dict]:
        """The ratio chase's equations of ``f``: :meth:`ratio_eq`, and for ``midp m a b`` also
        ``log|am| - log|ab| = -log 2``: the bridge from a midpoint to ratios with constants."""
        rows = [self.ratio_eq(f)]
        if f.name == "midp":
            m, a, b = f.args
            rows.append({_seg(m, a): 1, _seg(a, b): -1, **log_terms(Fraction(2))})
        return rows

    def ratio_eq(self, f: Fact) -> dict:
        """``f`` as ``sum c * log|segment| + sum e * log p = 0``, the constants ``log p`` as
        :func:`log_terms` keys."""
        a = f.args
        e: dict = defaultdict(int)
        if f.name == "distmeq":  # sum t_i log|a_ib_i| = log y (AlphaGeometry2's log-distances)
            goal = Goal(f.name, f.args)
            p = goal.points
            for i, t in enumerate(goal.numbers[:-1]):
                e[_seg(p[2 * i], p[2 * i + 1])] += int(t)
            for k, x in log_terms(Fraction(goal.numbers[-1])).items():
                e[k] -= x
            return {s: c for s, c in e.items() if c}
        if f.name == "rconst":  # log|ab| - log|cd| = log r
            e[_seg(a[0], a[1])] += 1
            e[_seg(a[2], a[3])] -= 1
            for k, x in log_terms(Fraction(a[4])).items():
                e[k] -= x
            return {s: c for s, c in e.items() if c}
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
