"""Command line: ``python -m readingroom.nsa recall --seed 0`` runs the chapter's retrieval experiment.

``recall`` trains the same small Llama three times — full attention, NSA, and NSA's window
branch alone — on the key-value retrieval task of
:data:`~readingroom.nsa.experiments.RECALL_RECIPE`, and writes the curves and held-out accuracies
to ``book/data/nsa/recall_seed{seed}.json`` with the run's provenance (command, date, device,
versions).

Options: ``--seed S [S ...]`` (one record per seed); ``--jobs N`` trains N (seed, attention) pairs
at once in separate processes (each one thread; on a GPU they share it), with the same results as
one after another; ``--weights [SEED ...]`` also writes each model's weights beside the record
with a provenance record (the chapter loads seed 0's); ``--device {auto,cpu,cuda,cuda:N}``
(default cpu); ``--out DIR``: the folder for the outputs (default ``book/data/nsa``);
``--quick`` runs a few steps of the same shape into ``--out`` (required then), for smoke tests;
``--no-progress``: no progress bars on stderr. Exit status 0 when the records are written, 2 on
bad arguments (:mod:`readingroom.common.cli`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from readingroom.common.cli import (
    add_device, add_no_progress, add_out, add_quick, positive_int_arg, quick_needs_out,
    resolve_device, run, seed_arg,
)

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
    add_out(p, help="folder for the outputs (default book/data/nsa)")
    p.add_argument("--weights", type=seed_arg, nargs="*", default=None, metavar="SEED",
                   help="also write each model's weights: of every seed, or of the seeds listed")
    add_quick(p, help="a few steps, for smoke tests (needs --out)")
    add_device(p)
    p.add_argument("--jobs", type=positive_int_arg, default=1,
                   help="(seed, attention) pairs trained at once, in separate processes (default 1)")
    add_no_progress(p)
    p.set_defaults(func=_recall)
    return parser


def _recall(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from readingroom.common import run_provenance, save_weights
    from readingroom.nsa.experiments import (
        KINDS, QUICK_RECIPE, RECALL_RECIPE, make_recall_model, recall_job, recall_path, summarise,
        write_summary,
    )

    quick_needs_out(args, parser)
    device = str(resolve_device(args.device))  # ValueError (status 2) when CUDA is missing
    seeds = list(dict.fromkeys(args.seed))
    if args.weights is None:
        with_weights = set()
    else:
        with_weights = set(args.weights) or set(seeds)
        if not with_weights <= set(seeds):
            parser.error(f"--weights {' '.join(map(str, args.weights))}: not among --seed {' '.join(map(str, seeds))}")
    recipe = QUICK_RECIPE if args.quick else RECALL_RECIPE
    out_dir = recall_path(0).parent if args.out is None else args.out
    tasks = [(seed, kind) for seed in seeds for kind in KINDS]
    progress = not args.no_progress and args.jobs == 1
    if args.jobs == 1:
        results = [recall_job(recipe, s, k, device, progress, s in with_weights) for s, k in tasks]
    else:  # spawn: CUDA cannot be used in a forked child
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(recall_job, recipe, s, k, device, False, s in with_weights)
                       for s, k in tasks]
            results = []
            for (seed, kind), future in zip(tasks, futures):
                results.append(future.result())
                print(f"seed {seed} {kind}: done", file=sys.stderr, flush=True)
    done = dict(zip(tasks, results))
    for seed in seeds:
        command = (f"python -m readingroom.nsa recall --seed {seed}"
                   + (f" --device {device}" if device != "cpu" else "")
                   + (" --weights" if seed in with_weights else "") + (" --quick" if args.quick else ""))
        runs = {kind: done[seed, kind] for kind in KINDS}
        summary = summarise(recipe, seed, {k: (run, None) for k, (run, _) in runs.items()})
        summary["command"] = command
        summary_path = out_dir / recall_path(seed).name
        summary["provenance"] = run_provenance(command, device, outputs=(summary_path,))
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
                             extra={"kind": kind, "recipe": repr(recipe), "device": device},
                             run_outputs=outputs)
        for kind, (run, _) in runs.items():
            print(f"seed {seed} {kind:>7}: held-out accuracy {run.accuracy:.3f} after {recipe.steps} "
                  f"steps ({run.history.seconds:.0f} s)")
        print(f"wrote {summary_path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # the book's thread policy (readingroom.common.threads); recall_job applies it in every worker
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
