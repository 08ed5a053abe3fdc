"""The deduction rules as the proof checker replays them: each matched again from its statement.

A step ``N. fact  [rule: premise, ...]`` is accepted by :mod:`~readingroom.geometry.checker`
only if the rule's matcher here finds an instance whose premises are among the cited ones and
whose conclusion is the step's fact. :class:`_Step` is what one step's cited premises make (lines
from ``coll``, circles from ``cyclic``, equal segments from ``cong`` and ``midp``), plus the figure
for the rules that read it; :data:`_RULES` maps a reason to its matcher.

These matchers are written from the rules' statements, not copied from the prover's
:mod:`~readingroom.geometry.rules`, and import nothing of it.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from fractions import Fraction
from typing import TYPE_CHECKING

from readingroom.geometry.meaning import (
    _angle_form,
    _Bad,
    _combination,
    _Fact,
    _form,
    _key,
    _length_form,
    _point_args,
    _ratio_constant_form,
    _ratio_form,
    _seg,
    _signed_key,
)

#: the facts an AR angle chase step may conclude or cite: linear forms in line directions
_ANGLE_FACTS = ("para", "perp", "eqangle", "aconst", "angeq")

if TYPE_CHECKING:
    from readingroom.geometry.checker import _Checker

def _other(seg: tuple[str, str], p: str) -> str:
    return seg[1] if seg[0] == p else seg[0]


def _merged(facts: Iterable[_Fact], name: str, shared: int) -> list[set]:
    """Point sets of the ``name`` facts, merged while two share ``shared`` points."""
    groups: list[set] = []
    for f in facts:
        if f.name != name:
            continue
        pts = set(f.args)
        changed = True
        while changed:
            changed = False
            for g in groups:
                if len(g & pts) >= shared:
                    pts |= g
                    groups.remove(g)
                    changed = True
                    break
        groups.append(pts)
    return groups


def _vertex_forms(form: dict):
    """Labellings ``(x, y, z, p, q, r)`` with ``form == +-(xy - xz - pq + pr)``: the angle (or
    ratio) at vertex ``x`` between ``xy`` and ``xz`` against the one at ``p``."""
    terms = [(s, 1) for s, c in form.items() for _ in range(int(abs(c))) if c > 0]
    terms += [(s, -1) for s, c in form.items() for _ in range(int(abs(c))) if c < 0]
    if any(c.denominator != 1 for c in form.values()) or len(terms) != 4:
        return
    for sign in (1, -1):
        pos = [s for s, c in terms if c == sign]
        neg = [s for s, c in terms if c == -sign]
        if len(pos) != 2 or len(neg) != 2:
            continue
        for i, j in itertools.product(range(2), range(2)):
            sp, sn, rp, rn = pos[i], neg[j], pos[1 - i], neg[1 - j]
            for x in set(sp) & set(sn):
                for p in set(rp) & set(rn):
                    yield x, _other(sp, x), _other(sn, x), p, _other(rn, p), _other(rp, p)


class _Step:
    """The premises of one step, with what the rules ask of them."""

    def __init__(self, checker: _Checker, fact: _Fact, reason: str, premises: list[_Fact]):
        self.c = checker
        self.reason = reason
        self.fact = fact
        self.prem = premises
        self.keys = {p.key for p in premises}
        self.reads = False
        self._classes = None

    # what the cited premises make
    def lines(self) -> list[set]:
        return _merged(self.prem, "coll", 2)

    def on_line(self, *pts) -> bool:
        return any(set(pts) <= g for g in self.lines())

    def circles(self) -> list[set]:
        return _merged(self.prem, "cyclic", 3)

    def equal(self, s1, s2) -> bool:
        """Whether the cited ``cong`` (and ``midp``) premises make two segments equal."""
        if self._classes is None:
            parent: dict = {}

            def find(s):
                while parent.get(s, s) != s:
                    s = parent[s]
                return s

            for p in self.prem:
                if p.name == "cong":
                    pairs = [(_seg(*p.args[:2]), _seg(*p.args[2:]))]
                elif p.name == "midp":
                    pairs = [(_seg(p.args[0], p.args[1]), _seg(p.args[0], p.args[2]))]
                else:
                    continue
                for a, b in pairs:
                    parent.setdefault(a, a)
                    parent.setdefault(b, b)
                    ra, rb = find(a), find(b)
                    if ra != rb:
                        parent[ra] = rb
            self._classes = {s: find(s) for s in parent}
        if s1 == s2:
            return True
        r = self._classes
        return s1 in r and s2 in r and r[s1] == r[s2]

    def equidistant(self, o: str, pts: Iterable[str]) -> bool:
        pts = list(pts)
        if o in pts:
            return False
        return all(self.equal(_seg(o, pts[0]), _seg(o, p)) for p in pts[1:])

    def points(self) -> list[str]:
        return sorted({a for f in (*self.prem, self.fact) for a in _point_args(f.name, f.args)})

    def cites(self, name: str, *args: str) -> bool:
        try:
            return _key(name, args) in self.keys
        except _Bad:
            return False

    def is_(self, name: str, *args: str) -> bool:
        """Whether the step's fact means ``name args``."""
        try:
            return _key(name, args) == self.fact.key
        except _Bad:
            return False

    def ratios_imply(self, terms) -> bool:
        rows = [_ratio_form(p.name, p.args) for p in self.prem
                if p.name in ("cong", "eqratio", "midp", "distmeq", "rconst")]
        # a midpoint also halves its segment: |ma| = |ab| / 2
        rows += [_ratio_constant_form(_seg(*p.args[:2]), _seg(*p.args[1:]), Fraction(1, 2))
                 for p in self.prem if p.name == "midp"]
        target = _form(terms)
        return not target or _combination(rows, target) is not None

    # the figure
    def noncoll(self, a, b, c) -> bool:
        return self.c.noncoll(a, b, c)

    def orient(self, a, b, c) -> int:
        self.reads = True
        return self.c.orient(a, b, c)


