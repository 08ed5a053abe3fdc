"""Ablation: do the jittered restarts of :func:`readingroom.evolve.circles.optimise_slsqp` help?

When SLSQP stops far from feasible, ``optimise_slsqp`` restarts it (``retries=2``) from a
penalty relaxation of the start's centers: the first retry from the centers as they are, each
later one from the centers jittered by seeded Gaussian noise (0.02). Both optimisers are
deterministic, so without the jitter the second retry repeats the first one exactly. This script
runs the multistart baseline (:func:`~readingroom.evolve.circles.multistart_slsqp`: SLSQP from
uniform random starts, repaired and checked exactly; or ``--method basin_hopping``) on the same
seeds -- hence the same random starts -- with the jitter as committed (0.02) and with none (0.0), and records per run: the best
and mean checked score, how many local runs needed one retry, two retries, and how many ended
infeasible (worst violation > 1e-6 before the exact repair, which then shrinks radii).

The variant is made from the committed function's own source with the one constant changed, and
patched in only for the run; the module, the seed program and the committed records are left as
they are. (The seed program pastes the same function, so the finding applies to its searches.)

    OMP_NUM_THREADS=1 python benchmarks/evolve_jitter.py --n 26 --budget 40 --seeds 0 1 2 3 4 \\
        --out book/data/evolve/jitter.json
"""

from __future__ import annotations

import argparse
import inspect
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

NEEDLE = "normal(0.0, 0.02, start.shape)"


def slsqp_variant(jitter: float, stats: dict):
    """``optimise_slsqp`` with the retry jitter set to ``jitter`` (0.02 is the committed one),
    counting in ``stats`` its calls, retries (penalty restarts) and infeasible results.
    Raises ``ValueError`` for a negative or non-finite ``jitter``, ``RuntimeError`` if the
    committed source no longer holds the jitter this ablation changes."""
    import math

    from readingroom.evolve import circles

    if isinstance(jitter, bool) or not isinstance(jitter, (int, float)) or \
            not math.isfinite(jitter) or jitter < 0:
        raise ValueError(f"jitter must be a finite number >= 0, got {jitter!r}")
    src = inspect.getsource(circles.optimise_slsqp)
    if src.count(NEEDLE) != 1:
        raise RuntimeError(f"optimise_slsqp no longer contains {NEEDLE!r} once")
    namespace = dict(vars(circles))
    penalty = circles.optimise_penalty

    def counted_penalty(*args, **kwargs):
        stats["_penalties"] += 1
        return penalty(*args, **kwargs)

    namespace["optimise_penalty"] = counted_penalty
    exec(compile(src.replace(NEEDLE, f"normal(0.0, {float(jitter)!r}, start.shape)"),
                 circles.__file__, "exec"), namespace)
    inner = namespace["optimise_slsqp"]

    def optimise_slsqp(*args, **kwargs):
        stats["_penalties"] = 0
        c, r = inner(*args, **kwargs)
        stats["calls"] += 1
        stats["one_retry"] += stats["_penalties"] >= 1
        stats["two_retries"] += stats["_penalties"] >= 2
        stats["infeasible"] += circles.violation(c, r) > 1e-6
        return c, r

    return optimise_slsqp


METHODS = ("multistart_slsqp", "basin_hopping")


def run(n: int, budget: int, seed: int, jitter: float, maxiter: int,
        method: str = "multistart_slsqp") -> dict:
    from readingroom.evolve import circles

    stats = {"calls": 0, "one_retry": 0, "two_retries": 0, "infeasible": 0, "_penalties": 0}
    original = circles.optimise_slsqp
    circles.optimise_slsqp = slsqp_variant(jitter, stats)
    try:
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        res = getattr(circles, method)(n, budget, seed, maxiter=maxiter)
    finally:
        circles.optimise_slsqp = original
    stats.pop("_penalties")
    scores = [s for s in res.scores if s is not None]
    return {"seed": seed, "jitter": jitter, "best": res.score,
            "mean": statistics.fmean(scores) if scores else None, "scores": res.scores,
            "cpu_s": res.cpu_s, **stats}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=26)
    ap.add_argument("--budget", type=int, default=40, help="local SLSQP runs per seed")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--maxiter", type=int, default=300)
    ap.add_argument("--method", choices=METHODS, default="multistart_slsqp",
                    help="the baseline whose local runs are counted (default multistart_slsqp)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.n < 2 or args.budget < 1 or args.maxiter < 1:
        ap.error("--n must be >= 2, --budget and --maxiter >= 1")
    from readingroom.common import run_provenance, use_threads

    use_threads(1)
    start = time.monotonic()
    runs = {"jitter": [], "no_jitter": []}
    for seed in args.seeds:
        for name, jitter in (("jitter", 0.02), ("no_jitter", 0.0)):
            runs[name].append(run(args.n, args.budget, seed, jitter, args.maxiter,
                                  args.method))
            r = runs[name][-1]
            print(json.dumps({k: r[k] for k in ("seed", "jitter", "best", "mean", "calls",
                                                  "one_retry", "two_retries", "infeasible")}),
                  flush=True)

    def total(name, key):
        return sum(r[key] for r in runs[name])

    summary = {name: {"best_mean": statistics.fmean(r["best"] for r in runs[name]),
                      "wins": sum(a["best"] > b["best"] for a, b in zip(
                          runs[name], runs["no_jitter" if name == "jitter" else "jitter"])),
                      **{k: total(name, k) for k in ("calls", "one_retry", "two_retries",
                                                     "infeasible")}}
               for name in runs}
    record = {"n": args.n, "budget": args.budget, "seeds": args.seeds, "maxiter": args.maxiter,
              "method": args.method, "summary": summary, "runs": runs,
              "wall_s": round(time.monotonic() - start, 1)}
    if args.out is not None:
        command = "python benchmarks/evolve_jitter.py " + shlex.join(
            argv if argv is not None else sys.argv[1:])
        record["provenance"] = run_provenance(command, outputs=(args.out,))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    return record


if __name__ == "__main__":
    main()
