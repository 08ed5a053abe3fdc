"""Tests for readingroom.common.seed."""

import random

import numpy as np
import torch

from readingroom.common import make_generator, seed_everything
from readingroom.common.seed import MAX_SEED


def _draw() -> tuple[float, float, torch.Tensor]:
    return random.random(), float(np.random.rand()), torch.rand(3)


def test_seed_everything_returns_seed_and_repeats_all_generators():
    assert seed_everything(123) == 123
    first = _draw()
    seed_everything(123)
    second = _draw()
    assert first[0] == second[0]
    assert first[1] == second[1]
    assert torch.equal(first[2], second[2])


def test_seed_everything_different_seeds_differ():
    seed_everything(1)
    a = torch.rand(5)
    seed_everything(2)
    assert not torch.equal(a, torch.rand(5))


def test_seed_everything_accepts_range_ends_and_numpy_ints():
    assert seed_everything(0) == 0
    assert seed_everything(MAX_SEED) == 2**32 - 1
    result = seed_everything(np.int64(7))
    assert result == 7 and type(result) is int


def test_make_generator_is_repeatable_and_leaves_global_state_alone():
    seed_everything(0)
    state = torch.get_rng_state()
    a = torch.rand(4, generator=make_generator(5))
    b = torch.rand(4, generator=make_generator(5, device=torch.device("cpu")))
    assert torch.equal(a, b)
    assert not torch.equal(a, torch.rand(4, generator=make_generator(6)))
    assert torch.equal(state, torch.get_rng_state())
