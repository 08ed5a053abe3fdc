"""Auxiliary-point search: what to add when DD + AR alone cannot prove the goal.

AlphaGeometry (Trinh et al., 2024) and AlphaGeometry2 (arXiv 2502.03544) alternate the symbolic
engine with a *language model* that proposes auxiliary constructions; AlphaGeometry2's SKEST
runs several such beam searches in parallel and lets them share the facts they prove. Here the
language model is replaced by a hand-written enumerator and a heuristic score:

* :func:`candidates` — every single-point construction over the existing points from a fixed
  set of families (see :data:`FAMILIES`), each realised numerically on the diagram; candidates
  that are degenerate, coincide with an existing point, or coincide with an earlier candidate
  are dropped (numeric deduplication), the rest are sorted by :func:`score`.
* :func:`search` — a beam search: DD + AR on the problem; then on the problem plus each of the
  top ``width`` candidates; the ``beam`` best unsolved states (most facts derived, then best
  score) are expanded again, up to ``depth`` auxiliary points, until a proof or the timeout.

The existing points keep their coordinates: the auxiliary point is computed from the diagram
the problem was built on (every candidate family is deterministic), and the augmented problem
is solved on that extended diagram. Work shared between branches: DD + AR results are cached
by the *set* of auxiliary constructions (so adding p then q and q then p is one run), and, in
the spirit of SKEST, *facts*: whatever a branch proves about the problem's own points (not
mentioning its auxiliary point) is a lemma that every later branch starts from, and after each
level the problem is solved once more from all the lemmas together, which combines what
several auxiliary points showed without building them all in one figure. A proof that uses a
lemma lists it with the branch that proved it (:class:`Lemma`).
"""

from __future__ import annotations

import itertools
import math
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from readingroom.common.checks import check_bool, check_float, check_int
from readingroom.geometry import ddar
from readingroom.geometry.diagram import Diagram, _drawables, _Placer
from readingroom.geometry.facts import Fact
from readingroom.geometry.language import Clause, Construction, GeometryInputError, Problem
from readingroom.geometry.optimize import make_diagram
from readingroom.geometry.primitives import _Degenerate

__all__ = ["FAMILIES", "Candidate", "Lemma", "Proposer", "SearchResult", "candidates",
           "extend_diagram", "heuristic_proposer", "random_proposer", "score", "search",
           "search_proof_holds"]

#: Candidate families, simplest first (an earlier family wins a numeric tie), with the bonus
#: :func:`score` gives each: midpoints, feet of perpendiculars, circumcentres, reflections in
#: a point and in a line, orthocentres, incentres, intersections of two lines of the diagram,
#: and intersections of a line with the parallel / perpendicular to another line through a
#: point.
FAMILIES: dict[str, float] = {
    "midpoint": 0.5, "foot": 0.5, "circle": 0.5, "mirror": 0.0, "reflect": 0.0,
    "orthocenter": 0.25, "incenter": 0.0, "intersection_ll": 0.25, "intersection_lp": 0.0,
    "intersection_lt": 0.0,
}

_TOL = 1e-7


@dataclass
class Candidate:
    """One candidate auxiliary point: its ``clause`` (e.g. ``x0 = foot x0 a b c``), where it
    falls on the diagram (``xy``) and its heuristic :func:`score`."""

    clause: Clause
    xy: np.ndarray
    score: float


#: A proposer ranks the candidates of a state: ``proposer(problem, diagram, candidates)``
#: returns one number per candidate, higher first (ties keep the heuristic order). It stands
#: where AlphaGeometry's language model stands.
Proposer = Callable[[Problem, Diagram, "list[Candidate]"], Sequence[float]]


def heuristic_proposer(problem: Problem, diagram: Diagram, cands: list[Candidate]) -> list[float]:
    """The default proposer: the heuristic :func:`score` of each candidate."""
    return [c.score for c in cands]


