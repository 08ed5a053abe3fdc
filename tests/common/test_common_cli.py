"""readingroom.common.cli: the shared options and the exit-code convention of every CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from readingroom.common import cli


def _parser(handler) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="demo")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("go")
    cli.add_seed(p)
    cli.add_seeds(p, default=(3, 4))
    cli.add_out(p)
    cli.add_device(p)
    cli.add_json(p)
    cli.add_quick(p)
    cli.add_no_progress(p)
    p.set_defaults(func=handler)
    return parser


def test_shared_options_parse_with_their_defaults():
    seen = {}

    def handler(args, parser):
        seen.update(vars(args))
        return cli.EXIT_OK

    assert cli.run(_parser(handler), ["go"]) == 0
    assert seen["seed"] == 0 and seen["seeds"] == [3, 4] and seen["out"] is None
    assert seen["device"] == "cpu" and not seen["json"] and not seen["quick"]
    assert not seen["no_progress"]
    assert cli.run(_parser(handler), ["go", "--seed", "7", "--seeds", "1", "--out", "x.json",
                                      "--device", "CUDA:1", "--json", "--quick",
                                      "--no-progress"]) == 0
    assert seen["seed"] == 7 and seen["seeds"] == [1] and seen["out"] == Path("x.json")
    assert seen["device"] == "cuda:1" and seen["json"] and seen["quick"] and seen["no_progress"]


def test_required_seeds():
    p = argparse.ArgumentParser()
    cli.add_seeds(p, default=None)
    with pytest.raises(SystemExit) as info:
        p.parse_args([])
    assert info.value.code == cli.EXIT_BAD_INPUT


@pytest.mark.parametrize("argv, message", [
    (["go", "--seed", "-1"], "--seed"),
    (["go", "--seeds", "x"], "--seeds"),
    (["go", "--device", "tpu"], "--device"),
    (["go", "--device", "cpu:0"], "--device"),
    (["go", "--device", "cuda:x"], "--device"),
    ([], "a command is required"),
])
def test_bad_options_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.run(_parser(lambda args, parser: 0), argv)
    assert info.value.code == cli.EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("error", [TypeError("n must be an int"), ValueError("n must be > 0")])
def test_library_errors_become_usage_errors(error, capsys):
    def handler(args, parser):
        raise error

    with pytest.raises(SystemExit) as info:
        cli.run(_parser(handler), ["go"])
    assert info.value.code == cli.EXIT_BAD_INPUT
    assert str(error) in capsys.readouterr().err


def test_other_errors_are_not_swallowed():
    def handler(args, parser):
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        cli.run(_parser(handler), ["go"])


def test_exit_status_of_the_handler_is_returned():
    assert cli.run(_parser(lambda args, parser: cli.EXIT_NEGATIVE), ["go"]) == 1
    assert cli.run(_parser(lambda args, parser: None), ["go"]) == 0


def test_run_applies_the_thread_policy(monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        cli.run(_parser(lambda args, parser: 0), ["go"], threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_quick_needs_out(capsys):
    parser = _parser(lambda args, parser: 0)
    args = parser.parse_args(["go", "--quick"])
    with pytest.raises(SystemExit) as info:
        cli.quick_needs_out(args, parser)
    assert info.value.code == 2 and "--quick needs --out" in capsys.readouterr().err
    cli.quick_needs_out(parser.parse_args(["go", "--quick", "--out", "x"]), parser)
    cli.quick_needs_out(parser.parse_args(["go"]), parser)


def test_write_json_makes_the_folder(tmp_path):
    path = cli.write_json(tmp_path / "a" / "b.json", {"x": [1, 2]})
    text = path.read_text()
    assert json.loads(text) == {"x": [1, 2]} and text.endswith("\n") and '\n "x"' in text


def test_resolve_device(monkeypatch):
    import torch

    monkeypatch.delenv("READINGROOM_DEVICE", raising=False)
    assert cli.resolve_device("cpu") == torch.device("cpu")
    assert cli.resolve_device(" CPU ") == torch.device("cpu")
    auto = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert cli.resolve_device("auto") == auto
    monkeypatch.setenv("READINGROOM_DEVICE", "cpu")  # auto is pick_device's choice: the variable
    assert cli.resolve_device("auto") == torch.device("cpu")


def test_resolve_device_takes_a_cuda_device_the_machine_has(monkeypatch):
    import torch

    # a device the machine lacks is refused in test_common_bad_input
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert cli.resolve_device("cuda:1") == torch.device("cuda:1")


def test_resolve_device_errors_are_usage_errors_under_run(monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as info:
        cli.run(_parser(lambda args, parser: cli.resolve_device(args.device) and 0),
                ["go", "--device", "cuda"])
    assert info.value.code == cli.EXIT_BAD_INPUT
    assert "--device cuda: no CUDA device" in capsys.readouterr().err
