"""Synthetic theorems with auxiliary points, AlphaGeometry's way (Trinh et al., 2024, "Solving
Olympiad geometry without human demonstrations"; AlphaGeometry2, arXiv 2502.03544).

AlphaGeometry trains its proposer on synthetic proofs: sample random premises, run the symbolic
engine to closure, pick a derived fact, trace its proof back, and call *auxiliary* the points the
proof needs that the statement of the fact does not. The statement without those points, the fact
as its goal, and the constructions of the auxiliary points make one training example: "to prove
this, add that". This module is that pipeline on this book's engine:

* :func:`sample_premises` — a random premise problem: a base figure (triangle, quadrangle, right
  or isosceles triangle), then a few constructions over fresh points drawn from :data:`STEPS`
  (midpoints, feet, circumcentres, reflections, orthocentres, incentres, line-line and
  line-circle intersections, points on lines and circles, ...);
* :func:`statement_clauses` — the clauses needed to *state* a fact: those of its points and,
  transitively, of the points their constructions use;
* :func:`examples_from` — saturate one premise problem with DD + AR
  (:func:`~readingroom.geometry.ddar.saturate`), trace every derived fact that is neither trivial
  nor a construction property, keep those whose proof uses points outside the statement, and
  return each as a :class:`SynthExample` whose proof has been re-derived by
  :func:`~readingroom.geometry.ddar.solve` on a fresh diagram and accepted by the independent
  checker (:func:`~readingroom.geometry.checker.check_proof`);
* :func:`generate` — many samples, deduplicated, deterministic for a seed, with a progress bar;
  :func:`write_jsonl` / :func:`read_jsonl` — the records
  (``python -m readingroom.geometry synth --n N --seed S --out FILE``).

Point names are canonical: the statement's points are renamed ``a, b, c, ...`` in order of
definition and the auxiliary points follow, so that the same theorem drawn twice is one record.
"""

from __future__ import annotations

import json
import os
import string
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from readingroom.common.checks import check_float, check_int, check_seed
from readingroom.geometry import ddar
from readingroom.geometry.checker import check_proof
from readingroom.geometry.diagram import Diagram, GeometryBuildError, _drawables, build_diagram
from readingroom.geometry.facts import Fact
from readingroom.geometry.language import (
    Clause, Construction, GeometryInputError, Goal, Problem, parse_problem,
)

__all__ = ["BASES", "STEPS", "SynthExample", "examples_from", "generate", "read_jsonl",
           "sample_premises", "statement_clauses", "write_jsonl"]

#: Base figures (construction, number of points, weight).
BASES: tuple[tuple[str, int, float], ...] = (
    ("triangle", 3, 6.0), ("quadrangle", 4, 1.0), ("r_triangle", 3, 1.0),
    ("iso_triangle", 3, 1.0),
)

#: Steps over existing points: (template, number of distinct existing points, weight). In a
#: template ``X`` is the new point and ``0, 1, ...`` the existing points drawn for it.
STEPS: tuple[tuple[str, int, float], ...] = (
    ("midpoint X 0 1", 2, 3.0),
    ("foot X 0 1 2", 3, 3.0),
    ("circle X 0 1 2", 3, 2.0),
    ("mirror X 0 1", 2, 1.0),
    ("reflect X 0 1 2", 3, 1.0),
    ("orthocenter X 0 1 2", 3, 1.5),
    ("incenter X 0 1 2", 3, 1.0),
    ("intersection_ll X 0 1 2 3", 4, 1.5),
    ("intersection_lp X 0 1 2 0 3", 4, 0.5),
    ("intersection_lt X 0 1 2 0 3", 4, 0.5),
    ("on_line X 0 1", 2, 1.0),
    ("on_circle X 0 1", 2, 0.5),
    ("on_circum X 0 1 2", 3, 1.0),
    ("intersection_lc X 0 1 2", 3, 1.0),
    ("parallelogram 0 1 2 X", 3, 0.5),
    ("on_tline X 0 1 2, on_line X 1 2", 3, 0.0),  # = foot; kept out (weight 0)
    ("on_bline X 0 1, on_line X 0 2", 3, 0.5),
    ("angle_bisector X 0 1 2, on_line X 0 2", 3, 0.5),
    ("on_pline X 0 1 2, on_line X 1 3", 4, 0.5),
)

