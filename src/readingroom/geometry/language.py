"""The formal problem language of AlphaGeometry: parsing, validation and formatting.

A problem is one line: clauses separated by ``;``, then ``?`` and a goal::

    a b c = triangle a b c; h = on_tline h b a c, on_tline h c a b ? perp a h b c

Each clause lists its new points left of ``=`` and one or more constructions (separated by
``,``) that the new points satisfy; a point constrained by two ``locus`` constructions is their
intersection. As in the published benchmark files, the new points may be left out of a
construction's arguments (``a b c = triangle; d = on_line b c``): when a construction has
exactly as many arguments missing as the clause has new points, the new points fill the
construction's new-point slots. A point may carry fixed coordinates, ``x@1.5_-0.25``.

Benchmark files (``imo_ag_30.txt``) hold two lines per problem: a name, then the problem.

:func:`parse_problem` checks everything it can without coordinates and raises
:class:`GeometryInputError` with a message naming the problem, the clause and the construction.
:func:`format_problem` writes the canonical form (all arguments spelled out), so that
``parse_problem(format_problem(p)) == p``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from readingroom.geometry.definitions import CONSTRUCTIONS, GOALS

__all__ = [
    "Clause",
    "Construction",
    "GeometryInputError",
    "Goal",
    "Problem",
    "format_problem",
    "parse_angle",
    "parse_file",
    "parse_goal",
    "parse_number",
    "parse_problem",
    "parse_ratio",
    "prime_exponents",
]

#: primes tried by :func:`prime_exponents`; a cofactor left above them stays one "prime"
_TRIAL = 10**6

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_']*$")
_FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PINNED = re.compile(rf"^([A-Za-z][A-Za-z0-9_']*)@({_FLOAT})_({_FLOAT})$")


class GeometryInputError(ValueError):
    """A problem text (or a goal) that cannot be parsed or does not make sense."""


@dataclass(frozen=True)
class Construction:
    """One construction applied in a clause, e.g. ``Construction("foot", ("h", "a", "b", "c"))``."""

    name: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return " ".join((self.name, *self.args))


@dataclass(frozen=True)
class Clause:
    """New ``points`` and the ``constructions`` they satisfy; ``coords`` pins some of them:
    a tuple of ``(name, x, y)``."""

    points: tuple[str, ...]
    constructions: tuple[Construction, ...]
    coords: tuple[tuple[str, float, float], ...] = ()

    def __str__(self) -> str:
        pinned = {n: (x, y) for n, x, y in self.coords}
        pts = [f"{p}@{pinned[p][0]!r}_{pinned[p][1]!r}" if p in pinned else p for p in self.points]
        return f"{' '.join(pts)} = {', '.join(str(c) for c in self.constructions)}"


@dataclass(frozen=True)
class Goal:
    """A predicate to prove, e.g. ``Goal("perp", ("a", "h", "b", "c"))``."""

    name: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return " ".join((self.name, *self.args))

    @property
    def points(self) -> tuple[str, ...]:
        gdef = GOALS.get(self.name)
        n = gdef.count_points(len(self.args)) if gdef is not None else None
        return self.args if n is None else self.args[:n]

    @property
    def numbers(self) -> tuple[str, ...]:
        """The numeric arguments after the points (coefficients, then values)."""
        return self.args[len(self.points):]


@dataclass(frozen=True)
class Problem:
    """A parsed problem. ``text`` (the source line) does not take part in equality."""

    name: str
    clauses: tuple[Clause, ...]
    goal: Goal | None
    text: str = field(default="", compare=False)

    @property
    def points(self) -> tuple[str, ...]:
        """All points, in order of definition."""
        return tuple(p for c in self.clauses for p in c.points)

    def __str__(self) -> str:
        return format_problem(self)


# --- numbers in arguments ------------------------------------------------------------------


def parse_number(tok: str) -> float:
    """A plain number (``'30'``, ``'-1.5'``) or a fraction ``'p/q'``; ``ValueError`` otherwise."""
    tok = tok.strip()
    if "/" in tok:
        return float(Fraction(tok))
    return float(tok)


def parse_angle(tok: str) -> float:
    """An angle in radians from ``'2pi/3'``, ``'pi/4'``, ``'1pi'``, ``'60o'`` or ``'60'`` (deg)."""
    t = tok.strip().lower()
    m = re.fullmatch(r"(\d*)pi(?:/(\d+))?", t)
    if m:
        num = int(m.group(1)) if m.group(1) else 1
        den = int(m.group(2)) if m.group(2) else 1
        if den == 0:
            raise ValueError(f"bad angle {tok!r}")
        return num * 3.141592653589793 / den
    if t.endswith("o"):
        t = t[:-1]
    return float(t) * 3.141592653589793 / 180.0


def prime_exponents(r: Fraction) -> dict[int, int]:
    """A positive rational as ``{p: exponent}`` over its primes (``12/5`` -> ``{2: 2, 3: 1,
    5: -1}``): ``log r = sum e log p``, how the ratio chase and its checker write constants.
    Trial division stops at :data:`_TRIAL`; a cofactor left above it stays one symbol, which
    can only hide a relation among constants, never invent one. ``ValueError`` unless
    ``r > 0``."""
    r = Fraction(r)
    if r <= 0:
        raise ValueError(f"prime_exponents: the ratio must be positive, got {r}")
    out: dict[int, int] = {}
    for n, sign in ((r.numerator, 1), (r.denominator, -1)):
        p = 2
        while p * p <= n and p <= _TRIAL:
            while n % p == 0:
                out[p] = out.get(p, 0) + sign
                n //= p
            p += 1
        if n > 1:
            out[n] = out.get(n, 0) + sign
    return out


def angle_fraction(tok: str) -> Fraction:
    """An angle written as in :func:`parse_angle`, exactly, in units of pi, in ``[0, 1)``
    (``'pi/4'`` -> ``1/4``, ``'135o'`` -> ``3/4``); ``ValueError`` if it cannot be read."""
    t = tok.strip().lower()
    m = re.fullmatch(r"(\d*)pi(?:/(\d+))?", t)
    if m:
        den = int(m.group(2)) if m.group(2) else 1
        if den == 0:
            raise ValueError(f"bad angle {tok!r}")
        return Fraction(int(m.group(1)) if m.group(1) else 1, den) % 1
    return (Fraction(t[:-1] if t.endswith("o") else t) / 180) % 1


def angle_text(k: Fraction) -> str:
    """The language's spelling of ``k`` pi (``1/4`` -> ``'1pi/4'``; ``0`` -> ``'0o'``)."""
    k = Fraction(k) % 1
    return "0o" if k == 0 else f"{k.numerator}pi/{k.denominator}"


