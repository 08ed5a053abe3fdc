"""The circle-packing problem as the loop sees it."""

from __future__ import annotations

import pickle


from readingroom.evolve.circles import SEED_PROGRAM
from readingroom.evolve.problems import circle_packing, evaluate_packing, make_problem, packing_of


def test_the_seed_program_scores_with_metrics_and_features():
    out = evaluate_packing(SEED_PROGRAM, 6, timeout_s=60)
    assert out["ok"] and out["score"] == out["metrics"]["sum_radii"] > 0.5
    assert set(out["features"]) == {"radius_spread", "smallest_radius"}
    assert 0 < out["features"]["smallest_radius"] <= max(0.5, out["score"] / 6)


def test_a_failing_program_has_a_reason_and_no_features():
    out = evaluate_packing("def main(n):\n    return {'centers': [], 'radii': []}\n", 6)
    assert not out["ok"] and out["reason"].startswith("check:") and "features" not in out


def test_problem_is_picklable_for_a_process_pool_and_named():
    problem = make_problem("circle-packing", n=26)
    assert problem.name == "circle-packing-26" and "26" in problem.statement
    assert pickle.loads(pickle.dumps(problem.evaluate)).keywords["n"] == 26
    assert set(problem.fragments) >= {"init", "optimise"}


def test_metrics_hold_the_checked_packing_and_the_seconds():
    from readingroom.evolve.circles import check_packing

    out = evaluate_packing(SEED_PROGRAM, 6, timeout_s=60)
    packing = out["metrics"]["packing"]
    assert set(packing) == {"centers", "radii"}
    assert check_packing(packing, 6).score == out["score"]
    assert out["metrics"]["cpu_s"] > 0 and out["metrics"]["wall_s"] > 0
    failed = evaluate_packing("def main(n):\n    raise ValueError('x')\n", 6)
    assert set(failed["metrics"]) <= {"wall_s", "cpu_s"} and "features" not in failed


def test_search_mode_problem_warm_starts_from_the_parent():
    problem = circle_packing(6, timeout_s=30, time_budget_s=0.5)
    assert problem.warm_start is packing_of
    assert "search heuristic" in problem.statement and "0.5 CPU seconds" in problem.statement
    assert pickle.loads(pickle.dumps(problem.evaluate)).keywords["time_budget_s"] == 0.5
    assert circle_packing(6).warm_start is None                 # constructor mode
    first = problem.evaluate(problem.initial_program)
    assert first["ok"], first["reason"]

    class Parent:
        metrics = first["metrics"]

    child = problem.evaluate(problem.initial_program, warm_start=packing_of(Parent()))
    assert child["ok"] and child["score"] >= first["score"]


def test_packing_of():
    class P:
        metrics = {"packing": {"centers": [[0.5, 0.5]], "radii": [0.5]}}

    class Q:
        metrics = None

    assert packing_of(P()) == {"centers": [[0.5, 0.5]], "radii": [0.5]}
    assert packing_of(Q()) is None and packing_of(object()) is None
