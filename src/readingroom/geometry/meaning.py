"""What a fact means to the proof checker: facts compared by meaning, not spelling.

The checker (:mod:`~readingroom.geometry.checker`) reads a proof as text and must decide when two
spellings state the same thing. Here each fact becomes a hashable key
(:func:`_key`): ``para``, ``perp``, ``eqangle``, ``aconst`` and ``angeq`` (AlphaGeometry2's linear
equation of angles, arXiv 2502.03544, Section 2) a linear form in the directions of segments with
a constant mod pi (up to sign); ``cong``, ``eqratio``, ``rconst`` with ratio 1 and ``distmeq``
(AlphaGeometry2's linear equation of log-distances, same section) a linear form in log-lengths
and the logarithms of primes, ``("log", p)``, that spell its constant (up to sign); ``rconst``
with another ratio and ``distseq`` (its linear equation of
distances) a linear form in lengths, scaled to a leading 1 (one that says ``|ab| = |cd|`` is
read as ``cong``); ``coll`` and ``cyclic`` point sets; ``midp`` a point and a segment;
``simtri`` and ``contri`` their pairs of corresponding vertices. :func:`_combination` is the exact
(rational) elimination the ``AR`` steps are replayed with.

Like the rest of the checker it imports nothing of the prover (``facts``, ``ar``, ``rules``):
a bug there cannot make the checker accept a false step unless it is written twice. What the two
share is the problem language (:mod:`~readingroom.geometry.language`), including
``prime_exponents``, the arithmetic that writes a rational constant over its primes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from readingroom.geometry.language import angle_fraction, prime_exponents

_ARITY = {"para": 4, "perp": 4, "cong": 4, "eqangle": 8, "eqratio": 8, "midp": 3, "simtri": 6,
          "contri": 6, "aconst": 5, "rconst": 5}
_VALUED = ("aconst", "rconst")  # four points and a value: the answers of "find" goals
#: ``angeq a1 b1 c1 d1 ... an bn cn dn t1 ... tn y``: n groups of four points, n integer
#: coefficients and a value, read by :func:`_angeq_parts`
_NAMES = ("coll", "cyclic", *_ARITY, "angeq", "distseq", "distmeq")
#: ``distseq a1 b1 ... an bn t1 ... tn`` (rational t) and ``distmeq a1 b1 ... an bn t1 ... tn y``
#: (integer t, y = 1): n segments and n coefficients, read by :func:`_dist_parts`
_DIST = ("distseq", "distmeq")
_HALF = Fraction(1, 2)


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


def _angeq_parts(args: Sequence[str]) -> tuple[list[tuple[str, ...]], list[int], Fraction]:
    """``angeq``'s arguments as (groups of four points, integer coefficients, y in units of
    pi); raises :class:`_Bad` unless there are 4n points, n non-zero integers and one value."""
    n, rest = divmod(len(args) - 1, 5)
    if n < 1 or rest:
        raise _Bad(f"angeq takes 4n points, n coefficients and a value, got {len(args)} "
                   "arguments")
    groups = [tuple(args[4 * i:4 * i + 4]) for i in range(n)]
    coeffs = []
    for tok in args[4 * n:5 * n]:
        if not re.fullmatch(r"[-+]?\d+", tok) or int(tok) == 0:
            raise _Bad(f"angeq: a coefficient must be a non-zero integer, got {tok!r}")
        coeffs.append(int(tok))
    return groups, coeffs, _value("aconst", args[-1])


def _dist_parts(name: str, args: Sequence[str]) -> tuple[list[tuple[str, str]], list[Fraction]]:
    """``distseq``'s or ``distmeq``'s arguments as (segments, coefficients); raises
    :class:`_Bad` unless there are 2n points and n non-zero coefficients (rationals such as
    ``1/2`` for distseq, integers for distmeq), and for distmeq a positive rational value y."""
    n_values = 1 if name == "distmeq" else 0
    n, rest = divmod(len(args) - n_values, 3)
    if n < 1 or rest:
        raise _Bad(f"{name} takes 2n points, n coefficients"
                   f"{' and a value' if n_values else ''}, got {len(args)} arguments")
    pattern = r"[-+]?\d+" if name == "distmeq" else r"[-+]?\d+/\d+|[-+]?\d+"
    coeffs = []
    for tok in args[2 * n:3 * n]:
        try:
            t = Fraction(tok) if re.fullmatch(pattern, tok) else Fraction(0)
        except ZeroDivisionError:
            t = Fraction(0)
        if t == 0:
            kind = "an integer" if name == "distmeq" else "a rational ('2', '-1', '1/2')"
            raise _Bad(f"{name}: a coefficient must be non-zero, {kind}, got {tok!r}")
        coeffs.append(t)
    if n_values:
        _value("rconst", args[-1])  # a positive rational
    return [(args[2 * i], args[2 * i + 1]) for i in range(n)], coeffs


def _point_args(name: str, args: Sequence[str]) -> tuple[str, ...]:
    """The arguments of ``name args`` that are points (not coefficients or values)."""
    if name in _VALUED:
        return tuple(args[:4])
    if name == "angeq":
        return tuple(args[:4 * len(_angeq_parts(args)[1])])
    if name in _DIST:
        return tuple(args[:2 * len(_dist_parts(name, args)[1])])
    return tuple(args)


def _length_form(name: str, args: Sequence[str]) -> dict:
    """``|ab| - r |cd| = 0`` for ``cong a b c d`` (r = 1) and ``rconst a b c d r``;
    ``sum t_i |a_ib_i| = 0`` for ``distseq``."""
    if name == "distseq":
        segs, coeffs = _dist_parts(name, args)
        return _form((_seg(a, b), t) for (a, b), t in zip(segs, coeffs))
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
    if name == "angeq":  # sum t (dir(cd) - dir(ab)) + y = 0
        groups, coeffs, y = _angeq_parts(args)
        terms = [(_seg(c, d), t) for (_, _, c, d), t in zip(groups, coeffs)]
        terms += [(_seg(a, b), -t) for (a, b, _, _), t in zip(groups, coeffs)]
        return _form(terms), (-y) % 1
    segs = [_seg(args[i], args[i + 1]) for i in range(0, len(args), 2)]
    if name in ("para", "perp"):
        return _form([(segs[0], 1), (segs[1], -1)]), (_HALF if name == "perp" else Fraction(0))
    return _form(zip(segs, (1, -1, -1, 1))), Fraction(0)


def _log_of(r: Fraction) -> list[tuple[object, int]]:
    """``log r`` for a positive rational as terms ``(("log", p), exponent)`` over its primes
    (:func:`~readingroom.geometry.language.prime_exponents`): the constants of a ratio
    equation, kept as symbols."""
    return [(("log", p), e) for p, e in prime_exponents(r).items()]


def _ratio_constant_form(s1: tuple[str, str], s2: tuple[str, str], r: Fraction) -> dict:
    """``|s1| = r |s2|`` as ``log|s1| - log|s2| - log r = 0``."""
    return _form([(s1, 1), (s2, -1), *((v, -e) for v, e in _log_of(r))])


def _ratio_form(name: str, args: Sequence[str]) -> dict:
    """``sum(c * log|segment|) + sum(e * log p) = 0``, the constants ``log p`` of the primes
    ``p`` as variables ``("log", p)``."""
    if name == "distmeq":
        segs, coeffs = _dist_parts(name, args)
        y = _value("rconst", args[-1])
        return _form([*((_seg(a, b), t) for (a, b), t in zip(segs, coeffs)),
                      *((v, -e) for v, e in _log_of(y))])
    if name == "rconst":
        return _ratio_constant_form(_seg(*args[:2]), _seg(*args[2:4]), _value(name, args[4]))
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
    if name in ("para", "perp", "eqangle", "aconst", "angeq"):
        form, k = _angle_form(name, args)
        return ("angle", _signed_key(form, k % 1))
    if name == "distseq":
        form = _length_form(name, args)
        if len(form) == 2 and sum(form.values()) == 0:  # |ab| = |cd|: the meaning of cong
            return ("ratio", _signed_key({s: c / abs(c) for s, c in form.items()}, None))
        lead = form[min(form)] if form else 1
        return ("length", tuple(sorted((v, c / lead) for v, c in form.items())))
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
    if kind in ("ratio", "length"):
        return not key[1] if kind == "length" else not key[1][0]
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
