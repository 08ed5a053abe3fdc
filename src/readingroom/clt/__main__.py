"""Command line: ``python -m readingroom.clt robustness --seeds 0 1 2 3 4``.

``robustness`` reruns the chapter's pipeline (toy model, CLT, steering over all 270 pairs, the
Dallas graph, the graph's predicted against measured ablations) once per seed with the chapter's
CPU recipe and writes ``book/data/clt/robustness.json`` (or ``--out``): ``provenance`` (the
command, argv, date, threads, versions, device and git commit of
:func:`~readingroom.common.run_provenance`, plus ``code_sha256``: a hash of this package's sources),
``recipe`` (the model's and the CLT's settings, which the chapter compares with its own before
checking its live seed-0 run against row 0) and ``runs`` (one summary per seed, with its wall
time in ``seconds``). It takes about 40 s per seed on one CPU thread (the records' numbers are
for one thread, so it always runs on one).

Options: ``--seeds S [S ...]``, ``--clt-steps N`` (default 2000), ``--out FILE``,
``--no-progress`` (progress bars go to stderr otherwise). Exit status 0 when the record is
written, 2 on bad arguments (:mod:`readingroom.common.cli`).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from readingroom.common.cli import (
    add_no_progress, add_out, add_seeds, positive_int_arg, run, write_json,
)

__all__ = ["build_parser", "main"]

PACKAGE = Path(__file__).resolve().parent


def _code_sha256(folder: Path = PACKAGE) -> str:
    """SHA-256 over the ``*.py`` files of ``folder`` (sorted by name; each name, then its bytes)."""
    digest = hashlib.sha256()
    for file in sorted(folder.glob("*.py")):
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m readingroom.clt",
                                     description="The circuit-tracing chapter's experiments.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("robustness", help="rerun the chapter's pipeline for several seeds",
                       description="Train the toy model and its CLT per seed; measure steering "
                       "and the Dallas graph; write a JSON summary.")
    add_seeds(p, help="seeds of the model and the CLT")
    p.add_argument("--clt-steps", type=positive_int_arg, default=2000,
                   help="CLT training steps (default 2000)")
    add_out(p, help="output file (default book/data/clt/robustness.json)")
    add_no_progress(p)
    p.set_defaults(func=_robustness)
    return parser


def _robustness(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from readingroom.clt.experiments import WorldRecipe, robustness
    from readingroom.clt.transcoder import CLTConfig
    from readingroom.common import book_data_path, run_provenance

    out = book_data_path("clt/robustness.json") if args.out is None else args.out
    recipe = WorldRecipe()
    config = CLTConfig(recipe.n_layers, recipe.d_model)
    command = "python -m readingroom.clt robustness --seeds " + " ".join(map(str, args.seeds))
    if args.clt_steps != 2000:
        command += f" --clt-steps {args.clt_steps}"
    provenance = {**run_provenance(command, outputs=(out,)), "code_sha256": _code_sha256()}
    world_recipe = {k: v for k, v in asdict(recipe).items() if k != "seed"}
    rows = []
    for seed in args.seeds:
        start = time.perf_counter()
        row = robustness(seed, recipe=recipe, config=config, clt_steps=args.clt_steps,
                         progress=not args.no_progress)
        row["seconds"] = round(time.perf_counter() - start, 1)
        rows.append(row)
        print(f"seed {seed}: swap {row['swap_rate']:.3f}, agreement {row['agreement']:.3f}, "
              f"path {row['dallas_path']}", flush=True)
    record = {"provenance": provenance,
              "recipe": {"world": world_recipe, "clt": asdict(config), "clt_steps": args.clt_steps},
              "runs": rows}
    write_json(out, record)
    print(f"wrote {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), argv, threads=1)  # the recorded numbers are for one thread


if __name__ == "__main__":
    sys.exit(main())