def random_proposer(seed: int = 0) -> Proposer:
    """A proposer that ranks candidates at random (the "random auxiliary points + DDAR"
    baseline of HAGeo, arXiv 2512.00097): the same draw for the same problem, state and
    ``seed``."""
    check_int(seed, "seed", minimum=0)

    def propose(problem: Problem, diagram: Diagram, cands: list[Candidate]) -> list[float]:
        key = zlib.crc32(str(problem).encode())
        return list(np.random.default_rng([seed, key]).random(len(cands)))

    return propose


@dataclass
class Lemma:
    """A fact about the problem's own points that one branch of the search proved with its
    auxiliary points ``aux``: ``proof`` is that branch's numbered proof of it, ``problem`` the
    branch's augmented problem, ``steps`` the facts of the proof."""

    fact: Fact
    aux: list[str]
    proof: list[str]
    problem: Problem
    steps: list[Fact]


@dataclass
class SearchResult:
    """The outcome of :func:`search`. ``aux`` lists the auxiliary clauses added (in order);
    ``result`` is the DD + AR :class:`~readingroom.geometry.ddar.Result` of the solved (or, if
    unsolved, the base) problem; ``tried`` counts DD + AR runs (cache hits not counted);
    ``problem`` is the augmented problem (the original one when unsolved); ``stop`` is
    ``"solved"``, ``"timeout"`` or ``"exhausted"``; ``best_facts`` the most facts any run
    derived; ``lemmas`` the facts shared from other branches that the proof uses (each with
    its own proof, in the order they are needed); ``shared`` how many lemmas the branches
    proved in all."""

    solved: bool
    aux: list[str]
    result: ddar.Result | None
    seconds: float
    tried: int
    problem: Problem
    stop: str = ""
    best_facts: int = 0
    lemmas: list[Lemma] = field(default_factory=list)
    shared: int = 0


def _fresh(problem: Problem, taken: set[str] = frozenset()) -> str:
    names = set(problem.points) | set(taken)
    for i in itertools.count():
        if f"x{i}" not in names:
            return f"x{i}"
    raise AssertionError  # pragma: no cover


def _lines_of(points: dict[str, np.ndarray], scale: float):
    """Maximal groups of collinear existing points (each through at least two points)."""
    names = list(points)
    groups: list[frozenset] = []
    for a, b in itertools.combinations(names, 2):
        pa, pb = points[a], points[b]
        d = pb - pa
        n = float(np.hypot(*d))
        if n < 1e-9 * scale:
            continue
        u = d / n
        grp = frozenset(c for c in names
                        if abs(u[0] * (points[c] - pa)[1] - u[1] * (points[c] - pa)[0])
                        <= _TOL * scale)
        if grp not in groups:
            groups.append(grp)
    return groups


def _circles_of(points: dict[str, np.ndarray], scale: float, cap: int = 18):
    """Circles through at least three existing points: (centre, radius, point set)."""
    names = list(points)[:cap]
    out, seen = [], set()
    for a, b, c in itertools.combinations(names, 3):
        pa, pb, pc = points[a], points[b], points[c]
        d = 2.0 * ((pb - pa)[0] * (pc - pa)[1] - (pb - pa)[1] * (pc - pa)[0])
        if abs(d) < 1e-9 * scale * scale:
            continue
        sa, sb = float((pb - pa) @ (pb - pa)), float((pc - pa) @ (pc - pa))
        cen = pa + np.array([(pc - pa)[1] * sa - (pb - pa)[1] * sb,
                             (pb - pa)[0] * sb - (pc - pa)[0] * sa]) / d
        r = float(np.hypot(*(pa - cen)))
        if r > 100 * scale:
            continue
        on = frozenset(n for n in names
                       if abs(float(np.hypot(*(points[n] - cen))) - r) <= _TOL * r)
        if on not in seen:
            seen.add(on)
            out.append((cen, r, on))
    return out


def _midpoints(construction: Construction) -> list[tuple[str, str, str]]:
    """The midpoints ``(m, a, b)`` a ``midpoint`` or ``mirror`` construction makes."""
    if construction.name == "midpoint":
        return [tuple(construction.args)]
    if construction.name == "mirror":
        x, a, b = construction.args
        return [(b, a, x)]
    return []


