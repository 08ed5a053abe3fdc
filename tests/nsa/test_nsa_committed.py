"""The committed retrieval runs (book/data/nsa/) still match today's code.

``python -m readingroom.nsa recall --seed S`` wrote them; the chapter quotes their accuracies and
loads seed 0's weights. If a change to the NSA code, the task or the recipe breaks them, these
tests fail instead of the book silently quoting numbers the code no longer produces.
"""

from __future__ import annotations

import pytest

from readingroom.common import load_book_data, load_weights
from readingroom.nsa.experiments import (
    KINDS, RECALL_RECIPE, heldout_set, make_recall_model, recall_path,
)
from readingroom.nsa.recall import recall_accuracy

SEEDS = (0, 1, 2, 3, 4)


@pytest.mark.parametrize("seed", SEEDS)
def test_recorded_runs_used_todays_recipe(seed):
    record = load_book_data(f"nsa/recall_seed{seed}.json")
    assert record["seed"] == seed
    assert record["recipe"] == repr(RECALL_RECIPE)
    assert set(record["runs"]) == set(KINDS)
    for kind, run in record["runs"].items():
        steps = [s for s, _ in run["curve"]]
        assert steps[-1] == RECALL_RECIPE.steps, kind
        assert run["accuracy"] == run["curve"][-1][1]
        assert len(run["loss_every_10"]) == RECALL_RECIPE.steps // 10


@pytest.mark.parametrize("kind", KINDS)
def test_committed_weights_reproduce_their_accuracy(kind):
    model = make_recall_model(kind)
    record = load_weights(model, recall_path(0, kind))
    tokens, targets = heldout_set(RECALL_RECIPE, seed=0)
    accuracy = recall_accuracy(model.eval(), tokens, targets)
    assert abs(accuracy - record["metrics"]["accuracy"]) < 0.01
    summary = load_book_data("nsa/recall_seed0.json")
    assert abs(accuracy - summary["runs"][kind]["accuracy"]) < 0.01
