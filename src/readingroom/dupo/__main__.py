"""Command line: ``python -m readingroom.dupo {train,sweep,translate}``.

``train --arm dupo --seed S [--json]`` trains one arm of the chapter's experiment from its
supervised start and prints its test accuracy over the GRPO steps.

``sweep --seeds 0 1 2 3 4 [--out FILE]`` runs every arm for every seed (each seed's arms share one
supervised start) and writes the JSON the chapter renders (default ``book/data/dupo/arms.json``),
with its provenance: the command, the recipe, the date, the thread count and library versions.

``translate --seeds 0 1 2 3 4 [--out FILE]`` runs the translation world (back-translation as the
dual, chrF as the score): the supervised start, DuPO and the chrF oracle for every seed, and the
reward-hacking probes; it writes ``book/data/dupo/translation.json``.

Progress bars go to stderr (``--no-progress`` silences them). Bad arguments exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from readingroom.common.checks import positive_int_arg, seed_arg

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from readingroom.dupo.train import ARMS

    parser = argparse.ArgumentParser(prog="python -m readingroom.dupo",
                                     description="DuPO: rewards from the dual task, without labels")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="one arm, one seed")
    t.add_argument("--arm", choices=ARMS, default="dupo", help="the reward (default dupo)")
    t.add_argument("--seed", type=seed_arg, default=0, help="data split and init seed (default 0)")
    t.add_argument("--rl-steps", type=positive_int_arg, default=None,
                   help="GRPO steps (default: the recipe's, 300)")
    t.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    t.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    for name, help_, steps, out in [
            ("sweep", "every arm over several seeds, written as the book's JSON", 300,
             "dupo/arms.json"),
            ("translate", "the translation world over several seeds, as JSON", 100,
             "dupo/translation.json")]:
        s = sub.add_parser(name, help=help_)
        s.add_argument("--seeds", type=seed_arg, nargs="+", default=[0, 1, 2, 3, 4],
                       help="seeds (default 0 1 2 3 4)")
        s.add_argument("--rl-steps", type=positive_int_arg, default=None,
                       help=f"GRPO steps (default: the recipe's, {steps})")
        s.add_argument("--out", type=Path, default=None,
                       help=f"where to write the JSON (default book/data/{out})")
        s.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    return parser


def _recipe(args: argparse.Namespace):
    """The recipe of the command's world, with ``--rl-steps`` applied."""
    if args.command == "translate":
        from readingroom.dupo.translation import TranslationRecipe as Recipe
    else:
        from readingroom.dupo.train import DupoRecipe as Recipe
    return Recipe() if args.rl_steps is None else Recipe(rl_steps=args.rl_steps)


def _train(args: argparse.Namespace) -> int:
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


def _sweep(args: argparse.Namespace) -> int:
    from readingroom.common import book_data_path, run_provenance
    from readingroom.dupo.experiments import run_seed
    from readingroom.dupo.translation import run_translation_seed

    translate = args.command == "translate"
    recipe = _recipe(args)
    if translate:
        run, metric, name = run_translation_seed, "test_chrf", "dupo/translation.json"
    else:
        run, metric, name = run_seed, "test_accuracy", "dupo/arms.json"
    out = book_data_path(name) if args.out is None else args.out
    start, runs = time.perf_counter(), []
    for seed in args.seeds:
        runs.append(run(seed, recipe, progress=not args.no_progress))
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
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from readingroom.common import use_threads

    use_threads()  # the book's thread policy (readingroom.common.threads)
    return _train(args) if args.command == "train" else _sweep(args)


if __name__ == "__main__":
    sys.exit(main())
