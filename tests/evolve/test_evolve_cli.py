"""`python -m readingroom.evolve`: bad input, the sandbox report, a real run, and a real run
killed with SIGKILL that resumes from its database without losing an evaluation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from readingroom.evolve.__main__ import main
from readingroom.evolve.database import ProgramDatabase
from readingroom.evolve.loop import DIFF_FAILED
from readingroom.evolve.problems import circle_packing


@pytest.mark.parametrize("argv", [["run", "sudoku"], ["run", "circle-packing", "--budget", "0"],
                                  ["run", "circle-packing", "--seed", "-3"], []])
def test_bad_arguments_exit_with_status_2(argv):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2


def _usage_error(argv, capsys) -> str:
    """Run the CLI on ``argv``, expecting a usage error (status 2); return its stderr."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_a_bad_proposer_or_cluster_is_a_usage_error(tmp_path, capsys):
    db = str(tmp_path / "x.db")
    assert "error:" in _usage_error(["run", "circle-packing", "--proposer", "gpt", "--db", db],
                                    capsys)
    assert "error:" in _usage_error(["run", "circle-packing", "--cluster", "not-an-address",
                                     "--db", db], capsys)


def test_sandbox_command_reports_the_layer(capsys):
    assert main(["sandbox"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["layer"] in ("bwrap", "unshare", "rlimits-only")
    assert report["layer"] == report["available"][0]


def _evaluated(db_path, n):
    problem = circle_packing(n)
    db = ProgramDatabase(db_path, features=dict(problem.features), islands=2, seed=0)
    done = {p.id: (p.code, p.score, p.status) for p in db.children()
            if not (p.reason or "").startswith(DIFF_FAILED)}
    db.close()
    return done


def test_a_run_killed_with_sigkill_resumes_from_its_file(tmp_path):
    db = tmp_path / "run.db"
    argv = [sys.executable, "-m", "readingroom.evolve", "run", "circle-packing", "--n", "6",
            "--budget", "40", "--islands", "2", "--workers", "1", "--db", str(db),
            "--no-progress"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            time.sleep(0.5)
            if db.exists() and len(_evaluated(db, 6)) >= 3:
                break
        else:
            pytest.fail("the run evaluated fewer than 3 programs in 120 s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: the run and its pool
        proc.wait()
    before = _evaluated(db, 6)
    assert len(before) >= 3
    budget = len(before) + 2
    assert main(["run", "circle-packing", "--n", "6", "--budget", str(budget), "--islands", "2",
                 "--workers", "1", "--db", str(db), "--no-progress"]) == 0
    after = _evaluated(db, 6)
    assert len(after) == budget
    assert all(after[i] == before[i] for i in before)  # nothing evaluated was lost or changed


@pytest.mark.parametrize("extra", [["--time-budget", "-1"], ["--time-budget", "nan"],
                                   ["--time-budget", "90", "--timeout", "60"]])
def test_a_bad_time_budget_is_a_usage_error(tmp_path, capsys, extra):
    db = str(tmp_path / "x.db")
    assert "time_budget_s" in _usage_error(["run", "circle-packing", "--n", "6", "--db", db,
                                            *extra], capsys)


def test_a_search_mode_run_writes_its_curve(tmp_path, capsys):
    db, out = tmp_path / "run.db", tmp_path / "run.json"
    argv = ["run", "circle-packing", "--n", "6", "--budget", "3", "--islands", "1",
            "--workers", "1", "--time-budget", "0.5", "--db", str(db), "--out", str(out),
            "--no-progress"]
    assert main(argv) == 0
    summary = json.loads(out.read_text())
    assert summary["evaluations"] == 3
    assert len(summary["curve"]) == len(summary["elapsed_s"]) == len(summary["cpu_s"]) == 3
    assert summary["curve"] == sorted(summary["curve"]) and summary["curve"][-1] <= \
        summary["best_score"]
    assert summary["elapsed_s"] == sorted(summary["elapsed_s"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["evaluations"] == 3
    problem = circle_packing(6)
    pdb = ProgramDatabase(db, features=dict(problem.features), islands=1, seed=0)
    assert all("packing" in p.metrics for p in pdb.children() if p.status == "ok")
    pdb.close()


def test_a_resumed_run_says_where_it_resumed_and_keeps_its_best_construction(tmp_path, capsys):
    from readingroom.evolve import check_packing

    db, out = tmp_path / "run.db", tmp_path / "run.json"
    common = ["run", "circle-packing", "--n", "6", "--islands", "1", "--workers", "1",
              "--time-budget", "0.3", "--db", str(db), "--out", str(out), "--no-progress"]
    assert main([*common, "--budget", "2"]) == 0
    first = json.loads(out.read_text())
    assert first["resumed_at"] is None  # a fresh file
    assert main([*common, "--budget", "4"]) == 0  # the same command, a larger budget: resumes
    second = json.loads(out.read_text())
    assert second["resumed_at"] == 2 and second["evaluations"] == 4
    assert second["provenance"]["command"].startswith("python -m readingroom.evolve run")
    packing = second["best_metrics"]["packing"]
    check = check_packing(packing, 6)  # the record's construction passes the exact checker
    assert check.ok and check.score == second["best_score"]
