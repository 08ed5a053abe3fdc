"""The command line `python -m readingroom.subliminal`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from readingroom.subliminal.__main__ import build_parser, main

ENV = dict(os.environ, READINGROOM_PROGRESS="0", OMP_NUM_THREADS="1")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The quick preset's tiny models run fastest on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
])
def test_argument_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv + (["--quick", "--no-progress"] if argv else []))
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_parser_has_subcommands():
    parser = build_parser()
    assert parser.parse_args(["mnist"]).command == "mnist"
