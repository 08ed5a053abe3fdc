"""Training the pipeline: the video autoencoder, then the diffusion transformer on its latents.

Everything the chapter samples from is made here by seeded, resumable runs:

1. :func:`fit_vae` trains the causal video autoencoder on fresh videos of every shape and
   measures the per-channel statistics that normalise its latents;
2. :func:`fit_dit` trains a DiT with the rectified-flow loss on normalised latents of videos of
   several durations, sizes and aspect ratios (one shape per step, "bucketing" as Open-Sora does;
   packing several shapes into one row is the same computation, see
   :mod:`readingroom.video.patch`), and single images (one-frame videos), with image-to-video
   conditioning on a share of the rows. It records a held-out loss against training compute for
   the scaling figure and checkpoints so that a killed run resumes where it stopped;
3. :func:`generate` samples pixel videos, and :func:`sample_report` scores them with the
   "world simulator" metrics and the motion classifier.

Every batch is drawn from a generator seeded by ``(seed, step)``, so a run is a function of its
seed and a resumed run sees the same data as an uninterrupted one.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from readingroom.common import check_int, eval_mode, progress_enabled
from readingroom.video.classifier import MotionClassifier, classify
from readingroom.video.data import MOTIONS, VideoSpec, make_videos
from readingroom.video.dit import DIT_SIZES, DiT, DiTConfig
from readingroom.video.flow import (
    as_tokens, first_frame_mask, flow_loss, flow_val_loss, from_tokens, sample_flow,
)
from readingroom.video.metrics import world_metrics
from readingroom.video.vae import CausalVAE, VAEConfig, decode_normalised, encode_normalised
from readingroom.common.checks import check_choice, check_float

__all__ = ["PATCH", "BASE_SPEC", "SAMPLE_STEPS", "GUIDANCE", "TRAIN_SPECS", "VAE_CONFIG", "DitRecipe", "fit_vae", "fit_dit",
           "make_dit", "generate", "sample_report", "batch_seed", "latent_batch"]

PATCH = (1, 2, 2)
BASE_SPEC = VideoSpec(frames=9, height=32, width=32)
# durations, sizes and aspect ratios seen in training, with their share of the steps; a one-frame
# video is an image (Sora trains on images and videos together).
TRAIN_SPECS: tuple[tuple[VideoSpec, float], ...] = (
    (VideoSpec(9, 32, 32), 0.40),
    (VideoSpec(9, 24, 40), 0.12),
    (VideoSpec(9, 40, 24), 0.12),
    (VideoSpec(5, 32, 32), 0.12),
    (VideoSpec(13, 32, 32), 0.12),
    (VideoSpec(1, 32, 32), 0.12),
)
# the sampler every committed number uses: Euler steps and classifier-free guidance weight w
SAMPLE_STEPS = 30
GUIDANCE = 2.0
VAE_CONFIG = VAEConfig(channels=1, latent_channels=4, width=32, time_factor=2, space_factor=4)


def batch_seed(seed: int, step: int) -> int:
    """The seed of step ``step``'s data in a run seeded ``seed``."""
    return (seed * 1_000_003 + step) % (2**63 - 1)


def _pick_spec(gen: torch.Generator, specs: Sequence[tuple[VideoSpec, float]]) -> VideoSpec:
    weights = torch.tensor([w for _, w in specs], dtype=torch.float)
    return specs[int(torch.multinomial(weights, 1, generator=gen))][0]


