"""Synthetic theorems with auxiliary points (readingroom.geometry.synth) and ddar.saturate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from readingroom.geometry import build_diagram, parse_problem
from readingroom.geometry.__main__ import main
from readingroom.geometry.checker import check_proof
from readingroom.geometry.ddar import saturate, solve
from readingroom.geometry.language import Problem
from readingroom.geometry.synth import (
    SynthExample, examples_from, generate, read_jsonl, sample_premises, statement_clauses,
    write_jsonl,
)

# a premise problem known to yield an example that needs its auxiliary point
PREMISES = ("a b c d = trapezoid a b c d; m = midpoint m a d; n = midpoint n b c; "
            "x = midpoint x a c")


@pytest.fixture(scope="module")
def example():
    stats: dict = {}
    out = examples_from(parse_problem(PREMISES), timeout=3.0, per_sample=1, stats=stats)
    assert out, stats
    return out[0]


# --- saturate -----------------------------------------------------------------------------


def test_saturate_derives_facts_without_a_goal():
    r = saturate("a b c = triangle a b c; m = midpoint m a b; n = midpoint n a c", timeout=5)
    assert not r.solved and r.stop in ("saturated", "max_rounds")
    assert any(str(f) == "para b c m n" for f in r.why)
    f = next(f for f in r.why if str(f) == "para b c m n")
    assert r.proof_of(f)[-1].startswith(f"{len(r.proof_of(f))}. para b c m n")


def test_saturate_ignores_a_goal_and_takes_a_diagram():
    p = parse_problem("a b c = triangle a b c; m = midpoint m a b ? cong m a m b")
    d = build_diagram(p, seed=1)
    r = saturate(p, diagram=d, harvest=False)
    assert r.facts >= 3 and r.proof is None


# --- sampling and statements ---------------------------------------------------------------


def test_sample_premises_is_deterministic_and_goalless():
    p1 = sample_premises(np.random.default_rng([0, 5]))
    p2 = sample_premises(np.random.default_rng([0, 5]))
    assert str(p1) == str(p2) and p1.goal is None
    assert len(sample_premises(np.random.default_rng(1), n_steps=3).clauses) == 4
    assert parse_problem(str(p1), p1.name) == p1  # the text round-trips


def test_statement_clauses_closes_over_construction_arguments():
    p = parse_problem("a b c = triangle a b c; d = midpoint d a b; e = midpoint e c d; "
                      "f = foot f a b c")
    assert statement_clauses(p, ["e"]) == [0, 1, 2]
    assert statement_clauses(p, ["f", "a"]) == [0, 3]


# --- examples ------------------------------------------------------------------------------


def test_example_needs_its_aux_point_end_to_end(example):
    assert example.aux and example.aux_points and not example.solved_without_aux
    full = parse_problem(example.problem_with_aux)
    red = parse_problem(example.problem)
    assert set(red.points) | set(example.aux_points) == set(full.points)
    assert str(red.goal) == example.goal == str(full.goal)
    # the problem with the aux clause re-solves and its proof passes the independent checker
    r = solve(full, timeout=10)
    assert r.solved and check_proof(full, r.proof).ok
    assert check_proof(full, example.proof).ok
    # without it DD + AR does not prove the goal
    assert not solve(red, timeout=5).solved
    # the proof mentions the auxiliary point
    assert any(f" {example.aux_points[0]} " in f" {line.split('[')[0]} "
               for line in example.proof)


def test_examples_from_skips_degenerate_premises():
    stats: dict = {}
    p = parse_problem("a b = segment a b; c = midpoint c a b; d = circle d a b c")
    assert examples_from(p, stats=stats, timeout=1) == []
    assert stats["degenerate"] == 1


def test_examples_from_keep_solved():
    p = parse_problem("a b c = triangle a b c; d = midpoint d a b; e = midpoint e a c; "
                      "f = midpoint f b c")
    out = examples_from(p, timeout=2, per_sample=2, require_unsolved=False)
    assert all(isinstance(e, SynthExample) and e.aux for e in out)


def test_generate_is_deterministic_and_counts():
    ex1, st1 = generate(4, seed=2, timeout=1.0, require_unsolved=False)
    ex2, _ = generate(4, seed=2, timeout=1.0, require_unsolved=False)
    assert [e.key() for e in ex1] == [e.key() for e in ex2]
    assert st1["samples"] == 4 and st1["examples"] == len(ex1)
    assert len({e.key() for e in ex1}) == len(ex1)
    assert all(e.seed == 2 and 0 <= e.sample < 4 for e in ex1)


def test_jsonl_round_trip_and_errors(tmp_path, example):
    path = write_jsonl([example, example], tmp_path / "x.jsonl")
    back = read_jsonl(path)
    assert back == [example, example]
    assert json.loads(path.read_text().splitlines()[0])["aux"] == example.aux
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": 1}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1"):  # a malformed record: its line
        read_jsonl(bad)


def test_example_key_ignores_goal_order_of_aux(example):
    assert example.key().startswith(example.problem)
    assert isinstance(parse_problem(example.problem), Problem)


# --- command line ----------------------------------------------------------------------------


def test_cli_synth_writes_jsonl(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    assert main(["synth", "--n", "3", "--seed", "1", "--out", str(out), "--timeout", "1",
                 "--keep-solved", "--no-progress"]) == 0
    assert out.is_file()
    text = capsys.readouterr().out
    assert "examples from 3 samples" in text
    assert len(read_jsonl(out)) == int(text.split()[0])


def test_cli_synth_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["synth", "--n", "1", "--out", str(tmp_path / "no" / "x.jsonl")])
    assert e.value.code == 2 and "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["synth", "--n", "0", "--out", str(tmp_path / "x.jsonl")])
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(tmp_path / "x.jsonl")])
