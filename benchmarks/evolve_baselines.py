"""Benchmark: the non-evolutionary baselines for circle packing (AlphaEvolve Appendix B.12).

Runs, under the **same evaluation budget** (one evaluation = one local SLSQP optimisation from one
start, repaired and checked exactly by :func:`readingroom.evolve.circles.check_packing`):

* ``multistart_slsqp``: ``budget`` independent runs from random starts, keep the best;
* ``basin_hopping``: perturb the best packing so far and re-optimise, ``budget`` times;
* ``seed``: the evolution's seed program (:data:`~readingroom.evolve.circles.SEED_PROGRAM`),
  once, in the sandbox -- where evolution starts;
* ``evolution``: the loop (:func:`~readingroom.evolve.loop.run_evolution`) with the offline
  mutation proposer, ``budget`` evaluated children (each one run of a candidate program, in the
  sandbox: one local optimisation unless evolution swapped in a multi-hop optimiser), on
  ``--workers`` processes. Diffs that do not apply cost no evaluation.

Records per method: the best checked score, the best score after every evaluation (the curve),
each evaluation's own score, seconds, and the best packing itself; beside them AlphaEvolve's and
the previous best sums of radii and the plain grid's, and the provenance of the run. Single-
threaded (one BLAS thread; the book's policy) so reruns with the same seed give the same numbers.

    python benchmarks/evolve_baselines.py                      # n = 26, 40 evaluations each
    python benchmarks/evolve_baselines.py --n 32 --budget 200 --out /tmp/b32.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=26, help="number of circles (default 26)")
    ap.add_argument("--budget", type=int, default=40,
                    help="local optimisations per method (default 40)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--maxiter", type=int, default=300, help="SLSQP iterations per run")
    ap.add_argument("--methods", default="multistart_slsqp,basin_hopping,seed,evolution",
                    help="comma-separated subset of multistart_slsqp,basin_hopping,seed,evolution")
    ap.add_argument("--workers", type=int, default=2, help="evaluation processes for evolution")
    ap.add_argument("--out", default=str(ROOT / "book/data/evolve/baselines.json"))
    args = ap.parse_args(argv)

    from readingroom.common import run_provenance, use_threads

    use_threads(1)
    from readingroom.evolve import circles

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    known = {"multistart_slsqp", "basin_hopping", "seed", "evolution"}
    if not methods or set(methods) - known:
        ap.error(f"--methods must be a subset of {sorted(known)}, got {args.methods!r}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/evolve_baselines.py " + shlex.join(
        sys.argv[1:] if argv is None else argv)
    record = {
        "problem": f"circle packing in the unit square, n = {args.n}: maximise the sum of radii",
        "n": args.n, "budget": args.budget, "seed": args.seed, "maxiter": args.maxiter,
        "evaluation": "one local SLSQP optimisation from one start, then exact repair and check",
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
            row = _evolve(args)
        elif name == "seed":
            res = circles.evaluate(circles.SEED_PROGRAM, args.n, timeout_s=600)
            row = {"score": res["score"], "ok": res["ok"], "reason": res["reason"],
                   "wall_s": res["wall_s"], "layer": res["layer"], "best": res["value"]}
        else:
            fn = getattr(circles, name)
            row = fn(args.n, args.budget, args.seed, maxiter=args.maxiter).to_dict()
            check = circles.check_packing(row["best"], args.n) if row["best"] else None
            row["checked"] = bool(check and check.ok and check.score == row["score"])
        record["methods"][name] = row
        write()
        print(f"{name:18s} score {row['score']!s:20s} {time.monotonic() - start:7.1f} s",
              flush=True)
    print(f"wrote {out}")
    return record


def _evolve(args) -> dict:
    """One evolution run with the same evaluation budget (a throwaway database)."""
    import concurrent.futures as cf
    import tempfile

    from readingroom.evolve import MutationProposer, circle_packing, run_evolution

    problem = circle_packing(args.n, timeout_s=600)
    with tempfile.TemporaryDirectory() as tmp, cf.ProcessPoolExecutor(args.workers) as pool:
        res = run_evolution(problem, MutationProposer(problem.fragments), budget=args.budget,
                            db_path=Path(tmp) / "run.db", seed=args.seed, islands=4,
                            batch=args.workers, executor=pool, progress=False)
    return {"score": res.best.score, "curve": res.curve, "evaluations": res.evaluations,
            "failed_diffs": res.failed_diffs, "failed_evaluations": res.failed_evaluations,
            "best_code": res.best.code, "best_id": res.best.id}


if __name__ == "__main__":
    main()
