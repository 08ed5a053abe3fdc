"""The circle-packing problem as the loop sees it."""

from __future__ import annotations

import pickle

import pytest

from readingroom.evolve.circles import SEED_PROGRAM
from readingroom.evolve.problems import circle_packing, evaluate_packing, make_problem


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


@pytest.mark.parametrize("call, error", [(lambda: make_problem("sudoku"), ValueError),
                                         (lambda: circle_packing(0), ValueError),
                                         (lambda: circle_packing("26"), TypeError)])
def test_errors(call, error):
    with pytest.raises(error):
        call()
