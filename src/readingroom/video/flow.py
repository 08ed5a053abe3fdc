"""Rectified flow: the training objective and the sampler, with image-to-video conditioning.

A straight path from data to noise (Liu et al., 2022; Lipman et al., 2022), as in Open-Sora 2.0
and SD3 (Esser et al., 2024):

.. math::  x_t = (1 - t)\\,x_0 + t\\,\\varepsilon, \\qquad \\varepsilon \\sim \\mathcal N(0, I),
           \\quad t \\in [0, 1]                                                          (1)

The model learns the velocity of that path, :math:`v^* = \\mathrm{d}x_t/\\mathrm{d}t =
\\varepsilon - x_0`, by regression:

.. math::  \\mathcal L = \\mathbb E_{x_0, \\varepsilon, t}\\,
           \\lVert v_\\theta(x_t, t, y) - (\\varepsilon - x_0) \\rVert^2                   (2)

with ``t`` drawn logit-normally (SD3 §3.1: more weight on the middle of the path). Sampling
integrates ``dx/dt = v`` from pure noise at ``t = 1`` to ``t = 0`` with Euler steps, and
classifier-free guidance (Ho & Salimans, 2022) mixes the conditional and unconditional
velocities, :math:`v = v_\\varnothing + w\\,(v_y - v_\\varnothing)` (3).

**Image-to-video.** A boolean ``cond_mask`` marks tokens given as context (the first latent frame,
which the causal VAE encodes from the first frame alone). They stay clean (``t = 0`` for those
tokens, ``x_t = x_0``) during training and sampling, and are left out of the loss (2).

Tensors are token sequences ``[B, N, P]`` with ``coords [B, N, 3]`` and ``video [B, N]`` as in
:class:`~readingroom.video.dit.DiT`; :func:`as_tokens` makes them from a batch of latents.
"""

from __future__ import annotations

import torch
from torch import nn

from readingroom.common.checks import check_float, check_int
from readingroom.video.patch import patchify, unpatchify

__all__ = ["as_tokens", "from_tokens", "flow_loss", "flow_val_loss", "sample_flow",
           "first_frame_mask"]


def as_tokens(z: torch.Tensor, patch: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor,
                                                                      torch.Tensor]:
    """A batch of same-shape latents ``[B, C, T, H, W]`` as ``tokens [B, N, P]``,
    ``coords [B, N, 3]`` and ``video [B, N]`` (zeros: one video per row)."""
    if not isinstance(z, torch.Tensor) or z.dim() != 5:
        raise ValueError("z must be a 5-D tensor [B, C, T, H, W]")
    pairs = [patchify(zi, patch) for zi in z]
    tokens = torch.stack([p[0] for p in pairs])
    coords = torch.stack([p[1] for p in pairs])
    video = torch.zeros(tokens.shape[:2], dtype=torch.long, device=z.device)
    return tokens, coords, video


