"""Benchmark: the chapter's loop and openevolve side by side on circle packing, with the same
offline proposer, the same evaluator and the same evaluation budget.

`openevolve <https://pypi.org/project/openevolve/>`_ (an open-source AlphaEvolve) asks an
OpenAI-compatible endpoint for SEARCH/REPLACE diffs and scores children with an evaluator file.
This script drives it offline through :class:`readingroom.evolve.bridge.BridgeServer` on
``127.0.0.1``: its "language model" is this package's :class:`MutationProposer` (the diff is
computed from the current program and the programs openevolve's prompt shows), and its evaluator
forwards each program to :func:`readingroom.evolve.problems.evaluate_packing` -- the same
sandbox, ``--time-budget`` CPU seconds of search from the parent's packing (search mode, carried
by the bridge, see its docstring), ``--timeout`` and exact checker as the chapter's loop. What
stays openevolve's own: its database (MAP-Elites over the same two features, ``--islands``
islands, its parent and inspiration sampling, elites, migration), its prompt, its diff applier,
its iteration scheduling. What is the chapter's: ``python -m readingroom.evolve run
circle-packing --workers 1`` with the same budget and seed.

For each seed the record holds both runs: best checked score, the curve (best score after each
evaluated child), each child's score, its CPU seconds, and for openevolve the iterations it ran,
how many diffs applied and how many changed the program (openevolve drops a diff that leaves the
program as it was, which the chapter's loop evaluates), how each prompt's parent was identified
(``parents_by``), which evaluation each child started from (``warm_ids``) and how many children
reached the evaluator without their parent's warm start (``unmatched``). Budget: ``--budget``
evaluations for the chapter's loop (a failed diff costs none) and ``--budget`` iterations for
openevolve (an iteration whose diff fails or changes nothing costs no evaluation), so both
evaluate at most ``--budget`` children.

openevolve is not a dependency of this project. Install it in a separate environment and pass
its interpreter::

    python3 -m venv /tmp/oe && /tmp/oe/bin/pip install openevolve==0.4.0
    OMP_NUM_THREADS=1 python benchmarks/evolve_openevolve.py --openevolve-python /tmp/oe/bin/python \\
        --budget 50 --seeds 0 1 2 --out book/data/evolve/openevolve.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ("python3 -m venv /tmp/oe && /tmp/oe/bin/pip install openevolve==0.4.0, then pass "
           "--openevolve-python /tmp/oe/bin/python")


class OpenEvolveMissing(RuntimeError):
    """openevolve cannot be imported by the interpreter given."""


def openevolve_version(python: str) -> str:
    """The version of openevolve that ``python`` imports; raises :class:`OpenEvolveMissing` with
    how to install it when it imports none."""
    try:
        out = subprocess.run([python, "-c", "import openevolve; print(openevolve.__version__)"],
                             capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise OpenEvolveMissing(f"cannot run {python!r}: {err}. openevolve is not part of this "
                                f"project's environment; install it apart: {INSTALL}") from None
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        raise OpenEvolveMissing(f"{python} cannot import openevolve ({last}). openevolve is not "
                                f"part of this project's environment; install it apart: "
                                f"{INSTALL}")
    return out.stdout.strip()


def openevolve_config(*, url: str, budget: int, seed: int, islands: int, timeout_s: float) -> str:
    """openevolve's YAML config for the run: the bridge as its only model, diff-based evolution,
    MAP-Elites over the evaluator's two features, one evaluation at a time, no cascade, no LLM
    feedback, room for the seed program's length."""
    cfg = {
        "max_iterations": budget, "random_seed": seed, "checkpoint_interval": 10 ** 6,
        "log_level": "WARNING", "diff_based_evolution": True, "max_code_length": 200_000,
        "llm": {"api_base": url, "api_key": "offline",
                "models": [{"name": "readingroom-mutation", "weight": 1.0}],
                "temperature": 0.7, "max_tokens": 4096, "timeout": 300, "retries": 0,
                "retry_delay": 0},
        "database": {"num_islands": islands, "random_seed": seed,
                     "feature_dimensions": ["radius_spread", "smallest_radius"],
                     "feature_bins": {"radius_spread": 5, "smallest_radius": 4}},
        "evaluator": {"timeout": int(timeout_s) + 60, "cascade_evaluation": False,
                      "parallel_evaluations": 1, "use_llm_feedback": False, "max_retries": 0},
    }
    return json.dumps(cfg, indent=1)  # JSON is YAML


