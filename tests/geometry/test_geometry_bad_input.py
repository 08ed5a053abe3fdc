"""Every error path of readingroom.geometry's entry points, in one table: a bad input (a
malformed problem text or problem file, an argument of the wrong type or out of range, a result
that is not the one asked for) is refused with an error whose message names the parameter or
the mistake. The language's own errors are :class:`GeometryInputError` (a ``ValueError``).

Kept elsewhere, as behaviour: the checker rejecting a wrong proof (test_geometry_checker), a
degenerate construction raising ``GeometryBuildError`` and the optimiser giving up
(test_geometry_diagram, test_geometry_optimize), a search that times out, a malformed JSONL
record (test_geometry_synth) and the CLI's exit status 2 (test_geometry_cli, test_geometry_synth).

The objects the calls need are small and built lazily, once: a diagram or two of a triangle,
one DD + AR run of the midline theorem, a toy ranking data set; an unsolved search result is
assembled by hand rather than searched for.
"""

from __future__ import annotations

import dataclasses
import functools
from fractions import Fraction

import numpy as np

from readingroom.geometry import (
    GeometryBuildError, LinearSystem, SearchResult, build_diagram, candidates, check_goal,
    check_proof, check_search, examples_from, fact, format_proof, generate, parse_file,
    parse_problem, proof_holds, random_proposer, residuals, sample_premises, search,
    search_proof_holds, solve,
)
from readingroom.geometry.ddar import saturate
from readingroom.geometry.language import GeometryInputError, Goal
from readingroom.geometry.optimize import make_diagram
from readingroom.geometry.proposer import (
    FEATURES, RankingData, candidate_features, learned_proposer, load_proposer,
    ranking_metrics, save_proposer, train_proposer, training_data,
)
from readingroom.geometry.synth import read_jsonl, statement_clauses, write_jsonl
from refusals import refusal_test

T = "a b c = triangle a b c; "
TRIANGLE = T.rstrip("; ")
MIDLINE = T + "m = midpoint m a b; n = midpoint n a c ? para m n b c"
MIDPOINT = T + "m = midpoint m b c; n = midpoint n a c ? para m n a b"
ORTHO = T + "h = on_tline h b a c, on_tline h c a b ? perp a h b c"
STATEMENT = "a b c = triangle a b c; d = midpoint d a b; e = midpoint e a c ? para d e b c"
BISECTOR = "a b c = triangle a b c; x = angle_bisector x a b c"
NOT_A_FILE = "no/such/dir/file"

# --- cheap shared objects, built on first use ------------------------------------------------


@functools.cache
def ortho():
    return parse_problem(ORTHO)


@functools.cache
def triangle_diagram():
    return build_diagram(parse_problem(TRIANGLE))


@functools.cache
def angle_diagram():
    return build_diagram("a b = segment a b; x = s_angle a b x 30", seed=0)


@functools.cache
def statement_diagram():
    return make_diagram(parse_problem(STATEMENT), seed=0)


@functools.cache
def midline_result():
    return solve(MIDLINE)


def unsolved() -> SearchResult:
    """What :func:`search` returns when it finds no proof."""
    return SearchResult(solved=False, aux=[], result=None, seconds=0.0, tried=1,
                        problem=ortho(), stop="timeout")


def toy(groups: int = 3) -> RankingData:
    """``groups`` ranking groups of four candidates, the first one the auxiliary point."""
    return RankingData([np.eye(4, len(FEATURES)) for _ in range(groups)], [0] * groups,
                       [f"statement {g}" for g in range(groups)], {})


def model_with(**fields) -> dict:
    """A proposer model record with every field, ``fields`` replacing some."""
    return {"features": list(FEATURES), "mean": [0.0], "std": [1.0], "w1": [[0.0]],
            "b1": [0.0], "w2": [0.0], "b2": 0.0, **fields}


def odd_goal(text: str):
    """The problem of ``text`` with a goal the language does not have, built by hand."""
    return dataclasses.replace(parse_problem(text), goal=Goal("tangent", ("a", "b")))


def modular_add():
    LinearSystem(modulus=1).add({"x": Fraction(1, 2)}, 0)


# --- the language: problem texts and files -----------------------------------------------------

