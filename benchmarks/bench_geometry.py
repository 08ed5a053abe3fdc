"""Benchmark: the geometry prover on the book's problem set — DD + AR alone vs DD + AR with
auxiliary-point search (and Newclid side by side where it is installed).

For every problem of ``readingroom.geometry.problems`` (or of ``--problems FILE``, a file in
AlphaGeometry's two-lines-per-problem format) it runs

* ``ddar``: :func:`readingroom.geometry.ddar.solve` on the problem as stated;
* ``search``: :func:`readingroom.geometry.search.search` (DD + AR plus up to ``depth``
  auxiliary points, beam search) — only where that module can be imported;
* ``random``: the same search with the candidates in random order
  (:func:`~readingroom.geometry.search.random_proposer`): the "random auxiliary points + DDAR"
  baseline of HAGeo (arXiv 2512.00097), at the same budget;
* ``newclid``: the Newclid solver on the same text — only where the ``newclid`` package can be
  imported (it is not a dependency of the book; the column is skipped otherwise).

Each run has ``--timeout`` seconds (wall clock, one diagram, seed 0). Recorded per problem:
solved, seconds, derived facts, the stop reason, the auxiliary clauses the search added, and the
verdict of the independent proof checker (:mod:`readingroom.geometry.checker`) on every proof
(``checked``; its time is not part of ``seconds``).
Single-threaded CPU work: run it with ``OMP_NUM_THREADS=1`` for comparable times.

Writes JSON (default book/data/geometry/bench_cpu.json; ``--out`` overrides) with the machine,
date, command, per-problem rows and solved counts per method and difficulty.

    python benchmarks/bench_geometry.py                  # all problems, 60 s each
    python benchmarks/bench_geometry.py --timeout 20
    python benchmarks/bench_geometry.py --quick          # first 5 problems, 5 s, JSON to a temp dir
    python benchmarks/bench_geometry.py --problems my_problems.txt --out /tmp/mine.json
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import multiprocessing
import os
import platform
import shlex
import sys
import tempfile
import time
import traceback
from pathlib import Path

from benchlib import cpu_name

from readingroom.common import run_provenance
from readingroom.geometry import ddar
from readingroom.geometry.checker import check_proof, check_search
from readingroom.geometry.search import random_proposer
from readingroom.geometry.language import Problem, format_problem, parse_file
from readingroom.geometry.problems import DIFFICULTY, load_problems

try:  # written alongside this script; the benchmark runs with or without it
    from readingroom.geometry.search import search as _search
except ImportError:  # pragma: no cover - depends on the checkout
    _search = None

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "book" / "data" / "geometry" / "bench_cpu.json"
QUICK_PROBLEMS = 5
QUICK_TIMEOUT = 5.0
SEED = 0
SEARCH_BEAM = 4
SEARCH_DEPTH = 2


def _newclid_available() -> bool:
    try:
        return importlib.util.find_spec("newclid") is not None
    except (ImportError, ValueError):
        return False


# --- the three methods --------------------------------------------------------------------


def run_ddar(problem: Problem, timeout: float) -> dict:
    t0 = time.monotonic()
    try:
        r = ddar.solve(problem, seed=SEED, timeout=timeout)
    except Exception as e:  # a problem the engine rejects is a row, not a crash
        return {"solved": False, "seconds": round(time.monotonic() - t0, 4),
                "error": f"{type(e).__name__}: {e}"}
    row = {"solved": r.solved, "seconds": round(r.seconds, 4), "facts": r.facts,
           "rounds": r.rounds, "stop": r.stop,
           "proof_steps": len(r.steps) if r.solved else None}
    if r.solved:
        row.update(_verdict(check_proof(problem, r.proof)))
    return row


def _verdict(v) -> dict:
    """The checker's verdict on a proof, as the row records it."""
    out = {"checked": v.ok, "checked_steps": len(v.steps), "diagram_readings": v.readings}
    if not v.ok:
        out["check_error"] = v.error
    return out


