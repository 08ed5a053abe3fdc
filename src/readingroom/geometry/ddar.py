"""The DD + AR engine: saturate a problem's facts with the deductive rules and the algebra until
the goal appears, then trace its proof back.

This is the symbolic half of an AlphaGeometry-style prover (Trinh et al., 2024; AlphaGeometry2,
arXiv 2502.03544), written from the rule semantics, not from either code base. It runs the
canonical facts and premises of :mod:`~readingroom.geometry.facts`, the algebra of
:mod:`~readingroom.geometry.ar` and the rules of :mod:`~readingroom.geometry.rules`:

* :func:`solve` — the saturation loop: every round rebuilds the lines, circles and linear
  systems from the facts held, tries the goal, then calls the rules of
  :data:`~readingroom.geometry.rules.ROUND`;
* :func:`format_proof` — the traced-back, numbered proof; :func:`proof_holds` checks its steps
  on fresh diagrams.

Every derived fact is checked numerically on the diagram before it is kept; a fact that fails
is discarded and counted (``Result.discarded``), which would signal a rule-matching bug.
"""

from __future__ import annotations

import itertools
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

from readingroom.geometry.ar import AlgebraicReasoning, log_terms
from readingroom.geometry.diagram import Diagram
from readingroom.geometry.facts import FACT_NAMES, Fact, _merge_groups, _seg, fact, premises
from readingroom.geometry.language import (
    GeometryInputError,
    Goal,
    Problem,
    angle_fraction,
    angle_text,
    parse_problem,
)
from readingroom.geometry.optimize import make_diagram
from readingroom.geometry.rules import ROUND, DeductionRules

__all__ = [
    "Result",
    "format_proof", "proof_holds",
    "saturate", "solve",
]

GOAL_NAMES = FACT_NAMES + ("simtri", "contri", "aconst", "rconst", "acompute", "rcompute",
                           "angeq", "distseq", "distmeq")

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

    @property
    def answer(self) -> str | None:
        """The value a solved "find" goal found, in the language's spelling (``'1pi/3'`` for an
        angle of pi/3, ``'1/2'`` for a ratio); None for other goals."""
        if self.solved and self.goal is not None and self.goal.name in ("aconst", "rconst"):
            return self.goal.args[4]
        return None

    def proof_of(self, f: Fact) -> list[str]:
        """The numbered proof of any fact this run holds (not only the goal)."""
        if f not in self.why:
            raise KeyError(f"{f} is not among this run's facts")
        return _proof_lines(self.why, _trace(self.why, f))


class _Timeout(Exception):
    pass