# --- the rules, each matched again from its statement ---------------------------------------


def _ar_angle(st: _Step) -> bool:
    if st.fact.name not in _ANGLE_FACTS:
        return False
    groups = st.lines()

    def line(seg):
        for i, g in enumerate(groups):
            if seg[0] in g and seg[1] in g:
                return ("line", i)
        return seg

    def equation(f):
        form, k = _angle_form(f.name, f.args)
        return _form((line(s), int(c)) for s, c in form.items()), k

    eqs = [equation(p) for p in st.prem if p.name in _ANGLE_FACTS]
    target, k = equation(st.fact)
    if not target:
        return k % 1 == 0
    q = _combination([e for e, _ in eqs], target)
    if q is None:
        return False
    const = sum((qi * ki for qi, (_, ki) in zip(q, eqs)), Fraction(0))
    d = math.lcm(*(qi.denominator for qi in q)) if q else 1
    if d == 1:
        return (const - k) % 1 == 0
    # d * target is an integer combination: target = const + j / d (mod 1) for some j; the
    # figure shows which (the prover's split of g x = k)
    if (d * (const - k)) % 1 != 0:
        return False
    st.reads = True

    def point_pair(var):
        if var[0] == "line":
            return sorted(groups[var[1]])[:2]
        return var

    value = sum(float(c) * st.c.direction(point_pair(v)) for v, c in target.items())
    diff = (value - float(k)) % 1.0
    return min(diff, 1.0 - diff) < 1e-6


def _ar_ratio(st: _Step) -> bool:
    name, args = st.fact.name, st.fact.args
    if name in ("distmeq", "distseq"):
        # AlphaGeometry2's log-distances, and a distseq that says |ab| = |cd|: the fact's
        # meaning as a linear form in log-lengths
        key = st.fact.key
        if key[0] == "ratio":
            return st.ratios_imply(key[1][0])
        form = _length_form(name, args)
        if name == "distseq" and len(form) == 2:  # t1|s1| + t2|s2| = 0: |s1|/|s2| = -t2/t1
            (s1, t1), (s2, t2) = form.items()
            if t1 * t2 < 0:
                return st.ratios_imply(_ratio_constant_form(s1, s2, -t2 / t1).items())
        return False
    if name not in ("cong", "eqratio", "rconst"):
        return False
    return st.ratios_imply(_ratio_form(name, args).items())