def score(xy: np.ndarray, construction: Construction, lines, circles, goal_points,
          scale: float, goal_xy=(), midpoints=()) -> float:
    """The heuristic score of an auxiliary point at ``xy`` built by ``construction`` (higher
    is better) — a stand-in for AlphaGeometry's language model:

    * +1 for every line through two existing points that passes through the point, and +1 for
      every circle through three existing points that passes through it (a point where many
      existing objects meet creates facts the engine can use: the foot of an altitude of the
      orthocentre problem lies on a side *and* on the altitude through the orthocentre);
    * +0.5 for every point of the goal that lies on one of those lines or circles (facts about
      the new point then reach the goal's points: the second intersection of two circles through
      the goal's points, say, whose line to their common point is the radical axis);
    * +1 when the point is the centre of a circle through three or more of the goal's points
      (``goal_xy``, their coordinates): a cyclic goal is a statement about that centre's
      distances, which the centre turns into equal segments the algebra can chase;
    * +1 when the point completes a midline: a midpoint it makes (``midpoint``, or the centre
      of a ``mirror``) that shares one end with a midpoint of ``midpoints`` (the problem's, as
      ``(m, a, b)``) joins the two midpoints by a line parallel to the third side — doubling a
      median, the olympiad's way to a parallelogram;
    * the family bonus of :data:`FAMILIES` (simple classical points first), minus 0.05 per
      argument (simpler constructions first).

    ``lines`` holds ``(p0, p1, names)``: two points of the line and the names of the existing
    points on it; ``circles`` holds ``(centre, radius, names)``.
    """
    s = 0.0
    reached: set[str] = set()
    for p0, p1, names in lines:
        u = (p1 - p0) / max(float(np.hypot(*(p1 - p0))), 1e-300)
        if abs(u[0] * (xy - p0)[1] - u[1] * (xy - p0)[0]) <= _TOL * scale:
            s += 1.0
            reached |= set(names)
    for cen, r, names in circles:
        if abs(float(np.hypot(*(xy - cen))) - r) <= _TOL * r:
            s += 1.0
            reached |= set(names)
    s += 0.5 * len(reached & set(goal_points))
    if len(goal_xy) >= 3:
        dist = sorted(float(np.hypot(*(xy - q))) for q in goal_xy)
        run = best = 1
        for d0, d1 in zip(dist, dist[1:]):
            run = run + 1 if d1 - d0 <= _TOL * max(d1, scale) else 1
            best = max(best, run)
        if best >= 3 and dist[0] > _TOL * scale:
            s += 1.0
    if any(m2 != m and len({a, b} & {a2, b2}) == 1
           for m, a, b in _midpoints(construction) for m2, a2, b2 in midpoints):
        s += 1.0
    s += FAMILIES.get(construction.name, 0.0) - 0.05 * len(construction.args[1:])
    return s


def _raw(problem: Problem, diagram: Diagram, x: str):
    """Construction argument tuples of every family, simplest family first."""
    pts = [p for p in problem.points if p in diagram.points]
    pairs = list(itertools.combinations(pts, 2))
    triples = list(itertools.combinations(pts, 3))
    # lines of the problem's drawing (two named points each) for the line-line families
    dlines = [(ln[0], ln[1]) for ln in diagram.lines if len(ln) >= 2]
    for a, b in pairs:
        yield Construction("midpoint", (x, a, b))
    for a in pts:
        for b, c in pairs:
            if a not in (b, c):
                yield Construction("foot", (x, a, b, c))
    for a, b, c in triples:
        yield Construction("circle", (x, a, b, c))
    for a, b in itertools.permutations(pts, 2):
        yield Construction("mirror", (x, a, b))
    for a in pts:
        for b, c in pairs:
            if a not in (b, c):
                yield Construction("reflect", (x, a, b, c))
    for a, b, c in triples:
        yield Construction("orthocenter", (x, a, b, c))
    for a, b, c in triples:
        yield Construction("incenter", (x, a, b, c))
    for (a, b), (c, d) in itertools.combinations(dlines, 2):
        if not {a, b} & {c, d}:
            yield Construction("intersection_ll", (x, a, b, c, d))
    for a, b in dlines:
        for c in pts:
            if c in (a, b):
                continue
            for m, n in dlines:
                if (m, n) != (a, b):
                    yield Construction("intersection_lp", (x, a, b, c, m, n))
                yield Construction("intersection_lt", (x, a, b, c, m, n))


