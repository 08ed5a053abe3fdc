"""benchmarks/evolve_baselines.py still runs and records what it claims (a tiny problem)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from readingroom.evolve import check_packing

ROOT = Path(__file__).resolve().parents[2]


def test_baselines_script_runs_every_method_on_a_tiny_problem(tmp_path):
    out = tmp_path / "baselines.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "evolve_baselines.py"), "--n", "5",
         "--budget", "3", "--workers", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads(out.read_text())
    assert record["provenance"]["command"].startswith("python benchmarks/evolve_baselines.py")
    methods = record["methods"]
    assert set(methods) == {"multistart_slsqp", "basin_hopping", "seed", "evolution"}
    for name in ("multistart_slsqp", "basin_hopping"):
        assert methods[name]["checked"] and len(methods[name]["curve"]) == 3
        assert check_packing(methods[name]["best"], 5).score == methods[name]["score"]
    assert methods["evolution"]["evaluations"] == 3 and len(methods["evolution"]["curve"]) == 3
    assert methods["evolution"]["score"] >= methods["seed"]["score"]


def test_baselines_script_gives_every_method_the_same_cpu_seconds(tmp_path):
    out = tmp_path / "seconds.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "evolve_baselines.py"), "--n", "5",
         "--seconds", "4", "--time-budget", "0.5", "--islands", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads(out.read_text())
    assert record["kind"] == "cpu_seconds" and record["seconds"] == 4.0
    methods = record["methods"]
    assert set(methods) == {"multistart_slsqp", "basin_hopping", "seed_chain", "evolution"}
    for name, row in methods.items():
        assert row["checked"], name
        assert check_packing(row["best"], 5).score == row["score"]
        assert row["evaluations"] == len(row["curve"]) == len(row["times"]) >= 1
        assert row["times"] == sorted(row["times"]) and row["cpu_s"] <= 4.0 + 1.0, name
    for name in ("seed_chain", "evolution"):     # no evaluation that would run past the budget
        assert methods[name]["times"][-1] <= 4.0 + 1.0 and methods[name]["evaluations"] >= 2


def test_baselines_script_refuses_two_budgets(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "evolve_baselines.py"), "--budget", "3",
         "--seconds", "5", "--out", str(tmp_path / "x.json")],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2 and "not both" in proc.stderr
