"""The AlphaEvolve chapter's committed records: made by the commands it quotes, from a clean
checkout, on one thread, and every recorded construction passes today's exact checkers."""

from __future__ import annotations

import pytest

from readingroom.common import load_book_data
from readingroom.evolve import check_decomposition, check_packing

SEEDS = (0, 1, 2)
METHODS = ("multistart_slsqp", "basin_hopping", "seed_chain", "evolution",
           "evolution_no_diversity")


def _clean(provenance: dict) -> None:
    assert provenance["threads"] == 1
    assert provenance["code_version"] is not None and not provenance["code_version"]["dirty"]


@pytest.mark.parametrize("seed", SEEDS)
def test_baseline_records(seed):
    record = load_book_data(f"evolve/baselines_seed{seed}.json")
    _clean(record["provenance"])
    assert record["provenance"]["command"] == (
        f"python benchmarks/evolve_baselines.py --seconds 120 --time-budget 2 --islands 2 "
        f"--seed {seed} --methods {','.join(METHODS)} --out "
        f"book/data/evolve/baselines_seed{seed}.json")
    assert record["n"] == 26 and record["seconds"] == 120.0 and record["time_budget_s"] == 2.0
    assert set(record["methods"]) == set(METHODS)
    for name, row in record["methods"].items():
        check = check_packing(row["best"], 26)
        assert check.ok and check.score == row["score"], name
        assert row["cpu_s"] <= record["seconds"] + record["time_budget_s"]
        assert row["curve"][-1] == row["score"], name  # the curve ends at the recorded best


def test_matmul_record():
    record = load_book_data("evolve/matmul.json")
    _clean(record["provenance"])
    assert record["provenance"]["command"] == "python benchmarks/evolve_matmul.py"
    assert record["settings"] == {"budget": 40, "trials": 3, "check_trials": 40, "islands": 2}
    assert [run["seed"] for run in record["runs"]] == list(SEEDS)
    assert record["seed_program"]["rank6"]["exact"] == 0
    for run in record["runs"]:
        assert run["evaluations"] == record["settings"]["budget"]
        assert run["check"]["trials"] == record["settings"]["check_trials"]


def test_the_verifier_the_records_rely_on_still_rejects_a_wrong_algorithm():
    from readingroom.evolve import strassen

    factors = strassen()
    assert check_decomposition(factors, 2, 2, 2).ok
    factors["W"] = factors["W"].copy()
    factors["W"][0, 0] += 1
    assert not check_decomposition(factors, 2, 2, 2).ok


def test_long_cli_run_record():
    record = load_book_data("evolve/long_run.json")
    _clean(record["provenance"])
    assert record["provenance"]["command"] == (
        "python -m readingroom.evolve run circle-packing --budget 200 --seed 2 --workers 2 "
        "--db evolve-long.db --out book/data/evolve/long_run.json --no-progress")
    assert record["evaluations"] == 200 == len(record["curve"])
    check = check_packing(record["best_metrics"]["packing"], 26)
    assert check.ok and check.score == record["best_score"] == record["curve"][-1]


def test_long_cli_run_record_for_32_circles():
    record = load_book_data("evolve/long_run_n32.json")
    _clean(record["provenance"])
    assert record["provenance"]["command"] == (
        "python -m readingroom.evolve run circle-packing --n 32 --budget 360 --seed 0 "
        "--workers 1 --db evolve-n32.db --out book/data/evolve/long_run_n32.json --no-progress")
    assert record["problem"] == "circle-packing-32"
    assert record["evaluations"] == 360 == len(record["curve"])
    check = check_packing(record["best_metrics"]["packing"], 32)
    assert check.ok and check.score == record["best_score"] == record["curve"][-1]


def test_openevolve_record():
    record = load_book_data("evolve/openevolve.json")
    _clean(record["provenance"])
    assert record["provenance"]["command"].startswith("python benchmarks/evolve_openevolve.py ")
    assert record["n"] == 26 and [run["seed"] for run in record["runs"]] == record["seeds"]
    for run in record["runs"]:
        for system in ("readingroom", "openevolve"):
            check = check_packing(run[system]["best_packing"], 26)
            assert check.ok and check.score == run[system]["best_score"], (run["seed"], system)
        assert run["readingroom"]["evaluations"] == record["budget"]


def test_jitter_record():
    record = load_book_data("evolve/jitter.json")
    _clean(record["provenance"])
    assert record["provenance"]["command"] == (
        "python benchmarks/evolve_jitter.py --n 26 --budget 40 --seeds 0 1 2 3 4 "
        "--out book/data/evolve/jitter.json")
    for arm in ("jitter", "no_jitter"):
        assert [r["seed"] for r in record["runs"][arm]] == record["seeds"]
        assert all(r["calls"] == record["budget"] for r in record["runs"][arm])


def test_long_cli_run_record_of_400_evaluations():
    record = load_book_data("evolve/long_run_400.json")
    _clean(record["provenance"])
    assert record["provenance"]["command"] == (
        "python -m readingroom.evolve run circle-packing --budget 400 --seed 0 --workers 1 "
        "--db evolve-26-400.db --out book/data/evolve/long_run_400.json --no-progress")
    assert record["evaluations"] == 400 == len(record["curve"]) and not record["resumed_at"]
    check = check_packing(record["best_metrics"]["packing"], 26)
    assert check.ok and check.score == record["best_score"] == record["curve"][-1]
