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
meanings and the elimination (:mod:`~readingroom.geometry.meaning`) and the rules' matchers
(:mod:`~readingroom.geometry.rematch`) are its own, so a bug in a rule of the prover
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

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from readingroom.geometry.definitions import CONSTRUCTIONS
from readingroom.geometry.diagram import Diagram
from readingroom.geometry.language import GeometryInputError, Problem, parse_problem
from readingroom.geometry.meaning import _NAMES, _Bad, _Fact, _key, _parse_fact, _parse_tail, _trivial
from readingroom.geometry.optimize import make_diagram
from readingroom.geometry.rematch import _RULES, _Step

__all__ = ["StepVerdict", "Verdict", "check_proof", "check_search"]

_LEMMA = "lemma from the branch with "
_LINE = re.compile(r"^\s*(\d+)\.\s+(\S.*?)\s+\[(.*)\]\s*$")


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

    def crossing(self, a, b, c, d) -> bool:
        """Whether lines ``ab`` and ``cd`` are not parallel on the figure."""
        (ax, ay), (bx, by), (cx, cy), (dx, dy) = (self.xy(p) for p in (a, b, c, d))
        ux, uy, vx, vy = bx - ax, by - ay, dx - cx, dy - cy
        n = math.hypot(ux, uy) * math.hypot(vx, vy)
        return n > 0 and abs(ux * vy - uy * vx) / n > 1e-6

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
