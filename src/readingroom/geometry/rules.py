"""The deductive rules (DD) of the engine: a catalogue that also dispatches.

The "DD" of AlphaGeometry's DD + AR (Trinh et al., 2024; AlphaGeometry2, arXiv 2502.03544),
written from the rule semantics, not from either code base:

* :data:`RULES` — the catalogue: each rule's name and what it concludes from what;
* :data:`ROUND` — the dispatch: the engine methods one round of the saturation loop calls, in
  order, each with the rules of :data:`RULES` it implements (the two chases every rule uses,
  ``AR angle chase`` and ``AR ratio chase``, are not steps of their own);
* :class:`DeductionRules` — the rules, matched through indexes (points by line, equal-distance
  groups by centre, angles by their normal form) rather than by enumerating all tuples of
  points. Each conclusion cites its premises (facts held, or what a chase of the algebra gives);
  the engine checks it on the diagram before it keeps it.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from fractions import Fraction

from readingroom.geometry.ar import HALF
from readingroom.geometry.facts import Fact, _seg
from readingroom.geometry.goals import goal_residual

__all__ = ["ROUND", "RULES", "DeductionRules"]


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


class DeductionRules:
    """The DD half of the deduction engine: a mixin of :class:`readingroom.geometry.ddar._Engine`,
    which holds the facts, lines and circles, and of
    :class:`~readingroom.geometry.ar.AlgebraicReasoning`, whose chases the rules ask."""

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


    # --- circle centre, converse midline, hypotenuse median, bisector, SAS ------------------
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


    def rule_perp_bisector_converse(self):
        """midp m a b, perp x m a b => cong x a x b: a point on the perpendicular to a segment
        through its midpoint is equidistant from its ends."""
        for f in [f for f in self.why if f.name == "midp"]:
            m, a, b = f.args
            lab = self.L(a, b)
            for li in self.lines_through[m]:
                if li == lab or not self._is_perp(li, lab):
                    continue
                for x in sorted(self.line_pts[li] - {m}):
                    g = self.try_fact("cong", x, a, x, b)
                    if g is None or self.ar_ratio(g) is not None:
                        continue
                    pp = self.derive(self.ar_angle(self.try_fact("perp", x, m, a, b)),
                                     "AR angle chase")
                    self.add(g, "perpendicular bisector (converse)", (f, pp))
            self.tick()

    def _crossing(self, a, b, c, d) -> bool:
        """Whether lines ab and cd are not parallel, on the diagram (non-degeneracy): the
        ``para`` residual, |sin| of their angle, is above the tolerance (inf: a zero length)."""
        return 1e-6 < goal_residual("para", self.diagram.coords((a, b, c, d))) < math.inf

    def rule_centre_chords(self):
        """cyclic a b c d, cong o a o b, cong o c o d, ab and cd not parallel => cong o a o c:
        a point on the perpendicular bisectors of two chords that cross is the centre."""
        eq = self.equidistant()
        for pts, sup in self.circles:
            for o, groups in eq.items():
                if o in pts:
                    continue
                on = [sorted(set(g) & pts) for g in groups]
                on = [g for g in on if len(g) >= 2]
                for g1, g2 in itertools.combinations(on, 2):
                    pair = next(((a, b, c, d) for a, b in itertools.combinations(g1, 2)
                                 for c, d in itertools.combinations(g2, 2)
                                 if self._crossing(a, b, c, d)), None)
                    if pair is None:
                        continue
                    a, b, c, d = pair
                    f = self.try_fact("cong", o, a, o, c)
                    if f is not None and self.ar_ratio(f) is None:
                        self.add(f, "centre of a circle (two chords)",
                                 (self.cong(o, a, o, b), self.cong(o, c, o, d), *sup))
            self.tick()


#: The catalogue: each rule's name and what it concludes from what (the chapter prints it).
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
    ("perp_bisector_converse", "midp m a b, perp x m a b => cong x a x b"),
    ("centre_chords", "cyclic a b c d, cong o a o b, cong o c o d, ab not para cd => cong o a o c"),
    ("AR angle chase", "para/perp/eqangle as linear equations in line directions mod pi"),
    ("AR ratio chase", "cong/eqratio/midp as linear equations in log-lengths"),
    ("AR length chase", "cong/midp and sums along lines as linear equations in lengths"),
)


#: One round of the saturation loop: ``(engine method, the RULES it implements)``, called in
#: this order (:func:`readingroom.geometry.ddar.solve`).
ROUND = (
    ("rule_para_coll", ("para_coll",)),
    ("rules_distance", ("centre_cyclic", "isosceles", "thales", "perp_bisector", "midpoint")),
    ("rule_isosceles_converse", ("isosceles_converse",)),
    ("rule_midline", ("midline",)),
    ("rules_circle", ("cyclic_converse", "inscribed_angle")),
    ("rule_similar", ("similar_triangles",)),
    ("rules_centre", ("tangent_chord", "tangent_chord_converse", "central_angle")),
    ("rule_midline_converse", ("midline_converse",)),
    ("rule_hypotenuse_median", ("hypotenuse_median",)),
    ("rule_bisector", ("angle_bisector",)),
    ("rule_sas_similar", ("similar_sas",)),
    ("rule_sss_similar", ("similar_sss",)),
    ("rule_circumcentre", ("circumcentre",)),
    ("rule_lengths", ("AR length chase",)),
    ("rule_power_converse", ("power_converse",)),
    ("rule_perp_bisector_converse", ("perp_bisector_converse",)),
    ("rule_centre_chords", ("centre_chords",)),
)

_dispatched = sorted(name for _, names in ROUND for name in names)
assert _dispatched == sorted(name for name, _ in RULES
                             if name not in ("AR angle chase", "AR ratio chase")), \
    "RULES and ROUND disagree"
del _dispatched
