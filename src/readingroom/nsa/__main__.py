"""Command line: ``python -m readingroom.nsa recall --seed 0`` runs the chapter's retrieval experiment.

``recall`` trains the same small Llama three times — full attention, NSA, and NSA's window
branch alone — on the needle task of :data:`~readingroom.nsa.experiments.RECALL_RECIPE` (progress
bars on stderr), and writes the curves and held-out accuracies to
``book/data/nsa/recall_seed{seed}.json``. With ``--weights`` it also writes each model's weights
beside it with a provenance record (the chapter loads seed 0's). ``--quick`` runs a few steps of
the same shape into ``--out-dir`` (required then), for smoke tests. Errors in the arguments exit
with status 2.
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
    p = sub.add_parser("recall", help="train full attention, NSA and window-only on the needle task",
                       description="Train the three attentions with the same seed and budget; "
                       "write curves, accuracies and (with --weights) the weights.")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the models and the data")
    p.add_argument("--out-dir", type=Path, default=None,
                   help="folder for the outputs (default book/data/nsa)")
    p.add_argument("--weights", action="store_true", help="also write each model's weights")
    p.add_argument("--quick", action="store_true", help="a few steps, for smoke tests")
    p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    return parser


def _recall(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:

    from readingroom.common import save_weights, use_threads
    from readingroom.nsa.experiments import (
        QUICK_RECIPE, RECALL_RECIPE, recall_path, run_recall, summarise, write_summary,
    )

    if args.quick and args.out_dir is None:
        parser.error("--quick needs --out-dir (quick results must not replace the book's)")
    recipe = QUICK_RECIPE if args.quick else RECALL_RECIPE
    out_dir = recall_path(args.seed).parent if args.out_dir is None else args.out_dir
    use_threads()  # the book's thread policy (readingroom.common.threads)
    runs = run_recall(recipe, args.seed, progress=not args.no_progress)
    summary = summarise(recipe, args.seed, runs)
    command = f"python -m readingroom.nsa recall --seed {args.seed}" + (" --weights" if args.weights else "") + (
        " --quick" if args.quick else "")
    summary["command"] = command
    summary_path = out_dir / recall_path(args.seed).name
    write_summary(summary, summary_path)
    if args.weights:
        weights = {kind: out_dir / recall_path(args.seed, kind).name for kind in runs}
        # Every file this run writes, so that none of them makes the others' records "dirty".
        outputs = [summary_path] + [p for w in weights.values() for p in (w, w.with_suffix(".json"))]
        for kind, (run, model) in runs.items():
            save_weights(model, weights[kind], command=command, seed=args.seed,
                         data=repr(recipe.task), metrics={"accuracy": run.accuracy},
                         extra={"kind": kind, "recipe": repr(recipe)}, run_outputs=outputs)
    for kind, (run, _) in runs.items():
        print(f"{kind:>7}: held-out accuracy {run.accuracy:.3f} after {recipe.steps} steps "
              f"({run.history.seconds:.0f} s)")
    print(f"wrote {out_dir / recall_path(args.seed).name}")
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
