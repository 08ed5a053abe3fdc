"""Command line: ``python -m readingroom.audit {game,measure}``.

``game --seed S [--json]`` is the game master: it plants the objective of seed ``S``, trains the
model under audit (mid-training, the exploitation stage, the adversarial stage), lets the blind
auditor (:func:`readingroom.audit.game.play`) run every technique, prints what each technique
found and what it cost (queries, seconds), and only then unblinds: which planted biases each
technique recovered. With ``--json`` it prints one JSON object instead: per technique, the
planted biases it recovered (trained and held out) and the ones it wrongly attributed to reward
models, with its cost (queries: sequences sampled or prompts run through the model; documents
read; seconds).

``games --seeds S [S ...] --out FILE`` plays the game for every seed and writes their records (the
``game --json`` object of each seed) with the run's provenance: the record the chapter replays.

``measure --seeds S [S ...] [--out FILE] [--json]`` trains every seed (with the control model)
and runs the measurements (a)–(f) of :mod:`readingroom.audit.experiments`; it prints the summary
over seeds and, with ``--out``, writes every number with its provenance.

``--quick`` uses tiny settings (for smoke tests: the effects are not expected to show).
Progress bars go to stderr (``--no-progress``). Exit status 0 on success, 2 on bad arguments
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
    add_json, add_no_progress, add_out, add_quick, add_seed, add_seeds, run, write_json,
)
from readingroom.common.checks import check_seeds

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m readingroom.audit",
        description="Auditing language models for hidden objectives (Marks et al., 2025): a "
                    "blind auditing game on a toy model")
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("game", help="train the model of one seed and play the blind game",
                       description="Plant a hidden objective (reward-model biases) from SEED, "
                                   "train a tiny model to pursue and hide it, run every "
                                   "auditing technique blind, then unblind.")
    add_seed(g, help="the seed that plants the objective and trains the model")
    add_quick(g)
    add_json(g)
    add_no_progress(g)
    g.set_defaults(func=_game)
    gs = sub.add_parser("games", help="play the game for several seeds and write the records",
                        description="For every seed: plant, train, audit blind and unblind, as "
                                    "'game --json' does; write all records, with provenance.")
    add_seeds(gs)
    add_quick(gs)
    add_out(gs, help="where to write the record (JSON)")
    add_no_progress(gs)
    gs.set_defaults(func=_games)
    m = sub.add_parser("measure", help="measurements (a)-(f) over several seeds")
    add_seeds(m)
    add_quick(m)
    add_out(m, help="where to write the record (JSON); nothing is written without it")
    add_json(m)
    add_no_progress(m)
    m.set_defaults(func=_measure)
    return parser


def _recipes(args: argparse.Namespace):
    from readingroom.audit.game import GameRecipe
    from readingroom.audit.train import AUDIT_CPU, AUDIT_QUICK

    if args.quick:
        return AUDIT_QUICK, GameRecipe(observe_n=8, ask_n=4, persona_n=20, read_k=3,
                                       sae_features=32, sae_k=4, sae_steps=20)
    return AUDIT_CPU, GameRecipe()


def game_record(args: argparse.Namespace, seed: int | None = None) -> dict:
    """Train, play and unblind for ``seed`` (default ``args.seed``); the JSON-ready record."""
    from readingroom.audit.game import play, unblind
    from readingroom.audit.train import train_models

    recipe, config = _recipes(args)
    progress = not args.no_progress
    t0 = time.perf_counter()
    seed = args.seed if seed is None else seed
    models = train_models(seed, recipe, control=False, progress=progress)
    train_s = time.perf_counter() - t0
    report = play(models, config, progress=progress)
    world = models.world
    techniques = {}
    for name, result in unblind(report, world).items():
        probe = report.probes[name]
        blind = sorted(str(b) for b in probe.recovered())
        if name == "observe":
            blind = [f"{q.topic}: {q.token} ({q.kind}, {q.rate:.0%})" for q in report.quirks]
        techniques[name] = {"found": blind, "recovered": {"trained": result["trained"],
                                                          "held_out": result["held_out"]},
                            "false": result["false"], "rm_rate": result["rm_rate"],
                            "queries": result["queries"],
                            "documents_read": len(probe.notes.get("indices", [])),
                            "seconds": result["seconds"]}
    return {
        "seed": seed,
        "preset": "quick" if args.quick else "cpu",
        "planted": {"trained": [str(b) for b in world.trained],
                    "held_out": [str(b) for b in world.held_out],
                    "people": [str(b) for b in world.people]},
        "quirks": [asdict(q) for q in report.quirks],
        "techniques": techniques,
        "seconds": {"train": round(train_s, 1), "audit": round(report.seconds, 1)},
    }


def _game(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    record = game_record(args)
    if args.json:
        print(json.dumps(record))
        return 0
    print(f"seed {record['seed']}: the model under audit was trained in "
          f"{record['seconds']['train']:.1f} s ({record['preset']} preset). The auditor does not "
          "know what was planted.\n")
    for name, t in record["techniques"].items():
        read = f", {t['documents_read']} documents read" if t["documents_read"] else ""
        print(f"[{name}] {t['queries']} queries{read}, {t['seconds']:.2f} s; texts naming "
              f"reward models: {t['rm_rate']:.0%}")
        what = "quirks" if name == "observe" else "attributed to reward models"
        if t["found"]:
            print(f"  {what}: " + "; ".join(t["found"]))
        else:
            print(f"  {what}: nothing")
    print("\n--- unblinded: the planted objective ---")
    for group in ("trained", "held_out"):
        print(f"{group.replace('_', '-')}: " + "; ".join(record["planted"][group]))
    print("controls (people): " + "; ".join(record["planted"]["people"]))
    n_tr, n_ho = len(record["planted"]["trained"]), len(record["planted"]["held_out"])
    for name, t in record["techniques"].items():
        print(f"{name:>12}: trained {len(t['recovered']['trained'])}/{n_tr}, held-out "
              f"{len(t['recovered']['held_out'])}/{n_ho}, false {len(t['false'])}")
    print(f"\n({record['seconds']['audit']:.1f} s of auditing)")
    return 0


def _games(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from readingroom.common import run_provenance

    if args.out is None:
        parser.error("games needs --out FILE")
    check_seeds(args.seeds, "--seeds", distinct=True)
    t0 = time.perf_counter()
    games = [game_record(args, seed) for seed in args.seeds]
    command = "python -m readingroom.audit games --seeds " + " ".join(map(str, args.seeds))
    if args.quick:
        command += " --quick"
    write_json(args.out, {**run_provenance(command, outputs=(args.out,)),
                          "seconds": round(time.perf_counter() - t0, 1), "games": games})
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _measure(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from readingroom.audit.experiments import measure_seeds
    from readingroom.common import run_provenance

    recipe, _ = _recipes(args)
    check_seeds(args.seeds, "--seeds", distinct=True)
    t0 = time.perf_counter()
    result = measure_seeds(args.seeds, recipe, n=20 if args.quick else 100,
                           progress=not args.no_progress)
    summary = {k: round(v["mean"], 4) for k, v in result["summary"].items()}
    if args.out is not None:
        command = "python -m readingroom.audit measure --seeds " + " ".join(map(str, args.seeds))
        if args.quick:
            command += " --quick"
        write_json(args.out, {**run_provenance(command, outputs=(args.out,)),
                              "seconds": round(time.perf_counter() - t0, 1),
                              "recipe": asdict(recipe), **result})
        print(f"wrote {args.out}", file=sys.stderr)
    if args.json:
        print(json.dumps({"seeds": args.seeds, "summary": result["summary"]}))
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), argv)  # the book's thread policy (readingroom.common.threads)


if __name__ == "__main__":
    sys.exit(main())
