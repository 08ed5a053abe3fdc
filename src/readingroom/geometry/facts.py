"""Facts: the predicates the deduction engine reasons with, one canonical key per statement.

Part of the symbolic engine of an AlphaGeometry-style prover (Trinh et al., 2024; AlphaGeometry2,
arXiv 2502.03544), written from the rule semantics, not from either code base:

* :class:`Fact` — a canonical, hashable predicate (``coll``, ``para``, ``perp``, ``cong``,
  ``cyclic``, ``eqangle``, ``eqratio``, ``midp``): every spelling of the same statement is one
  key (``para a b c d == para d c b a``; ``coll`` and ``cyclic`` are point sets). A fact checks
  itself numerically on a diagram (:meth:`Fact.holds`).
* :func:`premises` — the construction properties of a problem (from
  :data:`~readingroom.geometry.definitions.CONSTRUCTIONS`), checked on a numeric diagram: the
  facts a proof starts from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from readingroom.geometry.definitions import CONSTRUCTIONS, GOALS
from readingroom.geometry.diagram import Diagram
from readingroom.geometry.goals import goal_residual, goal_value
from readingroom.geometry.language import GeometryInputError, Goal, Problem, angle_fraction

__all__ = ["FACT_NAMES", "VALUE_NAMES", "Fact", "fact", "premises"]

FACT_NAMES = ("coll", "para", "perp", "cong", "cyclic", "eqangle", "eqratio", "midp")
#: facts with a value, the answers of AlphaGeometry2's "find" goals: ``aconst a b c d 1pi/4``
#: (the angle from ab to cd) and ``rconst a b c d 1/2`` (|ab| / |cd|)
VALUE_NAMES = ("aconst", "rconst")
#: AlphaGeometry2's linear equations of angles, distances and log-distances (arXiv 2502.03544,
#: Section 2): goals whose proofs end in a fact spelled as the goal (``angeq``, ``distseq``,
#: ``distmeq``)
_EQUATIONS = tuple(name for name, g in GOALS.items() if g.per_group)

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
        if self.name in VALUE_NAMES:  # the answer of a "find" goal: four points and a value
            value = (float(angle_fraction(self.args[4])) * math.pi if self.name == "aconst"
                     else float(Fraction(self.args[4])))
            return bool(goal_residual(self.name, diagram.coords(self.args[:4]), value) <= tol)
        if self.name in _EQUATIONS:  # AlphaGeometry2's linear equations: a goal's fact
            g = Goal(self.name, self.args)
            return bool(goal_residual(self.name, diagram.coords(g.points),
                                      goal_value(self.name, g.numbers)) <= tol)
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


# --- lines and circles from facts ----------------------------------------------------------


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
