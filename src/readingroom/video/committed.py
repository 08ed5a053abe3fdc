"""The committed models of the video chapter: where they live and how they load.

``book/data/video/`` holds, each with its provenance record beside it (see
:func:`~readingroom.common.save_weights`): the causal VAE (``vae_seed{S}``), the motion classifier
(``classifier_seed{S}``) and the DiTs (``dit_{size}_{attention}_seed{S}``), all written by
``python -m readingroom.video``. The loaders rebuild each model from today's code with the
configuration stored in its record and check the file's hash.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from readingroom.common import book_data_path, load_weights, read_record
from readingroom.video.classifier import MotionClassifier
from readingroom.video.dit import DiT, DiTConfig
from readingroom.video.vae import CausalVAE, VAEConfig

__all__ = ["video_data_dir", "vae_path", "dit_path", "classifier_path", "load_vae", "load_dit",
           "load_classifier",
           "load_dit_file"]

REGENERATE = "python -m readingroom.video {what} --seed {seed} --out book/data/video"


def video_data_dir() -> Path:
    """``book/data/video`` in this checkout."""
    return book_data_path("video")


def vae_path(seed: int = 0, folder: Path | None = None) -> Path:
    return (folder or video_data_dir()) / f"vae_seed{seed}.safetensors"


def classifier_path(seed: int = 0, folder: Path | None = None) -> Path:
    return (folder or video_data_dir()) / f"classifier_seed{seed}.safetensors"


def dit_path(size: str = "medium", attention: str = "full", seed: int = 0,
             folder: Path | None = None) -> Path:
    return (folder or video_data_dir()) / f"dit_{size}_{attention}_seed{seed}.safetensors"


def _require(path: Path, what: str, seed: int) -> None:
    """A missing weights file names the command that makes it: the recorded one when only the
    record is committed (the larger models keep their record and training curves in the
    repository, not their weights), else the default."""
    if path.is_file():
        return
    record = path.with_suffix(".json")
    if record.is_file():
        command = json.loads(record.read_text())["command"]
        raise FileNotFoundError(f"{path.name} is not committed (only its record {record.name} "
                                f"is); make it with `{command} --out {path.parent}`")
    raise FileNotFoundError(
        f"{path} does not exist; make it with `{REGENERATE.format(what=what, seed=seed)}`")


def load_vae(seed: int = 0, folder: Path | None = None,
             device: str | torch.device = "cpu") -> tuple[CausalVAE, tuple[torch.Tensor, torch.Tensor], dict]:
    """The committed VAE, its latent statistics ``(mean, std)`` and its record."""
    path = vae_path(seed, folder)
    _require(path, "vae", seed)
    extra = read_record(path)["extra"]
    vae = CausalVAE(VAEConfig(**extra["config"]))
    record = load_weights(vae, path)
    stats = (torch.tensor(extra["latent_mean"]), torch.tensor(extra["latent_std"]))
    vae.eval()
    return vae.to(device), tuple(s.to(device) for s in stats), record


def load_classifier(seed: int = 0, folder: Path | None = None,
                    device: str | torch.device = "cpu") -> tuple[MotionClassifier, dict]:
    """The committed motion classifier and its record."""
    path = classifier_path(seed, folder)
    _require(path, "classifier", seed)
    model = MotionClassifier(**read_record(path)["extra"].get("config", {}))
    record = load_weights(model, path)
    model.eval()
    return model.to(device), record


def load_dit(size: str = "medium", attention: str = "full", seed: int = 0,
             folder: Path | None = None, device: str | torch.device = "cpu") -> tuple[DiT, dict]:
    """A committed DiT and its record (whose ``extra`` holds the recipe and the training
    history)."""
    path = dit_path(size, attention, seed, folder)
    _require(path, f"train --size {size} --attention {attention}", seed)
    return load_dit_file(path, device)


def load_dit_file(path: str | Path, device: str | torch.device = "cpu") -> tuple[DiT, dict]:
    """A DiT from any weights file the CLI wrote (a final model or a ``snap_*`` snapshot),
    in float32 whatever the storage type."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    model = DiT(DiTConfig(**read_record(path)["extra"]["config"]))
    record = load_weights(model, path)
    model.eval()
    return model.to(device), record
