"""Command line of the AlphaEvolve chapter.

    python -m readingroom.evolve run circle-packing --budget 200 --seed 0 --db run.db
    python -m readingroom.evolve run circle-packing --cluster tcp://host:8786   # a Dask cluster
    python -m readingroom.evolve sandbox                                          # which layer

``run`` evolves a problem until ``--budget`` candidate programs have been evaluated, storing
every one in the SQLite file ``--db``; run the same command again after an interruption (even
``kill -9``) and it resumes from the file. Candidates run in the sandbox
(``readingroom.evolve.sandbox``: bubblewrap where the machine allows it, else ``unshare``, else
OS limits only, which is not a sandbox; ``sandbox`` prints the layer in use). Evaluations run in
parallel on a local process pool (``--workers``), or on a Dask cluster given by ``--cluster``.
Exit status 0 on success, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from readingroom.common.checks import positive_int_arg, seed_arg


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m readingroom.evolve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="evolve a problem")
    p.add_argument("problem", choices=("circle-packing",))
    p.add_argument("--n", type=positive_int_arg, default=26, help="circles (default 26)")
    p.add_argument("--budget", type=positive_int_arg, default=100,
                   help="candidate programs to evaluate in all (default 100)")
    p.add_argument("--seed", type=seed_arg, default=0)
    p.add_argument("--db", type=Path, default=None,
                   help="the SQLite file (default: evolve-<problem>-<n>-seed<S>.db)")
    p.add_argument("--islands", type=positive_int_arg, default=4)
    p.add_argument("--workers", type=positive_int_arg, default=None,
                   help="local evaluation processes (default: the CPU count)")
    p.add_argument("--cluster", default=None, help="a Dask scheduler address, tcp://host:port")
    p.add_argument("--proposer", default="mutation",
                   help="'mutation' (offline) or 'openai:<base_url>#<model>'")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per evaluation")
    p.add_argument("--no-progress", action="store_true")
    sub.add_parser("sandbox", help="print the sandbox layer this machine gives")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from readingroom.evolve.sandbox import available_layers, process_cap, sandbox_layer

    if args.command == "sandbox":
        print(json.dumps({"layer": sandbox_layer(), "available": available_layers(),
                          "process_cap": process_cap()}))
        return 0
    from readingroom.common import use_threads
    from readingroom.evolve.executor import make_executor
    from readingroom.evolve.loop import run_evolution
    from readingroom.evolve.problems import make_problem
    from readingroom.evolve.proposers import make_proposer

    use_threads()
    try:
        problem = make_problem(args.problem, n=args.n, timeout_s=args.timeout)
        proposer = make_proposer(args.proposer, fragments=problem.fragments)
        executor = make_executor(args.cluster, workers=args.workers)
    except (ValueError, ConnectionError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    db = args.db or Path(f"evolve-{args.problem}-{args.n}-seed{args.seed}.db")
    print(f"sandbox layer: {sandbox_layer()}; database: {db}", file=sys.stderr)
    workers = getattr(executor, "_max_workers", None) or args.workers or 4
    try:
        result = run_evolution(problem, proposer, budget=args.budget, db_path=db,
                               seed=args.seed, islands=args.islands, batch=max(workers, 1),
                               executor=executor, progress=not args.no_progress)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        close = getattr(executor, "shutdown", None) or getattr(executor, "close", None)
        if close is not None:
            close()
    print(json.dumps({"problem": problem.name, "best_score": result.best.score,
                      "best_id": result.best.id, "evaluations": result.evaluations,
                      "failed_diffs": result.failed_diffs,
                      "failed_evaluations": result.failed_evaluations, "db": str(db)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
