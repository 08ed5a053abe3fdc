"""The committed reader loads into today's code and reproduces its recorded precision; the
training command works end to end (quick) and rejects bad arguments."""

import json

import pytest

from readingroom.common import read_record
from readingroom.ocr.__main__ import main
from readingroom.ocr.reader import READERS, load_reader, reader_metrics, reader_path
from readingroom.ocr.text import corpus_sha256
from readingroom.ocr.train import (
    ALL_MODES_CURRICULUM, NATIVE_CURRICULUM, PAPER_GEOMETRY_CURRICULUM,
    QUICK_PAPER_GEOMETRY_CURRICULUM, READER_CURRICULUM,
)


@pytest.mark.parametrize("kind,flag,curriculum", [
    ("book", "", READER_CURRICULUM),
    ("all-modes", " --curriculum all-modes", ALL_MODES_CURRICULUM),
    ("native", " --curriculum native", NATIVE_CURRICULUM),
    ("paper-geometry", " --curriculum paper-geometry", PAPER_GEOMETRY_CURRICULUM),
])
def test_committed_reader_reproduces_its_record(kind, flag, curriculum) -> None:
    if kind != "book" and not reader_path(0, kind).exists():
        pytest.skip(f"the {kind} reader is not trained yet: "
                    f"python -m readingroom.ocr train --seed 0{flag}")
    model, record = load_reader(0, kind)
    config = READERS[kind][0]
    assert record["seed"] == 0
    assert record["command"] == "python -m readingroom.ocr train --seed 0" + flag
    assert record["extra"]["config"] == repr(config)
    assert record["data"] == repr(curriculum)  # today's recipe is the one that made the file
    assert record["code_version"] and not record["code_version"]["dirty"]
    if kind == "native":  # it starts from the committed book reader, named by its hash
        assert record["extra"]["start"]["sha256"] == read_record(reader_path(0))["sha256"]
    metrics, readings = reader_metrics(model, kind)
    assert metrics["pages"] == record["metrics"]["pages"]  # pages per mode
    assert len(readings) == metrics["pages"] * len(config.modes)
    assert {r.mode for r in readings} == set(config.modes)
    for key, value in metrics.items():
        # greedy decoding: a rounding difference on another CPU may flip a rare argmax
        assert value == pytest.approx(record["metrics"][key], abs=0.01), key


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_train_command_refuses_a_missing_gpu(device, tmp_path, capsys, monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # on any machine
    with pytest.raises(SystemExit) as err:
        main(["train", "--quick", "--out", str(tmp_path / "w.safetensors"), "--device", device])
    assert err.value.code == 2 and "no CUDA device" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_load_reader_says_how_to_make_missing_weights() -> None:
    assert not reader_path(7).exists()
    with pytest.raises(FileNotFoundError, match="python -m readingroom.ocr train --seed 7`"):
        load_reader(7)
    assert reader_path(7, "all-modes").name == "reader_all_modes_seed7.safetensors"
    with pytest.raises(FileNotFoundError, match="train --seed 7 --curriculum all-modes"):
        load_reader(7, "all-modes")


def test_train_command_quick_writes_weights_and_record(tmp_path, capsys) -> None:
    out = tmp_path / "quick.safetensors"
    assert main(["train", "--quick", "--out", str(out), "--no-progress", "--seed", "3"]) == 0
    printed = json.loads(capsys.readouterr().out)
    record = read_record(out)
    assert out.is_file() and printed["weights"] == str(out)
    assert record["command"] == "python -m readingroom.ocr train --seed 3 --quick"
    out2 = tmp_path / "quick_all.safetensors"
    assert main(["train", "--quick", "--out", str(out2), "--no-progress", "--seed", "3",
                 "--curriculum", "all-modes"]) == 0
    capsys.readouterr()
    record2 = read_record(out2)
    assert record2["command"] == ("python -m readingroom.ocr train --seed 3 "
                                  "--curriculum all-modes --quick")
    assert record2["extra"]["config"] == repr(READERS["all-modes"][0])
    out3 = tmp_path / "quick_paper.safetensors"
    assert main(["train", "--quick", "--out", str(out3), "--no-progress", "--seed", "3",
                 "--curriculum", "paper-geometry"]) == 0
    capsys.readouterr()
    record3 = read_record(out3)
    assert record3["extra"]["config"] == repr(READERS["paper-geometry"][0])
    assert record3["data"] == repr(QUICK_PAPER_GEOMETRY_CURRICULUM)
    assert record3["parameters"] > record["parameters"]  # the wider model
    assert record["seed"] == 3 and "Curriculum(" in record["data"]
    assert set(record["metrics"]) == {"final_loss", "train_seconds"}
    assert record["extra"]["corpus_sha256"] == corpus_sha256()  # the text it was trained on


@pytest.mark.parametrize("argv", [
    ["train", "--quick"],                                  # --quick must not overwrite the book's
    ["train", "--seed", "-1"],
    ["train", "--seed", "x"],
    ["train", "--quick", "--out", "w.safetensors", "--curriculum", "tiny"],
    ["train", "--out", "weights.pt", "--quick"],
    ["train", "--quick", "--out", "w.safetensors", "--device", "tpu!"],
    ["train", "--quick", "--out", "w.safetensors", "--device", "cuda:x"],
    ["train", "--seed", str(2**32)],
    ["train", "--quick", "--out", "w.safetensors", "--json"],  # train has no --json
    ["corpus", "--seed", "1"],                             # corpus takes --out only
    ["nope"],
    [],
])
def test_train_command_rejects_bad_arguments(argv, capsys) -> None:
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    assert "error" in capsys.readouterr().err


def test_paper_geometry_reader_has_the_papers_pixels_per_token() -> None:
    """Patch 16 and the 16x compressor: each vision token covers 64 x 64 pixels, as in
    DeepSeek-OCR, so the tiny mode's 128-pixel page is read through 4 tokens."""
    from readingroom.ocr import MiniDeepSeekOCR, get_mode, vision_tokens

    config = READERS["paper-geometry"][0]
    n = vision_tokens("tiny", config.encoder)
    assert n == 4 and get_mode("tiny").size / n ** 0.5 == 64 == 4 * config.encoder.patch_size
    assert MiniDeepSeekOCR(config).encoder.n_tokens("tiny") == 4
    assert reader_path(2, "paper-geometry").name == "reader_paper_geometry_seed2.safetensors"