_NAMES = [c for c in string.ascii_lowercase if c != "x"]


def sample_premises(rng: np.random.Generator, n_steps: int | None = None) -> Problem:
    """A random premise problem (no goal): one of :data:`BASES`, then ``n_steps`` (default: 2 to
    6, drawn) constructions of :data:`STEPS`, each over distinct existing points drawn
    uniformly. The names are ``a, b, c, ...`` in order. The problem may still be degenerate on a
    diagram (e.g. a circumcentre of collinear points): :func:`examples_from` skips those."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    if n_steps is None:
        n_steps = int(rng.integers(2, 7))
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    if n_steps > len(_NAMES) - 4:
        raise ValueError(f"n_steps must be <= {len(_NAMES) - 4}, got {n_steps}")
    w = np.array([b[2] for b in BASES])
    base, k, _ = BASES[int(rng.choice(len(BASES), p=w / w.sum()))]
    pts = _NAMES[:k]
    parts = [f"{' '.join(pts)} = {base} {' '.join(pts)}"]
    sw = np.array([s[2] for s in STEPS])
    for _ in range(n_steps):
        usable = np.array([s[1] <= len(pts) for s in STEPS]) * sw
        tmpl, need, _ = STEPS[int(rng.choice(len(STEPS), p=usable / usable.sum()))]
        args = [pts[i] for i in rng.choice(len(pts), size=need, replace=False)]
        x = _NAMES[len(pts)]
        body = " ".join(x if t == "X" else args[int(t)] if t.isdigit() else t
                        for t in tmpl.replace(",", " ,").split()).replace(" ,", ",")
        parts.append(f"{x} = {body}")
        pts.append(x)
    return parse_problem("; ".join(parts), name="premises")


def statement_clauses(problem: Problem, points: Iterable[str]) -> list[int]:
    """Indices of the clauses of ``problem`` needed to state a fact about ``points``: the clauses
    that define them and, transitively, the points their constructions use (in order)."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a Problem, got {type(problem).__name__}")
    owner = {p: i for i, c in enumerate(problem.clauses) for p in c.points}
    todo = list(points)
    unknown = [p for p in todo if p not in owner]
    if unknown:
        raise GeometryInputError(f"statement_clauses: point(s) {' '.join(unknown)} not in the "
                                 f"problem")
    need: set[int] = set()
    while todo:
        i = owner[todo.pop()]
        if i in need:
            continue
        need.add(i)
        cl = problem.clauses[i]
        for con in cl.constructions:
            todo += [a for a in con.args if a in owner and a not in cl.points]
    return sorted(need)


@dataclass
class SynthExample:
    """One synthetic theorem: ``problem`` (the statement, with the goal, without the auxiliary
    points), ``aux`` (the auxiliary clauses), ``problem_with_aux`` (both, in definition order),
    ``proof`` (the numbered DD + AR proof of the goal in ``problem_with_aux``, accepted by
    :func:`~readingroom.geometry.checker.check_proof`), ``solved_without_aux`` (whether DD + AR
    proves ``problem`` alone within the timeout), ``premises`` (the sampled problem it came
    from), ``seed`` / ``sample`` (the generator's seed and sample index)."""

    problem: str
    goal: str
    aux: list[str]
    problem_with_aux: str
    proof: list[str]
    solved_without_aux: bool
    premises: str
    seed: int
    sample: int
    checked: bool = True
    aux_points: list[str] = field(default_factory=list)

    def key(self) -> str:
        """The deduplication key: the statement, its goal and the auxiliary clauses."""
        return f"{self.problem} | {' ; '.join(sorted(self.aux))}"


def _rename(clauses: Sequence[Clause], goal: Fact, order: Sequence[str]):
    m = {p: _NAMES[i] for i, p in enumerate(order)}
    out = []
    for cl in clauses:
        out.append(Clause(tuple(m[p] for p in cl.points),
                          tuple(Construction(c.name, tuple(m.get(a, a) for a in c.args))
                                for c in cl.constructions)))
    return out, Goal(goal.name, tuple(m[a] for a in goal.args)), m


def _problem(clauses, goal) -> Problem:
    p = Problem("synthetic", tuple(clauses), goal)
    return Problem(p.name, p.clauses, p.goal, text=str(p))


def _proof_points(result: ddar.Result) -> set[str]:
    return {a for f in result.steps for a in f.args}