def _ar_length(st: _Step) -> bool:
    if st.fact.name not in ("cong", "rconst", "distseq"):
        return False
    rows, ordered = [], []
    for p in st.prem:
        a = p.args
        if p.name == "distseq":  # AlphaGeometry2's linear equation of distances
            rows.append(_length_form(p.name, a))
        elif p.name == "cong":
            rows.append(_form([(_seg(a[0], a[1]), 1), (_seg(a[2], a[3]), -1)]))
        elif p.name == "midp":
            rows.append(_form([(_seg(a[0], a[1]), 1), (_seg(a[0], a[2]), -1)]))
            rows.append(_form([(_seg(a[0], a[1]), 1), (_seg(a[0], a[2]), 1),
                               (_seg(a[1], a[2]), -1)]))
    n_plain = len(rows)
    for g in st.lines():
        if len(g) < 3:
            continue
        pts = sorted(g)
        (x0, y0), (x1, y1) = st.c.xy(pts[0]), st.c.xy(pts[1])
        ux, uy = x1 - x0, y1 - y0

        def along(p, x0=x0, y0=y0, ux=ux, uy=uy):
            x, y = st.c.xy(p)
            return (x - x0) * ux + (y - y0) * uy

        order = sorted(pts, key=along)
        ordered.append(order)
        for a, b, c in itertools.combinations(order, 3):
            rows.append(_form([(_seg(a, c), 1), (_seg(a, b), -1), (_seg(b, c), -1)]))
    q = _combination(rows, _length_form(st.fact.name, st.fact.args))
    if q is None:
        return False
    st.reads = any(q[n_plain:])
    return True


def _para_coll(st: _Step) -> bool:
    if st.fact.name != "coll":
        return False
    for p in st.prem:
        if p.name == "para":
            s1, s2 = _seg(*p.args[:2]), _seg(*p.args[2:])
            if len(set(s1) & set(s2)) == 1 and set(s1) | set(s2) == set(st.fact.args):
                return True
    return False


def _centre_cyclic(st: _Step) -> bool:
    pts = set(st.fact.args)
    return st.fact.name == "cyclic" and len(pts) >= 4 and any(
        st.equidistant(o, sorted(pts)) for o in st.points() if o not in pts)


def _isosceles_triples(st: _Step):
    """``(o, a, b)`` with ``oa = ob`` by the cited premises."""
    pts = st.points()
    for o in pts:
        for a, b in itertools.permutations(pts, 2):
            if o not in (a, b) and st.equal(_seg(o, a), _seg(o, b)):
                yield o, a, b


def _isosceles(st: _Step) -> bool:
    return any(st.is_("eqangle", a, o, a, b, b, a, b, o) for o, a, b in _isosceles_triples(st))


def _isosceles_converse(st: _Step) -> bool:
    if st.fact.name != "cong":
        return False
    s1, s2 = _seg(*st.fact.args[:2]), _seg(*st.fact.args[2:])
    for o in set(s1) & set(s2):
        a, b = _other(s1, o), _other(s2, o)
        if st.cites("eqangle", a, o, a, b, b, a, b, o) and st.noncoll(o, a, b):
            return True
    return False


def _thales(st: _Step) -> bool:
    if st.fact.name != "perp":
        return False
    s1, s2 = _seg(*st.fact.args[:2]), _seg(*st.fact.args[2:])
    for c in set(s1) & set(s2):
        a, b = _other(s1, c), _other(s2, c)
        for o in st.points():
            if o not in (a, b, c) and st.equidistant(o, (a, b, c)) and st.on_line(o, a, b):
                return True
    return False


def _perp_bisector(st: _Step) -> bool:
    if st.fact.name != "perp":
        return False
    by_pair = defaultdict(set)
    for o, a, b in _isosceles_triples(st):
        by_pair[_seg(a, b)].add(o)
    for (a, b), cs in by_pair.items():
        for x, y in itertools.combinations(sorted(cs), 2):
            if st.is_("perp", x, y, a, b):
                return True
    return False