class _Engine(DeductionRules, AlgebraicReasoning):
    """One run's state: the facts held with their reasons, and the lines, circles and linear
    systems built from them each round. The rules come from the mixin
    :class:`~readingroom.geometry.rules.DeductionRules`, the algebra from
    :class:`~readingroom.geometry.ar.AlgebraicReasoning`."""

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
        self.build_systems()

    def L(self, a, b) -> int:
        return self.line_of[_seg(a, b)]

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
        if n in ("aconst", "acompute"):
            return self.prove_angle_value(a, angle_fraction(a[4]) if n == "aconst" else None)
        if n in ("rconst", "rcompute"):
            return self.prove_ratio_value(a, Fraction(a[4]) if n == "rconst" else None)
        if n == "angeq":
            return self.prove_angle_equation(goal)
        if n == "distseq":
            return self.prove_length_equation(goal)
        if n == "distmeq":
            return self.prove_log_length_equation(goal)
        if n == "contri":
            # similar, and one pair of corresponding sides equal
            st = self.prove_goal(Goal("simtri", a))
            if st is None:
                return None
            for i, j in ((0, 1), (1, 2), (0, 2)):
                side = self.try_fact("cong", a[i], a[j], a[i + 3], a[j + 3])
                g = (self.derive(self.ar_ratio(side), "AR ratio chase")
                     or self.derive(self.ar_length(side), "AR length chase"))
                if g is not None:
                    ct = Fact("contri", tuple(a))
                    if ct in self.why or self.add(ct, "congruent triangles",
                                                  (*self.why[st][1], g)):
                        return ct
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


    def prove_angle_value(self, a, k: Fraction | None) -> Fact | None:
        """``aconst a b c d k``: the angle from line ab to line cd is ``k`` pi, if the angle chase
        implies it; with ``k`` None (``acompute``) the value the chase pins down, if any."""
        if a[0] == a[1] or a[2] == a[3]:
            return None
        lab, lcd = self.L(a[0], a[1]), self.L(a[2], a[3])
        coeffs = {} if lab == lcd else {lcd: 1, lab: -1}
        if k is None:
            free, c, _ = self.angles.normal_form(coeffs)
            if free:
                return None
            values = [c % 1, (-c) % 1]
        else:
            values = [k % 1]
        sup = self.line_sup[lab] | self.line_sup[lcd]
        for v in values:
            prov = self.angles.implies(coeffs, v) if coeffs else (frozenset() if v == 0 else None)
            if prov is None:
                continue
            f = Fact("aconst", (*a[:4], angle_text(v)))
            if f in self.why or self.add(f, "AR angle chase", tuple(prov | sup)):
                return f
        return None

    def prove_angle_equation(self, goal: Goal) -> Fact | None:
        """AlphaGeometry2's ``angeq`` (arXiv 2502.03544, Section 2), in this book's spelling
        ``angeq a1 b1 c1 d1 ... an bn cn dn t1 ... tn y``: ``sum t_i * angle(a_ib_i, c_id_i) +
        y = 0 (mod pi)``, if the angle chase implies the linear form
        ``sum t_i * (dir(c_id_i) - dir(a_ib_i)) = -y``; the fact is the goal as written, its
        premises the equations combined and the ``coll`` facts that make its lines."""
        pts = goal.points
        coeffs = [int(t) for t in goal.numbers[:-1]]
        form: dict = defaultdict(int)
        sup: frozenset = frozenset()
        for i, t in enumerate(coeffs):
            a, b, c, d = pts[4 * i:4 * i + 4]
            if a == b or c == d:
                return None
            lab, lcd = self.L(a, b), self.L(c, d)
            form[lcd] += t
            form[lab] -= t
            sup |= self.line_sup[lab] | self.line_sup[lcd]
        form = {li: t for li, t in form.items() if t}
        k = (-angle_fraction(goal.numbers[-1])) % 1
        prov = self.angles.implies(form, k) if form else (frozenset() if k == 0 else None)
        if prov is None:
            return None
        f = Fact("angeq", tuple(goal.args))
        if f in self.why or self.add(f, "AR angle chase", tuple(prov | sup)):
            return f
        return None

    def _segment_form(self, goal: Goal, read) -> dict | None:
        """``sum t_i * x(a_ib_i)`` of a ``distseq``/``distmeq`` goal as ``{segment: t}`` (terms
        on one segment merged, zero terms dropped; ``read`` turns a coefficient's text into a
        number); None when a segment has zero length."""
        pts = goal.points
        n = len(pts) // 2
        form: dict = defaultdict(Fraction)
        for i, t in enumerate(goal.numbers[:n]):
            a, b = pts[2 * i], pts[2 * i + 1]
            if a == b:
                return None
            form[_seg(a, b)] += read(t)
        return {s: t for s, t in form.items() if t}

    def prove_length_equation(self, goal: Goal) -> Fact | None:
        """AlphaGeometry2's ``distseq`` (arXiv 2502.03544, Section 2), in this book's spelling
        ``distseq a1 b1 ... an bn t1 ... tn``: ``t1 |a1b1| + ... + tn |anbn| = 0`` with rational
        ``t_i``, if the length chase (the exact linear system over lengths behind ``rconst``)
        implies it; the fact is the goal as written. A two-term equation ``t1 |s1| + t2 |s2| =
        0`` is also proved by the ratio chase, as ``rconst s1 s2 (-t2/t1)`` is."""
        form = self._segment_form(goal, Fraction)
        if form is None:
            return None
        f = Fact("distseq", tuple(goal.args))
        if f in self.why:
            return f
        prov = self.lengths.implies(form, 0)
        if prov is not None:
            return f if self.add(f, "AR length chase", tuple(prov)) else None
        if len(form) == 2 and sum(form.values()) == 0:
            s1, s2 = form
            g = self.derive(self.ar_ratio(self.try_fact("cong", *s1, *s2)), "AR ratio chase")
            if g is not None and self.add(f, "AR ratio chase", (g,)):
                return f
        elif len(form) == 2 and math.prod(form.values()) < 0:
            # t1 |s1| + t2 |s2| = 0 is |s1| / |s2| = -t2 / t1: a ratio with a constant
            (s1, t1), (s2, t2) = form.items()
            prov = self.ratios.implies({s1: 1, s2: -1, **{k: -e for k, e in
                                                          log_terms(-t2 / t1).items()}}, 0)
            if prov is not None:
                return f if self.add(f, "AR ratio chase", tuple(prov)) else None
        return None

    def prove_log_length_equation(self, goal: Goal) -> Fact | None:
        """AlphaGeometry2's ``distmeq`` (arXiv 2502.03544, Section 2), in this book's spelling
        ``distmeq a1 b1 ... an bn t1 ... tn y``: ``t1 log|a1b1| + ... + tn log|anbn| = log y``
        with integer ``t_i``, if the ratio chase (the exact linear system over log-lengths, with
        ``log y`` as its prime constants) implies it; the fact is the goal as written."""
        if self._segment_form(goal, int) is None:
            return None
        f = Fact("distmeq", tuple(goal.args))
        if f in self.why:
            return f
        return self.derive(self.ar_ratio(f), "AR ratio chase")

    def prove_ratio_value(self, a, r: Fraction | None) -> Fact | None:
        """``rconst a b c d r``: ``|ab| = r |cd|``, if the length chase or the ratio chase
        (log-lengths, with the constants ``log p``) implies it; with ``r`` None (``rcompute``)
        the ratio either system pins down, if any."""
        if a[0] == a[1] or a[2] == a[3]:
            return None
        ab, cd = _seg(a[0], a[1]), _seg(a[2], a[3])
        if r is None:
            fa, _, _ = self.lengths.normal_form({ab: 1})
            fc, _, _ = self.lengths.normal_form({cd: 1})
            da, dc = dict(fa), dict(fc)
            if fa and set(da) == set(dc):
                ratios = {da[v] / dc[v] for v in da}
                r = ratios.pop() if len(ratios) == 1 else None
            if r is None and ab != cd:
                r = self.ratio_constant(ab, cd)
            if r is None:
                return None
        if r <= 0:
            return None
        f = Fact("rconst", (*a[:4], str(r)))
        if f in self.why:
            return f
        prov = self.lengths.implies({ab: 1, cd: -r} if ab != cd else {}, 0)
        if prov is not None and (ab != cd or r == 1):
            return f if self.add(f, "AR length chase", tuple(prov)) else None
        if ab != cd:
            return self.derive(self.ar_ratio(f), "AR ratio chase")
        return None


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



