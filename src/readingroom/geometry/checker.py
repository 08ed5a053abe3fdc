"""A proof checker independent of the prover: every step replayed from only the premises it cites.

:func:`~readingroom.geometry.ddar.proof_holds` checks each *fact* of a proof on fresh diagrams;
that cannot tell a valid inference from a true fact reached by a wrong one. This module checks
the *inferences*. It reads a proof as text — the numbered lines ``N. fact  [reason: premise,
...]`` that :func:`~readingroom.geometry.ddar.format_proof` and the command line print — and
accepts a step only if

* every premise it cites was established by an earlier step, and
* its reason really yields its fact from those premises alone:

  - ``construction ...``: the fact is a property of that construction of the problem
    (:data:`~readingroom.geometry.definitions.CONSTRUCTIONS`, the language's definitions);
  - a deduction rule: the rule's own matcher, written here again from the rule's statement,
    finds an instance whose premises are among the cited ones and whose conclusion is the fact;
  - ``AR angle / ratio / length chase``: exact elimination over only the cited equations
    (lines are the ones the cited ``coll`` premises make) shows the fact's equation is a
    combination of them.

It imports nothing of the prover (no ``ddar``, ``rules``, ``ar`` or ``facts``): the facts'
meanings, the rules' matchers and the elimination are its own, so a bug in a rule of the prover
cannot make the checker accept a false step unless the same bug is written twice. What it shares
with the prover is the problem language and the numeric diagram, which it builds itself
(:func:`~readingroom.geometry.optimize.make_diagram`, its own seed): like AlphaGeometry, some
rules read the figure — which way round a triangle turns, the order of points on a line, which
of ``g`` solutions of ``g x = k (mod pi)`` the figure shows — and the verdict counts the steps
that do (:attr:`Verdict.readings`).

Facts are compared by meaning, not spelling: ``para``, ``perp`` and ``eqangle`` as a linear form
in the directions of segments with a constant mod pi (up to sign), ``cong`` and ``eqratio`` as a
linear form in log-lengths, ``coll`` and ``cyclic`` as point sets, ``midp`` as a point and a
segment, ``simtri`` and ``contri`` as their pairs of corresponding vertices.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from readingroom.geometry.definitions import CONSTRUCTIONS
from readingroom.geometry.diagram import Diagram
from readingroom.geometry.language import GeometryInputError, Problem, angle_fraction, parse_problem
from readingroom.geometry.optimize import make_diagram

__all__ = ["StepVerdict", "Verdict", "check_proof", "check_search"]

_ARITY = {"para": 4, "perp": 4, "cong": 4, "eqangle": 8, "eqratio": 8, "midp": 3, "simtri": 6,
          "contri": 6, "aconst": 5, "rconst": 5}
_VALUED = ("aconst", "rconst")  # four points and a value: the answers of "find" goals
_NAMES = ("coll", "cyclic", *_ARITY)
_HALF = Fraction(1, 2)
_LINE = re.compile(r"^\s*(\d+)\.\s+(\S.*?)\s+\[(.*)\]\s*$")
_LEMMA = "lemma from the branch with "


class _Bad(Exception):
    """A step that does not follow; the message says why."""


# --- what a fact means --------------------------------------------------------------------------


def _seg(a: str, b: str) -> tuple[str, str]:
    if a == b:
        raise _Bad(f"segment {a}{b} has zero length")
    return (a, b) if a < b else (b, a)


def _form(terms: Iterable[tuple[object, int]]) -> dict:
    out: dict = defaultdict(int)
    for var, c in terms:
        out[var] += c
    return {v: Fraction(c) for v, c in out.items() if c}


def _value(name: str, token: str) -> Fraction:
    try:
        v = angle_fraction(token) if name == "aconst" else Fraction(token)
    except (ValueError, ZeroDivisionError):
        raise _Bad(f"cannot read the value {token!r} of {name}") from None
    if name == "rconst" and v <= 0:
        raise _Bad(f"a ratio must be positive, got {token!r}")
    return v


def _length_form(name: str, args: Sequence[str]) -> dict:
    """``|ab| - r |cd| = 0`` for ``cong a b c d`` (r = 1) and ``rconst a b c d r``."""
    r = _value(name, args[4]) if name == "rconst" else Fraction(1)
    out: dict = defaultdict(Fraction)
    out[_seg(args[0], args[1])] += 1
    out[_seg(args[2], args[3])] -= r
    return {v: c for v, c in out.items() if c}


def _angle_form(name: str, args: Sequence[str]) -> tuple[dict, Fraction]:
    """``sum(c * direction(segment)) = k (mod 1)``, angles in units of pi; ``aconst a b c d k``
    is the angle from ab to cd: ``direction(cd) - direction(ab) = k``."""
    if name == "aconst":
        return (_form([(_seg(args[2], args[3]), 1), (_seg(args[0], args[1]), -1)]),
                _value(name, args[4]))
    segs = [_seg(args[i], args[i + 1]) for i in range(0, len(args), 2)]
    if name in ("para", "perp"):
        return _form([(segs[0], 1), (segs[1], -1)]), (_HALF if name == "perp" else Fraction(0))
    return _form(zip(segs, (1, -1, -1, 1))), Fraction(0)


def _ratio_form(name: str, args: Sequence[str]) -> dict:
    """``sum(c * log|segment|) = 0``."""
    if name == "midp":
        m, a, b = args
        return _form([(_seg(m, a), 1), (_seg(m, b), -1)])
    segs = [_seg(args[i], args[i + 1]) for i in range(0, len(args), 2)]
    return _form(zip(segs, (1, -1) if len(segs) == 2 else (1, -1, -1, 1)))


def _signed_key(form: dict, const: Fraction | None):
    def canon(f, k):
        return tuple(sorted(f.items())), k

    pos = canon(form, const)
    neg = canon({v: -c for v, c in form.items()}, None if const is None else (-const) % 1)
    return min(pos, neg, key=repr)


def _key(name: str, args: Sequence[str]):
    """The meaning of ``name args``, hashable; raises :class:`_Bad` on a malformed fact."""
    if name not in _NAMES:
        raise _Bad(f"unknown predicate {name!r}")
    want = _ARITY.get(name)
    if want is not None and len(args) != want:
        raise _Bad(f"{name} takes {want} points, got {len(args)}")
    if name in ("coll", "cyclic"):
        return (name, frozenset(args))
    if name == "midp":
        return ("midp", args[0], _seg(args[1], args[2]))
    if name in ("simtri", "contri"):
        pairs = tuple(zip(args[:3], args[3:]))
        return (name, min(tuple(sorted(pairs)), tuple(sorted((b, a) for a, b in pairs))))
    if name in ("para", "perp", "eqangle", "aconst"):
        form, k = _angle_form(name, args)
        return ("angle", _signed_key(form, k % 1))
    if name == "rconst" and _value(name, args[4]) != 1:
        form = _length_form(name, args)
        lead = form[min(form)]
        return ("length", tuple(sorted((v, c / lead) for v, c in form.items())))
    if name == "rconst":
        name, args = "cong", args[:4]
    return ("ratio", _signed_key(_ratio_form(name, args), None))


def _trivial(key) -> bool:
    kind = key[0]
    if kind == "coll":
        return len(key[1]) < 3
    if kind == "cyclic":
        return len(key[1]) < 4
    if kind == "angle":
        return not key[1][0] and key[1][1] == 0
    if kind == "ratio":
        return not key[1][0]
    return False


@dataclass(frozen=True)
class _Fact:
    name: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return " ".join((self.name, *self.args))

    @property
    def key(self):
        return _key(self.name, self.args)


def _parse_fact(text: str) -> _Fact:
    toks = text.split()
    if not toks or toks[0] not in _NAMES:
        raise _Bad(f"not a fact: {text!r}")
    f = _Fact(toks[0], tuple(toks[1:]))
    f.key  # noqa: B018 - validates the arity and the segments
    return f


def _parse_tail(tail: str) -> tuple[str, list[_Fact]]:
    """``reason: premise, premise`` -> (reason, premises); a reason may itself hold ': '."""
    for m in re.finditer(r": ", tail):
        try:
            prem = [_parse_fact(p) for p in tail[m.end():].split(", ")]
        except _Bad:
            continue
        return tail[:m.start()], prem
    return tail, []


# --- exact elimination ---------------------------------------------------------------------------


def _combination(rows: Sequence[dict], target: dict) -> list[Fraction] | None:
    """Rational ``q`` with ``sum(q[i] * rows[i]) == target`` (exact Gaussian elimination), or
    None when ``target`` is not in the span of ``rows``."""
    basis: dict = {}  # pivot -> (row with 1 at the pivot and 0 at the other pivots, combination)
    for i, row in enumerate(rows):
        vec, comb = dict(row), {i: Fraction(1)}
        for piv, (bv, bc) in basis.items():
            c = vec.get(piv)
            if c:
                _axpy(vec, -c, bv)
                _axpy(comb, -c, bc)
        if not vec:
            continue
        piv = min(vec, key=repr)
        c = vec[piv]
        vec = {v: x / c for v, x in vec.items()}
        comb = {j: x / c for j, x in comb.items()}
        for p2, (bv, bc) in basis.items():
            f = bv.get(piv)
            if f:
                _axpy(bv, -f, vec)
                _axpy(bc, -f, comb)
        basis[piv] = (vec, comb)
    t, q = dict(target), {}
    for piv, (bv, bc) in basis.items():
        c = t.get(piv)
        if c:
            _axpy(t, -c, bv)
            _axpy(q, c, bc)
    if t:
        return None
    return [q.get(i, Fraction(0)) for i in range(len(rows))]


def _axpy(y: dict, a, x: dict) -> None:
    for k, v in x.items():
        z = y.get(k, 0) + a * v
        if z:
            y[k] = z
        else:
            y.pop(k, None)


# --- the verdict ---------------------------------------------------------------------------------


@dataclass
class StepVerdict:
    """One step: its number and text, whether it follows (``ok``), why not (``error``) and
    whether its rule read the diagram (``reads``: an orientation, an order along a line, or
    the choice among the solutions of ``g x = k (mod pi)``)."""

    number: int
    text: str
    ok: bool
    error: str = ""
    reads: bool = False


@dataclass
class Verdict:
    """The outcome of :func:`check_proof` / :func:`check_search`: ``ok`` when every step follows
    from the premises it cites and the last step is the problem's goal."""

    ok: bool
    steps: list[StepVerdict] = field(default_factory=list)
    error: str = ""

    @property
    def readings(self) -> int:
        """How many steps read the diagram."""
        return sum(s.reads for s in self.steps)

    def __str__(self) -> str:
        if self.ok:
            return (f"checked: all {len(self.steps)} steps follow from their cited premises "
                    f"({self.readings} read the diagram)")
        return f"rejected: {self.error}"