def _midpoint(st: _Step) -> bool:
    if st.fact.name != "midp":
        return False
    m, a, b = st.fact.args
    return st.equal(_seg(m, a), _seg(m, b)) and st.on_line(m, a, b)


def _midline(st: _Step) -> bool:
    mids = [p for p in st.prem if p.name == "midp"]
    for f, g in itertools.permutations(mids, 2):
        m, n = f.args[0], g.args[0]
        common = set(f.args[1:]) & set(g.args[1:])
        if m == n or len(common) != 1:
            continue
        a = common.pop()
        b = _other(tuple(f.args[1:]), a)
        c = _other(tuple(g.args[1:]), a)
        if st.is_("para", m, n, b, c):
            return True
    return False


def _cyclic_converse(st: _Step) -> bool:
    pts = sorted(set(st.fact.args))
    if st.fact.name != "cyclic" or len(pts) != 4:
        return False
    for a, b in itertools.combinations(pts, 2):
        c, d = [p for p in pts if p not in (a, b)]
        if (st.cites("eqangle", c, a, c, b, d, a, d, b) and st.noncoll(c, a, b)
                and st.noncoll(d, a, b)):
            return True
    return False


def _inscribed(st: _Step) -> bool:
    pts = sorted(set(st.fact.args))
    if st.fact.name != "eqangle" or len(pts) != 4:
        return False
    if not any(set(pts) <= g for g in st.circles()):
        return False
    return any(st.is_("eqangle", c, a, c, b, d, a, d, b)
               for a, b, c, d in itertools.permutations(pts))


def _correspondences(f: _Fact):
    """``(T1, T2, s)`` read from ``f`` as an angle or ratio at corresponding vertices of two
    triangles (``T1[i]`` corresponds to ``T2[i]``): ``s = 1`` directly similar, ``-1`` mirror
    images. A ratio ``xy / xz = pq / pr`` pairs ``x, y, z`` with ``p, q, r`` either way; a
    directed angle ``(xy, xz) = (pq, pr)`` does so for ``s = 1``, and for ``s = -1`` (the angle
    at ``p`` turned the other way) pairs them with ``p, r, q``."""
    if f.name not in ("eqangle", "eqratio"):
        return
    form = _angle_form(f.name, f.args)[0] if f.name == "eqangle" else _ratio_form(f.name, f.args)
    for x, y, z, p, q, r in _vertex_forms(form):
        if len({x, y, z}) == 3 and len({p, q, r}) == 3:
            yield (x, y, z), (p, q, r), 1
            yield (x, y, z), ((p, r, q) if f.name == "eqangle" else (p, q, r)), -1


def _triangle_pairs(st: _Step):
    """The correspondences that the step's fact or one of its premises states (a fact such as
    ``eqratio a b a b a e a m`` loses its triangles to cancellation; its premises keep them)."""
    seen = set()
    named = [(t1, t2, s) for t1, t2 in _named_triangles(st) for s in (1, -1)]
    for t1, t2, s in itertools.chain(named, *map(_correspondences, (st.fact, *st.prem))):
            key = min((t1, t2), (t2, t1)), s
            if key not in seen:
                seen.add(key)
                yield t1, t2, s


def _splits(word: str, names: set, k: int):
    """Ways to read ``word`` as ``k`` point names written one after another."""
    if k == 0:
        if not word:
            yield ()
        return
    for i in range(1, len(word) + 1):
        if word[:i] in names:
            for rest in _splits(word[i:], names, k - 1):
                yield (word[:i], *rest)


def _named_triangles(st: _Step):
    """The triangles a reason such as ``similar triangles bch ~ cbx0`` names (a hint where the
    facts' own spelling has cancelled them; everything is still checked)."""
    m = re.search(r"(\S+) ~ (\S+)$", st.reason)
    if m is None:
        return
    names = set(st.c.problem.points)
    for t1 in _splits(m.group(1), names, 3):
        for t2 in _splits(m.group(2), names, 3):
            yield t1, t2


