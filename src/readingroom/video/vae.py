"""A small 3D causal VAE: compress a video in space and time before diffusing it.

Sora's report says videos are first compressed into a lower-dimensional latent space in both
space and time, and the diffusion transformer works on patches of that latent. The report gives no
architecture; this module follows the open design of CogVideoX (Yang et al., 2024, §2.1, "3D
causal VAE"), scaled down to a few hundred thousand parameters:

* every convolution is **causal in time** (:class:`CausalConv3d`): it pads only the past side of
  the time axis, by repeating the first frame, so output frame ``t`` sees input frames ``<= t``;
* the **first frame is compressed alone**: with ``T = 1 + f * k`` input frames and temporal factor
  ``f``, the latent has ``1 + k`` frames; latent frame 0 depends only on frame 0 and latent frame
  ``j >= 1`` only on frames ``<= f * j``. A single image is therefore a one-frame video, encoded
  exactly as the first frame of any video that starts with it;
* normalisation is per frame (GroupNorm over channels and space, never over time), which keeps the
  whole network causal. (CogVideoX normalises over time as well; at our scale strict causality is
  worth more than the few statistics that would share.)

Shapes: videos are ``[N, C, T, H, W]``; latents ``[N, latent_channels, 1 + (T - 1) // f, H / s,
W / s]`` with ``f = time_factor``, ``s = space_factor``.

The objective (:func:`vae_loss`) is the usual VAE evidence lower bound with a tiny KL weight,
which makes the model nearly an autoencoder whose latents stay close to unit scale::

    L = mean_pixels (x_hat - x)^2 + kl_weight * mean_latents KL(N(mu, sigma^2) || N(0, 1))

A diffusion model then trains on per-channel normalised latents (:func:`latent_stats`,
:func:`encode_normalised`, :func:`decode_normalised`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from readingroom.common.checks import check_choice, check_float, check_int
from readingroom.common.train import TrainHistory, eval_mode, train

__all__ = [
    "VAEConfig",
    "CausalConv3d",
    "CausalVAE",
    "vae_loss",
    "train_vae",
    "latent_stats",
    "encode_normalised",
    "decode_normalised",
]

_TIME_FACTORS = (1, 2)
_SPACE_FACTORS = (1, 2, 4, 8)
#: Bounds on the encoder's log-variance, so that exp(logvar) can neither overflow nor vanish.
_LOGVAR_RANGE = (-30.0, 20.0)


@dataclass
class VAEConfig:
    """Sizes of a :class:`CausalVAE`.

    Attributes:
        channels: colour channels of the video (1 for the book's grey-scale toys).
        latent_channels: channels of the latent, ``C'`` (CogVideoX uses 16; 4 or 8 suffice here).
        width: channels of every convolution inside the encoder and decoder.
        time_factor: temporal compression ``f``, 1 or 2: ``T = 1 + f * k`` frames become
            ``1 + k`` latent frames.
        space_factor: spatial compression ``s``, 1, 2, 4 or 8 (``log2 s`` stride-2 stages).
        kl_weight: weight of the KL term in :func:`vae_loss` (tiny: the latent should keep the
            detail; the KL only stops its scale from drifting).
    """

    channels: int = 1
    latent_channels: int = 4
    width: int = 32
    time_factor: int = 2
    space_factor: int = 4
    kl_weight: float = 1e-6

    def __post_init__(self) -> None:
        check_int(self.channels, "channels")
        check_int(self.latent_channels, "latent_channels")
        check_int(self.width, "width")
        for name, allowed in (("time_factor", _TIME_FACTORS), ("space_factor", _SPACE_FACTORS)):
            value = getattr(self, name)
            check_choice(check_int(value, name), name, allowed)
        self.kl_weight = check_float(self.kl_weight, "kl_weight", low=0.0)

    @property
    def stages(self) -> list[tuple[int, int]]:
        """``(time_stride, space_stride)`` of each encoder down-sampling stage, in order.

        One stage per factor of 2 in space; the temporal stride rides on the first stage (a
        time-only stage when ``space_factor == 1``).
        """
        n = max(int(math.log2(self.space_factor)), 1 if self.time_factor > 1 else 0)
        return [
            (self.time_factor if i == 0 else 1, 2 if 2**i < self.space_factor else 1)
            for i in range(n)
        ]


class CausalConv3d(nn.Module):
    """A 3D convolution that never looks into the future along time.

    The time axis is padded only on the past side, with ``kt - 1`` copies of the first frame
    (CogVideoX, §2.1); height and width are zero-padded by ``ks // 2`` on both sides. With time
    stride 1, output frame ``t`` depends on input frames ``t - kt + 1 .. t`` (clamped at 0).

    A time stride ``st > 1`` (used by the encoder to compress time) keeps the first frame alone:
    with ``T = 1 + st * k`` input frames there are ``1 + k`` outputs, and output ``j`` depends on
    input frames ``st * j - kt + 1 .. st * j``; with ``kt == st`` these windows are the groups
    ``[0], [1 .. st], [st + 1 .. 2 st], ...``.

    Args:
        in_channels, out_channels: channels of the input ``[N, in, T, H, W]`` and output.
        kernel: ``(kt, kh, kw)`` or one int for all three; ``kh`` and ``kw`` must be odd.
        stride: ``(st, sh, sw)`` or one int.

    Shapes: ``[N, in, T, H, W] -> [N, out, 1 + (T - 1) // st, ceil(H / sh), ceil(W / sw)]``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int | tuple[int, int, int] = 3,
        stride: int | tuple[int, int, int] = 1,
    ) -> None:
        super().__init__()
        check_int(in_channels, "in_channels")
        check_int(out_channels, "out_channels")
        kernel = _triple(kernel, "kernel")
        stride = _triple(stride, "stride")
        if kernel[1] % 2 == 0 or kernel[2] % 2 == 0:
            raise ValueError(f"kernel's spatial sizes must be odd, got kernel={kernel}")
        self.kernel, self.stride = kernel, stride
        self.time_pad = kernel[0] - 1
        self.conv = nn.Conv3d(
            in_channels, out_channels, kernel, stride=stride,
            padding=(0, kernel[1] // 2, kernel[2] // 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.time_pad:
            first = x[:, :, :1].expand(-1, -1, self.time_pad, -1, -1)  # [N, C, kt - 1, H, W]
            x = torch.cat([first, x], dim=2)  # [N, C, kt - 1 + T, H, W]
        return self.conv(x)


def _triple(value: int | tuple[int, ...], name: str) -> tuple[int, int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value, value)
    if not (isinstance(value, tuple) and len(value) == 3):
        raise TypeError(f"{name} must be an int or a tuple of 3 ints, got {value!r}")
    for v in value:
        check_int(v, name)
    return value  # type: ignore[return-value]


class FrameGroupNorm(nn.GroupNorm):
    """GroupNorm applied to each frame on its own (statistics over channels and space only), so
    normalising never mixes frames. ``[N, C, T, H, W] -> [N, C, T, H, W]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, C, T, H, W = x.shape
        frames = x.transpose(1, 2).reshape(N * T, C, H, W)  # [N*T, C, H, W]
        out = super().forward(frames)
        return out.reshape(N, T, C, H, W).transpose(1, 2)  # [N, C, T, H, W]


def _norm(channels: int) -> FrameGroupNorm:
    return FrameGroupNorm(math.gcd(channels, 8), channels)


class ResBlock(nn.Module):
    """``x + conv(SiLU(norm(conv(SiLU(norm(x))))))`` with causal 3x3x3 convolutions."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(channels), CausalConv3d(channels, channels, 3)
        self.norm2, self.conv2 = _norm(channels), CausalConv3d(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


class Upsample(nn.Module):
    """Undo one encoder stage: ``(ft, fs)`` more frames and pixels, then a 1x3x3 convolution.

    Time (``ft > 1``): a 1x1x1 convolution makes ``ft`` sub-frames of each latent frame (depth
    to time), laid out in order; the first ``ft - 1`` are dropped, so latent frame 0 becomes the
    single frame 0 and latent frame ``j >= 1`` becomes frames ``ft (j - 1) + 1 .. ft j``. Space
    (``fs > 1``): nearest-neighbour repetition. ``[N, C, T', H, W] -> [N, C, 1 + ft (T' - 1),
    fs H, fs W]``.
    """

    def __init__(self, channels: int, time_stride: int, space_stride: int) -> None:
        super().__init__()
        self.ft, self.fs = time_stride, space_stride
        self.to_time = nn.Conv3d(channels, channels * self.ft, 1) if self.ft > 1 else None
        self.conv = CausalConv3d(channels, channels, (1, 3, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.to_time is not None:
            N, C, T, H, W = x.shape
            h = self.to_time(x).reshape(N, C, self.ft, T, H, W)  # [N, C, ft, T', H, W]
            h = h.permute(0, 1, 3, 2, 4, 5).reshape(N, C, T * self.ft, H, W)  # frame j*ft + i
            x = h[:, :, self.ft - 1 :]  # [N, C, 1 + ft (T' - 1), H, W]
        if self.fs > 1:
            x = F.interpolate(x, scale_factor=(1, self.fs, self.fs), mode="nearest")
        return self.conv(x)


class CausalVAE(nn.Module):
    """A 3D causal convolutional VAE (after CogVideoX, Yang et al., 2024, §2.1), toy sized.

    Encoder: ``CausalConv3d(C -> width)``, then per stage a strided causal convolution
    (kernel ``(ft, 3, 3)``, stride ``(ft, fs, fs)``) and a residual block, then GroupNorm, SiLU
    and ``CausalConv3d(width -> 2 C')`` giving ``mean`` and ``logvar``. The decoder mirrors it:
    ``CausalConv3d(C' -> width)``, per stage (in reverse) a residual block and an
    :class:`Upsample`, then GroupNorm, SiLU and ``CausalConv3d(width -> C)``. About 280k
    parameters at ``width=32, latent_channels=4, space_factor=4``.

    Causality (exact, tested): latent frame 0 depends only on video frame 0 and latent frame
    ``j`` on frames ``<= f j``; decoded frame ``t`` depends only on latent frames
    ``<= ceil(t / f)``, the latent frame that contains ``t``.
    """

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        if config is None:
            config = VAEConfig()
        if not isinstance(config, VAEConfig):
            raise TypeError(f"config must be a VAEConfig, got {type(config).__name__}")
        self.config = config
        w, stages = config.width, config.stages

        self.enc_in = CausalConv3d(config.channels, w, 3)
        self.enc_down = nn.ModuleList(
            CausalConv3d(w, w, (ft, 3, 3), stride=(ft, fs, fs)) for ft, fs in stages
        )
        self.enc_res = nn.ModuleList(ResBlock(w) for _ in stages)
        self.enc_norm = _norm(w)
        self.enc_out = CausalConv3d(w, 2 * config.latent_channels, 3)

        self.dec_in = CausalConv3d(config.latent_channels, w, 3)
        self.dec_res = nn.ModuleList(ResBlock(w) for _ in stages)
        self.dec_up = nn.ModuleList(Upsample(w, ft, fs) for ft, fs in reversed(stages))
        self.dec_norm = _norm(w)
        self.dec_out = CausalConv3d(w, config.channels, 3)

    # -- shape checks -------------------------------------------------------------------------
    def _param(self) -> torch.Tensor:
        return next(self.parameters())

    def _check_sizes(self, frames: object, height: object, width: object) -> None:
        f, s = self.config.time_factor, self.config.space_factor
        frames = check_int(frames, "frames")
        if (frames - 1) % f:
            lo = 1 + f * ((frames - 1) // f)
            raise ValueError(
                f"frames must be 1 + {f} k (1, {1 + f}, {1 + 2 * f}, ...) for time_factor={f}, "
                f"got {frames} (nearest valid: {lo} or {lo + f})"
            )
        for name, size in (("height", height), ("width", width)):
            size = check_int(size, name)
            if size % s:
                lo = s * (size // s)
                near = f"{lo} or {lo + s}" if lo else f"{s}"
                raise ValueError(
                    f"{name} must be a multiple of space_factor={s}, got {size} "
                    f"(nearest valid: {near})"
                )

    def _check_tensor(self, x: object, name: str, channels: int, what: str) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        p = self._param()
        if not x.dtype.is_floating_point:
            raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
        if x.dtype != p.dtype:
            raise TypeError(f"{name} must have the model's dtype {p.dtype}, got {x.dtype}")
        if x.device != p.device:
            raise ValueError(f"{name} is on {x.device} but the model is on {p.device}")
        if x.dim() != 5:
            raise ValueError(f"{name} must be 5-D {what}, got shape {tuple(x.shape)}")
        if x.shape[1] != channels:
            raise ValueError(
                f"{name} must have {channels} channels (dim 1 of {what}), got shape "
                f"{tuple(x.shape)}"
            )
        if min(x.shape) == 0:
            raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
        return x

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        """``(C', T', H', W')`` of the latent of a ``frames x height x width`` video."""
        self._check_sizes(frames, height, width)
        c = self.config
        return (
            c.latent_channels,
            1 + (frames - 1) // c.time_factor,
            height // c.space_factor,
            width // c.space_factor,
        )

    # -- the model ----------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior ``q(z | x) = N(mean, exp(logvar))`` of the video ``x`` ``[N, C, T, H, W]``.

        Returns:
            ``mean, logvar``, each ``[N, C', 1 + (T - 1) // f, H / s, W / s]``; ``logvar`` is
            clamped to ``[-30, 20]``.
        """
        x = self._check_tensor(x, "x", self.config.channels, "[N, C, T, H, W]")
        self._check_sizes(*x.shape[2:])
        h = self.enc_in(x)  # [N, width, T, H, W]
        for down, res in zip(self.enc_down, self.enc_res):
            h = res(down(h))  # time / ft (first frame alone), space / fs
        h = self.enc_out(F.silu(self.enc_norm(h)))  # [N, 2 C', T', H', W']
        mean, logvar = h.chunk(2, dim=1)
        return mean, logvar.clamp(*_LOGVAR_RANGE)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Video ``[N, C, 1 + f (T' - 1), s H', s W']`` from a latent ``z`` ``[N, C', T', H', W']``.

        The output is raw (not clamped to ``[0, 1]``).
        """
        z = self._check_tensor(z, "z", self.config.latent_channels, "[N, C', T', H', W']")
        h = self.dec_in(z)  # [N, width, T', H', W']
        for res, up in zip(self.dec_res, self.dec_up):
            h = up(res(h))  # time * ft (latent frame 0 -> one frame), space * fs
        return self.dec_out(F.silu(self.dec_norm(h)))  # [N, C, T, H, W]

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, sample ``z = mean + exp(logvar / 2) * eps`` (``z = mean`` in eval mode), decode.

        Args:
            x: videos ``[N, C, T, H, W]``.
            generator: optional :class:`torch.Generator` (on ``x``'s device) for ``eps``.

        Returns:
            ``x_hat`` ``[N, C, T, H, W]``, ``mean`` and ``logvar`` ``[N, C', T', H', W']``.
        """
        mean, logvar = self.encode(x)
        if self.training:
            eps = torch.randn(
                mean.shape, generator=generator, device=mean.device, dtype=mean.dtype
            )
            z = mean + torch.exp(0.5 * logvar) * eps
        else:
            z = mean
        return self.decode(z), mean, logvar


def vae_loss(
    x: torch.Tensor,
    x_hat: torch.Tensor,
    mean: torch.Tensor,
    logvar: torch.Tensor,
    kl_weight: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The VAE objective: reconstruction error plus a lightly weighted KL to the prior.

    .. math::

        L = \\frac{1}{|x|} \\sum (\\hat x - x)^2
            + \\beta \\, \\frac{1}{|z|} \\sum \\tfrac12 (\\mu^2 + \\sigma^2 - 1 - \\log \\sigma^2)

    where the second sum is ``KL(N(mu, sigma^2) || N(0, 1))`` element by element and
    ``beta = kl_weight``.

    Args:
        x, x_hat: the videos and their reconstructions, same shape.
        mean, logvar: the encoder's posterior, same shape.
        kl_weight: ``beta >= 0``.

    Returns:
        ``loss`` (scalar tensor with gradient) and ``{"loss", "recon", "kl"}`` as floats
        (``recon`` is the mean squared error, ``kl`` the mean KL per latent element).
    """
    for name, t in (("x", x), ("x_hat", x_hat), ("mean", mean), ("logvar", logvar)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if x_hat.shape != x.shape:
        raise ValueError(
            f"x_hat must have x's shape {tuple(x.shape)}, got {tuple(x_hat.shape)}"
        )
    if logvar.shape != mean.shape:
        raise ValueError(
            f"logvar must have mean's shape {tuple(mean.shape)}, got {tuple(logvar.shape)}"
        )
    kl_weight = check_float(kl_weight, "kl_weight", low=0.0)
    recon = F.mse_loss(x_hat, x)
    kl = 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).mean()
    loss = recon + kl_weight * kl
    return loss, {"loss": float(loss.detach()), "recon": float(recon.detach()),
                  "kl": float(kl.detach())}


def train_vae(
    model: CausalVAE,
    get_batch: Callable[[int], torch.Tensor],
    *,
    steps: int,
    lr: float = 2e-3,
    warmup: int = 0,
    schedule: str = "cosine",
    kl_weight: float | None = None,
    grad_clip: float | None = 1.0,
    seed: int = 0,
    device: torch.device | str | None = None,
    eval_every: int = 0,
    eval_fn: Callable[[nn.Module], Mapping[str, float]] | None = None,
    progress: bool = True,
    desc: str = "VAE",
) -> TrainHistory:
    """Train ``model`` on :func:`vae_loss` with the book's loop (:func:`readingroom.common.train`).

    Args:
        model: the VAE (moved to ``device`` when one is given).
        get_batch: ``get_batch(step) -> videos [N, C, T, H, W]`` (any device; moved to the
            model's).
        steps, lr, warmup, schedule, grad_clip, eval_every, eval_fn, progress, desc: as in
            :func:`readingroom.common.train` (AdamW; ``"cosine"`` or ``"constant"`` schedule).
        kl_weight: ``beta`` of :func:`vae_loss`; ``None`` takes ``model.config.kl_weight``.
        seed: seeds the generator of the reparameterisation noise.
        device: where to train; ``None`` keeps the model where it is.

    Returns:
        The :class:`~readingroom.common.TrainHistory` (``losses`` are the full VAE loss).
    """
    if not isinstance(model, CausalVAE):
        raise TypeError(f"model must be a CausalVAE, got {type(model).__name__}")
    if not callable(get_batch):
        raise TypeError(
            f"get_batch must be callable as get_batch(step) -> videos, got "
            f"{type(get_batch).__name__}"
        )
    beta = model.config.kl_weight if kl_weight is None else check_float(
        kl_weight, "kl_weight", low=0.0)
    check_int(seed, "seed", minimum=0)
    if device is not None:
        model.to(device)
    gen = torch.Generator(device=model._param().device).manual_seed(seed)

    def loss_fn(m: nn.Module, x: torch.Tensor, _unused: object) -> torch.Tensor:
        x_hat, mean, logvar = m(x, generator=gen)
        return vae_loss(x, x_hat, mean, logvar, beta)[0]

    return train(
        model, lambda step: (get_batch(step), None), steps=steps, lr=lr, warmup=warmup,
        schedule=schedule, grad_clip=grad_clip, loss_fn=loss_fn, eval_every=eval_every,
        eval_fn=eval_fn, progress=progress, desc=desc,
    )


def _check_model(model: object) -> CausalVAE:
    if not isinstance(model, CausalVAE):
        raise TypeError(f"model must be a CausalVAE, got {type(model).__name__}")
    return model


@torch.no_grad()
def _encode_means(model: CausalVAE, videos: torch.Tensor, batch_size: int) -> torch.Tensor:
    if not isinstance(videos, torch.Tensor):
        raise TypeError(f"videos must be a torch.Tensor, got {type(videos).__name__}")
    check_int(batch_size, "batch_size")
    device = model._param().device
    with eval_mode(model):
        parts = [model.encode(videos[i : i + batch_size].to(device))[0]
                 for i in range(0, len(videos), batch_size)]
    if not parts:
        raise ValueError("videos must hold at least one video, got an empty batch")
    return torch.cat(parts)  # [N, C', T', H', W']


def latent_stats(
    model: CausalVAE, videos: torch.Tensor, *, batch_size: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of the encoder means over ``videos``.

    A diffusion model trains best on latents of unit scale; these statistics (computed once on
    training videos, in eval mode without gradients) normalise each latent channel.

    Args:
        model: a trained :class:`CausalVAE`.
        videos: ``[N, C, T, H, W]``, encoded ``batch_size`` at a time on the model's device.

    Returns:
        ``(mean, std)``, each ``[C']`` on the model's device.
    """
    model = _check_model(model)
    means = _encode_means(model, videos, batch_size)  # [N, C', T', H', W']
    per_channel = means.transpose(0, 1).reshape(means.shape[1], -1)  # [C', N T' H' W']
    return per_channel.mean(dim=1), per_channel.std(dim=1).clamp_min(1e-6)


def _check_stats(model: CausalVAE, stats: object, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
    c = model.config.latent_channels
    if not (isinstance(stats, (tuple, list)) and len(stats) == 2
            and all(isinstance(t, torch.Tensor) for t in stats)):
        raise TypeError("stats must be a pair (mean, std) of tensors, as from latent_stats")
    mean, std = stats
    if mean.shape != (c,) or std.shape != (c,):
        raise ValueError(
            f"stats must be two tensors of shape [latent_channels={c}], got "
            f"{tuple(mean.shape)} and {tuple(std.shape)}"
        )
    if bool((std <= 0).any()):
        raise ValueError("stats' std must be positive")
    shape = (1, c, 1, 1, 1)
    return (mean.to(like).reshape(shape), std.to(like).reshape(shape))


def encode_normalised(
    model: CausalVAE,
    videos: torch.Tensor,
    stats: tuple[torch.Tensor, torch.Tensor],
    *,
    batch_size: int = 64,
) -> torch.Tensor:
    """Latents for a diffusion model: ``(mean(x) - mu_c) / sigma_c`` per channel ``c``.

    Uses the encoder's mean (no sampling), in eval mode without gradients.
    ``[N, C, T, H, W] -> [N, C', T', H', W']`` on the model's device.
    """
    model = _check_model(model)
    means = _encode_means(model, videos, batch_size)
    mu, sigma = _check_stats(model, stats, means)
    return (means - mu) / sigma


@torch.no_grad()
def decode_normalised(
    model: CausalVAE, z: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    """Invert :func:`encode_normalised`: decode ``z * sigma_c + mu_c`` (eval mode, no grad).

    ``[N, C', T', H', W'] -> [N, C, T, H, W]`` (raw decoder output; clamp to ``[0, 1]`` to show).
    """
    model = _check_model(model)
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"z must be a torch.Tensor, got {type(z).__name__}")
    mu, sigma = _check_stats(model, stats, z)
    with eval_mode(model):
        return model.decode(z * sigma + mu)
