"""Command line: prove geometry problems with DD + AR and auxiliary-point search.

``python -m readingroom.geometry solve "<problem>" [--timeout 60] [--no-search] [--seed 0]``
prints the proof (and the auxiliary points it added) or ``not solved`` with the number of facts
derived; then the verdict of the independent proof checker (``readingroom.geometry.checker``:
every step replayed from only the premises it cites; ``--no-check`` skips it). ``python -m readingroom.geometry solve-file FILE [--timeout 60] [--no-search]`` runs a
file in AlphaGeometry's format (a name line, then a problem line) and prints a table: name,
solved by (``ddar`` / ``ddar+aux`` / ``not solved``), whether the checker accepted the proof,
the auxiliary points, seconds; then a total line. ``python -m readingroom.geometry synth --n N
--seed S --out FILE [--timeout 3]`` generates synthetic theorems with auxiliary points
(:mod:`readingroom.geometry.synth`), one JSON record a line, with a progress bar on stderr.

``--jobs N`` runs the search's branches N at a time in worker processes; ``--cluster
tcp://host:port`` runs them on a Dask cluster instead.

Exit status: 0 when solved and the proof checked (every problem of the file), 1 when not (some
not solved, or a proof the checker rejects),
2 on bad input (:mod:`readingroom.common.cli`'s convention): a bad problem (unparseable, an
unknown construction, no usable diagram) or a missing file with a one-line error on stderr, a
bad option as argparse's usage error.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from readingroom.common.cli import add_no_progress, add_seed, positive_int_arg, run

__all__ = ["build_parser", "main"]


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not v > 0 or math.isinf(v):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return v


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m readingroom.geometry",
        description="Prove geometry problems with DD + AR and auxiliary-point search.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (("solve", "prove one problem given as text"),
                        ("solve-file", "prove every problem of a file (name line, problem line)")):
        p = sub.add_parser(name, help=help_, description=help_)
        if name == "solve":
            p.add_argument("problem", help='the problem, e.g. "a b c = triangle a b c; ... ? goal"')
        else:
            p.add_argument("file", type=Path, help="the problem file")
        p.add_argument("--timeout", type=_seconds, default=60.0,
                       help="seconds per problem (default 60)")
        p.add_argument("--no-search", action="store_true",
                       help="DD + AR only, no auxiliary points")
        add_seed(p, help="seed of the numeric diagram")
        p.add_argument("--jobs", type=positive_int_arg, default=1,
                       help="search branches run this many at a time in worker processes "
                            "(default 1)")
        p.add_argument("--cluster", default=None,
                       help="run the search's branches on a Dask cluster, tcp://host:port")
        p.add_argument("--check", action=argparse.BooleanOptionalAction, default=True,
                       help="check every step of the proof with the independent checker "
                            "(default: on)")
        p.set_defaults(func=_solve if name == "solve" else _solve_file)
    p = sub.add_parser("synth", help="generate synthetic theorems with auxiliary points (JSONL)",
                       description="Sample random premises, saturate them with DD + AR, trace "
                                   "derived facts back and keep those whose proof needs "
                                   "auxiliary points; one JSON record a line.")
    p.add_argument("--n", type=positive_int_arg, required=True,
                   help="number of random premise problems to sample")
    add_seed(p, help="generator seed")
    p.add_argument("--out", type=Path, required=True, help="the JSONL file to write")
    p.add_argument("--timeout", type=_seconds, default=3.0,
                   help="seconds per engine run (default 3)")
    p.add_argument("--per-sample", type=positive_int_arg, default=3,
                   help="at most this many examples per sample (default 3)")
    p.add_argument("--keep-solved", action="store_true",
                   help="keep examples that DD + AR also proves without the auxiliary points")
    add_no_progress(p)
    p.set_defaults(func=_synth)
    return parser


def _run(problem, args):
    """(solved, how, aux, facts, proof lines, seconds, verdict) for one problem; with search,
    the proof lines start with the lemmas other branches proved (each with its auxiliary
    points). ``verdict`` is the checker's (None when unsolved or with ``--no-check``)."""
    from readingroom.geometry import ddar
    from readingroom.geometry.checker import check_proof, check_search
    from readingroom.geometry.search import search

    if args.no_search:
        r = ddar.solve(problem, seed=args.seed, timeout=args.timeout)
        verdict = check_proof(problem, r.proof) if r.solved and args.check else None
        return (r.solved, "ddar" if r.solved else "not solved", [], r.facts, r.proof, r.seconds,
                verdict)
    s = search(problem, timeout=args.timeout, seed=args.seed, jobs=args.jobs,
               executor=args.executor)
    facts = s.result.facts if s.result is not None else s.best_facts
    how = ("ddar+aux" if s.aux or s.lemmas else "ddar") if s.solved else "not solved"
    proof = None
    if s.solved:
        proof = []
        for k, lemma in enumerate(s.lemmas, start=1):
            proof.append(f"lemma {k}: {lemma.fact}, proved with {'; '.join(lemma.aux)}:")
            proof += [f"    {line}" for line in lemma.proof]
        if s.lemmas:
            proof.append("main proof:")
        proof += s.result.proof
    aux = list(dict.fromkeys(s.aux + [a for lemma in s.lemmas for a in lemma.aux]))
    verdict = check_search(s) if s.solved and args.check else None
    return s.solved, how, aux, max(facts, s.best_facts), proof, s.seconds, verdict