def fit_vae(*, seed: int, steps: int, batch: int = 32, lr: float = 2e-3, device: str = "cpu",
            config: VAEConfig = VAE_CONFIG, progress: bool = True):
    """Train the causal VAE on fresh videos (a shape drawn per step from :data:`TRAIN_SPECS`).

    Returns ``(vae, stats, history)``: ``stats`` is the per-channel ``(mean, std)`` of the
    latents over 256 base-shape videos, for :func:`~readingroom.video.vae.encode_normalised`.
    """
    from readingroom.video.vae import latent_stats, train_vae

    steps = check_int(steps, "steps")
    torch.manual_seed(seed)
    vae = CausalVAE(config).to(device)

    def get_batch(step: int):
        gen = torch.Generator().manual_seed(batch_seed(seed, step))
        spec = _pick_spec(gen, TRAIN_SPECS)
        return make_videos(batch, spec, generator=gen).videos

    history = train_vae(vae, get_batch, steps=steps, lr=lr, device=device, progress=progress)
    with eval_mode(vae):
        stats = latent_stats(vae, make_videos(256, BASE_SPEC, seed=seed + 1).videos.to(device))
    return vae, stats, history


@dataclass
class DitRecipe:
    """How a DiT is trained (the defaults are the committed GPU runs').

    Attributes:
        size: a key of :data:`~readingroom.video.dit.DIT_SIZES`; ``attention``: one of
            :data:`~readingroom.video.dit.ATTENTION_MODES`.
        steps, batch, lr, warmup: AdamW updates, videos per step, peak learning rate (cosine decay
            to a tenth), linear warmup steps.
        i2v_share: share of rows whose first latent frame is given clean (image-to-video).
        class_dropout: share of rows trained without their class (classifier-free guidance).
        eval_every: steps between held-out loss measurements (the scaling curve).
        checkpoint_every: steps between checkpoints (0: never).
    """

    size: str = "medium"
    attention: str = "full"
    steps: int = 6000
    batch: int = 64
    lr: float = 5e-4
    warmup: int = 200
    i2v_share: float = 0.25
    class_dropout: float = 0.1
    eval_every: int = 500
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        check_choice(self.size, "size", DIT_SIZES)
        for name in ("steps", "batch"):
            check_int(getattr(self, name), name)
        for name in ("warmup", "eval_every", "checkpoint_every"):
            check_int(getattr(self, name), name, minimum=0)
        for name in ("i2v_share", "class_dropout"):
            check_float(getattr(self, name), name, low=0.0, high=1.0, high_open=True)
        check_float(self.lr, "lr", low=0.0, low_open=True)


def make_dit(size: str = "medium", attention: str = "full") -> DiT:
    """A fresh DiT of a named size for latents of :data:`VAE_CONFIG` cut into :data:`PATCH`."""
    check_choice(size, "size", DIT_SIZES)
    token_dim = VAE_CONFIG.latent_channels * math.prod(PATCH)
    return DiT(DiTConfig(token_dim=token_dim, n_classes=len(MOTIONS), attention=attention,
                         **DIT_SIZES[size]))


@torch.no_grad()
def latent_batch(vae: CausalVAE, stats, n: int, spec: VideoSpec, *, generator: torch.Generator,
                 device: str | torch.device = "cpu"):
    """``n`` fresh videos of ``spec`` as normalised latent tokens: ``(tokens, coords, video,
    labels, latent_shape)``."""
    batch = make_videos(n, spec, generator=generator)
    with eval_mode(vae):
        z = encode_normalised(vae, batch.videos.to(device), stats)      # [n, C, T', H', W']
    tokens, coords, video = as_tokens(z, PATCH)
    return tokens, coords, video, batch.labels.to(device), tuple(z.shape[1:])


