"""Scoring generated videos against real ones and against controls (the chapter's evidence).

:func:`score_committed` samples every committed DiT in a folder and measures, per model:
the "world simulator" metrics (:mod:`readingroom.video.metrics`) and how often the motion
classifier sees the motion that was asked for. The same metrics on real videos, on real videos
with their frames shuffled and on frames mixed across videos bracket the numbers: a generator is
good where it sits with the real data, far from the controls.
"""

from __future__ import annotations

from pathlib import Path

import torch

from readingroom.common import read_record
from readingroom.video.classifier import MotionClassifier
from readingroom.video.committed import load_dit_file
from readingroom.video.data import MOTIONS, VideoSpec, frame_mixed, frame_shuffled, make_videos
from readingroom.video.train import BASE_SPEC, generate, sample_report

__all__ = ["control_report", "score_model", "score_committed", "EXTRA_SPECS", "encode_videos",
           "decode_videos", "EXAMPLES_PER_CLASS"]

EXAMPLES_PER_CLASS = 2  # generated videos of each class kept in samples.json, to show


def encode_videos(videos: torch.Tensor) -> dict:
    """Videos in ``[0, 1]`` as a small JSON value: 8-bit pixels, zlib-compressed, base64 text."""
    import base64
    import zlib

    pixels = (videos.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu()
    return {"shape": list(pixels.shape), "dtype": "uint8/255",
            "zlib_base64": base64.b64encode(zlib.compress(pixels.numpy().tobytes(), 9)).decode()}


def decode_videos(value: dict) -> torch.Tensor:
    """Inverse of :func:`encode_videos` (to 1/255 precision): a float tensor in ``[0, 1]``."""
    import base64
    import zlib

    import numpy as np

    raw = zlib.decompress(base64.b64decode(value["zlib_base64"]))
    pixels = np.frombuffer(raw, dtype=np.uint8).reshape(value["shape"])
    return torch.from_numpy(pixels.astype(np.float32) / 255.0)

# shapes the medium model is also scored at: trained ones of other durations and aspect ratios,
# and one it never saw (a wider frame).
EXTRA_SPECS = (VideoSpec(13, 32, 32), VideoSpec(9, 24, 40), VideoSpec(9, 32, 48))


def _labels(per_class: int) -> torch.Tensor:
    return torch.arange(len(MOTIONS)).repeat_interleave(per_class)


def control_report(classifier: MotionClassifier, *, seed: int, per_class: int,
                   spec: VideoSpec = BASE_SPEC) -> dict[str, dict[str, float]]:
    """Metrics of real videos of ``spec`` and of the frame-shuffled and frame-mixed controls."""
    labels = _labels(per_class)
    real = make_videos(len(labels), spec, seed=30_000 + seed, motions=labels).videos
    gen = torch.Generator().manual_seed(seed)
    return {name: sample_report(v, labels, classifier)
            for name, v in (("real", real), ("shuffled", frame_shuffled(real, gen)),
                            ("mixed", frame_mixed(real, gen)))}


def score_model(model, vae, stats, classifier, *, seed: int, per_class: int,
                spec: VideoSpec = BASE_SPEC, image_to_video: bool = False,
                examples: int = EXAMPLES_PER_CLASS) -> dict:
    """Sample ``per_class`` videos of each motion from ``model`` and score them; with
    ``image_to_video`` the first frame of a real video is given and the rest generated. The
    first ``examples`` videos of each class are kept, encoded, under ``"examples"``."""
    labels = _labels(per_class)
    first = None
    if image_to_video:
        real = make_videos(len(labels), spec, seed=40_000 + seed, motions=labels).videos
        first = real[:, :, :1]
    videos = generate(model, vae, stats, spec, labels, seed=seed, first_frames=first).cpu()
    out = sample_report(videos, labels, classifier)
    keep = torch.cat([torch.arange(c * per_class, c * per_class + min(examples, per_class))
                      for c in range(len(MOTIONS))])
    out["examples"] = encode_videos(videos[keep])
    return out


def score_committed(vae, stats, classifier, folder: Path, *, seed: int = 0, per_class: int = 64,
                    progress: bool = True) -> dict:
    """Score every ``dit_*_seed*.safetensors`` in ``folder`` (see the module docstring)."""
    device = next(vae.parameters()).device
    result: dict = {"spec": str(BASE_SPEC), "per_class": per_class, "seed": seed,
                    "controls": control_report(classifier, seed=seed, per_class=per_class),
                    "models": {}}
    paths = sorted(Path(folder).glob("dit_*_seed*.safetensors"))
    paths += sorted(Path(folder).glob("snap_dit_*_seed*_step*.safetensors"))
    for path in paths:
        model, record = load_dit_file(path, device)
        if progress:
            print(f"scoring {path.name}", flush=True)
        metrics = record["metrics"]
        entry = {key: metrics[key] for key in ("params", "flops", "val_loss", "step")
                 if key in metrics}
        entry["base"] = score_model(model, vae, stats, classifier, seed=seed, per_class=per_class)
        if path.stem.startswith("dit_"):
            entry["i2v"] = score_model(model, vae, stats, classifier, seed=seed,
                                       per_class=per_class, image_to_video=True)
        if path.stem.startswith("dit_medium_full_"):
            entry["shapes"] = {str(s): score_model(model, vae, stats, classifier, seed=seed,
                                                   per_class=per_class, spec=s)
                               for s in EXTRA_SPECS}
        result["models"][path.stem] = entry
        del model
    result["records"] = {p.stem: read_record(p)["sha256"] for p in paths}
    return result