def _place(clause: Clause, diagram: Diagram, seed: int) -> dict[str, np.ndarray] | None:
    placer = _Placer(np.random.default_rng(seed), dict(diagram.points))
    try:
        with np.errstate(all="raise"):
            return placer.place(clause)
    except (_Degenerate, FloatingPointError, ZeroDivisionError, ValueError, IndexError):
        return None


def extend_diagram(problem: Problem, diagram: Diagram, clause: Clause,
                   seed: int = 0) -> tuple[Problem, Diagram] | None:
    """``problem`` with ``clause`` appended, and ``diagram`` extended by the clause's points
    (the existing points keep their coordinates); None if the placement degenerates."""
    new = _place(clause, diagram, seed)
    if new is None:
        return None
    aug = Problem(problem.name, problem.clauses + (clause,), problem.goal)
    aug = Problem(aug.name, aug.clauses, aug.goal, text=str(aug))
    points = {**diagram.points, **new}
    lines, circles = _drawables(aug, points)
    return aug, Diagram(points, lines, circles, aug, diagram.seed, diagram.attempts)


def _scored(problem: Problem, diagram: Diagram, seed: int = 0, deadline: float | None = None,
            limit: int | None = None, proposer: Proposer | None = None) -> list[Candidate]:
    x = _fresh(problem)
    scale = diagram.scale()
    pts = {p: diagram.points[p] for p in problem.points}
    order = list(pts).index
    lines = [(pts[sorted(g, key=order)[0]], pts[sorted(g, key=order)[1]], g)
             for g in _lines_of(pts, scale)]
    circles = _circles_of(pts, scale)
    goal_points = set(problem.goal.points) if problem.goal is not None else set()
    goal_xy = [np.asarray(pts[p], dtype=float) for p in sorted(goal_points) if p in pts]
    mids = [m for clause in problem.clauses for con in clause.constructions
            for m in _midpoints(con)]
    # Points already taken (the problem's and earlier candidates'), hashed on a grid of cells
    # as wide as the tolerance: a point within the tolerance of another lies in one of the 3 x 3
    # cells around it, so the check is the same as scanning every taken point, without the scan.
    tol = 1e-6 * scale
    grid: dict[tuple[int, int], list[np.ndarray]] = {}

    def cell(xy: np.ndarray) -> tuple[int, int]:
        return math.floor(xy[0] / tol), math.floor(xy[1] / tol)

    def taken_near(xy: np.ndarray) -> bool:
        if not np.all(np.isfinite(xy)):
            return False  # no distance to a non-finite point is below the tolerance
        i, j = cell(xy)
        return any(float(np.hypot(*(xy - q))) < tol
                   for di in (-1, 0, 1) for dj in (-1, 0, 1) for q in grid.get((i + di, j + dj), ()))

    def take(xy: np.ndarray) -> None:
        if np.all(np.isfinite(xy)):
            grid.setdefault(cell(xy), []).append(xy)

    for q in pts.values():
        take(np.asarray(q, dtype=float))
    out: list[Candidate] = []
    for k, con in enumerate(_raw(problem, diagram, x)):
        if deadline is not None and k % 64 == 0 and time.monotonic() > deadline:
            break
        clause = Clause((x,), (con,))
        new = _place(clause, diagram, seed)
        if new is None:
            continue
        xy = new[x]
        if taken_near(xy):
            continue  # the same point as an existing point or an earlier candidate
        take(xy)
        out.append(Candidate(clause, xy, score(xy, con, lines, circles, goal_points, scale,
                                               goal_xy, mids)))
    out.sort(key=lambda c: -c.score)  # stable: ties keep the family order
    if proposer is not None and out:
        ranks = [float(v) for v in proposer(problem, diagram, out)]
        if len(ranks) != len(out):
            raise ValueError(f"search: the proposer returned {len(ranks)} scores for "
                             f"{len(out)} candidates")
        order = sorted(range(len(out)), key=lambda i: -ranks[i])  # stable
        out = [out[i] for i in order]
    return out[:limit] if limit is not None else out