PARSE_PROBLEM = [
    # (text, match) for parse_problem(text, name="demo")
    ("", "empty problem text"),
    ("   ", "empty problem text"),
    ("a b c = triangle a b c; h = orthocentre h a b c ? perp a h b c",
     r"problem 'demo': clause 2 'h = orthocentre h a b c': construction 'orthocentre h a b c'"
     r": unknown construction 'orthocentre'; did you mean 'orthocenter'\?"),
    ("a b c = triangel a b c", r"unknown construction 'triangel'; did you mean 'triangle'"),
    ("a b = segment a b; m = midpoint m a",
     r"clause 2 .*construction 'midpoint m a': midpoint takes 3 arguments "
     r"\('x = midpoint x a b'\), got 2"),
    ("a b = segment a b; m = midpoint m a c", r"point 'c' is used before it is defined"),
    ("a b = segment a b; x y = on_line x a b, on_line y x b",
     r"point 'x' is used before it is defined \(it is a new point of this clause"),
    ("a b c = triangle a b c; a = midpoint a b c", r"clause 2 .*point 'a' is redefined"),
    ("a a = segment a a", r"point 'a' is listed twice"),
    ("a b = segment a b; ; c = free c", r"clause 2 '': empty clause"),
    ("a b = segment a b; ? cong a b a b", r"clause 2 '': empty clause"),
    ("a b segment a b", r"malformed clause \(no '='\)"),
    ("a = b = free a", r"malformed clause \(more than one '='\)"),
    (" = free a", r"no new points left of '='"),
    ("a = ", r"no construction right of '='"),
    ("a = free a, ", r"empty construction"),
    ("a-b = free a", r"invalid point name 'a-b'"),
    ("a b c = triangle a b c; d = on_line e a b",
     r"argument 'e' fills the new-point slot 'x' of on_line .* not among the clause's new"),
    ("a b c = triangle a b c; d = on_line a b c",
     r"argument 'a' fills the new-point slot 'x' .* is an existing point"),
    ("a b = segment a b; c d = midpoint c a b", r"new point\(s\) d not introduced"),
    ("a b = segment a b; x = s_angle a b x sixty",
     r"argument 'y' of s_angle must be a number, got 'sixty'"),
    ("a b c = triangle a b c ? perpendicular a b a c",
     r"problem 'demo': goal 'perpendicular a b a c': unknown goal predicate 'perpendicular'; "
     r"did you mean 'perp'"),
    ("a b c = triangle a b c ? perp a b c", r"perp takes 4 points .*got 3 arguments"),
    ("a b c = triangle a b c ? coll a b", r"coll takes at least 3 points"),
    ("a b c = triangle a b c ? eqangle a b a c a b", r"eqangle takes 8 points"),
    ("a b c = triangle a b c ? perp a b c z", r"point 'z' is not defined by the problem"),
    ("a b c = triangle a b c ? aconst a b a c much", r"cannot read the value 'much' of aconst"),
    ("a b c = triangle a b c ? rconst a b a c 1/0", r"cannot read the value '1/0' of rconst"),
    ("a b c = triangle a b c ?", r"empty goal after '\?'"),
    ("a b c = triangle a b c ? cong a b a c ? cong a b b c", r"more than one '\?'"),
]

PARSE_FILE = [
    # (text, match) for parse_file(text)
    ("only_a_name\n", "odd number of non-blank lines"),
    ("a = free a\nb = free b\n", "looks like a problem"),
    ("p\na = free a\np\nb = free b\n", "duplicate problem name 'p'"),
    ("p\na = fre a\n", r"problem 'p': clause 1 'a = fre a': construction 'fre a': unknown"),
]

# search's arguments: (keyword, value, exception)
SEARCH_ARGS = [
    ("beam", 0, ValueError), ("beam", "2", TypeError), ("beam", True, TypeError),
    ("depth", -1, ValueError), ("depth", 1.5, TypeError), ("width", 0, ValueError),
    ("timeout", 0, ValueError), ("timeout", -3.0, ValueError),
    ("timeout", float("nan"), ValueError), ("timeout", "60", TypeError),
    ("ddar_timeout", float("inf"), ValueError), ("seed", -1, ValueError),
    ("max_lemmas", -1, ValueError), ("max_lemmas", 2.0, TypeError),
    ("jobs", 0, ValueError), ("widen", 1, TypeError), ("share", "yes", TypeError),
]

# --- the table ------------------------------------------------------------------------------

