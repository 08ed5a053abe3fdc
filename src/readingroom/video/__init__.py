"""Sora, at toy scale: video generation as diffusion over spacetime patches.

Modules, in the order of the pipeline:

* :mod:`~readingroom.video.data`: bouncing-shape videos generated in place, with a motion class
  as the prompt, at several durations, sizes and aspect ratios; the frame-shuffled and
  frame-mixed controls;
* :mod:`~readingroom.video.vae`: a causal 3-D video autoencoder (the first frame is encoded alone,
  so an image is a one-frame video);
* :mod:`~readingroom.video.patch`: spacetime patches, packing videos of different shapes into one
  sequence, and the attention masks;
* :mod:`~readingroom.video.dit`: the diffusion transformer (adaLN-Zero; full, factorised or
  per-frame attention);
* :mod:`~readingroom.video.flow`: the rectified-flow loss and sampler, with image-to-video;
* :mod:`~readingroom.video.train`, :mod:`~readingroom.video.committed`,
  :mod:`~readingroom.video.report`: training runs, the committed models, their scores;
* :mod:`~readingroom.video.metrics` and :mod:`~readingroom.video.classifier`: the
  "world simulator" measurements and the motion judge; :mod:`~readingroom.video.plots`.

Command line: ``python -m readingroom.video {vae,classifier,train,report,sample}``.
"""

from readingroom.video.classifier import MotionClassifier, accuracy, classify, train_classifier
from readingroom.video.committed import (
    dit_path, load_classifier, load_dit, load_dit_file, load_vae, video_data_dir,
)
from readingroom.video.data import (
    MOTIONS, SHAPES, SPEED_RANGE, VideoBatch, VideoSpec, frame_mixed, frame_shuffled,
    make_videos,
)
from readingroom.video.dit import ATTENTION_MODES, DIT_SIZES, DiT, DiTBlock, DiTConfig, block_kinds
from readingroom.video.flow import (
    as_tokens, first_frame_mask, flow_loss, flow_val_loss, from_tokens, sample_flow,
)
from readingroom.video.metrics import (
    centroids, mass_drift, masses, permanence, psnr, speed_jerk, world_metrics,
)
from readingroom.video.patch import Packed, attention_mask, pack, patchify, unpack, unpatchify
from readingroom.video.plots import animate_rows, animation_html, filmstrip, save_gif
from readingroom.video.report import decode_videos, encode_videos
from readingroom.video.train import (
    BASE_SPEC, GUIDANCE, PATCH, SAMPLE_STEPS, TRAIN_SPECS, DitRecipe, batch_seed, fit_dit,
    generate, latent_batch,
    make_dit, sample_report,
)
from readingroom.video.vae import (
    CausalConv3d, CausalVAE, VAEConfig, decode_normalised, encode_normalised, vae_loss,
)

__all__ = [
    "MOTIONS", "SHAPES", "SPEED_RANGE", "VideoSpec", "VideoBatch", "make_videos", "frame_shuffled",
    "frame_mixed",
    "CausalConv3d", "CausalVAE", "VAEConfig", "vae_loss", "encode_normalised",
    "decode_normalised",
    "Packed", "patchify", "unpatchify", "pack", "unpack", "attention_mask",
    "DiT", "DiTBlock", "DiTConfig", "DIT_SIZES", "ATTENTION_MODES", "block_kinds",
    "as_tokens", "from_tokens", "flow_loss", "flow_val_loss", "sample_flow", "first_frame_mask",
    "masses", "centroids", "speed_jerk", "mass_drift", "permanence", "psnr", "world_metrics",
    "MotionClassifier", "train_classifier", "classify", "accuracy",
    "PATCH", "BASE_SPEC", "SAMPLE_STEPS", "GUIDANCE", "TRAIN_SPECS", "DitRecipe", "fit_dit",
    "make_dit", "generate",
    "sample_report", "batch_seed", "latent_batch",
    "video_data_dir", "dit_path", "load_vae", "load_dit", "load_dit_file", "load_classifier",
    "encode_videos", "decode_videos",
    "animate_rows", "animation_html", "filmstrip", "save_gif",
]