def _children(evaluations: list[dict], budget: int) -> dict:
    """The curve of the children (the initial program's evaluation left out, as in the CLI's),
    their scores, seconds and warm starts (the index of the evaluation each started from)."""
    kids = evaluations[1:budget + 1]
    best, curve = float("-inf"), []
    for e in kids:
        if e["score"] is not None:
            best = max(best, e["score"])
        curve.append(best)
    return {"curve": curve, "scores": [e["score"] for e in kids],
            "cpu_s": [e["cpu_s"] for e in kids], "elapsed_s": [e["elapsed_s"] for e in kids],
            "warm_ids": [e.get("warm_id") for e in kids]}  # which evaluation it started from


def run_readingroom(*, n: int, budget: int, seed: int, islands: int, time_budget: float,
                    timeout: float, work: Path) -> dict:
    """``python -m readingroom.evolve run circle-packing ... --workers 1`` in this process."""
    from readingroom.evolve.__main__ import main as cli

    out = work / f"readingroom-seed{seed}.json"
    argv = ["run", "circle-packing", "--n", str(n), "--budget", str(budget), "--seed", str(seed),
            "--islands", str(islands), "--workers", "1", "--time-budget", str(time_budget),
            "--timeout", str(timeout), "--db", str(work / f"readingroom-seed{seed}.db"),
            "--out", str(out), "--no-progress"]
    start = time.monotonic()
    if cli(argv) != 0:
        raise RuntimeError(f"the chapter's CLI failed: {shlex.join(argv)}")
    rec = json.loads(out.read_text())
    keep = ("best_score", "evaluations", "failed_diffs", "failed_evaluations", "curve", "scores",
            "cpu_s", "elapsed_s")
    res = {k: rec[k] for k in keep}
    res["wall_s"] = round(time.monotonic() - start, 1)
    res["command"] = "python -m readingroom.evolve " + shlex.join(argv)
    res["best_packing"] = rec["best_metrics"].get("packing")
    return res