def examples_from(premises: Problem, *, seed: int = 0, sample: int = 0, timeout: float = 5.0,
                  per_sample: int = 3, rng: np.random.Generator | None = None,
                  require_unsolved: bool = True, stats: dict | None = None
                  ) -> list[SynthExample]:
    """The synthetic examples with auxiliary points that one premise problem yields (at most
    ``per_sample``), as described in the module docstring; ``[]`` for a degenerate one.

    ``timeout`` bounds each engine run (the saturation, each re-proof, each check without the
    auxiliary points). ``rng`` orders the derived facts tried (default: by derivation order).
    With ``require_unsolved`` (default) only facts that DD + AR cannot prove from the statement
    alone (on the same diagram, within ``timeout``) are kept: the examples a proposer learns
    from, since the search calls its proposer only then. Without it every traced-back fact is
    kept, as AlphaGeometry does (its auxiliary points are those of the traced proof, whether or
    not another proof without them exists); ``solved_without_aux`` records which.
    ``stats`` (a dict) counts what was skipped and why."""
    if not isinstance(premises, Problem):
        raise TypeError(f"premises must be a Problem, got {type(premises).__name__}")
    timeout = check_float(timeout, "timeout", low=0, low_open=True)
    per_sample = check_int(per_sample, "per_sample", minimum=0)
    st = stats if stats is not None else {}

    def bump(k):
        st[k] = st.get(k, 0) + 1

    try:
        diagram = build_diagram(premises, seed=sample, max_tries=20)
    except (GeometryBuildError, GeometryInputError):
        bump("degenerate")
        return []
    xy = np.array([diagram.points[p] for p in premises.points])
    gaps = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    if gaps.min() < 1e-3 * diagram.scale():
        bump("degenerate")
        return []
    sat = ddar.saturate(premises, diagram=diagram, timeout=timeout)
    owner = {p: i for i, c in enumerate(premises.clauses) for p in c.points}
    derived = [f for f, (why, _) in sat.why.items()
               if not why.startswith("construction") and not f.trivial]
    st["derived"] = st.get("derived", 0) + len(derived)
    cands = []
    for f in derived:
        stmt = statement_clauses(premises, f.args)
        used = {a for g in ddar._trace(sat.why, f) for a in g.args}
        aux = sorted({owner[p] for p in used} - set(stmt))
        if aux:
            cands.append((f, stmt, aux))
    st["traced_aux"] = st.get("traced_aux", 0) + len(cands)
    if rng is not None and cands:
        cands = [cands[i] for i in rng.permutation(len(cands))]
    closure: dict[tuple, ddar.Result] = {}

    def restricted(stmt, goal=None):
        red = Problem("statement", tuple(premises.clauses[i] for i in stmt), goal)
        pts = {p: diagram.points[p] for p in red.points}
        lines, circles = _drawables(red, pts)
        return red, Diagram(pts, lines, circles, red, diagram.seed, diagram.attempts)

    kept = []
    for f, stmt, aux in cands:
        if len(kept) >= 4 * max(per_sample, 1):
            break
        key = tuple(stmt)
        if require_unsolved:  # the statement's own closure: facts it proves without aux
            if key not in closure:
                red, rd = restricted(stmt)
                closure[key] = ddar.saturate(red, diagram=rd, timeout=timeout)
            if f in closure[key].why:
                bump("in_statement_closure")
                continue
        red, rd = restricted(stmt, Goal(f.name, f.args))
        alone = ddar.solve(red, diagram=rd, timeout=timeout).solved
        if alone:
            bump("facts_solved_without_aux")
            if require_unsolved:
                continue
        kept.append((f, stmt, aux, alone))
    out: list[SynthExample] = []
    seen: set[str] = set()
    for f, stmt, aux, alone in kept:
        if len(out) >= per_sample:
            break
        # the aux clauses may need clauses of their own: close over the construction arguments
        full = statement_clauses(premises, [p for i in aux for p in premises.clauses[i].points])
        keep = sorted(set(stmt) | set(full))
        aux = [i for i in keep if i not in stmt]
        stmt_pts = [p for i in stmt for p in premises.clauses[i].points]
        aux_pts = [p for i in aux for p in premises.clauses[i].points]
        clauses, goal, m = _rename([premises.clauses[i] for i in keep], f, stmt_pts + aux_pts)
        names = set(m[p] for p in stmt_pts)
        # re-prove on a fresh diagram; the minimised proof may need fewer aux points
        ex = None
        for _ in range(2):
            prob = _problem(clauses, goal)
            try:
                res = ddar.solve(prob, seed=sample, timeout=timeout)
            except (GeometryBuildError, GeometryInputError):
                res = None
            if res is None or not res.solved:
                bump("not_reproved")
                break
            need = _proof_points(res) - names
            if not need:
                bump("aux_not_needed")
                break
            sub_aux = statement_clauses(prob, need)
            sub = [clauses[i] for i in sorted(set(sub_aux) | {
                i for i, c in enumerate(clauses) if set(c.points) <= names})]
            if len(sub) < len(clauses):
                clauses = sub
                continue
            ex = (prob, res)
            break
        if ex is None:
            continue
        prob, res = ex
        stmt_cl = [c for c in prob.clauses if set(c.points) <= names]
        aux_cl = [c for c in prob.clauses if not set(c.points) <= names]
        red = _problem(stmt_cl, goal)
        key = f"{red} | {' ; '.join(sorted(str(c) for c in aux_cl))}"
        if key in seen:
            continue
        verdict = check_proof(prob, res.proof)
        if not verdict.ok:
            bump("rejected_by_checker")
            continue
        seen.add(key)
        out.append(SynthExample(
            problem=str(red), goal=str(goal), aux=[str(c) for c in aux_cl],
            problem_with_aux=str(prob), proof=list(res.proof), solved_without_aux=alone,
            premises=str(premises), seed=seed, sample=sample, checked=True,
            aux_points=[p for c in aux_cl for p in c.points]))
    return out