def parse_ratio(tok: str) -> float:
    """A ratio from ``'1/2'`` or ``'0.5'``."""
    return parse_number(tok)


# --- parsing -------------------------------------------------------------------------------


def _where(problem: str, clause_no: int | None = None, clause: str | None = None,
           construction: str | None = None) -> str:
    parts = [f"problem {problem!r}" if problem else "problem"]
    if clause_no is not None:
        parts.append(f"clause {clause_no} {clause!r}")
    if construction is not None:
        parts.append(f"construction {construction!r}")
    return ": ".join(parts)


def _suggest(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=3, cutoff=0.6)
    close += [o for o in options if len(o) >= 3 and o not in close
              and (name.startswith(o) or o.startswith(name))][: 3 - len(close)]
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _parse_point_token(tok: str, where: str) -> tuple[str, tuple[float, float] | None]:
    m = _PINNED.match(tok)
    if m:
        return m.group(1), (float(m.group(2)), float(m.group(3)))
    if not _NAME.match(tok):
        raise GeometryInputError(f"{where}: invalid point name {tok!r} (expected a name such as "
                                 "'a', 'h1' or 'x@0.5_1.25')")
    return tok, None


def _parse_construction(
    text: str, points: tuple[str, ...], defined: set[str], where: str
) -> Construction:
    toks = text.split()
    if not toks:
        raise GeometryInputError(f"{where}: empty construction (two commas in a row, or a "
                                 "trailing comma?)")
    name, args = toks[0], toks[1:]
    where_c = f"{where}: construction {text.strip()!r}"
    cdef = CONSTRUCTIONS.get(name)
    if cdef is None:
        raise GeometryInputError(
            f"{where_c}: unknown construction {name!r}{_suggest(name, CONSTRUCTIONS)}")
    if len(args) != cdef.arity:
        if (len(args) + len(points) == cdef.arity and len(cdef.new) == len(points)
                and not set(args) & set(points)):
            fill = iter(points)
            given = iter(args)
            args = [next(fill) if a in cdef.new else next(given) for a in cdef.args]
        else:
            raise GeometryInputError(
                f"{where_c}: {name} takes {cdef.arity} arguments ({cdef.signature()!r}), "
                f"got {len(args)}")
    for slot, arg in zip(cdef.args, args):
        if slot in cdef.numeric:
            try:
                float(arg[:-1] if arg.lower().endswith("o") else arg)
            except ValueError:
                raise GeometryInputError(
                    f"{where_c}: argument {slot!r} of {name} must be a number, got {arg!r}"
                ) from None
            continue
        if not _NAME.match(arg):
            raise GeometryInputError(f"{where_c}: invalid point name {arg!r}")
        if slot in cdef.new:
            if arg not in points:
                if arg in defined:
                    raise GeometryInputError(
                        f"{where_c}: argument {arg!r} fills the new-point slot {slot!r} of "
                        f"{name} ({cdef.signature()!r}) but is an existing point; new points "
                        f"of this clause: {' '.join(points)}")
                raise GeometryInputError(
                    f"{where_c}: argument {arg!r} fills the new-point slot {slot!r} of {name} "
                    f"({cdef.signature()!r}) but is not among the clause's new points "
                    f"({' '.join(points)})")
        elif arg not in defined:
            if arg in points:
                raise GeometryInputError(
                    f"{where_c}: point {arg!r} is used before it is defined (it is a new point "
                    f"of this clause, but {name} needs it as an existing point in slot "
                    f"{slot!r} of {cdef.signature()!r})")
            raise GeometryInputError(f"{where_c}: point {arg!r} is used before it is defined")
    new_args = [a for s, a in zip(cdef.args, args) if s in cdef.new]
    if len(set(new_args)) != len(new_args):
        raise GeometryInputError(f"{where_c}: the same point fills two new-point slots")
    return Construction(name, tuple(args))


