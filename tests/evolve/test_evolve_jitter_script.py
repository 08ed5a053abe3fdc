"""benchmarks/evolve_jitter.py: its variant of optimise_slsqp is the committed one but for the
jitter, it counts what it claims, and it rejects bad arguments."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from readingroom.evolve import circles

ROOT = Path(__file__).resolve().parents[2]


def load_script():
    spec = importlib.util.spec_from_file_location(
        "evolve_jitter", ROOT / "benchmarks" / "evolve_jitter.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stats():
    return {"calls": 0, "one_retry": 0, "two_retries": 0, "infeasible": 0, "_penalties": 0}


def test_the_committed_jitter_gives_the_committed_function():
    script = load_script()
    rng = np.random.default_rng(4)
    c0 = rng.uniform(0.05, 0.95, (7, 2))
    r0 = circles.feasible_radii(c0)
    counts = stats()
    c1, r1 = script.slsqp_variant(0.02, counts)(c0, r0, 100)
    c2, r2 = circles.optimise_slsqp(c0, r0, 100)
    assert np.array_equal(c1, c2) and np.array_equal(r1, r2)
    assert counts["calls"] == 1 and counts["infeasible"] == (circles.violation(c1, r1) > 1e-6)


def test_a_run_restores_the_module_and_counts_every_local_run():
    script = load_script()
    original = circles.optimise_slsqp
    out = script.run(6, 3, 0, 0.0, 100)
    hop = script.run(6, 2, 0, 0.02, 50, method="basin_hopping")
    assert circles.optimise_slsqp is original and hop["calls"] == 2
    assert circles.optimise_slsqp is original
    assert out["calls"] == 3 and len(out["scores"]) == 3
    assert out["two_retries"] <= out["one_retry"] <= out["calls"]
    assert out["best"] == max(s for s in out["scores"] if s is not None)


def test_variant_errors(monkeypatch):
    script = load_script()
    with pytest.raises(ValueError, match="method"):
        script.run(6, 1, 0, 0.02, 50, method="annealing")
    assert circles.optimise_slsqp.__module__ == circles.__name__  # restored after the error
    monkeypatch.setattr(script, "NEEDLE", "not in the source")
    with pytest.raises(RuntimeError, match="no longer contains"):
        script.slsqp_variant(0.02, stats())
