"""The evolutionary loop: sample, prompt, propose, apply, evaluate, store (AlphaEvolve §2, Fig. 2).

One generation, for every island in turn::

    parent, inspirations = database.sample(island)          # §2.5: MAP-Elites x islands
    prompt = build_prompt(problem, parent, inspirations)    # §2.2: with the evaluator's feedback
    answer = proposer.propose(prompt, parent, ...)          # §2.3: an LLM, or offline mutations
    child  = apply_diff(parent.code, answer.text)           # §2.3: SEARCH/REPLACE in EVOLVE-BLOCKs
    result = evaluate(child)                                # §2.4: sandboxed, in parallel

A diff that does not apply is a stored failure with its reason (it costs no evaluation); a child
that fails its evaluation is stored with the sandbox's or the checker's reason. Every result is
committed to the SQLite database as it arrives, so a run killed at any moment resumes from the
file: the budget counts the evaluations already stored.

Search heuristics (§3.2): for its mathematical problems AlphaEvolve evolves programs that *search*:
each "was given a fixed time budget and was shown the best construction found by the previous best
heuristic", and its goal was "to leverage this starting point and the allotted time to find an even
better construction". A :class:`Problem` with ``warm_start`` does this: every child is evaluated as
``evaluate(child, warm_start=problem.warm_start(parent))`` -- its parent's best construction, which
the evaluator stored in the parent's metrics -- so the constructions improve along the lineage,
and the code that improves them best is what gets selected. (The time budget is the evaluator's.)

The three switches of the paper's ablation (§4, Fig. 8 in spirit) are arguments:
``evolution=False`` proposes every child from the initial program (no building on successes),
``diversity=False`` keeps one cell on one island (no MAP-Elites, no islands), and
``feedback=False`` leaves the evaluator's feedback out of the prompt.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from readingroom.common import check_int, progress_enabled
from readingroom.evolve.blocks import DiffResult, apply_diff, apply_rewrite
from readingroom.evolve.database import ProgramDatabase
from readingroom.evolve.executor import evaluate_many
from readingroom.evolve.prompt import build_prompt, format_feedback

__all__ = ["Problem", "EvolveResult", "run_evolution", "feedback_of"]


@dataclass(frozen=True)
class Problem:
    """What the loop evolves and how it is scored.

    Attributes:
        name: a short name (``"circle-packing-26"``).
        statement: the problem as the prompt states it.
        initial_program: the program evolution starts from (with EVOLVE-BLOCKs).
        evaluate: ``evaluate(code) -> {"ok", "score", "reason", "metrics", "features"}``, safe
            on untrusted code (it sandboxes the run) and picklable (a module-level function or a
            ``functools.partial``), so that a process pool or a Dask cluster can run it.
        features: the MAP-Elites feature dimensions, name -> ``(low, high, bins)``; the values
            come from each result's ``features``.
        fragments: named code snippets an offline proposer may swap in.
        warm_start: ``None``, or ``warm_start(parent) -> object``: what a child of ``parent``
            starts from (AlphaEvolve §3.2: the best construction found so far); the loop then
            calls ``evaluate(code, warm_start=...)`` for every child (the initial program gets
            ``evaluate(code)``). A module-level function, so the problem pickles.
    """

    name: str
    statement: str
    initial_program: str
    evaluate: Callable[[str], Mapping[str, Any]]
    features: Mapping[str, tuple[float, float, int]] = field(default_factory=dict)
    fragments: Mapping[str, list[str]] = field(default_factory=dict)
    warm_start: Callable[[Any], Any] | None = None


@dataclass
class EvolveResult:
    """What a run did: ``best`` (the best program), ``curve`` (best score after each
    evaluation, in the order they were stored), ``evaluations``, ``failed_diffs``,
    ``failed_evaluations`` and the database ``path``."""

    best: Any
    curve: list[float]
    evaluations: int
    failed_diffs: int
    failed_evaluations: int
    path: str


def feedback_of(program: Any, db: ProgramDatabase | None = None) -> str | None:
    """The evaluator's feedback on ``program`` for the prompt (§2.2): its metrics, and why the
    last change tried on it failed, if it did (looked up in ``db``)."""
    if program is None:
        return None
    notes = []
    metrics = getattr(program, "metrics", None) or {}
    shown = ", ".join(f"{k} = {v}" for k, v in sorted(metrics.items())
                      if isinstance(v, (int, float, str)))
    if shown:
        notes.append(f"Metrics of the current program: {shown}.")
    last_reason = None
    if db is not None:
        tried = [p for p in db.children() if p.parent_id == program.id]
        if tried and tried[-1].status == "failed":
            last_reason = tried[-1].reason
    return format_feedback(last_child_reason=last_reason, notes=notes)


DIFF_FAILED = "diff: "  # the reason of a child whose diff did not apply (it was never run)


def _evaluated(db: ProgramDatabase) -> list[Any]:
    """The children that were evaluated (a failed diff is stored but costs no evaluation)."""
    return [p for p in db.children() if not (p.reason or "").startswith(DIFF_FAILED)]


def _score_curve(children: list[Any]) -> list[float]:
    curve, best = [], float("-inf")
    for program in children:
        if program.status == "ok":
            best = max(best, program.score)
        curve.append(best)
    return curve


def _evaluate_warm(evaluate: Callable[..., Mapping[str, Any]], item: tuple[str, Any]) -> \
        Mapping[str, Any]:
    """``evaluate(code, warm_start=warm)`` for ``item = (code, warm)`` (picklable with a
    ``functools.partial``, for a process pool)."""
    code, warm = item
    return evaluate(code, warm_start=warm)


def run_evolution(problem: Problem, proposer: Any, *, budget: int, db_path: str | Path,
                  seed: int = 0, islands: int = 4, batch: int | None = None,
                  executor: Any = None, evolution: bool = True, diversity: bool = True,
                  feedback: bool = True, progress: bool = True,
                  on_batch: Callable[[ProgramDatabase], None] | None = None,
                  stop: Callable[[ProgramDatabase], bool] | None = None) -> EvolveResult:
    """Evolve ``problem`` until ``budget`` children have been evaluated (counting those already
    in the database at ``db_path``, so a killed run resumes where it stopped).

    Args:
        problem: the :class:`Problem`.
        proposer: any object with ``propose(prompt, parent, inspirations, rng) -> proposal``
            (``proposal.text`` is the answer to apply).
        budget: evaluations in all (an int >= 1).
        db_path: the SQLite file (``":memory:"`` for a throwaway run).
        seed: seeds the database's sampler and the proposer's generator.
        islands: number of islands (1 when ``diversity`` is False).
        batch: children proposed and evaluated together (default: ``islands``); they are
            evaluated in parallel on ``executor`` (``None``: one after another, here).
        evolution, diversity, feedback: the ablation switches (module docstring).
        on_batch: called with the database after each batch (to draw the run as it goes).
        stop: called with the database before each batch; ``True`` ends the run there, before
            the budget is spent (a time limit, say).

    The progress bar counts the evaluations and shows the best score so far.
    """
    budget = check_int(budget, "budget")
    seed = check_int(seed, "seed", minimum=0)
    islands = 1 if not diversity else check_int(islands, "islands")
    batch = check_int(batch if batch is not None else islands, "batch")
    features = dict(problem.features) if diversity else {}
    db = ProgramDatabase(db_path, features=features, islands=islands, seed=seed)
    rng = random.Random(f"{seed}:{len(db)}")  # a resumed run continues with a fresh stream
    if len(db) == 0:
        first = problem.evaluate(problem.initial_program)
        if not first["ok"]:
            raise ValueError(f"the initial program of {problem.name} fails its evaluation: "
                             f"{first['reason']}")
        db.add_initial(problem.initial_program, score=first["score"],
                       metrics=first.get("metrics"), features=first.get("features"))
    root = db.lineage(db.best().id)[0]
    evaluate = problem.evaluate

    def evaluated() -> int:
        return len(_evaluated(db))

    from tqdm.auto import tqdm

    bar = tqdm(total=budget, initial=min(evaluated(), budget), desc=problem.name,
               disable=not progress_enabled(progress))
    bar.set_postfix(best=f"{db.best().score:.10g}")
    island = 0
    while evaluated() < budget and not (stop is not None and stop(db)):
        todo = min(batch, budget - evaluated())
        children = []  # (code, parent, island, diff text)
        while len(children) < todo:
            parent, inspirations = db.sample(island)
            if not evolution:
                parent, inspirations = root, []
            prompt = build_prompt(problem.statement, parent, inspirations,
                                  feedback=feedback_of(parent, db) if feedback else None)
            answer = proposer.propose(prompt, parent, inspirations, rng)
            if getattr(answer, "error", None) or not answer.text:
                result = DiffResult(False, None, f"no answer: {answer.error or 'empty'}", 0)
            elif answer.kind == "rewrite":
                result = apply_rewrite(parent.code, answer.text)
            else:
                result = apply_diff(parent.code, answer.text)
            if not result.ok:
                db.add(parent.code, parent_id=parent.id, island=island, score=None,
                       diff=answer.text, status="failed", reason=DIFF_FAILED + result.reason)
            else:
                children.append((result.code, parent, island, answer.text))
            island = (island + 1) % islands
        if problem.warm_start is not None:
            fn = functools.partial(_evaluate_warm, evaluate)
            items: list[Any] = [(code, problem.warm_start(parent))
                                for code, parent, *_ in children]
        else:
            fn, items = evaluate, [code for code, *_ in children]
        if executor is None:
            results = [fn(item) for item in items]
        else:
            results = evaluate_many(executor, fn, items, progress=False)
        for (code, parent, isl, diff), res in zip(children, results):
            db.add(code, parent_id=parent.id, island=isl,
                   score=res["score"] if res["ok"] else None, diff=diff,
                   status="ok" if res["ok"] else "failed", reason=None if res["ok"] else
                   str(res["reason"]), metrics=res.get("metrics"), features=res.get("features"))
            bar.update(1)
        bar.set_postfix(best=f"{db.best().score:.10g}")
        if db.migration_due:
            db.migrate()
        if on_batch is not None:
            on_batch(db)
    bar.close()
    done = _evaluated(db)
    failed_diffs = len(db.children()) - len(done)
    result = EvolveResult(best=db.best(), curve=_score_curve(done), evaluations=len(done),
                          failed_diffs=failed_diffs,
                          failed_evaluations=sum(p.status == "failed" for p in done),
                          path=str(db_path))
    db.close()
    return result