def _angle_at(t1, t2, i: int, s: int) -> tuple[str, ...]:
    """The directed angle at vertex ``i`` of ``t1`` equal (``s = 1``) or opposite (``-1``) to
    the one at the corresponding vertex of ``t2``, as eqangle arguments."""
    a = [t1[(i + j) % 3] for j in range(3)]
    b = [t2[(i + j) % 3] for j in range(3)]
    if s == 1:
        return (a[0], a[1], a[0], a[2], b[0], b[1], b[0], b[2])
    return (a[0], a[1], a[0], a[2], b[0], b[2], b[0], b[1])


def _sides_ratio(t1, t2, i):
    """``|t1_i t1_i+1| / |t1_i t1_i+2| = |t2_i t2_i+1| / |t2_i t2_i+2|`` as log-length terms."""
    a = [t1[(i + j) % 3] for j in range(3)]
    b = [t2[(i + j) % 3] for j in range(3)]
    return [(_seg(a[0], a[1]), 1), (_seg(a[0], a[2]), -1), (_seg(b[0], b[1]), -1),
            (_seg(b[0], b[2]), 1)]


def _states_ratio(st: _Step, t1, t2) -> bool:
    """Whether the step's fact is the ratio of two sides at corresponding vertices."""
    want = st.fact.key
    return any(("ratio", _signed_key(_form(_sides_ratio(t1, t2, i)), None)) == want
               for i in range(3))


def _states_angle(st: _Step, t1, t2, s) -> list[int]:
    """The vertices ``i`` at which the step's fact is the angle of ``t1`` against ``t2``."""
    return [i for i in range(3) if st.is_("eqangle", *_angle_at(t1, t2, i, s))]


def _nondegenerate(st: _Step, t1, t2) -> bool:
    return st.noncoll(*t1) and st.noncoll(*t2)


def _aa(st: _Step, t1, t2, s) -> bool:
    return _nondegenerate(st, t1, t2) and sum(
        st.cites("eqangle", *_angle_at(t1, t2, i, s)) for i in range(3)) >= 2


def _similar(st: _Step) -> bool:
    """Two equal directed angles (or two opposite: mirror images) => a ratio of sides."""
    return st.fact.name == "eqratio" and any(
        _states_ratio(st, t1, t2) and _aa(st, t1, t2, s) for t1, t2, s in _triangle_pairs(st))


def _similar_goal(st: _Step) -> bool:
    if st.fact.name != "simtri":
        return False
    t1, t2 = st.fact.args[:3], st.fact.args[3:]
    return any(_aa(st, t1, t2, s) for s in (1, -1))


def _congruent_goal(st: _Step) -> bool:
    """Similar (two angles) and one pair of corresponding sides equal => congruent."""
    if st.fact.name != "contri":
        return False
    t1, t2 = st.fact.args[:3], st.fact.args[3:]
    side = any(st.cites("cong", t1[i], t1[j], t2[i], t2[j]) for i, j in ((0, 1), (1, 2), (0, 2)))
    return side and any(_aa(st, t1, t2, s) for s in (1, -1))


def _same_turn(st: _Step, t1, t2, s) -> bool:
    return (st.orient(*t1) == st.orient(*t2)) == (s == 1)


def _similar_sas(st: _Step) -> bool:
    """An angle and the ratio of its sides, triangles turned alike (or opposite for ``s = -1``)
    => the other angles."""
    if st.fact.name != "eqangle":
        return False
    for t1, t2, s in _triangle_pairs(st):
        at = _states_angle(st, t1, t2, s)
        if not at or not _nondegenerate(st, t1, t2):
            continue
        for i in range(3):
            if (i not in at and st.cites("eqangle", *_angle_at(t1, t2, i, s))
                    and st.ratios_imply(_sides_ratio(t1, t2, i)) and _same_turn(st, t1, t2, s)):
                return True
    return False


def _similar_sss(st: _Step) -> bool:
    """Three sides in proportion => the angles, directed by the triangles' turn."""
    if st.fact.name != "eqangle":
        return False
    for t1, t2, s in _triangle_pairs(st):
        if (_states_angle(st, t1, t2, s) and _nondegenerate(st, t1, t2)
                and st.ratios_imply(_sides_ratio(t1, t2, 0))
                and st.ratios_imply(_sides_ratio(t1, t2, 1)) and _same_turn(st, t1, t2, s)):
            return True
    return False