def _lr(step: int, recipe: DitRecipe) -> float:
    if step < recipe.warmup:
        return recipe.lr * (step + 1) / recipe.warmup
    progress = (step - recipe.warmup) / max(1, recipe.steps - recipe.warmup)
    return recipe.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def fit_dit(vae: CausalVAE, stats, recipe: DitRecipe, *, seed: int, device: str = "cpu",
            checkpoint: str | os.PathLike | None = None, progress: bool = True,
            stop_after: int | None = None, snapshots: Sequence[int] = (), n_val: int = 128):
    """Train a DiT (rectified flow, Eq. 2 of :mod:`~readingroom.video.flow`) on the VAE's latents.

    Each step draws a shape from :data:`TRAIN_SPECS`, ``recipe.batch`` fresh videos of it, encodes
    them, gives a share of the rows their first latent frame as clean context, and takes one
    AdamW step. Every ``eval_every`` steps the held-out loss on a fixed set of base-shape videos
    is recorded with the training compute so far (``6 x parameters x tokens``, the usual
    estimate; attention's own cost is left out).

    With ``checkpoint`` set, the model, optimiser, step and history are written there every
    ``checkpoint_every`` steps (atomically), and a run that finds the file resumes from it, with
    the same data it would have seen. ``stop_after`` ends the run early after that many steps of
    this call (to test resuming). ``snapshots`` lists steps at which a copy of the weights is kept
    (``history["snapshots"][step]``, on the CPU): the same model at a fraction of its compute.
    ``n_val`` is the number of held-out videos the loss is measured on (128 in the committed runs
    and the chapter; the unit tests use fewer).

    Returns ``(model, history)``: ``history`` has ``evals`` (list of ``{step, tokens, flops,
    val_loss}``), ``losses`` (training loss per step), ``step_seconds`` (wall time of each step,
    evaluations left out), ``params``, ``tokens`` (seen so far) and ``snapshots``.
    """
    n_val = check_int(n_val, "n_val")
    torch.manual_seed(seed)
    model = make_dit(recipe.size, recipe.attention).to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": rest, "weight_decay": 0.0}], lr=recipe.lr)
    history = {"evals": [], "losses": [], "params": model.n_params(), "tokens": 0,
               "snapshots": {}}
    start = 0
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.is_file():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        if (state["recipe"] != asdict(recipe) or state["seed"] != seed
                or state.get("n_val", 128) != n_val):
            raise ValueError(f"checkpoint {ckpt} is from another run (recipe, seed or n_val "
                             "differ); "
                             "delete it or pick another path")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        history, start = state["history"], state["step"]
    val_gen = torch.Generator().manual_seed(batch_seed(seed, -1))
    val = latent_batch(vae, stats, n_val, BASE_SPEC, generator=val_gen, device=device)

    def evaluate(step: int) -> None:
        with eval_mode(model):
            loss = flow_val_loss(model, val[0], val[1], val[2], val[3], seed=seed)
        history["evals"].append({"step": step, "tokens": history["tokens"],
                                 "flops": 6.0 * history["params"] * history["tokens"],
                                 "val_loss": loss})

    if start == 0 and not history["evals"]:
        evaluate(0)
    end = recipe.steps if stop_after is None else min(recipe.steps, start + stop_after)
    bar = None
    if progress_enabled(progress):
        from tqdm.auto import tqdm
        bar = tqdm(total=recipe.steps, initial=start,
                   desc=f"DiT {recipe.size}/{recipe.attention}")
    model.train()
    step_seconds = history.setdefault("step_seconds", [])
    for step in range(start, end):
        tick = time.perf_counter()
        gen = torch.Generator().manual_seed(batch_seed(seed, step))
        spec = _pick_spec(gen, TRAIN_SPECS)
        tokens, coords, video, labels, _ = latent_batch(vae, stats, recipe.batch, spec,
                                                        generator=gen, device=device)
        cond = torch.zeros(tokens.shape[:2], dtype=torch.bool, device=device)
        if spec.frames > 1:
            rows = (torch.rand(recipe.batch, generator=gen) < recipe.i2v_share).to(device)
            cond = first_frame_mask(coords) & rows.unsqueeze(1)
        dev_gen = torch.Generator(device=device).manual_seed(batch_seed(seed, step))
        for group in opt.param_groups:
            group["lr"] = _lr(step, recipe)
        loss = flow_loss(model, tokens, coords, video, labels, generator=dev_gen,
                         cond_mask=cond, class_dropout=recipe.class_dropout)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss became {float(loss)} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        history["losses"].append(loss.item())       # .item() waits for the GPU
        step_seconds.append(time.perf_counter() - tick)
        history["tokens"] += tokens.shape[0] * tokens.shape[1]
        done = step + 1
        if ((recipe.eval_every and done % recipe.eval_every == 0) or done == recipe.steps
                or done in snapshots):
            evaluate(done)
        if done in snapshots:
            history["snapshots"][done] = {k: v.detach().cpu().clone()
                                          for k, v in model.state_dict().items()}
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{sum(history['losses'][-50:]) / len(history['losses'][-50:]):.3f}")
        if ckpt is not None and ((recipe.checkpoint_every and done % recipe.checkpoint_every == 0)
                                 or done == end):
            _save_checkpoint(ckpt, {"model": model.state_dict(), "opt": opt.state_dict(),
                                    "step": done, "history": history, "seed": seed, "n_val": n_val,
                                    "recipe": asdict(recipe)})
    if bar is not None:
        bar.close()
    model.eval()
    return model, history


