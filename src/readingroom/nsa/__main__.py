"""Command line: ``python -m readingroom.nsa recall --seed 0`` runs the chapter's retrieval experiment.

``recall`` trains the same small Llama three times — full attention, NSA, and NSA's window
branch alone — on the key-value retrieval task of
:data:`~readingroom.nsa.experiments.RECALL_RECIPE` (progress bars on stderr), and writes the
curves and held-out accuracies to ``book/data/nsa/recall_seed{seed}.json`` with the run's
provenance (command, date, device, versions). ``--seed`` takes several seeds; ``--jobs N`` trains
N (seed, attention) pairs at once in separate processes (each one thread; on a GPU they share
it), with the same results as one after another. With ``--weights`` it also writes each model's
weights beside the record with a provenance record (the chapter loads seed 0's). ``--device
cuda`` trains on a GPU. ``--quick`` runs a few steps of the same shape into ``--out-dir``
(required then), for smoke tests. Errors in the arguments exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from readingroom.common.checks import seed_arg

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m readingroom.nsa",
                                     description="The NSA chapter's retrieval experiment.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("recall", help="train full attention, NSA and window-only on the retrieval task",
                       description="Train the three attentions with the same seed and budget; "
                       "write curves, accuracies and (with --weights) the weights.")
    p.add_argument("--seed", type=seed_arg, nargs="+", default=[0],
                   help="seed(s) of the models and the data (one record per seed)")
    p.add_argument("--out-dir", type=Path, default=None,
                   help="folder for the outputs (default book/data/nsa)")
    p.add_argument("--weights", type=seed_arg, nargs="*", default=None, metavar="SEED",
                   help="also write each model's weights: of every seed, or of the seeds listed")
    p.add_argument("--quick", action="store_true", help="a few steps, for smoke tests")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where to train (default cpu)")
    p.add_argument("--jobs", type=int, default=1,
                   help="(seed, attention) pairs trained at once, in separate processes (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    return parser


def _recall(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import torch

    from readingroom.common import run_provenance, save_weights, use_threads
    from readingroom.nsa.experiments import (
        KINDS, QUICK_RECIPE, RECALL_RECIPE, make_recall_model, recall_job, recall_path, summarise,
        write_summary,
    )

    if args.quick and args.out_dir is None:
        parser.error("--quick needs --out-dir (quick results must not replace the book's)")
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available here")
    use_threads()  # the book's thread policy (readingroom.common.threads), in every worker too
    seeds = list(dict.fromkeys(args.seed))
    if args.weights is None:
        with_weights = set()
    else:
        with_weights = set(args.weights) or set(seeds)
        if not with_weights <= set(seeds):
            parser.error(f"--weights {' '.join(map(str, args.weights))}: not among --seed {' '.join(map(str, seeds))}")
    recipe = QUICK_RECIPE if args.quick else RECALL_RECIPE
    out_dir = recall_path(0).parent if args.out_dir is None else args.out_dir
    tasks = [(seed, kind) for seed in seeds for kind in KINDS]
    progress = not args.no_progress and args.jobs == 1
    if args.jobs == 1:
        results = [recall_job(recipe, s, k, args.device, progress, s in with_weights) for s, k in tasks]
    else:  # spawn: CUDA cannot be used in a forked child
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(recall_job, recipe, s, k, args.device, False, s in with_weights)
                       for s, k in tasks]
            results = []
            for (seed, kind), future in zip(tasks, futures):
                results.append(future.result())
                print(f"seed {seed} {kind}: done", file=sys.stderr, flush=True)
    done = dict(zip(tasks, results))
    for seed in seeds:
        command = (f"python -m readingroom.nsa recall --seed {seed}"
                   + (f" --device {args.device}" if args.device != "cpu" else "")
                   + (" --weights" if seed in with_weights else "") + (" --quick" if args.quick else ""))
        runs = {kind: done[seed, kind] for kind in KINDS}
        summary = summarise(recipe, seed, {k: (run, None) for k, (run, _) in runs.items()})
        summary["command"] = command
        summary_path = out_dir / recall_path(seed).name
        summary["provenance"] = run_provenance(command, args.device, outputs=(summary_path,))
        write_summary(summary, summary_path)
        if seed in with_weights:
            weights = {kind: out_dir / recall_path(seed, kind).name for kind in KINDS}
            # Every file this run writes, so that none of them makes the others' records "dirty".
            outputs = [summary_path] + [p for w in weights.values() for p in (w, w.with_suffix(".json"))]
            for kind, (run, state) in runs.items():
                model = make_recall_model(kind, recipe)
                model.load_state_dict(state)
                save_weights(model, weights[kind], command=command, seed=seed,
                             data=repr(recipe.task), metrics={"accuracy": run.accuracy},
                             extra={"kind": kind, "recipe": repr(recipe), "device": args.device},
                             run_outputs=outputs)
        for kind, (run, _) in runs.items():
            print(f"seed {seed} {kind:>7}: held-out accuracy {run.accuracy:.3f} after {recipe.steps} "
                  f"steps ({run.history.seconds:.0f} s)")
        print(f"wrote {summary_path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "recall":
        return _recall(args, parser)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse catches it
    return 2


if __name__ == "__main__":
    sys.exit(main())