def _tangent_chord(st: _Step) -> bool:
    if st.fact.name != "eqangle":
        return False
    form, _ = _angle_form("eqangle", st.fact.args)
    for a, x, b, c, a2, b2 in _vertex_forms(form):
        if a2 != a or b2 != b or x in (a, b, c):
            continue
        for o in st.points():
            if (o not in (a, b, c) and st.equidistant(o, (a, b, c))
                    and st.cites("perp", o, a, a, x)):
                return True
    return False


def _tangent_chord_converse(st: _Step) -> bool:
    if st.fact.name != "perp":
        return False
    s1, s2 = _seg(*st.fact.args[:2]), _seg(*st.fact.args[2:])
    pts = st.points()
    for a in set(s1) & set(s2):
        for o, x in ((_other(s1, a), _other(s2, a)), (_other(s2, a), _other(s1, a))):
            for b, c in itertools.permutations(pts, 2):
                if (a not in (b, c) and st.equidistant(o, (a, b, c))
                        and st.cites("eqangle", a, x, a, b, c, a, c, b)
                        and st.noncoll(a, b, c)):
                    return True
    return False


def _central_angle(st: _Step) -> bool:
    if st.fact.name != "eqangle":
        return False
    perps = [(_seg(*p.args[:2]), _seg(*p.args[2:])) for p in st.prem if p.name == "perp"]
    pts = st.points()
    for o in pts:
        for a, b, c in itertools.permutations(pts, 3):
            if not (st.equidistant(o, (a, b, c)) and st.noncoll(a, b, c)):
                continue
            for s1, s2 in perps:
                for xy, bc in ((s1, s2), (s2, s1)):
                    if bc != _seg(b, c):
                        continue
                    if any(st.is_("eqangle", a, b, a, c, o, b, x, y)
                           for x, y in (xy, xy[::-1])):
                        return True
    return False


def _midline_converse(st: _Step) -> bool:
    if st.fact.name != "midp":
        return False
    n, e1, e2 = st.fact.args
    for f in st.prem:
        if f.name != "midp":
            continue
        m, a0, b0 = f.args
        for x, y in ((a0, b0), (b0, a0)):
            if x not in (e1, e2):
                continue
            c = e2 if x == e1 else e1
            if (st.cites("para", m, n, y, c) and st.on_line(x, c, n)
                    and st.noncoll(x, y, c)):
                return True
    return False


def _hypotenuse_median(st: _Step) -> bool:
    if st.fact.name != "cong":
        return False
    for f in st.prem:
        if f.name != "midp":
            continue
        m, b, c = f.args
        for e, e2 in ((b, c), (c, b)):
            for a in st.points():
                if (a not in (m, b, c) and st.is_("cong", m, a, m, e)
                        and st.cites("perp", a, e, a, e2)):
                    return True
    return False


def _bisector(st: _Step) -> bool:
    if st.fact.name != "eqratio":
        return False
    form = _ratio_form("eqratio", st.fact.args)
    for v1, s1, t1, v2, s2, t2 in _vertex_forms(form):
        if (s1, t1) != (s2, t2):
            continue
        b, c = s1, t1
        for d, a in ((v1, v2), (v2, v1)):
            if (st.on_line(b, c, d) and st.cites("eqangle", a, b, a, d, a, d, a, c)
                    and st.noncoll(a, b, c)):
                return True
    return False


def _circumcentre(st: _Step) -> bool:
    if st.fact.name != "cong":
        return False
    s1, s2 = _seg(*st.fact.args[:2]), _seg(*st.fact.args[2:])
    for o in set(s1) & set(s2):
        ends = {_other(s1, o), _other(s2, o)}
        for g in st.circles():
            if o in g or not ends <= g:
                continue
            for a in ends:
                if sum(st.equal(_seg(o, p), _seg(o, a)) for p in g) >= 3:
                    return True
    return False


