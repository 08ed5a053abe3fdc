"""The command line ``python -m readingroom.video``: usage errors, sampling a GIF from the
committed small DiT, a timing probe, and tiny real runs of ``train`` (which resumes from its
checkpoint), ``classifier`` and ``vae`` in temporary folders (the committed files are only read)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from PIL import Image

import readingroom.video.train as train_module
from readingroom.common import read_record
from readingroom.video.__main__ import main
from readingroom.video.committed import (
    classifier_path, dit_path, load_classifier, load_dit_file, load_vae, vae_path, video_data_dir,
)
from readingroom.video.data import VideoSpec

CPU = ["--device", "cpu", "--no-progress"]


@pytest.fixture
def out_with_vae(tmp_path):
    """A fresh --out folder holding a copy of the committed VAE (weights and record)."""
    for suffix in (".safetensors", ".json"):
        shutil.copy(vae_path().with_suffix(suffix), tmp_path)
    return tmp_path


@pytest.mark.parametrize("argv", [
    [],
    ["fly"],
    ["train", "--steps", "0"],
    ["train", "--size", "huge"],
    ["train", "--attention", "diagonal"],
    ["vae", "--batch", "two"],
    ["classifier", "--seed", "-1"],
    ["classifier", "--seed", "x"],
    ["report", "--vae-seed", str(2**32)],
    ["sample", "--n", "0"],
    ["sample", "--device", "tpu"],
    ["sample", "--device", "cuda:x"],
    ["train", "--snapshots", "0"],
    ["vae", "--progress"],
])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_missing_cuda_is_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as exit_:
        main(["sample", "--device", "cuda", "--out", str(tmp_path / "v")])
    assert exit_.value.code == 2
    assert "--device cuda: no CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "v").exists()  # refused before anything is written


def test_sample_bad_motion_returns_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:  # argparse's choices: a usage error, status 2
        main(["sample", "--motion", "nonsense", "--out", str(tmp_path), *CPU])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("argv,match", [
    (["--size", "large"], "only its record"),              # not committed: names the command
    (["--size", "small", "--frames", "4"], "frames"),      # no latent of that length
])
def test_sample_errors_exit_2(argv, match, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sample", *argv, "--out", str(video_data_dir()), *CPU])
    assert exit_.value.code == 2
    assert match in capsys.readouterr().err


def test_sample_writes_gif(tmp_path, capsys):
    gif = tmp_path / "x.gif"
    before = sorted(p.name for p in video_data_dir().iterdir())
    assert main(["sample", "--size", "small", "--n", "2", "--gif", str(gif),
                 "--out", str(video_data_dir()), *CPU]) == 0
    assert "generated 2 videos" in capsys.readouterr().out
    with Image.open(gif) as image:
        assert image.n_frames == 9
        assert image.size == (2 * 34 * 4, 34 * 4)
    assert sorted(p.name for p in video_data_dir().iterdir()) == before


def test_train_probe(out_with_vae, capsys):
    assert main(["train", "--probe", "2", "--size", "small", "--batch", "2",
                 "--out", str(out_with_vae), *CPU]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["probe"] == "dit_small_full_seed0" and printed["sec_per_step"] > 0
    assert sorted(p.name for p in out_with_vae.iterdir()) == ["vae_seed0.json",
                                                              "vae_seed0.safetensors"]


def test_train_needs_the_vae(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--steps", "1", "--size", "small", "--out", str(tmp_path), *CPU])
    assert exit_.value.code == 2
    assert "python -m readingroom.video vae --seed 0" in capsys.readouterr().err


def test_train_rejects_a_bad_learning_rate(out_with_vae, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--steps", "1", "--lr", "-1", "--size", "small",
              "--out", str(out_with_vae), *CPU])
    assert exit_.value.code == 2
    assert "lr must be a positive finite float" in capsys.readouterr().err


def test_train_writes_and_resumes(out_with_vae, capsys, monkeypatch):
    argv = ["train", "--steps", "2", "--batch", "2", "--size", "small",
            "--out", str(out_with_vae), *CPU]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    weights = out_with_vae / "dit_small_full_seed0.safetensors"
    assert printed["weights"] == str(weights)
    assert (out_with_vae / "checkpoints" / "dit_small_full_seed0.pt").is_file()
    record = read_record(weights)
    assert record["extra"]["storage"] == "float16"
    assert {dtype for _, dtype in record["tensors"].values()} == {"float16"}
    assert record["command"] == ("python -m readingroom.video train --size small --attention full "
                                 "--seed 0 --steps 2 --batch 2")
    assert [e["step"] for e in record["extra"]["evals"]] == [0, 2]
    assert record["metrics"]["val_loss"] == printed["val_loss"]
    model, _ = load_dit_file(weights)
    assert model.config.d_model == 64
    assert all(p.dtype == torch.float32 for p in model.parameters())

    # weights lost, checkpoint kept: the rerun must finish from the checkpoint, not train again
    weights.unlink()
    weights.with_suffix(".json").unlink()

    def no_training(*args, **kwargs):
        raise AssertionError("the rerun trained again instead of resuming")

    monkeypatch.setattr(train_module, "flow_loss", no_training)
    assert main(argv) == 0
    again = read_record(weights)
    assert again["extra"]["evals"] == record["extra"]["evals"]
    assert again["extra"]["loss_curve"] == record["extra"]["loss_curve"]
    assert again["sha256"] == record["sha256"]


def test_classifier_command(tmp_path, capsys):
    assert main(["classifier", "--steps", "2", "--out", str(tmp_path), *CPU]) == 0
    printed = json.loads(capsys.readouterr().out)
    path = classifier_path(0, tmp_path)
    assert printed["weights"] == str(path)
    model, record = load_classifier(0, tmp_path)
    assert set(record["metrics"]) == {"accuracy_9x32x32", "accuracy_9x24x40", "accuracy_9x40x24",
                                      "accuracy_5x32x32", "accuracy_13x32x32"}
    assert record["command"] == "python -m readingroom.video classifier --seed 0 --steps 2"


def test_vae_command(tmp_path, capsys, monkeypatch):
    # the command's own work at toy size: small training and evaluation shapes (the command
    # reads TRAIN_SPECS and BASE_SPEC from the train module when it runs)
    small = VideoSpec(5, 16, 16)
    monkeypatch.setattr(train_module, "TRAIN_SPECS", ((small, 0.5), (VideoSpec(1, 16, 16), 0.5)))
    monkeypatch.setattr(train_module, "BASE_SPEC", small)
    assert main(["vae", "--steps", "1", "--batch", "2", "--out", str(tmp_path), *CPU]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["weights"] == str(vae_path(0, tmp_path))
    vae, (mean, std), record = load_vae(0, tmp_path)
    assert set(record["metrics"]) == {"psnr_5x16x16", "psnr_1x16x16"}
    assert record["command"] == "python -m readingroom.video vae --seed 0 --steps 1"
    assert mean.shape == std.shape == (4,)
    assert vae.config == load_vae()[0].config
    assert record["extra"]["final_loss"] > 0
    assert not dit_path("small", folder=tmp_path).exists()