def _engine_inputs(where: str, problem, diagram, seed, timeout, max_rounds, *,
                   need_goal: bool) -> tuple[Problem, Diagram]:
    """The checked inputs of :func:`solve` and :func:`saturate` (``where`` names the caller in
    the errors): the problem (parsed from its text if need be, with a supported goal when
    ``need_goal``) and its diagram (built for ``seed`` when not given)."""
    if isinstance(problem, str):
        problem = parse_problem(problem)
    if not isinstance(problem, Problem):
        raise GeometryInputError(f"{where}: expected a Problem or its text, got "
                                 f"{type(problem).__name__}")
    if need_goal and problem.goal is None:
        raise GeometryInputError(f"{where}: problem {problem.name!r} has no goal ('? ...')")
    if need_goal and problem.goal.name not in GOAL_NAMES:
        raise GeometryInputError(
            f"{where}: goal {problem.goal}: predicate {problem.goal.name!r} is not supported by "
            f"the deduction engine (supported: {', '.join(GOAL_NAMES)})")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise GeometryInputError(f"{where}: timeout must be a positive number of seconds, got "
                                 f"{timeout!r}")
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
        raise GeometryInputError(f"{where}: max_rounds must be a positive integer, got "
                                 f"{max_rounds!r}")
    if diagram is None:
        diagram = make_diagram(problem, seed=seed, require_goal=need_goal)
    elif not isinstance(diagram, Diagram):
        raise GeometryInputError(f"{where}: diagram must be a Diagram, got "
                                 f"{type(diagram).__name__}")
    missing = [p for p in problem.points if p not in diagram.points]
    if missing:
        raise GeometryInputError(f"{where}: the diagram lacks point(s) {' '.join(missing)}")
    return problem, diagram

def _close(eng: "_Engine", max_rounds: int, goal=None) -> tuple[str, Fact | None]:
    """The DD + AR round loop of :func:`solve` and :func:`saturate`: build the engine's tables,
    try the goal (when there is one), run one round of every rule in ``ROUND``; repeat.

    Returns ``(stop, goal_fact)``: ``"solved"`` with the goal's fact, or ``"max_rounds"`` /
    ``"saturated"`` (a round added nothing) with ``None``. The rounds run are counted in
    ``eng.rounds``, so they are known when the engine's deadline (``_Timeout``) cuts the loop.
    """
    eng.rounds = 0
    while True:
        eng.build()
        if goal is not None:
            goal_fact = eng.prove_goal(goal)
            if goal_fact is not None:
                return "solved", goal_fact
        if eng.rounds >= max_rounds:
            return "max_rounds", None
        eng.rounds += 1
        eng.new_count = 0
        for method, _ in ROUND:
            getattr(eng, method)()
        if eng.new_count == 0:
            return "saturated", None