@torch.no_grad()
def generate(model: DiT, vae: CausalVAE, stats, spec: VideoSpec, labels: torch.Tensor, *,
             seed: int, steps: int = SAMPLE_STEPS, guidance: float = GUIDANCE,
             first_frames: torch.Tensor | None = None) -> torch.Tensor:
    """Sample pixel videos ``[n, 1, T, H, W]`` (clamped to ``[0, 1]``) of ``spec``, one per label.

    ``first_frames`` (``[n, 1, 1, H, W]``, optional) turns it into image-to-video: their latent
    (the causal VAE encodes a first frame alone) is the clean context for latent frame 0.
    """
    device = next(model.parameters()).device
    labels = labels.to(device)
    C, T, H, W = vae.latent_shape(spec.frames, spec.height, spec.width)
    want = (len(labels), vae.config.channels, 1, spec.height, spec.width)
    if first_frames is not None and not isinstance(first_frames, torch.Tensor):
        raise TypeError(f"first_frames must be a tensor, got {type(first_frames).__name__}")
    if first_frames is not None and tuple(first_frames.shape) != want:
        raise ValueError(f"first_frames must have shape {list(want)} (one first frame per label, "
                         f"of spec's size), got {list(first_frames.shape)}")
    z_shape = (len(labels), C, T, H, W)
    tokens, coords, video = as_tokens(torch.zeros(z_shape, device=device), PATCH)
    gen = torch.Generator(device=device).manual_seed(seed)
    context = cond = None
    if first_frames is not None:
        with eval_mode(vae):
            z0 = encode_normalised(vae, first_frames.to(device), stats)       # [n, C, 1, H', W']
        full = torch.zeros(z_shape, device=device)
        full[:, :, :1] = z0
        context = as_tokens(full, PATCH)[0]
        cond = first_frame_mask(coords)
    with eval_mode(model):
        x = sample_flow(model, coords, video, labels, steps=steps, guidance=guidance,
                        generator=gen, context=context, cond_mask=cond)
    z = from_tokens(x, (C, T, H, W), PATCH)
    with eval_mode(vae):
        videos = decode_normalised(vae, z, stats)
    return videos.clamp(0, 1)


@torch.no_grad()
def sample_report(videos: torch.Tensor, labels: torch.Tensor,
                  classifier: MotionClassifier) -> dict[str, float]:
    """World-simulator metrics of ``videos`` and the share the classifier assigns to the class
    each was asked for (``class_match``)."""
    if labels.shape != videos.shape[:1]:
        raise ValueError(f"labels must have shape [{len(videos)}] (one per video), got "
                         f"{tuple(labels.shape)}")
    out = dict(world_metrics(videos))
    with eval_mode(classifier):
        pred = classify(classifier, videos.to(next(classifier.parameters()).device))
    out["class_match"] = float((pred.cpu() == labels.cpu()).float().mean())
    return out
