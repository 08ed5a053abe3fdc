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