def _parse_clause(text: str, defined: set[str], where: str) -> Clause:
    if text.count("=") != 1:
        what = "no '='" if "=" not in text else "more than one '='"
        raise GeometryInputError(
            f"{where}: malformed clause ({what}); expected 'x y = construction args, ...'")
    left, right = text.split("=")
    toks = left.split()
    if not toks:
        raise GeometryInputError(f"{where}: no new points left of '='")
    points, coords = [], []
    for tok in toks:
        name, xy = _parse_point_token(tok, where)
        if name in defined:
            raise GeometryInputError(f"{where}: point {name!r} is redefined (it was defined "
                                     "by an earlier clause)")
        if name in points:
            raise GeometryInputError(f"{where}: point {name!r} is listed twice")
        points.append(name)
        if xy is not None:
            coords.append((name, xy[0], xy[1]))
    if not right.strip():
        raise GeometryInputError(f"{where}: no construction right of '='")
    pts = tuple(points)
    constructions = tuple(_parse_construction(c, pts, defined, where) for c in right.split(","))
    covered = {a for c in constructions for s, a in zip(CONSTRUCTIONS[c.name].args, c.args)
               if s in CONSTRUCTIONS[c.name].new}
    missing = [p for p in pts if p not in covered]
    if missing:
        raise GeometryInputError(f"{where}: new point(s) {' '.join(missing)} not introduced by "
                                 "any construction of the clause")
    return Clause(pts, constructions, tuple(coords))


def parse_goal(text: str, defined: set[str] | None = None, problem: str = "") -> Goal:
    """Parse a goal such as ``'perp a h b c'``; check point names against ``defined`` if given."""
    where = _where(problem) + f": goal {text.strip()!r}"
    toks = text.split()
    if not toks:
        raise GeometryInputError(f"{where}: empty goal after '?'")
    name, args = toks[0], tuple(toks[1:])
    gdef = GOALS.get(name)
    if gdef is None:
        raise GeometryInputError(f"{where}: unknown goal predicate {name!r}"
                                 f"{_suggest(name, GOALS)} (known: {', '.join(GOALS)})")
    n_pts = gdef.count_points(len(args))
    if n_pts is None:
        vals = f" and {gdef.n_values} value" if gdef.n_values else ""
        if gdef.per_group:
            kind = "rational" if gdef.coeff_kind == "rational" else "integer"
            want = (f"one or more groups of {gdef.n_points} points, {gdef.per_group} {kind} "
                    f"coefficient(s) per group after all the points{vals}")
        else:
            want = (f"at least {gdef.n_points}" if gdef.variadic else str(gdef.n_points)) + \
                f" points{vals}"
        raise GeometryInputError(f"{where}: {name} takes {want} ({gdef.signature()!r}), got "
                                 f"{len(args)} arguments")
    for a in args[:n_pts]:
        if not _NAME.match(a):
            raise GeometryInputError(f"{where}: invalid point name {a!r}")
        if defined is not None and a not in defined:
            raise GeometryInputError(f"{where}: point {a!r} is not defined by the problem")
    n_coeffs = len(args) - n_pts - gdef.n_values
    for t in args[n_pts:n_pts + n_coeffs]:
        if _coefficient(t, gdef.coeff_kind) is None:
            want = _COEFFICIENTS.get(name, f"non-zero {gdef.coeff_kind}s")
            raise GeometryInputError(f"{where}: the coefficients of {name} must be {want}, "
                                     f"got {t!r}")
    for val in args[len(args) - gdef.n_values:] if gdef.n_values else ():
        try:
            parse_angle(val) if gdef.value_kind == "angle" else parse_ratio(val)
        except (ValueError, ZeroDivisionError):
            raise GeometryInputError(f"{where}: cannot read the value {val!r} of {name}") from None
        if name == "distmeq":
            _distmeq_value(val, where)
    return Goal(name, args)