def _check_problem(problem, where: str) -> None:
    if not isinstance(problem, Problem):
        raise TypeError(f"{where}: problem must be a Problem (use parse_problem), got "
                        f"{type(problem).__name__}")


def candidates(problem: Problem, diagram: Diagram | None = None,
               limit: int | None = None) -> list[str]:
    """Candidate auxiliary clauses for ``problem`` (text such as ``'x0 = foot x0 b a c'``),
    best :func:`score` first, numerically deduplicated on ``diagram`` (default: the problem's
    diagram for seed 0); at most ``limit`` of them."""
    _check_problem(problem, "candidates")
    if limit is not None:
        check_int(limit, "limit", minimum=0)
    if diagram is None:
        diagram = make_diagram(problem, seed=0, require_goal=True)
    elif not isinstance(diagram, Diagram):
        raise TypeError(f"candidates: diagram must be a Diagram, got {type(diagram).__name__}")
    return [str(c.clause) for c in _scored(problem, diagram, limit=limit)]


def _key(aux: tuple[Clause, ...]) -> frozenset:
    """The set of auxiliary constructions, independent of the order and of the fresh names."""
    defs: dict[str, str] = {}
    out = []
    for cl in aux:
        (x,) = cl.points
        con = cl.constructions[0]
        text = " ".join([con.name] + ["*" if a == x else f"({defs[a]})" if a in defs else a
                                      for a in con.args])
        defs[x] = text
        out.append(text)
    return frozenset(out)


_LEMMA = "lemma from the branch with "


def _used_lemmas(result: ddar.Result, pool: dict) -> list[Lemma]:
    """The lemmas ``result``'s proof uses, and the lemmas their proofs use, dependencies first."""
    out: list[Lemma] = []
    seen: set = set()

    def visit(res: ddar.Result, steps):
        for f in steps:
            why = res.why[f][0]
            if not why.startswith(_LEMMA) or f in seen:
                continue
            seen.add(f)
            aux, donor, dprob = pool[f]
            dsteps = ddar._trace(donor.why, f)
            visit(donor, dsteps)
            out.append(Lemma(f, list(aux), ddar._proof_lines(donor.why, dsteps), dprob, dsteps))

    visit(result, result.steps)
    return out


def _solve_branch(problem: Problem, diagram: Diagram, timeout: float, known, harvest):
    """One branch of the search, in a worker process."""
    return ddar.solve(problem, diagram=diagram, timeout=timeout, known=known, harvest=harvest)


def search_proof_holds(found: SearchResult, seeds=(11, 12, 13), tol: float = 1e-6) -> bool:
    """Whether every step of a solved search's proof, and of each lemma's proof in the branch
    that proved it, holds numerically on fresh diagrams (one per seed)."""
    if not isinstance(found, SearchResult):
        raise TypeError(f"found must be a SearchResult, got {type(found).__name__}")
    if not found.solved or found.result is None:
        raise ValueError("search_proof_holds: the search did not solve its problem")
    if not ddar.proof_holds(found.problem, found.result, seeds=seeds, tol=tol):
        return False
    for lemma in found.lemmas:
        for seed in seeds:
            d = make_diagram(lemma.problem, seed=seed, require_goal=True)
            if not all(step.holds(d, tol) for step in lemma.steps):
                return False
    return True


