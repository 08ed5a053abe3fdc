"""Benchmark: evolving the search for a rank-7 decomposition of <2, 2, 2> (AlphaEvolve §3.1).

For each seed, the offline loop (:func:`~readingroom.evolve.loop.run_evolution` with the
:class:`~readingroom.evolve.proposers.MutationProposer`) evolves the matrix-multiplication
problem's seed program (:data:`readingroom.evolve.matmul.SEED_PROGRAM`) for ``--budget``
evaluations, each of ``--trials`` random starts. Then the seed program and every run's best
program are scored on the same ``--check-trials`` trials (the loop saw only the first
``--trials`` of them): how many trials each makes an exact decomposition, and the CPU seconds
per trial; and the seed program is tried at rank 6 on as many trials (no exact decomposition
exists: rank 7 is optimal for 2 x 2, Winograd 1971).

Single-threaded (one BLAS thread, the book's policy). Writes one JSON record with its
provenance (default ``book/data/evolve/matmul.json``), the one the AlphaEvolve chapter reads.

    python benchmarks/evolve_matmul.py                       # seeds 0 1 2, budget 40
    python benchmarks/evolve_matmul.py --seeds 0 --budget 8 --check-trials 6 --out /tmp/m.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def score_program(code: str, rank: int, trials: int) -> dict:
    """Exact trials of ``code`` at ``rank`` out of ``trials`` (all in one sandboxed process), the
    best rounded squared error, and the process's wall seconds (a busy machine inflates them)."""
    from readingroom.evolve.matmul import evaluate

    result = evaluate(code, 2, 2, 2, rank, trials=trials, timeout_s=60.0 + 5.0 * trials)
    if not result["ok"]:
        return {"ok": False, "reason": result["reason"], "exact": 0, "trials": trials}
    exact = sum(t["exact"] for t in result["trials"])
    return {"ok": True, "exact": exact, "trials": trials, "success_rate": exact / trials,
            "wall_s": round(result["wall_s"], 3),
            "best_residual": min(t["residual"] for t in result["trials"])}


def main(argv: list[str] | None = None) -> dict:
    from readingroom.common.cli import add_out, add_seeds, positive_int_arg, write_json

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_seeds(ap, default=(0, 1, 2), help="seeds of the evolution runs")
    ap.add_argument("--budget", type=positive_int_arg, default=40,
                    help="evaluations per run (default 40)")
    ap.add_argument("--trials", type=positive_int_arg, default=3,
                    help="random starts per evaluation in the loop (default 3)")
    ap.add_argument("--check-trials", type=positive_int_arg, default=40,
                    help="trials on which the seed and the evolved programs are compared")
    ap.add_argument("--islands", type=positive_int_arg, default=2)
    add_out(ap, default=ROOT / "book/data/evolve/matmul.json", help="output JSON")
    args = ap.parse_args(argv)

    from readingroom.common import run_provenance, use_threads

    use_threads(1)
    from readingroom.evolve import MutationProposer, make_problem, run_evolution
    from readingroom.evolve.matmul import SEED_PROGRAM

    command = ("python benchmarks/evolve_matmul.py " + shlex.join(
        sys.argv[1:] if argv is None else argv)).rstrip()
    provenance = run_provenance(command, outputs=(args.out,))  # the code as the run starts
    problem = make_problem("matmul", n=2, m=2, p=2, rank=7, trials=args.trials)
    seed_rank7 = score_program(SEED_PROGRAM, 7, args.check_trials)
    seed_rank6 = score_program(SEED_PROGRAM, 6, args.check_trials)
    print(f"seed program: rank 7 exact in {seed_rank7['exact']}/{args.check_trials}, rank 6 in "
          f"{seed_rank6['exact']}/{args.check_trials}", flush=True)
    runs = []
    for seed in args.seeds:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            result = run_evolution(problem, MutationProposer(problem.fragments),
                                   budget=args.budget, db_path=Path(folder) / "run.sqlite",
                                   seed=seed, islands=args.islands, progress=False)
        seconds = time.perf_counter() - start
        first = next((i + 1 for i, s in enumerate(result.curve) if s >= 1.0), None)
        checked = score_program(result.best.code, 7, args.check_trials)
        runs.append({"seed": seed, "curve": result.curve, "best_score": result.best.score,
                     "first_evaluation_at_1": first, "evaluations": result.evaluations,
                     "failed_evaluations": result.failed_evaluations,
                     "failed_diffs": result.failed_diffs, "seconds": round(seconds, 1),
                     "best_code": result.best.code, "check": checked})
        print(f"seed {seed}: best {result.best.score:.3f} (first 1.0 at evaluation {first}), "
              f"exact in {checked['exact']}/{args.check_trials} check trials "
              f"({seconds:.0f} s)", flush=True)
    record = {"provenance": provenance,
              "settings": {"budget": args.budget, "trials": args.trials,
                           "check_trials": args.check_trials, "islands": args.islands},
              "seed_program": {"rank7": seed_rank7, "rank6": seed_rank6}, "runs": runs}
    write_json(args.out, record)
    print(f"wrote {args.out}")
    return record


if __name__ == "__main__":
    main()