# --- the checker -------------------------------------------------------------------------------


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
        return sorted({a for f in (*self.prem, self.fact)
                       for a in (f.args[:4] if f.name in _VALUED else f.args)})

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
                if p.name in ("cong", "eqratio", "midp")]
        target = _form(terms)
        return not target or _combination(rows, target) is not None

    # the figure
    def noncoll(self, a, b, c) -> bool:
        return self.c.noncoll(a, b, c)

    def orient(self, a, b, c) -> int:
        self.reads = True
        return self.c.orient(a, b, c)


class _Checker:
    def __init__(self, problem: Problem, diagram: Diagram, lemmas: frozenset):
        self.problem = problem
        self.diagram = diagram
        self.lemmas = lemmas
        self.properties: dict[str, set] = defaultdict(set)
        for clause in problem.clauses:
            for con in clause.constructions:
                cdef = CONSTRUCTIONS[con.name]
                bind = dict(zip(cdef.args, con.args))
                for pname, pargs in cdef.properties:
                    if pname in _NAMES:
                        try:
                            self.properties[str(con)].add(
                                _key(pname, [bind.get(a, a) for a in pargs]))
                        except _Bad:
                            pass

    # numbers read off the figure
    def xy(self, p):
        v = self.diagram.points.get(p)
        if v is None:
            raise _Bad(f"point {p} is not in the problem")
        return float(v[0]), float(v[1])

    def cross(self, a, b, c) -> tuple[float, float]:
        (ax, ay), (bx, by), (cx, cy) = self.xy(a), self.xy(b), self.xy(c)
        ux, uy, vx, vy = bx - ax, by - ay, cx - ax, cy - ay
        return ux * vy - uy * vx, math.hypot(ux, uy) * math.hypot(vx, vy)

    def noncoll(self, a, b, c) -> bool:
        if len({a, b, c}) < 3:
            return False
        x, n = self.cross(a, b, c)
        return n > 0 and abs(x) / n > 1e-6

    def orient(self, a, b, c) -> int:
        return 1 if self.cross(a, b, c)[0] > 0 else -1

    def side(self, t, a, b) -> bool:
        """Whether ``a`` and ``b`` (on a line through ``t``) lie on the same side of ``t``."""
        (tx, ty), (ax, ay), (bx, by) = self.xy(t), self.xy(a), self.xy(b)
        return (ax - tx) * (bx - tx) + (ay - ty) * (by - ty) > 0

    def direction(self, seg) -> float:
        (ax, ay), (bx, by) = self.xy(seg[0]), self.xy(seg[1])
        return math.atan2(by - ay, bx - ax) / math.pi

    # one step
    def check(self, fact: _Fact, reason: str, prem: list[_Fact]) -> bool:
        """Raises :class:`_Bad` when ``fact`` does not follow; returns whether the step read
        the figure."""
        st = _Step(self, fact, reason, prem)
        if reason.startswith("construction "):
            text = reason[len("construction "):]
            if text not in self.properties:
                raise _Bad(f"the problem has no construction {text!r}")
            if fact.key not in self.properties[text]:
                raise _Bad(f"{fact} is not a property of {text!r}")
            return False
        if reason.startswith(_LEMMA):
            if fact.key not in self.lemmas:
                raise _Bad(f"{fact} is not among the lemmas proved elsewhere")
            return False
        if reason == "trivial: holds by its spelling":
            if not _trivial(fact.key):
                raise _Bad(f"{fact} does not hold by its spelling")
            return False
        for prefix, rule in _RULES:
            if reason == prefix or (prefix.endswith(" ") and reason.startswith(prefix)):
                if not rule(st):
                    raise _Bad(f"rule {reason!r} does not give {fact} from "
                               f"{', '.join(map(str, prem)) or 'no premises'}")
                return st.reads
        raise _Bad(f"unknown rule {reason!r}")


