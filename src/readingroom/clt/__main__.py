"""Command line: ``python -m readingroom.clt robustness --seeds 0 1 2 3 4``.

``robustness`` reruns the chapter's pipeline (toy model, CLT, steering over all 270 pairs, the
Dallas graph) once per seed with the chapter's CPU recipe and writes one summary per seed plus the
command to ``book/data/clt/robustness.json`` (or ``--out``); the chapter renders that table. It
takes about 40 s per seed on one CPU thread. Errors in the arguments exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from readingroom.common.checks import seed_arg

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m readingroom.clt",
                                     description="The circuit-tracing chapter's experiments.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("robustness", help="rerun the chapter's pipeline for several seeds",
                       description="Train the toy model and its CLT per seed; measure steering "
                       "and the Dallas graph; write a JSON summary.")
    p.add_argument("--seeds", type=seed_arg, nargs="+", default=[0, 1, 2, 3, 4],
                   help="seeds of the model and the CLT (default 0 1 2 3 4)")
    p.add_argument("--clt-steps", type=int, default=2000, help="CLT training steps (default 2000)")
    p.add_argument("--out", type=Path, default=None,
                   help="output file (default book/data/clt/robustness.json)")
    p.add_argument("--progress", action="store_true", help="progress bars on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.clt_steps < 1:
        parser.error(f"--clt-steps must be a positive int, got {args.clt_steps}")

    from readingroom.clt.experiments import robustness
    from readingroom.common import book_data_path, use_threads

    use_threads(1)  # the recorded numbers are for one thread
    out = book_data_path("clt/robustness.json") if args.out is None else args.out
    rows = []
    for seed in args.seeds:
        row = robustness(seed, clt_steps=args.clt_steps, progress=args.progress)
        rows.append(row)
        print(f"seed {seed}: swap {row['swap_rate']:.3f}, agreement {row['agreement']:.3f}, "
              f"path {row['dallas_path']}", flush=True)
    command = "python -m readingroom.clt robustness --seeds " + " ".join(map(str, args.seeds))
    if args.clt_steps != 2000:
        command += f" --clt-steps {args.clt_steps}"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": command, "threads": 1, "runs": rows}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
