"""The committed retrieval runs (book/data/nsa/) still match today's code.

``python -m readingroom.nsa recall --seed S`` wrote them; the chapter quotes their accuracies and
loads seed 0's weights. If a change to the NSA code, the task or the recipe breaks them, these
tests fail instead of the book silently quoting numbers the code no longer produces.
"""

from __future__ import annotations

import pytest

import readingroom.nsa.experiments as experiments
from readingroom.common import load_book_data
from readingroom.nsa import KINDS, RECALL_RECIPE, load_recall

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
    # check=True: today's code must score the held-out set within 0.01 of the weights' record ...
    model, record = load_recall(kind, 0, check=True)
    assert not model.training and record["extra"]["kind"] == kind
    # ... which is the accuracy the seed's summary (and so the chapter) quotes.
    summary = load_book_data("nsa/recall_seed0.json")
    assert record["metrics"]["accuracy"] == summary["runs"][kind]["accuracy"]


def test_load_recall_names_the_command_for_missing_weights():
    with pytest.raises(FileNotFoundError, match=r"recall --seed 7 --weights"):
        load_recall("nsa", 7)


def test_load_recall_refuses_weights_of_another_recipe_or_kind(tmp_path, monkeypatch):
    import json
    import shutil

    for kind in ("nsa", "window"):
        source = experiments.recall_path(0, kind)
        shutil.copy(source, tmp_path / source.name)
        shutil.copy(source.with_suffix(".json"), tmp_path / source.with_suffix(".json").name)
    record_path = tmp_path / "recall_nsa_seed0.json"
    record = json.loads(record_path.read_text())
    record["extra"]["recipe"] = record["extra"]["recipe"].replace("steps=2000", "steps=1000")
    record_path.write_text(json.dumps(record))
    monkeypatch.setattr(experiments, "recall_path",
                        lambda seed, kind=None: tmp_path / f"recall_{kind}_seed{seed}.safetensors")
    with pytest.raises(ValueError, match="with the recipe"):
        load_recall("nsa", 0)
    model, _ = load_recall("window", 0)  # the untouched copy loads
    assert not model.training
    # a file saved as one kind cannot be loaded as another
    shutil.copy(tmp_path / "recall_window_seed0.safetensors", tmp_path / "recall_full_seed0.safetensors")
    shutil.copy(tmp_path / "recall_window_seed0.json", tmp_path / "recall_full_seed0.json")
    with pytest.raises(ValueError, match="trained as 'window'"):
        load_recall("full", 0)