# --- the rules, each matched again from its statement ---------------------------------------


def _ar_angle(st: _Step) -> bool:
    if st.fact.name not in ("para", "perp", "eqangle", "aconst"):
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

    eqs = [equation(p) for p in st.prem if p.name in ("para", "perp", "eqangle", "aconst")]
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
    if name == "rconst" and _value(name, args[4]) == 1:
        name, args = "cong", args[:4]
    if name not in ("cong", "eqratio"):
        return False
    return st.ratios_imply(_ratio_form(name, args).items())


def _ar_length(st: _Step) -> bool:
    if st.fact.name not in ("cong", "rconst"):
        return False
    rows, ordered = [], []
    for p in st.prem:
        a = p.args
        if p.name == "cong":
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
    ("lines", _lines_goal),
    ("circle", _circle_goal),
)


# --- entry points --------------------------------------------------------------------------------


def _lines_of(proof) -> list[str]:
    if isinstance(proof, str):
        return [ln for ln in proof.splitlines() if ln.strip()]
    if isinstance(proof, Sequence) and all(isinstance(ln, str) for ln in proof):
        return [ln for ln in proof if ln.strip()]
    raise GeometryInputError(f"check_proof: proof must be text or a list of lines, got "
                             f"{type(proof).__name__}")


def check_proof(problem: Problem | str, proof: str | Sequence[str], *, lemmas=(),
                diagram: Diagram | None = None, seed: int = 0) -> Verdict:
    """Check ``proof`` (numbered lines ``N. fact  [reason: premise, ...]``, as
    :func:`~readingroom.geometry.ddar.format_proof` prints them) of ``problem`` step by step.

    A step is accepted when each premise it cites is an earlier step's fact and its reason
    yields its fact from those premises alone (see the module docstring); the proof is accepted
    when every step is and the last one is the problem's goal. ``lemmas``: facts (text, e.g.
    ``"cong a b a c"``) proved elsewhere that steps ``lemma from the branch with ...`` may
    state (:func:`check_search` checks their proofs). ``diagram`` is the figure the rules that
    read one look at (default: a fresh instance of ``problem`` from ``seed`` in which its goal
    holds).
    """
    if isinstance(problem, str):
        problem = parse_problem(problem)
    if not isinstance(problem, Problem):
        raise GeometryInputError(f"check_proof: expected a Problem or its text, got "
                                 f"{type(problem).__name__}")
    if problem.goal is None:
        raise GeometryInputError(f"check_proof: problem {problem.name!r} has no goal")
    lines = _lines_of(proof)
    lemma_keys = set()
    for text in lemmas:
        try:
            lemma_keys.add(_parse_fact(str(text)).key)
        except _Bad as e:
            raise GeometryInputError(f"check_proof: lemma {text!r}: {e}") from None
    if diagram is None:
        diagram = make_diagram(problem, seed=seed, require_goal=True)
    checker = _Checker(problem, diagram, frozenset(lemma_keys))
    known: set = set()
    steps: list[StepVerdict] = []
    last = None
    for i, line in enumerate(lines, start=1):
        m = _LINE.match(line)
        try:
            if m is None:
                raise _Bad("not a proof line 'N. fact  [reason: premises]'")
            fact = _parse_fact(m.group(2))
            reason, prem = _parse_tail(m.group(3))
            missing = [str(p) for p in prem if p.key not in known]
            if missing:
                raise _Bad(f"cites {', '.join(missing)}, not established by an earlier step")
            reads = checker.check(fact, reason, prem)
        except _Bad as e:
            steps.append(StepVerdict(i, line.strip(), False, str(e)))
            return Verdict(False, steps, f"step {i} ({line.strip()}): {e}")
        steps.append(StepVerdict(i, line.strip(), True, reads=reads))
        known.add(fact.key)
        last = fact
    if last is None:
        return Verdict(False, steps, "the proof has no steps")
    goal = problem.goal
    if goal.name in ("acompute", "rcompute"):  # a question: the answer is the value found
        answer = "aconst" if goal.name == "acompute" else "rconst"
        if last.name != answer or last.args[:4] != goal.args[:4]:
            return Verdict(False, steps, f"the last step proves {last}, not an answer to the "
                                         f"goal {goal} ({answer} {' '.join(goal.args)} value)")
        return Verdict(True, steps)
    try:
        goal_key = _key(goal.name, goal.args)
    except _Bad as e:
        return Verdict(False, steps, f"the goal {goal} cannot be checked: {e}")
    if last.key != goal_key:
        return Verdict(False, steps, f"the last step proves {last}, not the goal {goal}")
    return Verdict(True, steps)


