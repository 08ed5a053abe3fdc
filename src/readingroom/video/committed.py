"""The committed models of the video chapter: where they live and how they load.

``book/data/video/`` holds, each with its provenance record beside it (see
:func:`~readingroom.common.save_weights`): the causal VAE (``vae_seed{S}``), the motion classifier
(``classifier_seed{S}``) and the DiTs (``dit_{size}_{attention}_seed{S}``), all written by
``python -m readingroom.video``. The loaders rebuild each model from today's code with the
configuration stored in its record and check the file's hash
(:func:`~readingroom.common.load_committed`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from readingroom.common import book_data_path, load_committed
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


def _command(path: Path, what: str, seed: int) -> str:
    """The command that makes a missing weights file: the recorded one when only the record is
    committed (the larger models keep their record and training curves in the repository, not
    their weights), else the default."""
    record = path.with_suffix(".json")
    if not path.is_file() and record.is_file():
        return f"{json.loads(record.read_text())['command']} --out {path.parent}"
    return REGENERATE.format(what=what, seed=seed)


def _vae(record: dict) -> CausalVAE:
    return CausalVAE(VAEConfig(**record["extra"]["config"]))


def _classifier(record: dict) -> MotionClassifier:
    return MotionClassifier(**record["extra"].get("config", {}))


def _dit(record: dict) -> DiT:
    return DiT(DiTConfig(**record["extra"]["config"]))


def load_vae(seed: int = 0, folder: Path | None = None,
             device: str | torch.device = "cpu") -> tuple[CausalVAE, tuple[torch.Tensor, torch.Tensor], dict]:
    """The committed VAE, its latent statistics ``(mean, std)`` and its record."""
    path = vae_path(seed, folder)
    vae, record = load_committed(path, _vae, command=_command(path, "vae", seed), device=device)
    extra = record["extra"]
    stats = (torch.tensor(extra["latent_mean"]), torch.tensor(extra["latent_std"]))
    return vae, tuple(s.to(device) for s in stats), record


def load_classifier(seed: int = 0, folder: Path | None = None,
                    device: str | torch.device = "cpu") -> tuple[MotionClassifier, dict]:
    """The committed motion classifier and its record."""
    path = classifier_path(seed, folder)
    return load_committed(path, _classifier, command=_command(path, "classifier", seed),
                          device=device)


def load_dit(size: str = "medium", attention: str = "full", seed: int = 0,
             folder: Path | None = None, device: str | torch.device = "cpu") -> tuple[DiT, dict]:
    """A committed DiT and its record (whose ``extra`` holds the recipe and the training
    history)."""
    path = dit_path(size, attention, seed, folder)
    command = _command(path, f"train --size {size} --attention {attention}", seed)
    return load_committed(path, _dit, command=command, device=device)


def load_dit_file(path: str | Path, device: str | torch.device = "cpu") -> tuple[DiT, dict]:
    """A DiT from any weights file the CLI wrote (a final model or a ``snap_*`` snapshot),
    in float32 whatever the storage type."""
    return load_committed(Path(path), _dit, command=None, device=device)
