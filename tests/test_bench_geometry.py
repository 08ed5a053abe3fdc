"""benchmarks/bench_geometry.py: `--quick` writes a complete record, `--problems` reads a file.

tests/test_benchmarks.py already runs every bench_*.py with `--quick` and checks the provenance
fields; this checks what is particular to the geometry benchmark (rows, methods, totals).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from readingroom.geometry.problems import load_problems

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_geometry.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)


def test_quick_run_records_rows_and_totals(tmp_path):
    out = tmp_path / "bench_geometry.json"
    proc = _run("--quick", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads(out.read_text())
    for key in ("device", "date_utc", "command", "results", "totals", "methods", "config"):
        assert record.get(key), key
    assert record["quick"] is True and record["config"]["timeout_s"] == 5
    first = [p.name for p in load_problems()[:5]]
    assert [r["name"] for r in record["results"]] == first
    assert record["methods"][:3] == ["ddar", "search", "random"] and "search" not in record["skipped"]
    assert "newclid" in record["methods"] or "newclid" in record["skipped"]
    for row in record["results"]:
        assert row["difficulty"] == "easy" and row["ddar"]["solved"], row
        for m in record["methods"]:
            assert {"solved", "seconds"} <= set(row[m])
            assert row[m]["checked"] is True and row[m]["checked_steps"] >= 1, row
    assert record["totals"]["problems"] == 5
    assert record["totals"]["ddar"]["solved"] == record["totals"]["ddar"]["checked"] == 5
    assert record["provenance"]["code_version"] is not None
    assert record["totals"]["ddar"]["by_difficulty"] == {"easy": "5/5"}
    assert "midline" in proc.stdout and "solved: ddar 5/5" in proc.stdout


def test_problem_file_and_errors(tmp_path):
    problems = tmp_path / "mine.txt"
    problems.write_text(
        "# two problems\n"
        "mid\na b c = triangle a b c; m = midpoint m a b; n = midpoint n a c ? para m n b c\n"
        "ortho\na b c = triangle a b c; h = on_tline h b a c, on_tline h c a b ? perp a h b c\n")
    out = tmp_path / "out.json"
    proc = _run("--problems", str(problems), "--timeout", "5", "--out", str(out), "--omit-text")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads(out.read_text())
    rows = {r["name"]: r for r in record["results"]}
    assert record["problem_file"] == "mine.txt" and not any("problem" in r for r in rows.values())
    assert set(rows) == {"mid", "ortho"} and rows["mid"]["difficulty"] is None
    assert rows["mid"]["ddar"]["solved"] and not rows["ortho"]["ddar"]["solved"]
    assert rows["ortho"]["search"]["solved"] and rows["ortho"]["search"]["checked"] is True
    assert "checked" not in rows["ortho"]["ddar"]
    assert record["totals"]["ddar"]["by_difficulty"] == {"untagged": "1/2"}
    bad = _run("--timeout", "0", "--out", str(tmp_path / "x.json"))
    assert bad.returncode == 2 and "--timeout" in bad.stderr
