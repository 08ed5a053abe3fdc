"""Train the learned proposer on synthetic theorems and compare it with the heuristic as the
search's proposer.

1. Data: synthetic theorems with auxiliary points (:mod:`readingroom.geometry.synth`), read from
   ``--data FILE`` (JSONL from ``python -m readingroom.geometry synth``) or generated here
   (``--n``, ``--synth-seed``, ``--synth-timeout``).
2. Training: :func:`readingroom.geometry.proposer.training_data` (the candidates of each
   statement, the auxiliary one marked), :func:`~readingroom.geometry.proposer.train_proposer`
   (a tiny two-layer ranking network, listwise softmax, held-out statements), weights and
   provenance written to ``--model`` (default ``book/data/geometry/proposer.json``).
   ``--no-train`` reuses the model file.
3. Comparison (``--compare book``, ``imo`` or ``all``): :func:`readingroom.geometry.search.search`
   with each proposer of ``--arms`` (``heuristic``, ``learned``, ``random`` = ``random_proposer(0)``)
   at the same budget (beam 4, depth 2, width 20, ``ddar_timeout`` 10 s, seed 0) on the book's
   problems (:func:`~readingroom.geometry.problems.load_problems`) at ``--book-timeout`` seconds
   each and on ``--problems FILE`` (IMO-AG-30; the book does not ship it) at ``--imo-timeout``.
   The heuristic arm runs first; a problem DD + AR proves without auxiliary points (the search's
   depth 0, before any proposer is asked) is recorded as ``ddar`` and left out of the comparison.
   Every proof is checked with :func:`~readingroom.geometry.checker.check_search`. Results are
   merged into ``--out`` (default ``book/data/geometry/proposer_compare.json``), one key per set,
   so the sets can run as separate jobs.

Single-threaded CPU work: run it with ``OMP_NUM_THREADS=1``.

    python benchmarks/geometry_proposer.py --data synth.jsonl --compare none
    python benchmarks/geometry_proposer.py --no-train --compare book
    python benchmarks/geometry_proposer.py --no-train --compare imo --problems imo_ag_30.txt
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

from readingroom.common import run_provenance
from readingroom.geometry.checker import check_search
from readingroom.geometry.language import parse_file
from readingroom.geometry.problems import load_problems
from readingroom.geometry.proposer import (
    learned_proposer, load_proposer, save_proposer, train_proposer, training_data,
)
from readingroom.geometry.search import random_proposer, search
from readingroom.geometry.synth import generate, read_jsonl

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "book" / "data" / "geometry"
DEFAULT_MODEL = DATA_DIR / "proposer.json"
DEFAULT_OUT = DATA_DIR / "proposer_compare.json"
BUDGET = {"beam": 4, "depth": 2, "width": 20, "ddar_timeout": 10.0, "seed": 0}
ARMS = ("heuristic", "learned", "random")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _train(args, command: str) -> dict:
    t0 = time.monotonic()
    if args.data is not None:
        examples = read_jsonl(args.data)
        synth = {"source": str(args.data), "examples": len(examples)}
    else:
        examples, stats = generate(args.n, args.synth_seed, timeout=args.synth_timeout,
                                   require_unsolved=False, progress=True)
        synth = {"source": "generated", "n": args.n, "seed": args.synth_seed,
                 "timeout": args.synth_timeout, **stats}
    synth["with_aux"] = sum(bool(e.aux) for e in examples)
    synth["unsolved_without_aux"] = sum(not e.solved_without_aux for e in examples)
    synth["single_aux_point"] = sum(len(e.aux_points) == 1 for e in examples)
    # one ranking group per statement-and-aux pair: goals of one statement share candidates
    picked, seen = [], set()
    for e in examples:
        key = (e.problem.split("?")[0], tuple(e.aux))
        if key in seen or len(e.aux_points) != 1:
            continue
        seen.add(key)
        picked.append(e)
    picked = picked[:args.max_examples]
    _log(f"training data from {len(picked)} examples")
    data = training_data([_as_unsolved(e) for e in picked], progress=True)
    _log(f"{len(data)} ranking groups; skipped {data.skipped}")
    model = train_proposer(data, seed=args.train_seed, epochs=args.epochs, hidden=args.hidden)
    model["data"] = {"synth": synth, "examples_used": len(picked), "groups": len(data),
                     "skipped": data.skipped,
                     "label": "the candidate at the auxiliary point of the traced proof"}
    model["seconds"] = round(time.monotonic() - t0, 1)
    save_proposer(model, args.model, run_provenance(command, outputs=[args.model]))
    _log(f"model -> {args.model}: {json.dumps(model['metrics'])}")
    return model


def _as_unsolved(e):
    """Training uses every traced example (AlphaGeometry's labels), including those DD + AR
    also proves another way: the flag is for the report, not a filter here."""
    from dataclasses import replace
    return replace(e, solved_without_aux=False)


def _run_arm(problem, proposer, timeout: float) -> dict:
    s = search(problem, timeout=timeout, proposer=proposer, **BUDGET)
    row = {"solved": s.solved, "seconds": round(s.seconds, 2), "aux": s.aux,
           "lemma_aux": sorted({a for lem in s.lemmas for a in lem.aux}), "tried": s.tried,
           "stop": s.stop, "depth0": s.solved and not s.aux and not s.lemmas,
           "checked": None}
    if s.solved:
        row["checked"] = bool(check_search(s).ok)
    return row


def _compare(problems, arms, timeout: float, model_path: Path) -> dict:
    proposers = {"heuristic": None, "random": random_proposer(0)}
    if "learned" in arms:
        proposers["learned"] = learned_proposer(model_path)
    rows = []
    for prob in problems:
        row = {"name": prob.name}
        t = time.monotonic()
        h = _run_arm(prob, proposers["heuristic"], timeout)
        if h["depth0"]:
            row.update({"ddar": True, "heuristic": h})
            _log(f"{prob.name}: DD + AR alone ({time.monotonic() - t:.1f} s)")
            rows.append(row)
            continue
        row["ddar"] = False
        row["heuristic"] = h
        for arm in arms:
            if arm != "heuristic":
                row[arm] = _run_arm(prob, proposers[arm], timeout)
        _log(f"{prob.name}: " + ", ".join(
            f"{a}={'yes' if row[a]['solved'] else 'no'}" for a in arms if a in row))
        rows.append(row)
    hard = [r for r in rows if not r["ddar"]]
    totals = {"problems": len(rows), "ddar_alone": len(rows) - len(hard),
              "compared": len(hard)}
    for arm in arms:
        got = [r[arm] for r in hard if arm in r]
        totals[arm] = {"solved": sum(g["solved"] for g in got),
                       "checked": sum(bool(g["checked"]) for g in got),
                       "seconds": round(sum(g["seconds"] for g in got), 1)}
    return {"timeout_s": timeout, "arms": list(arms), "budget": BUDGET, "rows": rows,
            "totals": totals}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, help="synthetic examples (JSONL); else generated")
    p.add_argument("--n", type=int, default=500, help="premise samples to generate")
    p.add_argument("--synth-seed", type=int, default=0)
    p.add_argument("--synth-timeout", type=float, default=3.0)
    p.add_argument("--max-examples", type=int, default=300)
    p.add_argument("--train-seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--no-train", action="store_true", help="reuse --model")
    p.add_argument("--compare", choices=("none", "book", "imo", "all"), default="all")
    p.add_argument("--problems", type=Path, default=Path("/tmp/imo_ag_30.txt"),
                   help="IMO-AG-30 (or any problem file) for --compare imo")
    p.add_argument("--book-timeout", type=float, default=20.0)
    p.add_argument("--imo-timeout", type=float, default=30.0)
    p.add_argument("--arms", default=",".join(ARMS))
    p.add_argument("--limit", type=int, default=None, help="first N problems of each set")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    arms = [a for a in args.arms.split(",") if a]
    bad = [a for a in arms if a not in ARMS]
    if bad or "heuristic" not in arms:
        p.error(f"--arms: choose from {', '.join(ARMS)}, heuristic included (got {args.arms})")
    command = "OMP_NUM_THREADS=1 python " + shlex.join(
        [os.path.relpath(__file__, REPO), *(argv if argv is not None else sys.argv[1:])])
    if not args.no_train:
        _train(args, command)
    elif not args.model.is_file():
        p.error(f"--no-train: no model at {args.model}")
    if args.compare == "none":
        return 0
    record = json.loads(args.out.read_text()) if args.out.is_file() else {}
    sets = []
    if args.compare in ("book", "all"):
        sets.append(("book", load_problems(), args.book_timeout))
    if args.compare in ("imo", "all"):
        if not args.problems.is_file():
            p.error(f"--problems {args.problems}: no such file")
        sets.append(("imo_ag_30", parse_file(args.problems), args.imo_timeout))
    model = load_proposer(args.model)
    for name, problems, timeout in sets:
        problems = problems[:args.limit] if args.limit else problems
        t0 = time.monotonic()
        res = _compare(problems, arms, timeout, args.model)
        res["wall_s"] = round(time.monotonic() - t0, 1)
        res["source"] = args.problems.name if name == "imo_ag_30" else "load_problems()"
        # the model file is this pipeline's own output too (written by the training step)
        res["provenance"] = run_provenance(command, outputs=[args.out, args.model])
        res["model_metrics"] = model.get("metrics")
        record[name] = res
        args.out.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        _log(f"{name}: {json.dumps(res['totals'])} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
