"""Spacetime patches, and many videos of different shapes packed into one sequence.

Sora's report: "we turn videos into patches by first compressing videos into a lower-dimensional
latent space, and subsequently decomposing the representation into spacetime patches" (Brooks et
al., 2024, "Turning visual data into patches"). A latent video ``z`` of shape ``[C, T, H, W]`` is
cut into non-overlapping boxes of ``pt x ph x pw`` latent cells; each box, flattened, is one token
of width ``C * pt * ph * pw``. A token remembers where it came from by its grid coordinates
``(t, h, w)``.

Because the patches of a video are just a set of tokens with coordinates, videos of different
durations, resolutions and aspect ratios can share one sequence ("native resolution", NaViT,
Dehghani et al., 2023): :func:`pack` concatenates their tokens and records which video each token
belongs to, and :func:`attention_mask` only lets a token attend inside its own video. The
transformer then needs no padding, cropping or resizing.

Shapes: ``C`` latent channels, ``(T, H, W)`` latent frames and size, ``(nt, nh, nw)`` the patch
grid, ``N`` tokens, ``P = C * pt * ph * pw`` the token width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from readingroom.common.checks import check_choice

__all__ = ["Packed", "patchify", "unpatchify", "pack", "unpack", "attention_mask",
           "ATTENTION_KINDS"]

# full: every token of a video sees every other (spacetime attention, Sora/DiT); spatial: only the
# tokens of the same latent frame; temporal: only the tokens at the same place in other frames.
ATTENTION_KINDS = ("full", "spatial", "temporal")


def _check_patch(patch: object) -> tuple[int, int, int]:
    if (not isinstance(patch, (tuple, list)) or len(patch) != 3
            or any(isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in patch)):
        raise ValueError(f"patch must be three positive ints (pt, ph, pw), got {patch!r}")
    return tuple(patch)  # type: ignore[return-value]


def _check_latent(z: object, patch: tuple[int, int, int], name: str = "z") -> torch.Tensor:
    if not isinstance(z, torch.Tensor) or z.dim() != 4:
        what = f"{z.dim()}-D tensor" if isinstance(z, torch.Tensor) else type(z).__name__
        raise ValueError(f"{name} must be a 4-D tensor [C, T, H, W], got a {what}")
    for size, p, axis in zip(z.shape[1:], patch, "THW"):
        if size % p:
            raise ValueError(f"{name}'s {axis} = {size} is not divisible by the patch size {p} "
                             f"(patch={patch}); crop or pad the latent to a multiple of {p}")
    return z


def patchify(z: torch.Tensor, patch: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut one latent video into spacetime patches.

    Args:
        z: ``[C, T, H, W]`` with ``T, H, W`` divisible by ``patch``.
        patch: ``(pt, ph, pw)``.

    Returns:
        ``tokens [N, P]`` in (t, h, w) raster order and ``coords [N, 3]`` (long), the patch-grid
        position of each token; ``N = nt * nh * nw``.
    """
    pt, ph, pw = _check_patch(patch)
    z = _check_latent(z, (pt, ph, pw))
    C, T, H, W = z.shape
    nt, nh, nw = T // pt, H // ph, W // pw
    x = z.reshape(C, nt, pt, nh, ph, nw, pw)
    x = x.permute(1, 3, 5, 0, 2, 4, 6)                      # [nt, nh, nw, C, pt, ph, pw]
    tokens = x.reshape(nt * nh * nw, C * pt * ph * pw)
    grid = torch.stack(torch.meshgrid(torch.arange(nt), torch.arange(nh), torch.arange(nw),
                                      indexing="ij"), dim=-1)
    return tokens, grid.reshape(-1, 3).to(z.device)


def unpatchify(tokens: torch.Tensor, grid: tuple[int, int, int],
               patch: tuple[int, int, int], channels: int) -> torch.Tensor:
    """Inverse of :func:`patchify`: ``tokens [N, P]`` in raster order back to ``[C, T, H, W]``."""
    pt, ph, pw = _check_patch(patch)
    nt, nh, nw = _check_patch(grid)
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2:
        raise ValueError("tokens must be a 2-D tensor [N, P]")
    if tokens.shape != (nt * nh * nw, channels * pt * ph * pw):
        raise ValueError(f"tokens must have shape [{nt * nh * nw}, {channels * pt * ph * pw}] "
                         f"for grid {grid}, patch {patch} and {channels} channels, "
                         f"got {list(tokens.shape)}")
    x = tokens.reshape(nt, nh, nw, channels, pt, ph, pw).permute(3, 0, 4, 1, 5, 2, 6)
    return x.reshape(channels, nt * pt, nh * ph, nw * pw)


