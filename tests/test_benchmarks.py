"""Every benchmark script still runs: `--quick` on a tiny CPU problem, JSON checked for provenance.

This does not measure speed (the book never times anything in a test); it keeps the scripts that
produce the book's GPU numbers from rotting while no GPU is around.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_benchmark_runs_quick_and_records_provenance(script, tmp_path):
    out = tmp_path / f"{script.stem}.json"
    proc = subprocess.run([sys.executable, str(script), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads(out.read_text())
    for key in ("device", "date_utc", "command", "results"):
        assert record.get(key), f"{script.name} wrote no {key!r}"
    assert record["results"], f"{script.name} measured nothing"
