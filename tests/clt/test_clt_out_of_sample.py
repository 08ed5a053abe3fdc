"""Tests for the out-of-sample split of readingroom.clt.experiments (``hold_out_cities``) and the
measures the chapter compares in and out of sample (``sample_measures``)."""

from __future__ import annotations

import math

import pytest

from readingroom.clt import STATES, CLTConfig, ModelAdapter, Prompt, train_clt
from readingroom.clt.experiments import (
    activation_dataset, agreement, hold_out_cities, sample_measures, state_swap,
    feature_activations,
)

SAMPLE_KEYS = {"nmse", "nmse_max", "l0", "agreement", "replacement", "completeness", "swap_rate"}


def _cities(prompts) -> set:
    return {p.info["city"] for p in prompts if "city" in p.info}


# --------------------------------------------------------------------------- hold_out_cities


def test_split_holds_out_both_questions_of_one_city_per_state(world):
    fit, held = hold_out_cities(world.prompts, seed=0)
    held_cities = _cities(held)
    assert len(held_cities) == len(STATES)  # one per state
    assert {p.info["state"] for p in held} == set(STATES)
    assert len(held) == 2 * len(STATES)  # the state: and the capital: question of each
    assert {p.task for p in held} == {"state", "capital"}
    assert not held_cities & _cities(fit), "a held-out city must not reach the fit set"
    assert len(fit) + len(held) == len(world.prompts)
    assert all(p.task == "add" for p in fit if "city" not in p.info)
    assert sum(p.task == "add" for p in fit) == len(world.select("add"))  # addition stays fitted
    # the prompts' order is kept on both sides
    order = {id(p): k for k, p in enumerate(world.prompts)}
    assert [order[id(p)] for p in fit] == sorted(order[id(p)] for p in fit)
    assert [order[id(p)] for p in held] == sorted(order[id(p)] for p in held)


def test_split_is_seeded(world):
    a = _cities(hold_out_cities(world.prompts, seed=3)[1])
    assert a == _cities(hold_out_cities(world.prompts, seed=3)[1])
    assert any(_cities(hold_out_cities(world.prompts, seed=s)[1]) != a for s in range(4, 9))


def test_split_per_state_two_leaves_one_city_per_state(world):
    fit, held = hold_out_cities(world.prompts, per_state=2, seed=1)
    assert len(_cities(held)) == 2 * len(STATES)
    for state, (cities, _) in STATES.items():
        assert len(set(cities) & _cities(fit)) == 1, state


def test_split_explicit_cities_and_a_whole_state(world):
    fit, held = hold_out_cities(world.prompts, cities=["Dallas", "Chicago"])
    assert _cities(held) == {"Dallas", "Chicago"} and len(held) == 4
    texas = STATES["Texas"][0]
    fit, held = hold_out_cities(world.prompts, cities=texas)
    assert {p.info["state"] for p in held} == {"Texas"}
    assert "Texas" not in {p.info.get("state") for p in fit}


# --------------------------------------------------------------------------- sample_measures


@pytest.fixture(scope="module")
def adapter(trained_tiny):
    return ModelAdapter(trained_tiny)


@pytest.fixture(scope="module")
def split(world):
    fit, held = hold_out_cities(world.prompts, seed=0)
    return fit, held, [p for p in fit if "city" in p.info]


@pytest.fixture(scope="module")
def split_clt(adapter, split):
    x, y = activation_dataset(adapter, split[0])
    config = CLTConfig(n_layers=2, d_model=adapter.d_model, n_features=24, sparsity=3e-3)
    clt, _ = train_clt(x, y, config, steps=200, batch_size=128, progress=False)
    return clt


@pytest.fixture(scope="module")
def measures(world, adapter, split_clt, split):
    _, held, fit_cities = split
    return (sample_measures(world, adapter, split_clt, fit_cities, fit_cities),
            sample_measures(world, adapter, split_clt, held, fit_cities))


def test_sample_measures_keys_and_ranges(measures):
    for m in measures:
        assert set(m) == SAMPLE_KEYS
        assert all(isinstance(v, float) for v in m.values())
        assert m["nmse"] <= m["nmse_max"]
        for k in ("agreement", "replacement", "completeness", "swap_rate"):
            assert 0 <= m[k] <= 1, (k, m[k])


def test_sample_measures_match_the_pieces(world, adapter, split_clt, split, measures):
    _, held, fit_cities = split
    out = measures[1]
    assert out["agreement"] == agreement(adapter, split_clt, held)
    acts = feature_activations(adapter, split_clt, fit_cities)
    capitals = [p for p in held if p.task == "capital"]
    swaps = [state_swap(world, adapter, split_clt, fit_cities, acts, p, s, suppress=-1.0,
                        inject=2.0).swap_worked
             for p in capitals for s in STATES if s != p.info["state"]]
    assert len(swaps) == len(capitals) * (len(STATES) - 1)
    assert out["swap_rate"] == sum(swaps) / len(swaps)


def test_held_out_reconstruction_is_worse(measures):
    """The tiny CLT never saw the held-out cities' tokens: it reconstructs them worse."""
    ins, out = measures
    assert out["nmse"] > ins["nmse"], (ins["nmse"], out["nmse"])


def test_sample_measures_skip_the_swap_of_a_held_out_state(world, adapter, split_clt):
    texas = STATES["Texas"][0]
    fit, held = hold_out_cities(world.prompts, cities=texas)
    fit_cities = [p for p in fit if "city" in p.info]
    m = sample_measures(world, adapter, split_clt, held, fit_cities)
    assert math.isnan(m["swap_rate"])
    assert 0 <= m["agreement"] <= 1


def test_split_returns_the_prompts_themselves(world):
    fit, held = hold_out_cities(world.prompts)
    assert all(isinstance(p, Prompt) for p in fit + held)
    ids = {id(q) for q in world.prompts}
    assert all(id(p) in ids for p in fit + held)
