"""Command line of the AlphaEvolve chapter.

    python -m readingroom.evolve run circle-packing --budget 200 --seed 0 --db run.db
    python -m readingroom.evolve run circle-packing --cluster tcp://host:8786   # a Dask cluster
    python -m readingroom.evolve run matmul --n 2 --m 2 --p 2 --rank 7 --budget 40 --seed 0
    python -m readingroom.evolve sandbox                                          # which layer

``run`` evolves a problem until ``--budget`` candidate programs have been evaluated, storing
every one in the SQLite file ``--db``; run the same command again after an interruption (even
``kill -9``) and it resumes from the file. Candidates run in the sandbox
(``readingroom.evolve.sandbox``: bubblewrap where the machine allows it, else ``unshare``, else
OS limits only, which is not a sandbox; ``sandbox`` prints the layer in use). Evaluations run in
parallel on a local process pool (``--workers``), or on a Dask cluster given by ``--cluster``.
The bar shows the evaluations and the best score so far.

Circle packing runs in *search mode* by default (AlphaEvolve §3.2): every program is a search
heuristic that gets its parent's best packing and ``--time-budget`` CPU seconds (default 2) to
improve on it; ``--time-budget 0`` runs programs that build a packing from scratch instead.
``--out FILE`` writes the summary with the curve: per evaluation, the best score so far, the
seconds since the run began and the CPU seconds the program reported.
Exit status 0 on success, 2 on bad input (:mod:`readingroom.common.cli`'s convention).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from readingroom.common.cli import (
    add_no_progress, add_out, add_seed, positive_int_arg, run, write_json,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m readingroom.evolve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="evolve a problem")
    p.add_argument("problem", choices=("circle-packing", "matmul"))
    p.add_argument("--n", type=positive_int_arg, default=None,
                   help="circles (default 26); matmul: rows of A (default 2)")
    p.add_argument("--m", type=positive_int_arg, default=2, help="matmul: columns of A (default 2)")
    p.add_argument("--p", type=positive_int_arg, default=2, help="matmul: columns of B (default 2)")
    p.add_argument("--rank", type=positive_int_arg, default=7,
                   help="matmul: multiplications (default 7)")
    p.add_argument("--budget", type=positive_int_arg, default=100,
                   help="candidate programs to evaluate in all (default 100)")
    add_seed(p)
    p.add_argument("--db", type=Path, default=None,
                   help="the SQLite file (default: evolve-<problem>-<n>-seed<S>.db)")
    p.add_argument("--islands", type=positive_int_arg, default=4)
    p.add_argument("--workers", type=positive_int_arg, default=None,
                   help="local evaluation processes (default: the CPU count)")
    p.add_argument("--cluster", default=None, help="a Dask scheduler address, tcp://host:port")
    p.add_argument("--proposer", default="mutation",
                   help="'mutation' (offline) or 'openai:<base_url>#<model>'")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds per evaluation, wall clock: the hard cap (default 60)")
    p.add_argument("--time-budget", type=float, default=2.0,
                   help="circle packing: CPU seconds each program searches from its parent's "
                        "packing (default 2; 0: programs build from scratch). Keep it the same "
                        "when resuming a run")
    add_out(p, help="write the summary and the curve (best score per evaluation) as JSON")
    add_no_progress(p)
    p.set_defaults(func=_run)
    sub.add_parser("sandbox", help="print the sandbox layer this machine gives").set_defaults(
        func=_sandbox)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    parser.set_defaults(argv=list(argv) if argv is not None else sys.argv[1:])  # for provenance
    return run(parser, argv)


def _sandbox(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from readingroom.evolve.sandbox import available_layers, process_cap, sandbox_layer

    print(json.dumps({"layer": sandbox_layer(), "available": available_layers(),
                      "process_cap": process_cap()}))
    return 0


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from readingroom.common.executor import make_executor
    from readingroom.evolve.loop import run_evolution
    from readingroom.evolve.problems import make_problem
    from readingroom.evolve.proposers import make_proposer
    from readingroom.evolve.sandbox import sandbox_layer

    if args.problem == "matmul":
        args.n = args.n or 2
        kwargs = {"n": args.n, "m": args.m, "p": args.p, "rank": args.rank}
    else:
        args.n = args.n or 26
        kwargs = {"n": args.n, "time_budget_s": args.time_budget or None}
    problem = make_problem(args.problem, timeout_s=args.timeout, **kwargs)
    proposer = make_proposer(args.proposer, fragments=problem.fragments)
    try:
        executor = make_executor(args.cluster, workers=args.workers)
    except ConnectionError as err:
        parser.error(f"--cluster: {err}")
    stem = problem.name if args.problem == "matmul" else f"{args.problem}-{args.n}"
    db = args.db or Path(f"evolve-{stem}-seed{args.seed}.db")
    print(f"sandbox layer: {sandbox_layer()}; database: {db}", file=sys.stderr)
    workers = getattr(executor, "_max_workers", None) or args.workers or 4
    before = _evaluated(db, problem, args.islands, args.seed)  # > 0: this run resumes
    try:
        result = run_evolution(problem, proposer, budget=args.budget, db_path=db,
                               seed=args.seed, islands=args.islands, batch=max(workers, 1),
                               executor=executor, progress=not args.no_progress)
    finally:
        close = getattr(executor, "shutdown", None) or getattr(executor, "close", None)
        if close is not None:
            close()
    summary = {"problem": problem.name, "best_score": result.best.score,
               "best_id": result.best.id, "evaluations": result.evaluations,
               "failed_diffs": result.failed_diffs,
               "failed_evaluations": result.failed_evaluations, "db": str(db)}
    print(json.dumps(summary))
    if args.out is not None:
        from readingroom.common import run_provenance

        command = "python -m readingroom.evolve " + " ".join(
            a for a in args.argv)
        summary["resumed_at"] = before or None  # evaluations already in the file at this start
        summary["best_metrics"] = result.best.metrics  # the construction (packing, factors)
        summary.update(_curve(db, problem, args.islands, args.seed))
        summary["provenance"] = run_provenance(command, outputs=(args.out, db))
        write_json(args.out, summary)
    return 0


def _evaluated(db_path: Path, problem, islands: int, seed: int) -> int:
    """How many children the database file already holds (0 when there is no file)."""
    from readingroom.evolve.database import ProgramDatabase

    if not Path(db_path).exists():
        return 0
    with ProgramDatabase(db_path, features=dict(problem.features), islands=islands,
                         seed=seed) as db:
        return len(db.children())


def _curve(db_path: Path, problem, islands: int, seed: int) -> dict:
    """The run's curve from its database: per evaluated child, the best score so far, its own
    score (``None``: failed), the seconds since the first program was stored (wall clock, pauses
    of a resumed run included) and the CPU seconds it reported (its wall-clock seconds if it
    reported none)."""
    from readingroom.evolve.database import ProgramDatabase
    from readingroom.evolve.loop import DIFF_FAILED

    with ProgramDatabase(db_path, features=dict(problem.features), islands=islands,
                         seed=seed) as db:
        first = db.get(1).created
        done = [p for p in db.children() if not (p.reason or "").startswith(DIFF_FAILED)]
    best, curve, scores, elapsed, cpu = float("-inf"), [], [], [], []
    for p in done:
        if p.status == "ok":
            best = max(best, p.score)
        curve.append(best)
        scores.append(p.score if p.status == "ok" else None)
        elapsed.append(round(p.created - first, 2))
        cpu.append(p.metrics.get("cpu_s", p.metrics.get("wall_s")))
    return {"curve": curve, "scores": scores, "elapsed_s": elapsed, "cpu_s": cpu}


if __name__ == "__main__":
    raise SystemExit(main())