def _power_converse(st: _Step) -> bool:
    pts = sorted(set(st.fact.args))
    if st.fact.name != "cyclic" or len(pts) != 4:
        return False
    groups = st.lines()
    for t in st.points():
        if t in pts:
            continue
        for q, c in itertools.combinations(pts, 2):
            s, d = [p for p in pts if p not in (q, c)]
            g1 = [i for i, g in enumerate(groups) if {t, q, c} <= g]
            g2 = [i for i, g in enumerate(groups) if {t, s, d} <= g]
            if not g1 or not g2 or g1 == g2:
                continue
            if not st.ratios_imply([(_seg(t, q), 1), (_seg(t, c), 1), (_seg(t, s), -1),
                                    (_seg(t, d), -1)]):
                continue
            st.reads = True
            if st.c.side(t, q, c) == st.c.side(t, s, d):
                return True
    return False


def _perp_bisector_converse(st: _Step) -> bool:
    """``cong x a x b`` from a cited ``midp m a b`` and ``perp x m a b``."""
    if st.fact.name != "cong":
        return False
    s1, s2 = _seg(*st.fact.args[:2]), _seg(*st.fact.args[2:])
    for x in set(s1) & set(s2):
        a, b = _other(s1, x), _other(s2, x)
        for p in st.prem:
            if (p.name == "midp" and set(p.args[1:]) == {a, b} and p.args[0] != x
                    and st.cites("perp", x, p.args[0], a, b)):
                return True
    return False


def _centre_chords(st: _Step) -> bool:
    """``cong o a o c`` from a cited circle through a, b, c, d with ``oa = ob``, ``oc = od`` and
    chords ab, cd that cross (read off the figure)."""
    if st.fact.name != "cong":
        return False
    s1, s2 = _seg(*st.fact.args[:2]), _seg(*st.fact.args[2:])
    for o in set(s1) & set(s2):
        a, c = _other(s1, o), _other(s2, o)
        for g in st.circles():
            if o in g or not {a, c} <= g:
                continue
            bs = [b for b in g if b != a and st.equal(_seg(o, a), _seg(o, b))]
            ds = [d for d in g if d != c and st.equal(_seg(o, c), _seg(o, d))]
            for b, d in itertools.product(bs, ds):
                st.reads = True
                if st.c.crossing(a, b, c, d):
                    return True
    return False


def _lines_goal(st: _Step) -> bool:
    return st.fact.name == "coll" and st.on_line(*st.fact.args)


def _circle_goal(st: _Step) -> bool:
    return st.fact.name == "cyclic" and any(set(st.fact.args) <= g for g in st.circles())


#: reason (exact, or a prefix when it ends with a space) -> its matcher; prefixes after the
#: longer reasons they would also match
_RULES = (
    ("AR angle chase", _ar_angle),
    ("AR ratio chase", _ar_ratio),
    ("AR length chase", _ar_length),
    ("parallel lines through a point", _para_coll),
    ("centre equidistant", _centre_cyclic),
    ("isosceles base angles", _isosceles),
    ("isosceles (equal base angles)", _isosceles_converse),
    ("thales (diameter)", _thales),
    ("perpendicular bisector", _perp_bisector),
    ("midpoint (coll + cong)", _midpoint),
    ("midpoint", _midpoint),
    ("midline", _midline),
    ("midline (converse)", _midline_converse),
    ("equal angles on a chord", _cyclic_converse),
    ("inscribed angles", _inscribed),
    ("similar triangles", _similar_goal),
    ("congruent triangles", _congruent_goal),
    ("similar triangles (SAS) ", _similar_sas),
    ("similar triangles (SSS) ", _similar_sss),
    ("similar triangles ", _similar),
    ("tangent-chord angle", _tangent_chord),
    ("tangent-chord angle (converse)", _tangent_chord_converse),
    ("central angle", _central_angle),
    ("median to the hypotenuse", _hypotenuse_median),
    ("angle bisector theorem", _bisector),
    ("centre of a circle", _circumcentre),
    ("power of a point (converse)", _power_converse),
    ("perpendicular bisector (converse)", _perp_bisector_converse),
    ("centre of a circle (two chords)", _centre_chords),
    ("lines", _lines_goal),
    ("circle", _circle_goal),
)