def run_search(problem: Problem, timeout: float, proposer=None, jobs: int = 1) -> dict:
    t0 = time.monotonic()
    try:
        s = _search(problem, beam=SEARCH_BEAM, depth=SEARCH_DEPTH, timeout=timeout, seed=SEED,
                    proposer=proposer, jobs=jobs)
    except Exception as e:
        return {"solved": False, "seconds": round(time.monotonic() - t0, 4),
                "error": f"{type(e).__name__}: {e}"}
    res = getattr(s, "result", None)
    checked = _verdict(check_search(s)) if s.solved else {}
    return {**checked, "solved": bool(s.solved), "seconds": round(s.seconds, 4),
            "aux": [str(a) for a in s.aux], "tried": s.tried,
            "lemmas": [{"fact": str(lm.fact), "aux": lm.aux} for lm in getattr(s, "lemmas", [])],
            "shared": getattr(s, "shared", None),
            "facts": getattr(res, "facts", None), "stop": getattr(s, "stop", "") or None,
            "proof_steps": len(res.steps) if (s.solved and res is not None) else None}


def _newclid_child(text: str, seed: int, queue) -> None:  # pragma: no cover - needs newclid
    try:
        from newclid import GeometricSolverBuilder

        solver = GeometricSolverBuilder(seed=seed).load_problem_from_txt(text).build()
        queue.put({"solved": bool(solver.run())})
    except Exception as e:
        queue.put({"solved": False, "error": f"{type(e).__name__}: {e}",
                   "trace": traceback.format_exc(limit=3)})


