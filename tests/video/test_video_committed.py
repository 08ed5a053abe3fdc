"""The committed models in ``book/data/video``: they load, the missing ones name the command that
makes them, and the numbers in their records are reproduced on the CPU.

The records were written on a GPU (see each record's ``provenance``). The VAE's PSNR and the
classifier's accuracy come back to within float rounding. The DiT's ``val_loss`` does not come
back exactly: :func:`~readingroom.video.flow.flow_val_loss` draws its noise from a generator on the
model's device, and a CUDA generator gives other numbers than a CPU one for the same seed, so the
CPU recomputation is another draw of the same estimate (the float16 storage of the weights moves it
by about 1e-5 only). On the CPU the medium model scores 0.4469 against the recorded 0.4511
(-0.0042); CPU noise seeds 0-3 spread over 0.4469-0.4556, so the tolerance is 0.015.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from readingroom.common import read_record
from readingroom.video.classifier import MotionClassifier, accuracy
from readingroom.video.committed import (
    classifier_path, dit_path, load_classifier, load_dit, load_dit_file, load_vae, vae_path,
    video_data_dir,
)
from readingroom.video.data import VideoSpec, make_videos
from readingroom.video.dit import DiT
from readingroom.video.flow import flow_val_loss
from readingroom.video.metrics import psnr
from readingroom.video.train import BASE_SPEC, batch_seed, latent_batch
from readingroom.video.vae import CausalVAE

SPEC = VideoSpec(9, 32, 32)
VAL_LOSS_TOL = 0.015


@pytest.fixture(scope="module")
def vae():
    return load_vae()


def test_data_dir_and_paths():
    folder = video_data_dir()
    assert folder.is_dir() and folder.name == "video"
    assert vae_path() == folder / "vae_seed0.safetensors"
    assert classifier_path(1) == folder / "classifier_seed1.safetensors"
    assert dit_path("small", "frame", 2, folder) == folder / "dit_small_frame_seed2.safetensors"


def test_load_vae(vae):
    model, (mean, std), record = vae
    assert isinstance(model, CausalVAE) and not model.training
    assert mean.shape == std.shape == (model.config.latent_channels,) and bool((std > 0).all())
    assert record["command"].startswith("python -m readingroom.video vae")


def test_load_classifier():
    model, record = load_classifier()
    assert isinstance(model, MotionClassifier) and not model.training
    assert "accuracy_9x32x32" in record["metrics"]


@pytest.mark.parametrize("size,d_model", [("small", 64), ("medium", 128)])
def test_load_dit(size, d_model):
    model, record = load_dit(size)
    assert isinstance(model, DiT) and not model.training
    assert model.config.d_model == d_model
    assert all(p.dtype == torch.float32 for p in model.parameters())   # stored in float16
    assert record["extra"]["storage"] == "float16"
    assert record["metrics"]["params"] == model.n_params()
    assert record["extra"]["evals"][-1]["val_loss"] == record["metrics"]["val_loss"]


def test_load_dit_large_only_record_is_committed():
    record = json.loads(dit_path("large").with_suffix(".json").read_text())
    assert not dit_path("large").exists()
    with pytest.raises(FileNotFoundError, match="only its record") as err:
        load_dit("large")
    assert record["command"] in str(err.value)


def test_missing_folder_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m readingroom.video vae --seed 0"):
        load_vae(0, tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="python -m readingroom.video classifier --seed 3"):
        load_classifier(3, tmp_path)
    with pytest.raises(FileNotFoundError,
                       match="readingroom.video train --size small --attention frame --seed 0"):
        load_dit("small", "frame", folder=tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dit_file(tmp_path / "dit.safetensors")


def test_load_dit_file_reads_a_copy(tmp_path):
    for suffix in (".safetensors", ".json"):
        shutil.copy(dit_path("small").with_suffix(suffix), tmp_path)
    model, record = load_dit_file(tmp_path / dit_path("small").name)
    committed, _ = load_dit("small")
    assert record["sha256"] == read_record(dit_path("small"))["sha256"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                  committed.state_dict().values()))


# -- the records' numbers ------------------------------------------------------------------------

def test_vae_psnr_reproduces(vae):
    model, _, record = vae
    x = make_videos(128, SPEC, seed=10_000 + record["seed"]).videos
    with torch.no_grad():
        value = float(psnr(model.decode(model.encode(x)[0]).clamp(0, 1), x).mean())
    # measured on the CPU: 32.3527 against the GPU's 32.3505 (+0.0022 dB)
    assert value == pytest.approx(record["metrics"]["psnr_9x32x32"], abs=0.05)


def test_classifier_accuracy_reproduces():
    model, record = load_classifier()
    for key, recorded in record["metrics"].items():
        frames, height, width = map(int, key.removeprefix("accuracy_").split("x"))
        batch = make_videos(256, VideoSpec(frames, height, width), seed=20_000 + record["seed"])
        assert accuracy(model, batch) == pytest.approx(recorded, abs=1 / 256 + 1e-9), key


def test_dit_val_loss_reproduces(vae):
    model, stats, _ = vae
    dit, record = load_dit("medium")
    val = latent_batch(model, stats, 128, BASE_SPEC,
                       generator=torch.Generator().manual_seed(batch_seed(record["seed"], -1)))
    loss = flow_val_loss(dit, val[0], val[1], val[2], val[3], seed=record["seed"])
    assert abs(loss - record["metrics"]["val_loss"]) < VAL_LOSS_TOL
