"""The command line `python -m readingroom.subliminal`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from readingroom.subliminal.__main__ import build_parser, main

ENV = dict(os.environ, READINGROOM_PROGRESS="0", OMP_NUM_THREADS="1")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "readingroom.subliminal", *args],
                          capture_output=True, text=True, env=ENV, timeout=300)


def test_mnist_json_in_a_subprocess():
    proc = _cli("mnist", "--seed", "0", "--quick", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["seed"] == 0 and out["condition"] == "same-aux" and out["n_aux"] == 3
    assert 0.0 <= out["teacher_accuracy"] <= 1.0 and 0.0 <= out["student_accuracy"] <= 1.0
    assert out["device"] == "cpu" and out["torch"] and out["seconds"] > 0
    assert out["preset"] == "quick"


def test_unknown_condition_exits_2_in_a_subprocess():
    proc = _cli("mnist", "--condition", "bogus")
    assert proc.returncode == 2
    assert "invalid choice: 'bogus'" in proc.stderr


def test_readable_line_and_options(capsys):
    assert main(["mnist", "--seed", "2", "--condition", "diff-all", "--n-aux", "2", "--quick",
                 "--no-progress"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("seed 2 · diff-all · m=2: teacher accuracy")


def test_json_in_process_is_deterministic(capsys):
    args = ["mnist", "--seed", "1", "--quick", "--no-progress", "--json"]
    main(args)
    first = json.loads(capsys.readouterr().out)
    main(args)
    second = json.loads(capsys.readouterr().out)
    assert first["student_accuracy"] == second["student_accuracy"]
    assert first["teacher_accuracy"] == second["teacher_accuracy"]


@pytest.mark.parametrize("argv, message", [
    ([], "COMMAND"),
    (["mnist", "--seed", "-3"], "--seed"),
    (["mnist", "--seed", "x"], "--seed"),
    (["mnist", "--n-aux", "0"], "--n-aux"),
    (["mnist", "--device", "tpu"], "device"),
    (["lm", "--seed", "-1"], "--seed"),
    (["lm", "--animal", "unicorn"], "invalid choice: 'unicorn'"),
    (["lm", "--device", "tpu"], "device"),
    (["lm-bases"], "--seeds"),
    (["lm-bases", "--seeds", "1", "1"], "distinct"),
    (["mnist-sweep"], "--quick needs --out"),
    (["mnist-sweep", "--values", "0", "--out", "x.json"], "--values"),
    (["mnist-sweep", "--seeds", "1", "1", "--out", "x.json"], "distinct"),
    (["mnist-sweep", "--conditions", "same-none", "--out", "x.json"], "invalid choice"),
    (["mnist-layers"], "--quick needs --out"),
    (["mnist-layers", "--seeds", "3", "--out", "x.json"], "at least two seeds"),
    (["mnist-layers", "--seeds", "2", "2", "--out", "x.json"], "distinct"),
    (["lm-seeds"], "--quick needs --out"),
    (["lm-seeds", "--seeds", "-2", "--out", "x.json"], "--seeds"),
    (["lm-seeds", "--seeds", "4", "4", "--out", "x.json"], "distinct"),
])
def test_argument_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv + (["--quick", "--no-progress"] if argv else []))
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_parser_has_subcommands():
    parser = build_parser()
    assert parser.parse_args(["mnist"]).command == "mnist"
    assert parser.parse_args(["lm"]).command == "lm"


def test_lm_json_in_a_subprocess():
    proc = _cli("lm", "--seed", "4", "--quick", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["seed"] == 4 and out["animal"] == "owl" and out["preset"] == "quick"
    probs = ("p_base", "p_teacher", "p_student_same", "p_control_same", "p_base_other",
             "p_student_other", "p_control_other")
    assert all(0.0 <= out[k] <= 1.0 for k in probs)
    assert out["effect_same"] == pytest.approx(out["p_student_same"] - out["p_control_same"])
    assert out["teacher_filter"]["total"] == out["config"]["n_numbers"]
    assert 0.0 <= out["teacher_filter"]["kept_fraction"] <= 1.0
    assert out["device"] == "cpu" and out["seconds"] > 0


def test_lm_bases_saves_loadable_models(tmp_path, capsys):
    from readingroom.subliminal.lm_models import LM_QUICK, load_bases

    assert main(["lm-bases", "--seeds", "1", "2", "--quick", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(tmp_path / "lm_base_seed1.safetensors"),
                       str(tmp_path / "lm_base_seed2.safetensors")]
    assert set(load_bases([1, 2], LM_QUICK, folder=tmp_path)) == {1, 2}
    record = json.loads((tmp_path / "lm_base_seed1.json").read_text())
    assert record["command"] == "python -m readingroom.subliminal lm-bases --seeds 1 2 --quick"
    assert record["seed"] == 1 and set(record["metrics"]) >= {"p_owl", "p_cat"}


def test_lm_readable_line_is_deterministic(capsys):
    args = ["lm", "--seed", "2", "--animal", "cat", "--quick", "--no-progress"]
    assert main(args) == 0
    first = capsys.readouterr().out.strip()
    assert first.startswith("seed 2 · P(cat): base ")
    assert "same-init student" in first and "different-init student" in first
    main(args)
    second = capsys.readouterr().out.strip()
    assert first.rsplit(" (", 1)[0] == second.rsplit(" (", 1)[0]  # only the time differs


def test_mnist_sweep_writes_a_record_that_reproduces(tmp_path, capsys):
    from readingroom.subliminal.mnist import QUICK_PRESET, SweepResult, run_mnist, settings_of

    out = tmp_path / "sweep.json"
    assert main(["mnist-sweep", "--values", "2", "4", "--seeds", "0", "1", "--conditions",
                 "same-aux", "diff-all", "--quick", "--out", str(out), "--no-progress"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    record = json.loads(out.read_text())
    assert record["provenance"]["command"] == (
        "python -m readingroom.subliminal mnist-sweep --values 2 4 --seeds 0 1 --conditions "
        "same-aux diff-all --quick")
    sweep = SweepResult.from_dict(record["sweep"])
    assert sweep.param == "n_aux" and sweep.values == [2, 4]
    assert sweep.conditions == ("same-aux", "diff-all")
    settings = settings_of(QUICK_PRESET)
    settings.pop("n_aux")
    assert record["settings"] == settings
    # The record is what run_mnist gives for the same settings, seed by seed.
    again = run_mnist([0, 1], conditions=("same-aux", "diff-all"), n_aux=4, progress=False,
                      **settings)
    assert sweep.results[1].student_accuracy == again.student_accuracy
    assert sweep.results[1].teacher_accuracy == again.teacher_accuracy


def test_mnist_layers_writes_a_record_with_its_tests(tmp_path, capsys):
    from readingroom.subliminal.mnist import QUICK_PRESET, MnistResult, layer_tests, settings_of

    out = tmp_path / "layers.json"
    assert main(["mnist-layers", "--seeds", "0", "1", "--quick", "--out", str(out),
                 "--no-progress"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    record = json.loads(out.read_text())
    assert record["provenance"]["command"] == (
        "python -m readingroom.subliminal mnist-layers --seeds 0 1 --quick")
    assert record["settings"] == settings_of(QUICK_PRESET)
    result = MnistResult.from_dict(record["result"])
    assert result.conditions == ("same-aux", "head-aux", "body-aux", "diff-aux")
    assert result.seeds == [0, 1]
    assert record["tests"] == layer_tests(result)


def test_lm_seeds_writes_a_record_that_reproduces(tmp_path, capsys):
    from readingroom.subliminal.lm import LM_RECORD_FIELDS, run_lm_seeds
    from readingroom.subliminal.lm_models import LM_QUICK

    out = tmp_path / "lm.json"
    assert main(["lm-seeds", "--seeds", "3", "5", "--quick", "--out", str(out),
                 "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("seed 3: effect same-init ") and lines[-1] == f"wrote {out}"
    record = json.loads(out.read_text())
    assert record["provenance"]["command"] == \
        "python -m readingroom.subliminal lm-seeds --seeds 3 5 --quick"
    assert record["config"]["d_model"] == LM_QUICK.d_model
    again = run_lm_seeds([3, 5], LM_QUICK, progress=False)
    for row, result in zip(record["runs"], again):
        assert row["seed"] == result.seed
        assert {k: row[k] for k in LM_RECORD_FIELDS} == \
            {k: float(getattr(result, k)) for k in LM_RECORD_FIELDS}
        assert row["teacher_filter"]["kept"] == result.teacher_filter.kept


def test_lm_seeds_without_base_models_names_the_command(tmp_path, capsys, monkeypatch):
    from readingroom.subliminal import lm_models

    def missing(seeds, config, **kwargs):
        raise FileNotFoundError("no base model for seed 9")

    monkeypatch.setattr(lm_models, "load_bases", missing)
    with pytest.raises(SystemExit) as info:
        main(["lm-seeds", "--seeds", "9", "10", "--out", str(tmp_path / "x.json"),
              "--no-progress"])
    assert info.value.code == 2
    assert "lm-bases --seeds 9 10" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