def run_newclid(problem: Problem, timeout: float) -> dict:  # pragma: no cover - needs newclid
    """Newclid in a child process, so that its run can be stopped at ``timeout``."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_newclid_child, args=(format_problem(problem), SEED, queue))
    t0 = time.monotonic()
    proc.start()
    proc.join(timeout)
    seconds = round(time.monotonic() - t0, 4)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        return {"solved": False, "seconds": seconds, "stop": "timeout"}
    try:
        out = queue.get(timeout=1)
    except Exception:
        out = {"solved": False, "error": f"newclid exited with code {proc.exitcode}"}
    out["seconds"] = seconds
    return out


# --- driver -------------------------------------------------------------------------------


def _cell(r: dict | None, extra: str = "") -> str:
    if r is None:
        return "-"
    if r.get("error"):
        return "error"
    mark = "yes" if r["solved"] else "no"
    return f"{mark:3s} {r['seconds']:7.2f}s{extra}"


def run(problems: list[Problem], timeout: float, methods: list[str], jobs: int = 1,
        with_text: bool = True) -> list[dict]:
    rows = []
    print(f"{'problem':38s} {'diff':5s} {'ddar':14s} {'search':14s} {'random':14s} aux",
          flush=True)
    for p in problems:
        row = {"name": p.name, "difficulty": DIFFICULTY.get(p.name)}
        if with_text:
            row["problem"] = format_problem(p)
        row["ddar"] = run_ddar(p, timeout)
        if "search" in methods:
            row["search"] = run_search(p, timeout, jobs=jobs)
        if "random" in methods:  # HAGeo's baseline: random auxiliary points + DDAR, same budget
            row["random"] = run_search(p, timeout, proposer=random_proposer(SEED), jobs=jobs)
        if "newclid" in methods:
            row["newclid"] = run_newclid(p, timeout)
        aux = "; ".join(row.get("search", {}).get("aux", []) or [])
        line = (f"{p.name:38s} {row['difficulty'] or '?':5s} {_cell(row['ddar']):14s} "
                f"{_cell(row.get('search')):14s} {_cell(row.get('random')):14s} {aux}")
        if "newclid" in methods:
            line += f"   newclid {_cell(row['newclid'])}"
        print(line, flush=True)
        rows.append(row)
    return rows


def totals(rows: list[dict], methods: list[str]) -> dict:
    out: dict = {"problems": len(rows)}
    tags = sorted({r["difficulty"] or "untagged" for r in rows})
    for m in methods:
        solved = [r for r in rows if r[m]["solved"]]
        out[m] = {
            "solved": len(solved),
            "errors": sum(1 for r in rows if r[m].get("error")),
            "seconds": round(sum(r[m]["seconds"] for r in rows), 3),
            "checked": sum(1 for r in solved if r[m].get("checked")),
            "by_difficulty": {t: f"{sum(1 for r in solved if (r['difficulty'] or 'untagged') == t)}"
                                 f"/{sum(1 for r in rows if (r['difficulty'] or 'untagged') == t)}"
                              for t in tags},
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds per problem and method (default 60; 5 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help=f"only the first {QUICK_PROBLEMS} problems, {QUICK_TIMEOUT:g} s each, "
                             "JSON to a temp file unless --out is given")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"where to write the JSON (default: {DEFAULT_OUT.relative_to(REPO)})")
    parser.add_argument("--omit-text", action="store_true",
                        help="leave the problems' text out of the record (e.g. a published file "
                             "the book does not ship)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="search branches run this many at a time (default 1)")
    parser.add_argument("--problems", type=Path, default=None,
                        help="a problem file (name line, problem line) instead of the book's set")
    args = parser.parse_args(argv)

    timeout = args.timeout if args.timeout is not None else (QUICK_TIMEOUT if args.quick else 60.0)
    if not timeout > 0:
        parser.error(f"--timeout must be positive, got {timeout}")
    problems = parse_file(args.problems) if args.problems else load_problems()
    if args.quick:
        problems = problems[:QUICK_PROBLEMS]
    out = args.out
    if out is None:
        out = (Path(tempfile.gettempdir()) / "bench_geometry_quick.json" if args.quick
               else DEFAULT_OUT)

    methods = ["ddar"]
    skipped = {}
    if _search is not None:
        methods += ["search", "random"]
    else:
        skipped["search"] = "readingroom.geometry.search is not importable"
    if _newclid_available():  # pragma: no cover - not installed in the book's environment
        methods.append("newclid")
    else:
        skipped["newclid"] = "the newclid package is not installed"
    print(f"bench_geometry: {len(problems)} problems, {timeout:g} s each, methods: "
          f"{', '.join(methods)}" + (f" (skipped: {', '.join(skipped)})" if skipped else ""),
          flush=True)

    t0 = time.monotonic()
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    rows = run(problems, timeout, methods, jobs=args.jobs, with_text=not args.omit_text)
    record = {
        "benchmark": "geometry prover on the book's problem set: DD + AR alone vs DD + AR with "
                     "auxiliary-point search" + (" vs Newclid" if "newclid" in methods else ""),
        "device": cpu_name(),
        "device_type": "cpu",
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv])),
        "provenance": run_provenance(shlex.join(["python", "benchmarks/bench_geometry.py",
                                                 *(argv if argv is not None else sys.argv[1:])]),
                                     outputs=[out]),
        "timing": "time.monotonic, one run per problem and method, seconds",
        "quick": args.quick,
        "problem_file": (args.problems.name if args.problems
                         else "readingroom/geometry/problems.txt"),
        "config": {"timeout_s": timeout, "seed": SEED, "search_beam": SEARCH_BEAM,
                   "search_depth": SEARCH_DEPTH, "jobs": args.jobs,
                   "random": "search with random_proposer(seed): candidates in random order"},
        "methods": methods,
        "skipped": skipped,
        "wall_s": round(time.monotonic() - t0, 3),
        "totals": totals(rows, methods),
        "results": rows,
    }
    tot = record["totals"]
    print("solved: " + ", ".join(f"{m} {tot[m]['solved']}/{len(rows)} {tot[m]['by_difficulty']}"
                                 f" ({tot[m].get('checked', 0)} checked)"
                                 for m in methods), flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