def solve(problem: Problem | str, diagram: Diagram | None = None, seed: int = 0,
          max_rounds: int = 20, timeout: float = 30.0, tol: float = 1e-7,
          split_angles: bool = True, known=(), harvest=None) -> Result:
    """Saturate the facts of ``problem`` with the DD rules and AR until its goal is derived,
    nothing new appears, ``max_rounds`` rounds have run, or ``timeout`` seconds have passed.

    ``diagram`` (default: :func:`~readingroom.geometry.optimize.make_diagram`, the constructive
    builder or, for a non-constructive statement, the optimiser, with the goal holding) is the
    numeric instance every premise and derived fact is checked on. ``split_angles`` lets the
    angle chase resolve ``g * X = k (mod pi)`` into the one of its ``g`` solutions the diagram
    shows (see :meth:`~readingroom.geometry.ar.LinearSystem._split`); without it such rows
    wait, unused, for a pivot.
    ``known`` is a sequence of ``(Fact, reason)`` taken as further premises (facts another run
    proved, e.g. lemmas shared between search branches); each is checked on the diagram like
    every other fact. ``harvest`` (a set of point names): when the goal is not reached, the
    para, perp and cong facts between those points that the algebra implies are recorded as
    facts too (see :meth:`~readingroom.geometry.ar.AlgebraicReasoning.harvest`), ready to be
    shared.
    """
    t0 = time.monotonic()
    problem, diagram = _engine_inputs("solve", problem, diagram, seed, timeout, max_rounds,
                                      need_goal=True)
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
    try:
        stop, goal_fact = _close(eng, max_rounds, problem.goal)
    except _Timeout:
        stop, goal_fact = "timeout", None
    rounds = eng.rounds
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


def saturate(problem: Problem | str, diagram: Diagram | None = None, seed: int = 0,
             max_rounds: int = 20, timeout: float = 10.0, tol: float = 1e-7,
             harvest: bool = True) -> Result:
    """Run the DD + AR rounds of :func:`solve` on ``problem``'s premises to closure, with no
    goal (a goal, if the problem has one, is ignored): until a round adds nothing, ``max_rounds``
    rounds have run, or ``timeout`` seconds have passed (the facts derived so far are kept).

    The returned :class:`Result` has ``solved=False``, ``stop`` ``"saturated"``,
    ``"max_rounds"`` or ``"timeout"``, and ``why`` holding every fact with its reason, so that
    :meth:`Result.proof_of` traces any of them back — the first step of AlphaGeometry's
    synthetic-data pipeline (:mod:`~readingroom.geometry.synth`). ``diagram`` defaults to the
    constructive builder's instance for ``seed``. With ``harvest`` the para, perp and cong facts
    the algebra implies between the problem's points are made explicit at the end (as
    :func:`solve` does for the search's lemmas), within the same time budget.
    """
    t0 = time.monotonic()
    problem, diagram = _engine_inputs("saturate", problem, diagram, seed, timeout, max_rounds,
                                      need_goal=False)
    eng = _Engine(problem, diagram, t0 + timeout, tol)
    given, warnings = premises(problem, diagram, tol)
    for f, text in given:
        eng.add(f, f"construction {text}")
    try:
        stop, _ = _close(eng, max_rounds)
        if harvest:
            eng.build()
            eng.harvest(set(problem.points))
    except _Timeout:
        stop = "timeout"
    return Result(solved=False, facts=len(eng.why), rounds=eng.rounds,
                  seconds=time.monotonic() - t0, proof=None, discarded=len(eng.discarded),
                  warnings=warnings, stop=stop, why=eng.why)


def proof_holds(problem: Problem | str, result: Result, seeds=(11, 12, 13),
                tol: float = 1e-6) -> bool:
    """Whether every fact of ``result``'s proof holds numerically on fresh random diagrams of
    ``problem`` (one per seed) in which its goal holds: the guard against a rule that matched a
    wrong configuration on the one diagram the engine used. (A statement such as "f on line ad
    with df = be" has two placements, and the theorem holds in one; diagrams of the other say
    nothing about the proof. For the same reason the answer of a "find" goal is checked on
    diagrams where it is the answer: a directed angle reads the other way round in a mirror
    image.)"""
    if not isinstance(result, Result):
        raise TypeError(f"result must be a Result of solve(), got {type(result).__name__}")
    problem = parse_problem(problem) if isinstance(problem, str) else problem
    if (result.solved and result.goal is not None and problem.goal is not None
            and problem.goal.name in ("acompute", "rcompute")):
        # a directed angle's value depends on which way round the figure turns: check the answer
        # on figures where it is the answer, as for any goal
        problem = Problem(problem.name, problem.clauses,
                          Goal(result.goal.name, tuple(result.goal.args)), problem.text)
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