def generate(n: int, seed: int = 0, *, timeout: float = 5.0, per_sample: int = 3,
             require_unsolved: bool = True, progress: bool = False
             ) -> tuple[list[SynthExample], dict]:
    """``n`` random premise problems (sample ``i`` drawn from ``numpy.random.default_rng([seed,
    i])``), each passed through :func:`examples_from`; the examples deduplicated (first
    occurrence kept) and the counts ``{"samples", "examples", "duplicates", "seconds", ...}``.
    Deterministic for a seed (up to ``timeout``: a slower machine may stop a saturation
    earlier). ``progress`` shows a tqdm bar on stderr."""
    n = check_int(n, "n", minimum=0)
    seed = check_seed(seed)
    timeout = check_float(timeout, "timeout", low=0, low_open=True)
    per_sample = check_int(per_sample, "per_sample", minimum=0)
    t0 = time.monotonic()
    stats: dict = {"samples": n}
    out: list[SynthExample] = []
    keys: set[str] = set()
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=n, desc="synth", unit="sample", dynamic_ncols=True)
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        prem = sample_premises(rng)
        for ex in examples_from(prem, seed=seed, sample=i, timeout=timeout,
                                per_sample=per_sample, rng=rng,
                                require_unsolved=require_unsolved, stats=stats):
            if ex.key() in keys:
                stats["duplicates"] = stats.get("duplicates", 0) + 1
                continue
            keys.add(ex.key())
            out.append(ex)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(examples=len(out))
    if bar is not None:
        bar.close()
    stats["examples"] = len(out)
    stats["unsolved_without_aux"] = sum(not e.solved_without_aux for e in out)
    stats["seconds"] = round(time.monotonic() - t0, 2)
    return out, stats


def write_jsonl(examples: Sequence[SynthExample], path: str | os.PathLike) -> Path:
    """Write one JSON object per example (the :class:`SynthExample` fields)."""
    path = Path(path)
    if not all(isinstance(e, SynthExample) for e in examples):
        raise TypeError("write_jsonl: examples must be SynthExample records")
    with path.open("w", encoding="utf-8") as fh:
        for e in examples:
            fh.write(json.dumps(asdict(e), sort_keys=True) + "\n")
    return path


def read_jsonl(path: str | os.PathLike) -> list[SynthExample]:
    """Read the records :func:`write_jsonl` wrote; raises ``ValueError`` naming the line of a
    malformed record."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_jsonl: no such file {str(path)!r}")
    out = []
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(SynthExample(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as e:
            raise ValueError(f"{path}:{k}: not a synthetic example record ({e})") from None
    return out
