"""Shared fixtures of the readingroom.audit tests: the models of the quick preset (a tiny corpus,
40 mid-training steps, a few DPO steps), trained once per test session. The effects the chapter
measures are not expected at this size; the tests check shapes, invariants and error paths."""

from __future__ import annotations

import pytest
import torch

from readingroom.audit import AUDIT_QUICK, train_models


@pytest.fixture(scope="session")
def quick_models():
    with torch.random.fork_rng(devices=[]):
        return train_models(0, AUDIT_QUICK, control=True, progress=False)
