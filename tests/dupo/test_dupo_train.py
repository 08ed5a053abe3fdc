from __future__ import annotations

import json
import subprocess
import sys

import pytest

from readingroom.dupo import DupoRecipe, accuracy, run_arm, run_seed, split_problems
from readingroom.dupo.__main__ import main

TINY = DupoRecipe(d_model=32, sft_steps=30, rl_steps=4, questions=8, eval_every=2, n_test=100)


def test_runs_repeat_with_a_seed_and_share_their_start():
    a = run_arm("dupo", 0, TINY, progress=False)
    b = run_arm("dupo", 0, TINY, progress=False)
    assert a.test_accuracy == b.test_accuracy and a.steps == [0, 2, 4]
    out = run_seed(0, TINY, arms=("sft", "oracle"), progress=False)
    # every arm is measured from the same supervised start
    assert out["arms"]["sft"]["test_accuracy"][0] == out["arms"]["oracle"]["test_accuracy"][0]
    assert 0.0 <= out["separation"]["auroc"] <= 1.0


def test_accuracy_of_the_exact_solver_is_one(exact_solver):
    assert accuracy(exact_solver, split_problems(0)[2][:50]) == 1.0


def test_cli_train_json(capsys, monkeypatch):
    import readingroom.dupo.__main__ as cli

    monkeypatch.setattr(cli, "_recipe", lambda args: TINY)
    assert main(["train", "--arm", "oracle", "--seed", "1", "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["arm"] == "oracle" and out["seed"] == 1 and len(out["test_accuracy"]) == 3


@pytest.mark.parametrize("argv", [["train", "--arm", "ppo"], ["train", "--seed", "-1"],
                                  ["train", "--seed", str(2**32)], ["train", "--rl-steps", "x"],
                                  ["sweep", "--rl-steps", "0"], ["sweep", "--seeds", "-1"],
                                  ["translate", "--seeds", "x"], ["sweep", "--json"],
                                  ["train", "--device", "cpu"], ["fly"], []])
def test_cli_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_module_entry_point_exits_2_without_a_command():
    proc = subprocess.run([sys.executable, "-m", "readingroom.dupo"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "usage: python -m readingroom.dupo" in proc.stderr


def test_cli_sweep_writes_its_record_to_out(tmp_path, capsys, monkeypatch):
    import readingroom.dupo.experiments as experiments

    def fake_run_seed(seed, recipe, progress):
        assert progress is False
        return {"seed": seed, "arms": {"dupo": {"test_accuracy": [0.5, 0.75]}}}

    monkeypatch.setattr(experiments, "run_seed", fake_run_seed)
    out = tmp_path / "sub" / "arms.json"
    assert main(["sweep", "--seeds", "3", "4", "--rl-steps", "7", "--out", str(out),
                 "--no-progress"]) == 0
    record = json.loads(out.read_text())
    assert record["command"] == "python -m readingroom.dupo sweep --seeds 3 4 --rl-steps 7"
    assert record["recipe"]["rl_steps"] == 7 and [r["seed"] for r in record["runs"]] == [3, 4]
    assert f"wrote {out}" in capsys.readouterr().err


def test_dual_accuracy_of_the_exact_solver_is_one(exact_solver):
    from readingroom.dupo import dual_accuracy

    assert dual_accuracy(exact_solver, split_problems(1)[2][:50]) == 1.0