CASES = [
    # (id, call, exception, match)
    # language
    *[(f"parse_problem: {text!r}", lambda t=text: parse_problem(t, name="demo"),
       GeometryInputError, match) for text, match in PARSE_PROBLEM],
    ("parse_problem: an unknown construction is a ValueError",
     lambda: parse_problem("a = nothing a"), ValueError, "nothing"),
    ("parse_problem: not a string", lambda: parse_problem(None), GeometryInputError,
     "expected a string"),
    *[(f"parse_file: {match}", lambda t=text: parse_file(t), GeometryInputError, match)
      for text, match in PARSE_FILE],
    # facts and goals
    ("fact: unknown predicate", lambda: fact("parallel", "a", "b", "c", "d"),
     GeometryInputError, "unknown predicate"),
    ("fact: too few points", lambda: fact("para", "a", "b", "c"), GeometryInputError,
     "takes 4 points"),
    ("fact: a zero-length segment", lambda: fact("cong", "a", "a", "b", "c"),
     GeometryInputError, "zero length"),
    ("check_goal: a point the diagram lacks", lambda: check_goal(angle_diagram(), "cong a b a z"),
     GeometryInputError, "point 'z' is not defined"),
    ("check_goal: no goal anywhere", lambda: check_goal(angle_diagram()), GeometryInputError,
     "no goal given"),
    # numeric diagrams
    ("residuals: a point without coordinates",
     lambda: residuals(BISECTOR, {"a": (1, 0), "b": (0, 0), "c": (0, 1)}),
     GeometryBuildError, "no coordinates for x"),
    # algebraic reasoning
    ("LinearSystem.add: a fraction in a modular system", modular_add, ValueError,
     "integer coefficients"),
    # DD + AR
    ("solve: not a problem", lambda: solve(42), GeometryInputError, "expected a Problem"),
    ("solve: no goal", lambda: solve(TRIANGLE), GeometryInputError, "no goal"),
    *[(f"solve: timeout={bad!r}", lambda bad=bad: solve(MIDLINE, timeout=bad),
       GeometryInputError, "timeout") for bad in (0, -1, "5", True, float("nan"))],
    ("solve: max_rounds 0", lambda: solve(MIDLINE, max_rounds=0), GeometryInputError,
     "max_rounds"),
    ("solve: a goal the engine does not know", lambda: solve(odd_goal(MIDLINE)),
     GeometryInputError, "not supported"),
    ("solve: diagram a str", lambda: solve(MIDLINE, diagram="not a diagram"),
     GeometryInputError, "diagram"),
    ("solve: a diagram without the problem's points",
     lambda: solve(MIDLINE, diagram=triangle_diagram()), GeometryInputError, "lacks point"),
    ("solve: known holds a str",
     lambda: solve(MIDPOINT, known=[("para m n a b", "why")]), GeometryInputError, "known"),
    ("solve: known holds a fact without its reason",
     lambda: solve(MIDPOINT, known=[(fact("para", "m", "n", "a", "b"),)]),
     GeometryInputError, "known"),
    ("solve: a known fact about a point the problem lacks",
     lambda: solve(MIDPOINT, known=[(fact("para", "m", "z", "a", "b"), "why")]),
     GeometryInputError, "lacks"),
    ("Result.proof_of: a fact the run did not derive",
     lambda: midline_result().proof_of(fact("para", "a", "b", "a", "c")), KeyError,
     "not among this run's facts"),
    ("format_proof: not a Result", lambda: format_proof("1. para"), GeometryInputError,
     "expected a Result"),
    ("proof_holds: not a Result", lambda: proof_holds(MIDLINE, "proof"), TypeError,
     "result must be a Result"),
    *[(f"saturate: {key}={value!r}", lambda k=key, v=value: saturate(TRIANGLE, **{k: v}),
       GeometryInputError, key)
      for key, value in [("timeout", 0), ("timeout", True), ("max_rounds", 0),
                         ("diagram", "x")]],
    ("saturate: not a problem", lambda: saturate(42), GeometryInputError, "expected a Problem"),
    ("saturate: a diagram without the problem's points",
     lambda: saturate(T + "m = midpoint m a b", diagram=triangle_diagram()),
     GeometryInputError, "lacks"),
    # the proof checker's inputs
    ("check_proof: proof an int", lambda: check_proof(MIDLINE, 42), GeometryInputError,
     "proof must be text or a list of lines"),
    ("check_proof: problem an int", lambda: check_proof(3, []), GeometryInputError,
     "expected a Problem"),
    ("check_proof: no goal", lambda: check_proof(TRIANGLE, []), GeometryInputError,
     "has no goal"),
    ("check_proof: a lemma that is not a fact",
     lambda: check_proof(MIDLINE, [], lemmas=["nonsense x"]), GeometryInputError,
     "lemma 'nonsense x'"),
    ("check_search: not a SearchResult", lambda: check_search("found"), GeometryInputError,
     "expected a SearchResult"),
    ("check_search: an unsolved search", lambda: check_search(unsolved()), GeometryInputError,
     "did not solve"),
    # the search
    ("search: a str, not a Problem", lambda: search(ORTHO), TypeError, "problem"),
    ("candidates: a str, not a Problem", lambda: candidates(ORTHO), TypeError, "problem"),
    *[(f"search: {key}={value!r}", lambda k=key, v=value: search(ortho(), **{k: v}), exc, key)
      for key, value, exc in SEARCH_ARGS],
    ("search: executor a str", lambda: search(ortho(), executor="tcp://localhost:8786"),
     TypeError, "executor must be a concurrent.futures.Executor"),
    ("search: proposer a str", lambda: search(ortho(), timeout=5, proposer="lm"), TypeError,
     "proposer must be callable"),
    ("search: a proposer with too few scores",
     lambda: search(ortho(), timeout=5, proposer=lambda problem, diagram, cands: [1.0]),
     ValueError, "returned 1 scores"),
    ("search: no goal", lambda: search(parse_problem(TRIANGLE)), GeometryInputError, "no goal"),
    ("search: a goal the language does not have", lambda: search(odd_goal(ORTHO)),
     GeometryInputError, "'tangent'"),
    ("candidates: diagram a str", lambda: candidates(ortho(), diagram="nope"), TypeError,
     "diagram"),
    ("candidates: limit -1", lambda: candidates(ortho(), limit=-1), ValueError, "limit"),
    ("random_proposer: seed -1", lambda: random_proposer(-1), ValueError,
     "seed must be an int"),
    ("search_proof_holds: not a SearchResult", lambda: search_proof_holds("nope"), TypeError,
     "SearchResult"),
    ("search_proof_holds: an unsolved search", lambda: search_proof_holds(unsolved()),
     ValueError, "did not solve"),
    # synthetic theorems
    ("sample_premises: rng an int", lambda: sample_premises(0), TypeError, "rng"),
    ("sample_premises: n_steps 99", lambda: sample_premises(np.random.default_rng(0), n_steps=99),
     ValueError, "n_steps"),
    ("sample_premises: n_steps -1",
     lambda: sample_premises(np.random.default_rng(0), n_steps=-1), ValueError, "n_steps"),
    ("statement_clauses: a point not in the problem",
     lambda: statement_clauses(parse_problem(STATEMENT), ["z"]), GeometryInputError,
     "not in the problem"),
    ("statement_clauses: a str, not a Problem", lambda: statement_clauses(TRIANGLE, ["a"]),
     TypeError, "problem"),
    ("examples_from: a str, not a Problem", lambda: examples_from(TRIANGLE), TypeError,
     "premises"),
    ("examples_from: timeout 0", lambda: examples_from(parse_problem(TRIANGLE), timeout=0),
     ValueError, "timeout"),
    ("examples_from: timeout a str", lambda: examples_from(parse_problem(TRIANGLE), timeout="1"),
     TypeError, "timeout"),
    *[(f"generate: {kw}", lambda kw=kw: generate(**kw), exc, name)
      for kw, exc, name in [({"n": -1}, ValueError, "n"), ({"n": True}, TypeError, "n"),
                            ({"n": 1, "seed": -1}, ValueError, "seed"),
                            ({"n": 1, "timeout": 0}, ValueError, "timeout"),
                            ({"n": 1, "timeout": float("inf")}, ValueError, "timeout")]],
    ("read_jsonl: no such file", lambda: read_jsonl(NOT_A_FILE), FileNotFoundError,
     "no such file"),
    ("write_jsonl: dicts, not SynthExamples",
     lambda: write_jsonl([{"problem": "x"}], NOT_A_FILE), TypeError, "SynthExample"),
    # the learned proposer
    ("candidate_features: a str, not a Problem",
     lambda: candidate_features(STATEMENT, statement_diagram(), []), TypeError, "problem"),
    ("candidate_features: diagram None",
     lambda: candidate_features(parse_problem(STATEMENT), None, []), TypeError, "diagram"),
    ("training_data: not SynthExamples", lambda: training_data(["not an example"]), TypeError,
     "SynthExample"),
    ("ranking_metrics: one score array for three groups",
     lambda: ranking_metrics(toy(), [np.zeros(4)]), ValueError, "scores"),
    ("ranking_metrics: a list, not RankingData", lambda: ranking_metrics([1, 2]), TypeError,
     "RankingData"),
    *[(f"train_proposer: {key}={value!r}", lambda k=key, v=value: train_proposer(toy(), **{k: v}),
       ValueError, key) for key, value in [("holdout", 1.0), ("hidden", 0), ("epochs", 0)]],
    ("train_proposer: one group", lambda: train_proposer(toy(groups=1)), ValueError,
     "at least 2"),
    ("train_proposer: a list, not RankingData", lambda: train_proposer([]), TypeError,
     "RankingData"),
    ("load_proposer: no such file", lambda: load_proposer(NOT_A_FILE), FileNotFoundError,
     "no such file"),
    ("learned_proposer: other features", lambda: learned_proposer(model_with(features=["x"])),
     ValueError, "other features"),
    ("learned_proposer: an int", lambda: learned_proposer(42), TypeError, "int"),
    ("save_proposer: a model without its weights",
     lambda: save_proposer({"features": list(FEATURES)}, NOT_A_FILE), ValueError, "lacks"),
]


test_bad_input_is_refused_with_a_clear_error = refusal_test(CASES)
