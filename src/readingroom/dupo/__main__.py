"""Command line: ``python -m readingroom.dupo {train,sweep,translate}``.

``train --arm dupo --seed S [--json]`` trains one arm of the chapter's experiment from its
supervised start and prints its test accuracy over the GRPO steps.

``sweep --seeds 0 1 2 3 4 [--out FILE]`` runs every arm for every seed (each seed's arms share one
supervised start) and writes the JSON the chapter renders (default ``book/data/dupo/arms.json``),
with its provenance: the command, the recipe, the date, the thread count and library versions.

``translate --seeds 0 1 2 3 4 [--out FILE]`` runs the translation world (back-translation as the
dual, chrF as the score): the supervised start, DuPO and the chrF oracle for every seed, and the
reward-hacking probes; it writes ``book/data/dupo/translation.json``.

Every command takes ``--rl-steps N`` (default: the recipe's) and ``--no-progress`` (progress bars
go to stderr otherwise). Exit status 0 on success, 2 on bad arguments
(:mod:`readingroom.common.cli`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict

from readingroom.common.cli import (
    add_json, add_no_progress, add_out, add_seed, add_seeds, positive_int_arg, run, write_json,
)

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from readingroom.dupo.train import ARMS

    parser = argparse.ArgumentParser(prog="python -m readingroom.dupo",
                                     description="DuPO: rewards from the dual task, without labels")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="one arm, one seed")
    t.add_argument("--arm", choices=ARMS, default="dupo", help="the reward (default dupo)")
    add_seed(t, help="data split and init seed")
    t.add_argument("--rl-steps", type=positive_int_arg, default=None,
                   help="GRPO steps (default: the recipe's, 300)")
    add_json(t)
    add_no_progress(t)
    t.set_defaults(func=_train)
    for name, help_, steps, out in [
            ("sweep", "every arm over several seeds, written as the book's JSON", 300,
             "dupo/arms.json"),
            ("translate", "the translation world over several seeds, as JSON", 100,
             "dupo/translation.json")]:
        s = sub.add_parser(name, help=help_)
        add_seeds(s)
        s.add_argument("--rl-steps", type=positive_int_arg, default=None,
                       help=f"GRPO steps (default: the recipe's, {steps})")
        add_out(s, help=f"where to write the JSON (default book/data/{out})")
        add_no_progress(s)
        s.set_defaults(func=_sweep)
    return parser


def _recipe(args: argparse.Namespace):
    """The recipe of the command's world, with ``--rl-steps`` applied."""
    if args.command == "translate":
        from readingroom.dupo.translation import TranslationRecipe as Recipe
    else:
        from readingroom.dupo.train import DupoRecipe as Recipe
    return Recipe() if args.rl_steps is None else Recipe(rl_steps=args.rl_steps)


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from readingroom.dupo.train import run_arm

    result = run_arm(args.arm, args.seed, _recipe(args), progress=not args.no_progress)
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        for step, acc in zip(result.steps, result.test_accuracy):
            print(f"step {step:4d}: test accuracy {acc:.3f}")
        print(f"{args.arm}, seed {args.seed}: {result.test_accuracy[0]:.3f} -> {result.final:.3f} "
              f"({result.seconds:.1f} s)")
    return 0


def _sweep(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from readingroom.common import book_data_path, run_provenance
    from readingroom.dupo.experiments import run_seed
    from readingroom.dupo.translation import run_translation_seed

    translate = args.command == "translate"
    recipe = _recipe(args)
    if translate:
        run_one, metric, name = run_translation_seed, "test_chrf", "dupo/translation.json"
    else:
        run_one, metric, name = run_seed, "test_accuracy", "dupo/arms.json"
    out = book_data_path(name) if args.out is None else args.out
    start, runs = time.perf_counter(), []
    for seed in args.seeds:
        runs.append(run_one(seed, recipe, progress=not args.no_progress))
        final = {arm: round(r[metric][-1], 3) for arm, r in runs[-1]["arms"].items()}
        print(f"seed {seed}: {final}", file=sys.stderr, flush=True)
    command = (f"python -m readingroom.dupo {args.command} --seeds "
               + " ".join(map(str, args.seeds)))
    if args.rl_steps is not None:
        command += f" --rl-steps {args.rl_steps}"
    record = {
        **run_provenance(command, outputs=(out,)),  # command, argv, date, versions, device, commit
        "seconds": round(time.perf_counter() - start, 1),
        "recipe": asdict(recipe),
        "runs": runs,
    }
    if translate:
        import sacrebleu

        record["sacrebleu"] = sacrebleu.__version__
        record["chrf"] = "sacrebleu CHRF() defaults: character 6-grams, beta 2, sentence level"
    write_json(out, record)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), argv)  # the book's thread policy (readingroom.common.threads)


if __name__ == "__main__":
    sys.exit(main())
