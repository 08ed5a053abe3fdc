"""Benchmark: evolution against the non-evolutionary baselines for circle packing (AlphaEvolve
Appendix B.12), under the same budget.

Two budgets, one per run of the script:

* ``--seconds S`` (**the fair comparison**): every method gets the same ``S`` CPU seconds on one
  thread (one BLAS thread; the evaluations of evolution run one after another, not on a pool),
  and the record gives each method's evaluation count beside its score. Evolution runs in
  *search mode* (AlphaEvolve §3.2): every candidate program is a search heuristic that gets its
  parent's best packing as a warm start and ``--time-budget`` CPU seconds to improve on it
  (:func:`readingroom.evolve.circles.evaluate`). Since such a program runs its own search, an
  evaluation of evolution is worth many local optimisations, and counting evaluations would no
  longer be fair: CPU seconds are. The methods:

  - ``multistart_slsqp``: independent SLSQP runs from random starts, keep the best;
  - ``basin_hopping``: perturb the best packing so far and re-optimise;
  - ``seed_chain``: the seed program (:data:`~readingroom.evolve.circles.SEED_PROGRAM`, whose
    search *is* basin hopping's move) run again and again in the sandbox, each run warm-started
    from the best packing so far -- evolution without the evolution of code: the control that
    separates what the warm starts and the sandbox cost from what evolving the code gains;
  - ``evolution``: :func:`~readingroom.evolve.loop.run_evolution` with the offline mutation
    proposer, in search mode, until its CPU seconds are spent;
  - ``seed``: the seed program once, from scratch, in constructor mode (where evolution starts).

  How the CPU seconds are counted: the baselines run in this process (``time.process_time``;
  the local optimisation in progress is cut when the budget runs out). A sandboxed method is
  charged this process's own CPU time (proposing, checking, the database) plus, for every
  evaluation, the candidate's CPU time: bubblewrap's pid namespace hides the candidate from
  ``RUSAGE_CHILDREN``, so the candidate's program reports its own ``time.process_time()`` (the
  line sits outside its EVOLVE-BLOCK, where a diff cannot change it), and a run that reports
  nothing is charged its wall-clock seconds. A sandboxed method starts no evaluation that its
  time budget would take past ``S``, so it may leave up to about ``--time-budget`` seconds
  unused; the seconds each method used are recorded.

* ``--budget N`` (the earlier comparison, kept): every method gets ``N`` *evaluations*, one
  local SLSQP optimisation each for the baselines and one run of a candidate program in
  *constructor mode* (``main(n)`` builds a packing from scratch) for evolution, on ``--workers``
  processes. This is fair only in constructor mode, where a program mostly runs one local
  optimisation; it is the setting of the first measurements, not the one to judge evolution by.

Records per method: the best checked score, the best score after every evaluation (the curve) and
when it ended (``times``, CPU seconds), each evaluation's own score, the seconds, and the best
packing itself; beside them AlphaEvolve's and the previous best sums of radii and the plain
grid's, and the provenance of the run.

    python benchmarks/evolve_baselines.py --seconds 120 --seed 0 --out /tmp/b120s0.json
    python benchmarks/evolve_baselines.py --budget 40                  # evaluation budget
    python benchmarks/evolve_baselines.py --n 32 --budget 200 --out /tmp/b32.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BUDGET_METHODS = ("multistart_slsqp", "basin_hopping", "seed", "evolution")
SECONDS_METHODS = ("multistart_slsqp", "basin_hopping", "seed_chain", "evolution")
#: The paper's ablation "no database diversity" (one island, one cell), with --seconds only.
ABLATIONS = ("evolution_no_diversity",)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=26, help="number of circles (default 26)")
    ap.add_argument("--budget", type=int, default=None,
                    help="evaluations per method (constructor mode; default 40 without "
                         "--seconds)")
    ap.add_argument("--seconds", type=float, default=None,
                    help="CPU seconds per method, one thread (search mode; the fair budget)")
    ap.add_argument("--time-budget", type=float, default=2.0,
                    help="with --seconds: CPU seconds per evaluated program (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--maxiter", type=int, default=300, help="SLSQP iterations per run")
    ap.add_argument("--methods", default=None,
                    help="comma-separated subset of multistart_slsqp,basin_hopping,seed,"
                         "seed_chain,evolution,evolution_no_diversity (default: the four of the "
                         "chosen budget)")
    ap.add_argument("--islands", type=int, default=4, help="islands of evolution (default 4)")
    ap.add_argument("--workers", type=int, default=2,
                    help="with --budget: evaluation processes for evolution")
    ap.add_argument("--out", default=str(ROOT / "book/data/evolve/baselines.json"))
    args = ap.parse_args(argv)
    if args.budget is not None and args.seconds is not None:
        ap.error("give --budget or --seconds, not both")
    if args.seconds is None and args.budget is None:
        args.budget = 40
    if args.budget is not None and args.budget < 1:
        ap.error(f"--budget must be >= 1, got {args.budget}")
    if args.seconds is not None and not (math.isfinite(args.seconds) and args.seconds > 0):
        ap.error(f"--seconds must be a finite number > 0, got {args.seconds}")
    if not (math.isfinite(args.time_budget) and args.time_budget > 0):
        ap.error(f"--time-budget must be a finite number > 0, got {args.time_budget}")

    from readingroom.common import run_provenance, use_threads

    use_threads(1)
    from readingroom.evolve import circles

    default = SECONDS_METHODS if args.seconds is not None else BUDGET_METHODS
    methods = [m.strip() for m in (args.methods or ",".join(default)).split(",") if m.strip()]
    known = {"multistart_slsqp", "basin_hopping", "seed", "seed_chain", "evolution", *ABLATIONS}
    if not methods or set(methods) - known:
        ap.error(f"--methods must be a subset of {sorted(known)}, got {args.methods!r}")
    if {"seed_chain", *ABLATIONS} & set(methods) and args.seconds is None:
        ap.error("seed_chain and evolution_no_diversity need --seconds")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/evolve_baselines.py " + shlex.join(
        sys.argv[1:] if argv is None else argv)
    if args.seconds is not None:
        budget = {"kind": "cpu_seconds", "seconds": args.seconds,
                  "time_budget_s": args.time_budget,
                  "evaluation": "baselines: one local SLSQP optimisation from one start, then "
                                "exact repair and check; evolution and seed_chain: one run of a "
                                f"search program ({args.time_budget:g} CPU s, warm-started from "
                                "the best packing so far) in the sandbox, then the exact check"}
    else:
        budget = {"kind": "evaluations", "evaluations": args.budget,
                  "evaluation": "one local SLSQP optimisation from one start, then exact repair "
                                "and check (evolution: one run of a constructor program)"}
    record = {
        "problem": f"circle packing in the unit square, n = {args.n}: maximise the sum of radii",
        "n": args.n, "budget": args.budget, "seconds": args.seconds, "seed": args.seed,
        "maxiter": args.maxiter, "islands": args.islands, **budget,
        "reference": {"alphaevolve": circles.ALPHAEVOLVE.get(args.n),
                      "previous_best": circles.PREVIOUS.get(args.n),
                      "square_grid": circles.grid_score(args.n)},
        "methods": {},
        "provenance": run_provenance(command, outputs=[out]),
    }

    def write() -> None:
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1) + "\n")
        os.replace(tmp, out)

    for name in methods:
        start = time.monotonic()
        if name == "evolution":
            row = _evolve(args) if args.seconds is None else _evolve_seconds(args)
        elif name == "evolution_no_diversity":
            row = _evolve_seconds(args, diversity=False)
        elif name == "seed_chain":
            row = _seed_chain(args)
        elif name == "seed":
            res = circles.evaluate(circles.SEED_PROGRAM, args.n, timeout_s=600)
            row = {"score": res["score"], "ok": res["ok"], "reason": res["reason"],
                   "wall_s": res["wall_s"], "cpu_s": res["cpu_s"], "layer": res["layer"],
                   "best": res["value"]}
        else:
            fn = getattr(circles, name)
            row = fn(args.n, args.budget, args.seed, maxiter=args.maxiter,
                     seconds=args.seconds).to_dict()
            row["evaluations"] = len(row["curve"])
        if row.get("best"):
            best = {"centers": row["best"]["centers"], "radii": row["best"]["radii"]}
            check = circles.check_packing(best, args.n)
            row["best"] = best
            row["checked"] = bool(check.ok and check.score == row["score"])
        record["methods"][name] = row
        write()
        print(f"{name:18s} score {row['score']!s:20s} evaluations "
              f"{row.get('evaluations', 1)!s:>5s} cpu {row.get('cpu_s') or 0:7.1f} s "
              f"wall {time.monotonic() - start:7.1f} s", flush=True)
    print(f"wrote {out}")
    return record


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class _Meter:
    """Wraps a sandboxed evaluation and counts the CPU seconds spent (module docstring): this
    process's own, plus per evaluation the larger of the children's CPU time and what the
    candidate reported (its wall-clock seconds if it reported nothing). ``log`` holds, per
    evaluation, ``(cpu seconds spent so far, score or None)``."""

    def __init__(self, evaluate) -> None:
        self.evaluate = evaluate
        self.own0 = time.process_time()
        self.charged = 0.0
        self.log: list[tuple[float, float | None]] = []

    def spent(self) -> float:
        return time.process_time() - self.own0 + self.charged

    def __call__(self, *args, **kwargs) -> dict:
        before = _children_cpu()
        res = self.evaluate(*args, **kwargs)
        reported = res.get("cpu_s")
        if reported is None:
            reported = (res.get("metrics") or {}).get("cpu_s")
        if reported is None:
            reported = res.get("wall_s", 0.0)
        self.charged += max(_children_cpu() - before, float(reported))
        self.log.append((round(self.spent(), 3), res["score"] if res["ok"] else None))
        return res

    def curve(self) -> tuple[list[float], list[float], list[float | None]]:
        best, curve = -math.inf, []
        for _, score in self.log:
            if score is not None:
                best = max(best, score)
            curve.append(best)
        return curve, [t for t, _ in self.log], [s for _, s in self.log]


def _evolve(args) -> dict:
    """One evolution run in constructor mode with the same evaluation budget (a throwaway
    database)."""
    import concurrent.futures as cf
    import tempfile

    from readingroom.evolve import MutationProposer, circle_packing, run_evolution

    problem = circle_packing(args.n, timeout_s=600)
    start = time.process_time()
    with tempfile.TemporaryDirectory() as tmp, cf.ProcessPoolExecutor(args.workers) as pool:
        res = run_evolution(problem, MutationProposer(problem.fragments), budget=args.budget,
                            db_path=Path(tmp) / "run.db", seed=args.seed,
                            islands=args.islands, batch=args.workers, executor=pool,
                            progress=False)
    return {"score": res.best.score, "curve": res.curve, "evaluations": res.evaluations,
            "failed_diffs": res.failed_diffs, "failed_evaluations": res.failed_evaluations,
            "cpu_s_parent": round(time.process_time() - start, 3),
            "best_code": res.best.code, "best_id": res.best.id,
            "best": res.best.metrics.get("packing")}


def _evolve_seconds(args, diversity: bool = True) -> dict:
    """One evolution run in search mode, on one thread, until its CPU seconds are spent
    (``diversity=False``: the paper's ablation, one island and no MAP-Elites cells)."""
    import tempfile

    from readingroom.evolve import MutationProposer, circle_packing, run_evolution

    problem = circle_packing(args.n, timeout_s=args.time_budget + 120.0,
                             time_budget_s=args.time_budget)
    meter = _Meter(problem.evaluate)
    problem = dataclasses.replace(problem, evaluate=meter)
    wall = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        res = run_evolution(problem, MutationProposer(problem.fragments), budget=10 ** 6,
                            db_path=Path(tmp) / "run.db", seed=args.seed,
                            islands=args.islands, batch=1, executor=None, progress=False,
                            diversity=diversity,
                            stop=lambda db: meter.spent() + args.time_budget > args.seconds)
    curve, times, scores = meter.curve()
    return {"score": res.best.score, "evaluations": len(meter.log), "curve": curve,
            "times": times, "scores": scores, "cpu_s": round(meter.spent(), 3),
            "wall_s": round(time.monotonic() - wall, 3), "children": res.evaluations,
            "failed_diffs": res.failed_diffs, "failed_evaluations": res.failed_evaluations,
            "best_code": res.best.code, "best_id": res.best.id,
            "best_generation": res.best.generation, "best": res.best.metrics.get("packing")}


def _seed_chain(args) -> dict:
    """The seed program in search mode, each run warm-started from the best packing so far; its
    code never changes (a different random seed each run)."""
    from readingroom.evolve import circles

    meter = _Meter(circles.evaluate)
    wall = time.monotonic()
    best, best_score, k = None, -math.inf, 0
    while meter.spent() + args.time_budget <= args.seconds:
        res = meter(circles.SEED_PROGRAM, args.n, timeout_s=args.time_budget + 120.0,
                    time_budget_s=args.time_budget, warm_start=best,
                    seed=args.seed * 100003 + k)
        if res["ok"] and res["score"] > best_score:
            best_score = res["score"]
            best = {"centers": res["value"]["centers"], "radii": res["value"]["radii"]}
        k += 1
    curve, times, scores = meter.curve()
    return {"score": best_score, "evaluations": len(meter.log), "curve": curve, "times": times,
            "scores": scores, "cpu_s": round(meter.spent(), 3),
            "wall_s": round(time.monotonic() - wall, 3), "best": best}


if __name__ == "__main__":
    main()