def search(problem: Problem, *, beam: int = 4, depth: int = 2, width: int = 20,
           timeout: float = 60.0, seed: int = 0, ddar_timeout: float = 10.0,
           share: bool = True, max_lemmas: int = 400,
           proposer: Proposer | None = None, jobs: int = 1,
           executor: Executor | None = None, widen: bool = True) -> SearchResult:
    """Prove ``problem`` with DD + AR, adding up to ``depth`` auxiliary points.

    Depth 0 is DD + AR alone. At each depth, every state in the beam (initially the problem
    itself) is extended by each of its top ``width`` :func:`candidates` in turn and solved
    (each run limited to ``ddar_timeout`` seconds); the first proof ends the search. Otherwise
    the ``beam`` unsolved states with the most derived facts (ties: best candidate score) are
    kept for the next depth. The search stops at ``timeout`` seconds overall and then returns
    ``solved=False``; ``seed`` picks the diagram.

    With ``share`` (SKEST-style fact sharing), the facts a branch proves about the problem's own
    points become lemmas (at most ``max_lemmas``) that later branches start from, and after
    each depth the problem is solved again from all lemmas together.

    ``proposer`` (a :data:`Proposer`; default: the heuristic :func:`score`) ranks each state's
    candidates; the top ``width`` are tried.

    With ``widen``, when a pass ends with nothing proved and time left, the search runs again
    with twice the ``width`` (branches already tried are cached, so only the new ones cost),
    until a pass tries nothing new or the time is up: a problem whose candidates run out early
    spends its whole budget.

    ``jobs`` > 1 runs the branches of a state ``jobs`` at a time in worker processes (a local
    process pool, or ``executor``: any :class:`concurrent.futures.Executor`, e.g. a Dask
    cluster's ``client.get_executor()``); each wave of branches starts from the lemmas the
    earlier waves proved, so which lemmas a branch sees, and with a short timeout which branch
    finishes first, can differ from the one-at-a-time run.
    """
    t0 = time.monotonic()
    _check_problem(problem, "search")
    check_int(beam, "beam")
    check_int(depth, "depth", minimum=0)
    check_int(width, "width")
    check_int(seed, "seed", minimum=0)
    check_int(max_lemmas, "max_lemmas", minimum=0)
    check_int(jobs, "jobs")
    check_bool(share, "share")
    check_bool(widen, "widen")
    if executor is not None and not hasattr(executor, "submit"):
        raise TypeError(f"search: executor must be a concurrent.futures.Executor, got "
                        f"{type(executor).__name__}")
    if proposer is not None and not callable(proposer):
        raise TypeError(f"search: proposer must be callable, got {type(proposer).__name__}")
    check_float(timeout, "timeout", low=0, low_open=True)
    check_float(ddar_timeout, "ddar_timeout", low=0, low_open=True)
    if problem.goal is None:
        raise GeometryInputError(f"search: problem {problem.name!r} has no goal ('? ...')")
    deadline = t0 + timeout
    diagram = make_diagram(problem, seed=seed, require_goal=True)
    cache: dict[frozenset, ddar.Result] = {}
    tried = 0
    own = set(problem.points)
    pool: dict = {}  # lemma fact -> (donor's aux texts, donor's result, donor's problem)
    base_facts: set = set()

    def known():
        return [(f, _LEMMA + "; ".join(aux)) for f, (aux, _, _) in pool.items()]

    def harvest(res: ddar.Result, aux: tuple[Clause, ...], prob: Problem):
        if not share or not aux:
            return
        texts = tuple(str(c) for c in aux)
        for f in res.why:
            if len(pool) >= max_lemmas:
                return
            if f in base_facts or f in pool or not set(f.args) <= own:
                continue
            if res.why[f][0].startswith(_LEMMA):
                continue
            pool[f] = (texts, res, prob)

    def run(prob: Problem, diag: Diagram, aux: tuple[Clause, ...]) -> ddar.Result | None:
        nonlocal tried
        key = _key(aux)
        if key in cache:
            return cache[key]
        left = deadline - time.monotonic()
        if left <= 0.01:
            return None
        tried += 1
        res = ddar.solve(prob, diagram=diag, timeout=min(ddar_timeout, left),
                         known=known() if aux else (), harvest=own if share else None)
        cache[key] = res
        harvest(res, aux, prob)
        return res

    def run_all(items):
        """``(cand, problem, diagram, aux, result)`` for each branch, in order: one after
        another, or ``jobs`` at a time on the executor (each wave starts from the lemmas the
        earlier waves proved)."""
        if pool_exec is None:
            for cand, aprob, adiag, naux in items:
                yield cand, aprob, adiag, naux, run(aprob, adiag, naux)
            return
        nonlocal tried
        for i in range(0, len(items), jobs):
            wave, futures = items[i:i + jobs], []
            for cand, aprob, adiag, naux in wave:
                key = _key(naux)
                left = deadline - time.monotonic()
                if key in cache or left <= 0.01:
                    futures.append(None)
                    continue
                tried += 1
                futures.append(pool_exec.submit(
                    _solve_branch, aprob, adiag, min(ddar_timeout, left), known(),
                    own if share else None))
            for (cand, aprob, adiag, naux), fut in zip(wave, futures):
                key = _key(naux)
                if fut is not None:
                    cache[key] = fut.result()
                    harvest(cache[key], naux, aprob)
                yield cand, aprob, adiag, naux, cache.get(key)

    def done(solved, aux, res, prob, stop, best):
        lemmas = _used_lemmas(res, pool) if solved else []
        return SearchResult(solved, [str(c) for c in aux], res, time.monotonic() - t0, tried,
                            prob, stop, best, lemmas, len(pool))

    def one_pass(w: int):
        """Depths 1..``depth`` with ``w`` candidates per state: a solved SearchResult, a
        "timeout" one, or None (nothing proved)."""
        nonlocal best, merged_at, tried
        states = [(problem, diagram, ())]
        for _ in range(depth):
            scored_states = []
            for prob, diag, aux in states:
                if time.monotonic() > deadline:
                    return done(False, (), base, problem, "timeout", best)
                items = []
                for cand in _scored(prob, diag, seed, deadline, limit=w, proposer=proposer):
                    ext = extend_diagram(prob, diag, cand.clause, seed)
                    if ext is not None:
                        items.append((cand, *ext, aux + (cand.clause,)))
                for cand, aprob, adiag, naux, res in run_all(items):
                    if res is None:
                        return done(False, (), base, problem, "timeout", best)
                    if res.solved:
                        return done(True, naux, res, aprob, "solved", res.facts)
                    best = max(best, res.facts)
                    scored_states.append((res.facts, cand.score, aprob, adiag, naux))
            if share and len(pool) > merged_at:
                # SKEST-style merge: the problem itself, from every branch's lemmas at once
                merged_at = len(pool)
                left = deadline - time.monotonic()
                if left <= 0.01:
                    return done(False, (), base, problem, "timeout", best)
                tried += 1
                merged = ddar.solve(problem, diagram=diagram, timeout=min(ddar_timeout, left),
                                    known=known())
                if merged.solved:
                    return done(True, (), merged, problem, "solved", merged.facts)
            if not scored_states:
                break
            scored_states.sort(key=lambda s: (-s[0], -s[1]))
            seen, states = set(), []
            for _, _, aprob, adiag, naux in scored_states:
                k = _key(naux)
                if k not in seen:
                    seen.add(k)
                    states.append((aprob, adiag, naux))
                if len(states) == beam:
                    break
        return None

    def loop() -> SearchResult:
        nonlocal base_facts, base, best
        base = run(problem, diagram, ())
        if base is None:
            return done(False, (), None, problem, "timeout", 0)
        if base.solved:
            return done(True, (), base, problem, "solved", base.facts)
        base_facts = set(base.why)
        best = base.facts
        w = width
        while True:
            before = tried
            found = one_pass(w)
            if found is not None:
                return found
            if not widen or tried == before:  # no widening, or nothing new was left to try
                return done(False, (), base, problem, "exhausted", best)
            w *= 2  # time is left: the same search, twice as wide (tried branches are cached)

    base: ddar.Result | None = None
    best = 0
    merged_at = 0
    pool_exec = executor
    if pool_exec is None and jobs > 1:
        pool_exec = ProcessPoolExecutor(max_workers=jobs)
    try:
        return loop()
    finally:
        if executor is None and pool_exec is not None:
            pool_exec.shutdown(wait=False, cancel_futures=True)