def run_openevolve(*, python: str, n: int, budget: int, seed: int, islands: int,
                   time_budget: float, timeout: float, work: Path, limit_s: float) -> dict:
    """openevolve for ``budget`` iterations against the bridge."""
    from readingroom.evolve.bridge import BridgeServer, evaluator_source
    from readingroom.evolve.problems import make_problem
    from readingroom.evolve.proposers import MutationProposer

    problem = make_problem("circle-packing", n=n, timeout_s=timeout,
                           time_budget_s=time_budget or None)
    here = work / f"openevolve-seed{seed}"
    here.mkdir(parents=True, exist_ok=True)
    (here / "initial_program.py").write_text(problem.initial_program)
    with BridgeServer(MutationProposer(problem.fragments), problem.evaluate,
                      warm_start=problem.warm_start, seed=seed) as bridge:
        (here / "evaluator.py").write_text(evaluator_source(bridge.evaluate_url))
        (here / "config.yaml").write_text(openevolve_config(
            url=bridge.url, budget=budget, seed=seed, islands=islands, timeout_s=timeout))
        cmd = [python, "-c", "import sys; from openevolve.cli import main; sys.exit(main())",
               str(here / "initial_program.py"), str(here / "evaluator.py"),
               "--config", str(here / "config.yaml"), "--output", str(here / "out"),
               "--iterations", str(budget)]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "NO_PROXY": "127.0.0.1,localhost"}
        start = time.monotonic()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit_s, env=env,
                                  cwd=here)
            rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-3000:]
        except subprocess.TimeoutExpired as err:
            rc = None
            tail = ((err.stdout or b"").decode(errors="replace")
                    + (err.stderr or b"").decode(errors="replace"))[-3000:]
        wall = round(time.monotonic() - start, 1)
        evaluations = list(bridge.evaluations)
        packings = {i: bridge.packing(i) for i in range(len(evaluations))}
        proposals = list(bridge.proposals)
        unmatched, parents_by = bridge.unmatched, dict(bridge.parents_by)
    (here / "openevolve.log").write_text(tail)
    kids = evaluations[1:]
    res = {"returncode": rc, "wall_s": wall, "iterations_asked": budget,
           "completions": len(proposals),
           "diffs_applying": sum(p["applies"] for p in proposals),
           # a diff that applies but leaves the program as it was: openevolve drops it ("Diff
           # did not change the parent program"); the chapter's loop evaluates it
           "diffs_changing": sum(p["changes"] for p in proposals),
           "evaluations": len(kids),
           "failed_evaluations": sum(e["score"] is None for e in kids[:budget]),
           "unmatched": unmatched, "parents_by": parents_by,
           "warm_started": sum(e["warm_id"] is not None for e in kids[:budget]),
           "initial_score": evaluations[0]["score"] if evaluations else None}
    res.update(_children(evaluations, budget))
    # the best of the initial program and the first `budget` children (the CLI's best_score)
    done = [e for e in evaluations[:budget + 1] if e["score"] is not None]
    top = max(done, key=lambda e: e["score"]) if done else None
    res["best_score"] = top["score"] if top else None
    res["best_packing"] = packings.get(top["index"]) if top else None
    res["log_tail"] = tail[-1500:]
    return res


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--openevolve-python", default=sys.executable,
                    help="the interpreter that imports openevolve (default: this one)")
    ap.add_argument("--n", type=int, default=26)
    ap.add_argument("--budget", type=int, default=50,
                    help="evaluations (chapter) / iterations (openevolve) per run")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--islands", type=int, default=4)
    ap.add_argument("--time-budget", type=float, default=2.0,
                    help="CPU seconds of search per program (0: constructor mode)")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--limit", type=float, default=1500.0,
                    help="wall-clock seconds allowed to one openevolve run")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp)")
    args = ap.parse_args(argv)
    for name in ("n", "budget", "islands"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be >= 1")
    try:
        version = openevolve_version(args.openevolve_python)
    except OpenEvolveMissing as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from readingroom.common import run_provenance, use_threads
    from readingroom.evolve.circles import ALPHAEVOLVE, PREVIOUS, check_packing

    use_threads()
    work = args.work or Path(tempfile.mkdtemp(prefix="evolve-openevolve-"))
    work.mkdir(parents=True, exist_ok=True)
    runs = []
    for seed in args.seeds:
        common = dict(n=args.n, budget=args.budget, seed=seed, islands=args.islands,
                      time_budget=args.time_budget, timeout=args.timeout, work=work)
        ours = run_readingroom(**common)
        theirs = run_openevolve(python=args.openevolve_python, limit_s=args.limit, **common)
        for res in (ours, theirs):
            packing = res.get("best_packing")
            check = check_packing(packing, args.n) if packing else None
            res["best_checked"] = check.score if check is not None and check.ok else None
        runs.append({"seed": seed, "readingroom": ours, "openevolve": theirs})
        print(json.dumps({"seed": seed, "readingroom": ours["best_score"],
                          "openevolve": theirs["best_score"],
                          "openevolve_evaluations": theirs["evaluations"]}), flush=True)
    record = {
        "n": args.n, "budget": args.budget, "seeds": args.seeds, "islands": args.islands,
        "time_budget_s": args.time_budget, "timeout_s": args.timeout,
        "openevolve_version": version,
        "alphaevolve": ALPHAEVOLVE.get(args.n), "previous": PREVIOUS.get(args.n),
        "same": ["proposer: readingroom MutationProposer (offline), via the loopback bridge",
                 "evaluator: readingroom evaluate_packing (sandbox, CPU time budget, timeout, "
                 "exact checker), search mode warm-started from the parent's packing",
                 "MAP-Elites features radius_spread x smallest_radius, islands, seed"],
        "differs": ["database, parent/inspiration sampling, migration: each system's own",
                    "openevolve's budget is iterations (a failed diff is an iteration without "
                    "an evaluation); the chapter's is evaluations",
                    "openevolve submits one iteration per island at the start and one more per "
                    "completed one, so even with one worker up to `islands` iterations are in "
                    "flight and a parent is sampled from a database up to islands - 1 results "
                    "behind; the chapter's loop with one worker samples each parent after the "
                    "previous result is stored"],
        "runs": runs,
    }
    if args.out is not None:
        command = "python benchmarks/evolve_openevolve.py " + shlex.join(
            argv if argv is not None else sys.argv[1:])
        record["provenance"] = run_provenance(command, outputs=(args.out,))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1) + "\n")
    return record


if __name__ == "__main__":
    main()