def _error(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def _solve(args, parser=None) -> int:
    from readingroom.geometry.language import GeometryInputError, parse_problem

    try:
        text = args.problem.strip()
        label = text if len(text) <= 60 else text[:57] + "..."
        problem = parse_problem(args.problem, name=label)
        if problem.goal is None:
            raise GeometryInputError(f"problem {problem.name!r}: no goal ('? ...')")
        solved, how, aux, facts, proof, secs, verdict = _run(problem, args)
    except GeometryInputError as e:
        return _error(str(e))
    if not solved:
        print(f"not solved ({facts} facts derived, {secs:.2f} s)")
        return 1
    print(f"solved by {how} in {secs:.2f} s")
    if problem.goal.name in ("acompute", "rcompute"):
        answer = proof[-1].split("  [")[0].split(". ", 1)[1]
        print(f"answer: {answer}")
    if aux:
        print("auxiliary points:")
        for a in aux:
            print(f"  {a}")
    print("proof:")
    for line in proof:
        print(f"  {line}")
    if verdict is not None:
        print(f"checker: {verdict}")
        return 0 if verdict.ok else 1
    return 0


def _solve_file(args, parser=None) -> int:
    from readingroom.geometry.language import GeometryInputError, parse_file

    path: Path = args.file
    if not path.is_file():
        return _error(f"problem file {str(path)!r}: no such file")
    try:
        problems = parse_file(path)
    except GeometryInputError as e:
        return _error(f"problem file {str(path)!r}: {e}")
    except (OSError, UnicodeDecodeError) as e:
        return _error(f"problem file {str(path)!r}: cannot read it ({e})")
    if not problems:
        return _error(f"problem file {str(path)!r}: no problems in it")
    rows, n_ok, n_aux, n_checked, bad, total = [], 0, 0, 0, 0, 0.0
    for prob in problems:
        try:
            if prob.goal is None:
                raise GeometryInputError(f"problem {prob.name!r}: no goal ('? ...')")
            solved, how, aux, _, _, secs, verdict = _run(prob, args)
        except GeometryInputError as e:
            print(f"error: {e}", file=sys.stderr)
            bad += 1
            rows.append((prob.name, "error", "", "", 0.0))
            continue
        total += secs
        n_ok += solved
        n_aux += solved and bool(aux)
        n_checked += verdict is not None and verdict.ok
        if verdict is not None and not verdict.ok:
            print(f"checker rejects the proof of {prob.name}: {verdict.error}", file=sys.stderr)
        checked = "-" if verdict is None else "yes" if verdict.ok else "REJECTED"
        rows.append((prob.name, how, checked, "; ".join(aux), secs))
    w = max(len("name"), *(len(r[0]) for r in rows))
    print(f"{'name':<{w}} | {'solved by':<10} | {'checked':<8} | {'seconds':>7} | aux points")
    print(f"{'-' * w}-+-{'-' * 10}-+-{'-' * 8}-+-{'-' * 7}-+-{'-' * 10}")
    for name, how, checked, aux, secs in rows:
        print(f"{name:<{w}} | {how:<10} | {checked:<8} | {secs:>7.2f} | {aux}")
    err = f", {bad} with errors" if bad else ""
    check = f"; {n_checked}/{n_ok} proofs checked" if args.check else ""
    print(f"total: {n_ok}/{len(problems)} solved ({n_ok - n_aux} by ddar, {n_aux} by ddar+aux)"
          f"{check}{err} in {total:.2f} s")
    if bad:
        return 2
    rejected = args.check and n_checked < n_ok
    return 0 if n_ok == len(problems) and not rejected else 1


def _synth(args, parser) -> int:
    import json

    from readingroom.geometry.synth import generate, write_jsonl

    out: Path = args.out
    if not out.parent.is_dir():
        parser.error(f"--out {str(out)!r}: directory {str(out.parent)!r} does not exist")
    examples, stats = generate(args.n, args.seed, timeout=args.timeout,
                               per_sample=args.per_sample,
                               require_unsolved=not args.keep_solved,
                               progress=not args.no_progress)
    write_jsonl(examples, out)
    print(f"{len(examples)} examples from {args.n} samples in {stats['seconds']:.1f} s -> {out}")
    print(json.dumps(stats, sort_keys=True))
    return 0


def _with_executor(handler):
    """``handler`` with ``args.executor``: a Dask client for ``--cluster`` (then at least two
    branches at a time), else ``None``; an unreachable cluster is a usage error."""
    def wrapped(args, parser) -> int:
        args.executor = None
        if args.cluster is not None:
            from readingroom.common import make_executor

            try:
                args.executor = make_executor(args.cluster)
            except ConnectionError as e:
                parser.error(f"--cluster: {e}")
            args.jobs = max(args.jobs, 2)
        try:
            return handler(args, parser)
        finally:
            if args.executor is not None:
                args.executor.close()
    return wrapped


_solve, _solve_file = _with_executor(_solve), _with_executor(_solve_file)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