@dataclass
class Packed:
    """Several latent videos as one token sequence.

    Attributes:
        tokens: ``[N, P]``, the videos' patches one video after another.
        coords: ``[N, 3]`` long, each token's ``(t, h, w)`` in its own video's patch grid.
        video: ``[N]`` long, which video (0, 1, ...) each token belongs to.
        grids: each video's patch grid ``(nt, nh, nw)``.
        patch: the patch size ``(pt, ph, pw)``; ``channels``: ``C``.
    """

    tokens: torch.Tensor
    coords: torch.Tensor
    video: torch.Tensor
    grids: list[tuple[int, int, int]]
    patch: tuple[int, int, int]
    channels: int

    def lengths(self) -> list[int]:
        """Tokens per video."""
        return [a * b * c for a, b, c in self.grids]


def pack(latents: Sequence[torch.Tensor], patch: tuple[int, int, int]) -> Packed:
    """Patchify each latent ``[C, T_i, H_i, W_i]`` and concatenate them into one :class:`Packed`
    sequence (NaViT's "patch n' pack"). The videos may differ in duration and size, not in ``C``."""
    patch = _check_patch(patch)
    if isinstance(latents, torch.Tensor) or not isinstance(latents, Sequence) or not latents:
        raise ValueError("latents must be a non-empty list of [C, T, H, W] tensors")
    channels = None
    tokens, coords, video, grids = [], [], [], []
    for i, z in enumerate(latents):
        z = _check_latent(z, patch, name=f"latents[{i}]")
        if channels is None:
            channels = z.shape[0]
        elif z.shape[0] != channels:
            raise ValueError(f"latents[{i}] has {z.shape[0]} channels, latents[0] has {channels}")
        tok, xyz = patchify(z, patch)
        tokens.append(tok)
        coords.append(xyz)
        video.append(torch.full((tok.shape[0],), i, dtype=torch.long, device=z.device))
        grids.append(tuple(s // p for s, p in zip(z.shape[1:], patch)))
    return Packed(torch.cat(tokens), torch.cat(coords), torch.cat(video), grids, patch, channels)


def unpack(packed: Packed, tokens: torch.Tensor | None = None) -> list[torch.Tensor]:
    """Split a packed sequence back into latent videos. ``tokens`` (default: ``packed.tokens``)
    may be any ``[N, P]`` tensor aligned with the packing, e.g. the model's prediction."""
    tokens = packed.tokens if tokens is None else tokens
    if tokens.shape != packed.tokens.shape:
        raise ValueError(f"tokens must have the packed shape {list(packed.tokens.shape)}, "
                         f"got {list(tokens.shape)}")
    out, start = [], 0
    for grid, n in zip(packed.grids, packed.lengths()):
        out.append(unpatchify(tokens[start:start + n], grid, packed.patch, packed.channels))
        start += n
    return out


def attention_mask(video: torch.Tensor, coords: torch.Tensor, kind: str) -> torch.Tensor:
    """Which token may attend to which: ``[..., N, N]`` bool, True = allowed.

    Tokens attend only inside their own video (block-diagonal over ``video``), and within it:

    * ``"full"``: to every token (spacetime attention; Sora and DiT);
    * ``"spatial"``: to the tokens of the same latent frame (same ``t``);
    * ``"temporal"``: to the tokens at the same place ``(h, w)`` in every frame.

    Latte's factorised transformer alternates spatial and temporal blocks; a per-frame model uses
    only spatial ones (Ma et al., 2024, Latte, §3.2). Computing a masked ``N x N`` attention is the
    plain way to write all three at once; production code reshapes instead.

    Args:
        video: ``[..., N]`` long video ids (a negative id marks padding: it attends only to
            itself, so no row of the mask is empty).
        coords: ``[..., N, 3]`` long patch-grid coordinates.
        kind: one of :data:`ATTENTION_KINDS`.
    """
    check_choice(kind, "kind", ATTENTION_KINDS)
    if coords.shape[:-1] != video.shape or coords.shape[-1] != 3:
        raise ValueError(f"coords must have shape [..., N, 3] matching video {list(video.shape)},"
                         f" got {list(coords.shape)}")
    mask = video.unsqueeze(-1) == video.unsqueeze(-2)                 # [..., N, N]
    if kind == "spatial":
        mask = mask & (coords[..., :, None, 0] == coords[..., None, :, 0])
    elif kind == "temporal":
        same_place = (coords[..., :, None, 1:] == coords[..., None, :, 1:]).all(-1)
        mask = mask & same_place
    pad = video < 0
    if pad.any():
        eye = torch.eye(video.shape[-1], dtype=torch.bool, device=video.device)
        mask = torch.where(pad.unsqueeze(-1), eye, mask & ~pad.unsqueeze(-2))
    return mask