#: what the coefficients of a linear-equation goal must be, and why, for the error message
_COEFFICIENTS = {
    "angeq": "non-zero integers (a fraction of a directed angle mod pi is not well defined)",
    "distseq": "non-zero rationals written like '2', '-1' or '1/2'",
    "distmeq": "non-zero integers (the powers of the lengths)",
}


def _coefficient(tok: str, kind: str) -> Fraction | None:
    """A non-zero coefficient of a linear-equation goal: an integer (``'2'``, ``'-1'``), or for
    ``kind`` ``"rational"`` also ``'p/q'``; None when ``tok`` is not one."""
    pattern = r"[-+]?\d+/\d+|[-+]?\d+" if kind == "rational" else r"[-+]?\d+"
    if not re.fullmatch(pattern, tok):
        return None
    try:
        value = Fraction(tok)
    except ZeroDivisionError:
        return None
    return value if value != 0 else None


def _distmeq_value(tok: str, where: str) -> None:
    """``distmeq``'s value y must be a positive rational: ``prod |a_ib_i|^t_i = y``. The ratio
    chase that proves it (AlphaGeometry2's linear equation of log-distances, arXiv 2502.03544,
    Section 2) holds ``log y`` as the logarithms of its primes."""
    try:
        y = Fraction(tok)
    except (ValueError, ZeroDivisionError):
        y = None
    if y is None or y <= 0:
        raise GeometryInputError(f"{where}: the value of distmeq must be a positive rational, "
                                 f"got {tok!r}")


def parse_problem(text: str, name: str = "") -> Problem:
    """Parse one problem line. Raises :class:`GeometryInputError` on any mistake."""
    if not isinstance(text, str):
        raise GeometryInputError(f"{_where(name)}: expected a string, got {type(text).__name__}")
    line = text.strip()
    if not line:
        raise GeometryInputError(f"{_where(name)}: empty problem text")
    if line.count("?") > 1:
        raise GeometryInputError(f"{_where(name)}: malformed problem: more than one '?'")
    body, _, goal_text = line.partition("?")
    defined: set[str] = set()
    clauses = []
    parts = body.split(";")
    for i, part in enumerate(parts, start=1):
        where = _where(name, i, part.strip())
        if not part.strip():
            raise GeometryInputError(
                f"{where}: empty clause (two ';' in a row, or a trailing ';'?)")
        clause = _parse_clause(part, defined, where)
        defined.update(clause.points)
        clauses.append(clause)
    goal = None
    if "?" in line:
        goal = parse_goal(goal_text, defined, name)
    return Problem(name=name, clauses=tuple(clauses), goal=goal, text=line)


def parse_file(path_or_text: str | Path) -> list[Problem]:
    """Parse a benchmark file: a name line then a problem line, per problem (blank lines and
    ``#`` comments ignored). Accepts a path or the text itself (anything with a newline)."""
    is_path = isinstance(path_or_text, Path) or (
        "\n" not in path_or_text and Path(path_or_text).is_file())
    if is_path:
        text = Path(path_or_text).read_text()
    else:
        text = path_or_text
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if len(lines) % 2:
        raise GeometryInputError(
            f"problem file: odd number of non-blank lines ({len(lines)}); expected name/problem "
            f"pairs (last line: {lines[-1]!r})")
    problems = []
    seen: set[str] = set()
    for i in range(0, len(lines), 2):
        pname, body = lines[i], lines[i + 1]
        if "=" in pname:
            raise GeometryInputError(f"problem file: line {pname!r} looks like a problem, "
                                     "expected a name line")
        if pname in seen:
            raise GeometryInputError(f"problem file: duplicate problem name {pname!r}")
        seen.add(pname)
        problems.append(parse_problem(body, name=pname))
    return problems


def format_problem(problem: Problem) -> str:
    """The canonical one-line form; ``parse_problem(format_problem(p), p.name) == p``."""
    body = "; ".join(str(c) for c in problem.clauses)
    return f"{body} ? {problem.goal}" if problem.goal is not None else body
