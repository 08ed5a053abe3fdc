"""Every benchmark script still runs: `--quick` on a tiny CPU problem, JSON checked for provenance.

This does not measure speed (the book never times anything in a test); it keeps the scripts that
produce the book's GPU numbers from rotting while no GPU is around.
"""

from __future__ import annotations

import json
import os
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


def test_busy_processes_compete_as_separate_programs(monkeypatch):
    # With Linux's autogroup the CPU is shared between sessions first: busy loops in the
    # benchmark's own session would take one share between them, not one each.
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import bench_threads

    with bench_threads.busy_processes(2) as procs:
        sessions = {os.getsid(p.pid) for p in procs}
        assert len(sessions) == 2 and os.getsid(0) not in sessions
        assert all(p.poll() is None for p in procs)  # spinning while the block runs
    assert all(p.poll() is not None for p in procs)  # and stopped after it
