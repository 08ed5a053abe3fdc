"""How the NSA chapter's committed retrieval runs were made, on a lent GPU machine (one H200).

    OUT=folder python benchmarks/nsa_recall_grid.py SECONDS

Phase 1 trains full attention on the key-value task (seed 0, 2,000 steps) under 16 recipes at once
(pairs and queries, batch, learning rate, width) and writes ``$OUT/grid.json`` (committed as
``book/data/nsa/recall_grid.json``). Phase 2 takes the recipe with the most accuracy above
:attr:`~readingroom.nsa.recall.RecallTask.chance`, sets it as ``RECALL_RECIPE``, sizes the number of
steps to the time left (``SECONDS`` for both phases) and calls ``python -m readingroom.nsa recall
--seed 0 1 2 3 4 --device cuda --jobs 15 --weights 0`` into ``/tmp/nsa``. The recipe it chose is
now ``RECALL_RECIPE`` in :mod:`readingroom.nsa.experiments`, so that command alone makes the same
records. Environment: ``DEV=cpu P1=20 GRID_N=2 JOBS=2`` for a smoke run without a GPU.
"""
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import readingroom.nsa.experiments as ex
from readingroom.nsa.recall import RecallTask
from readingroom.common import run_provenance

OUT = os.environ["OUT"]
DEADLINE = time.time() + float(sys.argv[1])  # seconds this driver may use
P1_STEPS = int(os.environ.get("P1", 2000))
DEV = os.environ.get("DEV", "cuda")
JOBS = os.environ.get("JOBS", "15")


def task(P, Q):
    n = max(16, P)
    return RecallTask(seq_len=256, n_pairs=P, n_queries=Q, n_keys=n, n_values=n)


grid = []
for P, Q in [(4, 2), (8, 4), (16, 8)]:
    for batch in (16, 64):
        for lr in (1e-3, 3e-3):
            grid.append(ex.RecallRecipe(task=task(P, Q), batch=batch, lr=lr))
grid.append(ex.RecallRecipe(task=task(8, 4), batch=64, lr=1e-3, hidden=128))
grid.append(ex.RecallRecipe(task=task(8, 4), batch=64, lr=3e-3, hidden=128))
grid.append(ex.RecallRecipe(task=task(4, 2), batch=64, lr=1e-3, hidden=128))
grid.append(ex.RecallRecipe(task=task(16, 8), batch=64, lr=1e-3, hidden=128))
grid = grid[: int(os.environ.get("GRID_N", len(grid)))]
grid = [replace(r, steps=P1_STEPS, eval_every=250, n_eval=256) for r in grid]

def run():
    t0 = time.time()
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(grid), mp_context=ctx) as pool:
        futs = [pool.submit(ex.recall_job, r, 0, "full", DEV) for r in grid]
        res = [f.result()[0] for f in futs]
    p1 = time.time() - t0
    rows = []
    for r, run in zip(grid, res):
        ch = r.task.chance
        norm = (run.accuracy - ch) / (1 - ch)
        rows.append({"recipe": repr(r), "P": r.task.n_pairs, "Q": r.task.n_queries, "batch": r.batch, "lr": r.lr,
                     "hidden": r.hidden, "chance": ch, "accuracy": run.accuracy, "above_chance": norm,
                     "curve": run.curve, "seconds": round(run.history.seconds, 1)})
        print(f"P={r.task.n_pairs} Q={r.task.n_queries} b={r.batch} lr={r.lr} h={r.hidden}: "
              f"{[round(a, 2) for _, a in run.curve]} chance {ch:.3f} ({run.history.seconds:.0f} s)", flush=True)
    rec = {"provenance": run_provenance("pilot/device_driver.py (phase 1: full attention, seed 0)", DEV),
           "steps": P1_STEPS, "seconds": round(p1, 1), "rows": rows}
    json.dump(rec, open(f"{OUT}/grid.json", "w"), indent=1)
    best = max(range(len(grid)), key=lambda i: (round(rows[i]["above_chance"], 2), rows[i]["P"]))
    per_step = max(r["seconds"] for r in rows) / P1_STEPS
    left = DEADLINE - time.time() - 60
    steps = int(min(6000, left / (3.2 * per_step)) // 500 * 500) if DEV == "cuda" else 40
    print(f"phase 1 {p1:.0f} s; best {rows[best]['recipe']}; phase 2 steps {steps}", flush=True)
    if steps < 1000 and DEV == "cuda":
        sys.exit("no time left for phase 2")
    chosen = replace(grid[best], steps=steps, eval_every=max(1, steps // 20), n_eval=512 if DEV == "cuda" else 32)
    json.dump({"chosen": repr(chosen)}, open(f"{OUT}/chosen.json", "w"))
    ex.RECALL_RECIPE = chosen
    from readingroom.nsa.__main__ import main
    sys.exit(main(["recall", "--seed", "0", "1", "2", "3", "4", "--device", DEV, "--jobs", JOBS,
                   "--weights", "0", "--out", "/tmp/nsa", "--no-progress"]))


if __name__ == "__main__":
    run()