def from_tokens(tokens: torch.Tensor, latent_shape: tuple[int, int, int, int],
                patch: tuple[int, int, int]) -> torch.Tensor:
    """Inverse of :func:`as_tokens`: ``[B, N, P]`` to ``[B, C, T, H, W]``."""
    C, T, H, W = latent_shape
    grid = (T // patch[0], H // patch[1], W // patch[2])
    return torch.stack([unpatchify(x, grid, patch, C) for x in tokens])


def first_frame_mask(coords: torch.Tensor, frames: int = 1) -> torch.Tensor:
    """``[B, N]`` True for the tokens of the first ``frames`` latent frames (the context of
    image-to-video)."""
    return coords[..., 0] < frames


def _check_condition(x0: torch.Tensor, cond_mask: torch.Tensor | None) -> torch.Tensor:
    if cond_mask is None:
        return torch.zeros(x0.shape[:2], dtype=torch.bool, device=x0.device)
    if cond_mask.shape != x0.shape[:2] or cond_mask.dtype != torch.bool:
        raise ValueError(f"cond_mask must be a bool tensor of shape {list(x0.shape[:2])}")
    return cond_mask


def flow_loss(model: nn.Module, x0: torch.Tensor, coords: torch.Tensor, video: torch.Tensor,
              y: torch.Tensor, *, generator: torch.Generator | None = None,
              cond_mask: torch.Tensor | None = None, class_dropout: float = 0.1) -> torch.Tensor:
    """The rectified-flow loss (2) on one batch.

    Args:
        model: a :class:`~readingroom.video.dit.DiT`.
        x0: ``[B, N, P]`` clean tokens; ``coords``, ``video`` as for the model.
        y: ``[B]`` class of each row's video.
        generator: source of ``t``, ``epsilon`` and the class dropout.
        cond_mask: ``[B, N]`` bool, tokens kept clean and out of the loss (image-to-video).
        class_dropout: probability of replacing a row's class by the null class, so that the
            same model also learns the unconditional velocity for guidance (3).
    """
    check_float(class_dropout, "class_dropout", low=0.0, high=1.0, high_open=True)
    cond = _check_condition(x0, cond_mask)
    B, N, _ = x0.shape
    dev = x0.device
    t = torch.sigmoid(torch.randn(B, 1, device=dev, generator=generator))      # logit-normal
    t = t.expand(B, N).masked_fill(cond, 0.0)
    eps = torch.randn(x0.shape, device=dev, generator=generator)
    xt = (1 - t).unsqueeze(-1) * x0 + t.unsqueeze(-1) * eps                    # (1)
    n_classes = model.config.n_classes
    drop = torch.rand(B, device=dev, generator=generator) < class_dropout
    y = torch.where(drop, torch.full_like(y, n_classes), y)
    v = model(xt, coords, video, t, y.unsqueeze(1).expand(B, N))
    err = ((v - (eps - x0)) ** 2).mean(-1)                                    # [B, N]
    keep = (~cond).float()
    return (err * keep).sum() / keep.sum().clamp_min(1.0)


@torch.no_grad()
def flow_val_loss(model: nn.Module, x0: torch.Tensor, coords: torch.Tensor, video: torch.Tensor,
                  y: torch.Tensor, *, seed: int = 0, levels: int = 8) -> float:
    """A deterministic estimate of (2) for held-out data: every row at ``levels`` evenly spaced
    noise levels (midpoints of ``[0, 1]``), fixed noise from ``seed``, no class dropout. Used to
    compare models and training stages on equal terms."""
    levels = check_int(levels, "levels")
    gen = torch.Generator(device=x0.device).manual_seed(seed)
    B, N, _ = x0.shape
    total = 0.0
    for k in range(levels):
        t = torch.full((B, N), (k + 0.5) / levels, device=x0.device)
        eps = torch.randn(x0.shape, device=x0.device, generator=gen)
        xt = (1 - t).unsqueeze(-1) * x0 + t.unsqueeze(-1) * eps
        v = model(xt, coords, video, t, y.unsqueeze(1).expand(B, N))
        total += float(((v - (eps - x0)) ** 2).mean())
    return total / levels


@torch.no_grad()
def sample_flow(model: nn.Module, coords: torch.Tensor, video: torch.Tensor, y: torch.Tensor, *,
                steps: int = 30, guidance: float = 2.0, generator: torch.Generator | None = None,
                context: torch.Tensor | None = None,
                cond_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Generate tokens by integrating the learned velocity from noise (Euler, ``steps`` steps).

    Args:
        model: a trained :class:`~readingroom.video.dit.DiT`.
        coords, video: ``[B, N, 3]``, ``[B, N]``: the shape(s) to generate (a row may pack several
            videos of different shapes).
        y: ``[B, N]`` class per token (a packed row may ask for different classes), or ``[B]``.
        guidance: the weight ``w`` of (3); ``1`` is plain conditional sampling, ``0``
            unconditional.
        context, cond_mask: clean tokens ``[B, N, P]`` and the ``[B, N]`` mask of those to keep
            (image-to-video); both or neither.

    Returns:
        ``[B, N, P]`` generated clean tokens.
    """
    steps = check_int(steps, "steps")
    B, N = video.shape
    if y.dim() == 1:
        y = y.unsqueeze(1).expand(B, N)
    if (context is None) != (cond_mask is None):
        raise ValueError("give both context and cond_mask for image-to-video, or neither")
    P = model.config.token_dim
    dev = coords.device
    x = torch.randn((B, N, P), device=dev, generator=generator)
    cond = torch.zeros((B, N), dtype=torch.bool, device=dev) if cond_mask is None else cond_mask
    if context is not None:
        x = torch.where(cond.unsqueeze(-1), context, x)
    null = torch.full_like(y, model.config.n_classes)
    ts = torch.linspace(1.0, 0.0, steps + 1, device=dev)
    for i in range(steps):
        t = ts[i].expand(B, N).masked_fill(cond, 0.0)
        if guidance == 1.0:
            v = model(x, coords, video, t, y)
        else:
            both = model(torch.cat([x, x]), torch.cat([coords, coords]),
                         torch.cat([video, video]), torch.cat([t, t]), torch.cat([y, null]))
            v_y, v_null = both.chunk(2)
            v = v_null + guidance * (v_y - v_null)                            # (3)
        x = x + (ts[i + 1] - ts[i]) * v
        if context is not None:
            x = torch.where(cond.unsqueeze(-1), context, x)
    return x