def check_search(found, *, seed: int = 0) -> Verdict:
    """Check a solved :class:`~readingroom.geometry.search.SearchResult`: the proof of every
    lemma in the problem of the branch that proved it (each may use the lemmas listed before
    it), then the main proof with all of them. The steps of the returned verdict are the
    lemmas' and the main proof's, in that order."""
    if not all(hasattr(found, a) for a in ("solved", "result", "lemmas", "problem")):
        raise GeometryInputError(f"check_search: expected a SearchResult, got "
                                 f"{type(found).__name__}")
    if not found.solved or found.result is None or found.result.proof is None:
        raise GeometryInputError("check_search: the search did not solve its problem")
    steps: list[StepVerdict] = []
    proved: list[str] = []
    for k, lemma in enumerate(found.lemmas, start=1):
        lp = lemma.problem
        sub = Problem(lp.name, lp.clauses, _goal_of(lemma.fact), lp.text)
        v = check_proof(sub, lemma.proof, lemmas=proved, seed=seed)
        steps += v.steps
        if not v.ok:
            return Verdict(False, steps, f"lemma {k} ({lemma.fact}): {v.error}")
        proved.append(str(lemma.fact))
    v = check_proof(found.problem, found.result.proof, lemmas=proved, seed=seed)
    steps += v.steps
    return Verdict(v.ok, steps, v.error)


def _goal_of(f):
    from readingroom.geometry.language import Goal

    return Goal(f.name, tuple(f.args))
