"""Command line: ``python -m readingroom.induction phase --seeds 0 1 2 3 4``.

``phase`` trains the template chapter's two-layer model once per seed with the chapter's CPU
recipe (:data:`~readingroom.induction.CPU_RECIPE`), logs the in-context learning score and the
top induction score during training, locates each curve's jump
(:func:`~readingroom.induction.jump_step`) and writes everything, with the run's provenance
(command, date, threads, versions, device), to ``book/data/induction/phase.json`` (or ``--out``);
the chapter checks the phase change over seeds from that record. It takes 35-50 s per seed on
one CPU thread (the book's thread policy, :func:`~readingroom.common.use_threads`).

Options: ``--seeds S [S ...]``, ``--out FILE``, ``--quick`` (a tiny model for a few steps into
``--out``, required then, for smoke tests), ``--no-progress`` (progress bars go to stderr
otherwise). Exit status 0 when the record is written, 2 on bad arguments
(:mod:`readingroom.common.cli`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from readingroom.common.cli import (
    add_no_progress, add_out, add_quick, add_seeds, quick_needs_out, run, write_json,
)

__all__ = ["PHASE_RECORD", "build_parser", "main"]

#: Where ``phase`` writes its record, relative to ``book/data``.
PHASE_RECORD = "induction/phase.json"

#: A tiny recipe with the keys of CPU_RECIPE, for smoke tests (``--quick``).
_QUICK_RECIPE = dict(vocab_size=16, seq_len=12, d_model=16, n_heads=2, min_period=2,
                     max_period=6, batch=8, steps=12, lr=1e-3, eval_every=3)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m readingroom.induction",
                                     description="The induction-heads chapter's experiments.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("phase", help="log the phase change of the two-layer model over seeds",
                       description="Train the chapter's two-layer model per seed; log the "
                       "in-context learning and induction scores; write their jumps as JSON.")
    add_seeds(p, help="seeds of the models and the data")
    add_out(p, help=f"output file (default book/data/{PHASE_RECORD})")
    add_quick(p, help="a tiny model for a few steps, for smoke tests (needs --out)")
    add_no_progress(p)
    p.set_defaults(func=_phase)
    return parser


def _phase(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    quick_needs_out(args, parser)

    from tqdm import tqdm

    from readingroom.common import book_data_path, progress_enabled, run_provenance
    from readingroom.induction.experiment import CPU_RECIPE
    from readingroom.induction.phase import phase_change_run

    seeds = list(dict.fromkeys(args.seeds))
    recipe = dict(_QUICK_RECIPE if args.quick else CPU_RECIPE)
    out = book_data_path(PHASE_RECORD) if args.out is None else args.out
    progress = progress_enabled(not args.no_progress)
    rows = []
    for seed in tqdm(seeds, desc="seeds", disable=not progress):
        row = phase_change_run(seed, recipe, progress=progress)
        rows.append(row)
        tqdm.write(f"seed {seed}: ICL jump at step {row['icl_jump']:.1f}, induction jump at "
                   f"step {row['induction_jump']:.1f}, final loss on repeats "
                   f"{row['final_repeat']:.3f} nats", file=sys.stdout)
    command = "python -m readingroom.induction phase --seeds " + " ".join(map(str, seeds))
    if args.quick:
        command += " --quick"
    record = {"provenance": run_provenance(command, outputs=(out,)), "recipe": recipe, "runs": rows}
    write_json(out, record)
    print(f"wrote {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # the book's thread policy: one thread unless READINGROOM_THREADS says more
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
