"""The committed reader loads into today's code and reproduces its recorded precision; the
training command works end to end (quick) and rejects bad arguments."""

import json

import pytest

from readingroom.common import read_record
from readingroom.ocr.__main__ import main
from readingroom.ocr.reader import READER_CONFIG, load_reader, reader_metrics, reader_path


def test_committed_reader_reproduces_its_record() -> None:
    model, record = load_reader(0)
    assert record["seed"] == 0 and record["command"] == "python -m readingroom.ocr train --seed 0"
    assert record["extra"]["config"] == repr(READER_CONFIG)
    assert record["code_version"] and not record["code_version"]["dirty"]
    metrics, readings = reader_metrics(model)
    assert metrics["pages"] == record["metrics"]["pages"]  # pages per mode
    assert len(readings) == metrics["pages"] * len(READER_CONFIG.modes)
    assert {r.mode for r in readings} == set(READER_CONFIG.modes)
    for key, value in metrics.items():
        # greedy decoding: a rounding difference on another CPU may flip a rare argmax
        assert value == pytest.approx(record["metrics"][key], abs=0.01), key


def test_train_command_refuses_a_missing_gpu(tmp_path, capsys) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(SystemExit) as err:
        main(["train", "--quick", "--out", str(tmp_path / "w.safetensors"), "--device", "cuda"])
    assert err.value.code == 2 and "no CUDA device" in capsys.readouterr().err


def test_load_reader_says_how_to_make_missing_weights() -> None:
    assert not reader_path(7).exists()
    with pytest.raises(FileNotFoundError, match="python -m readingroom.ocr train --seed 7"):
        load_reader(7)


def test_train_command_quick_writes_weights_and_record(tmp_path, capsys) -> None:
    out = tmp_path / "quick.safetensors"
    assert main(["train", "--quick", "--out", str(out), "--no-progress", "--seed", "3"]) == 0
    printed = json.loads(capsys.readouterr().out)
    record = read_record(out)
    assert out.is_file() and printed["weights"] == str(out)
    assert record["command"] == "python -m readingroom.ocr train --seed 3 --quick"
    assert record["seed"] == 3 and "Curriculum(" in record["data"]
    assert set(record["metrics"]) == {"final_loss", "train_seconds"}


@pytest.mark.parametrize("argv", [
    ["train", "--quick"],                                  # --quick must not overwrite the book's
    ["train", "--seed", "-1"],
    ["train", "--seed", "x"],
    ["train", "--out", "weights.pt", "--quick"],
    ["train", "--quick", "--out", "w.safetensors", "--device", "tpu!"],
    [],
])
def test_train_command_rejects_bad_arguments(argv, capsys) -> None:
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    assert "error" in capsys.readouterr().err
