"""A diffusion transformer over spacetime patches (DiT with adaLN-Zero; Latte's attention splits).

Sora is "a diffusion transformer" (Brooks et al., 2024): it denoises a sequence of spacetime patch
tokens, conditioned on the noise level and a prompt. The report gives no architecture; this one is
DiT's (Peebles & Xie, 2023):

* tokens ``[B, N, P]`` are embedded by a linear map and given a fixed 3-D sinusoidal position
  code of their patch coordinates ``(t, h, w)``; fixed codes work for any duration and size;
* the condition ``c`` = embedding of the noise level ``t`` + embedding of the class ``y`` (here a
  motion class stands in for the text prompt; the extra class id ``n_classes`` means "no class",
  for classifier-free guidance). ``t`` and ``y`` are given **per token**, so some tokens can be
  clean conditioning frames (``t = 0``) while the rest are noisy: image-to-video;
* ``n_layers`` blocks with **adaLN-Zero** (DiT §3.2): from ``c`` a linear layer makes a shift
  ``beta``, scale ``gamma`` and gate ``alpha`` for each sublayer,
  ``x = x + alpha_1 * Attn(LN(x) * (1 + gamma_1) + beta_1)``, likewise for the MLP; the layer is
  initialised to zero, so every block starts as the identity;
* attention over the tokens of the same video only, either ``full`` spacetime attention in every
  block, ``factorised`` (Latte: blocks alternate spatial and temporal attention), or ``frame``
  (spatial attention only: each latent frame is denoised on its own, a control that cannot
  coordinate motion across frames);
* a final adaLN layer and a zero-initialised linear map back to ``P`` numbers per token: the
  predicted velocity (see :mod:`readingroom.video.flow`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from readingroom.common.checks import check_choice, check_int
from readingroom.video.patch import attention_mask

__all__ = ["DiTConfig", "DiT", "ATTENTION_MODES", "DIT_SIZES", "sincos_3d", "block_kinds"]

ATTENTION_MODES = ("full", "factorised", "frame")
# three sizes for the scaling experiment (widths and depths in the spirit of DiT-S/B/L)
DIT_SIZES = {
    "small": dict(d_model=64, n_layers=4, n_heads=4),
    "medium": dict(d_model=128, n_layers=4, n_heads=4),
    "large": dict(d_model=192, n_layers=6, n_heads=6),
}


@dataclass
class DiTConfig:
    """Sizes of a :class:`DiT`.

    Attributes:
        token_dim: ``P``, the width of a patch token (latent channels x patch volume).
        n_classes: number of prompt classes; id ``n_classes`` is the null class.
        d_model, n_layers, n_heads: transformer width, depth, heads (``n_heads`` divides
            ``d_model``).
        mlp_ratio: MLP hidden width / ``d_model``.
        attention: one of :data:`ATTENTION_MODES`.
    """

    token_dim: int
    n_classes: int
    d_model: int = 128
    n_layers: int = 6
    n_heads: int = 4
    mlp_ratio: int = 4
    attention: str = "full"

    def __post_init__(self) -> None:
        for name in ("token_dim", "n_classes", "d_model", "n_layers", "n_heads", "mlp_ratio"):
            check_int(getattr(self, name), name)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if self.d_model < 6:
            raise ValueError(f"d_model must be at least 6 (two dims per axis), got {self.d_model}")
        check_choice(self.attention, "attention", ATTENTION_MODES)


def block_kinds(attention: str, n_layers: int) -> list[str]:
    """The attention kind of each block: all ``full``; alternating ``spatial``/``temporal``
    (factorised, Latte's variant 1); or all ``spatial`` (per frame)."""
    check_choice(attention, "attention", ATTENTION_MODES)
    check_int(n_layers, "n_layers")
    if attention == "full":
        return ["full"] * n_layers
    if attention == "factorised":
        return ["spatial" if i % 2 == 0 else "temporal" for i in range(n_layers)]
    return ["spatial"] * n_layers  # "frame"


def _sincos(pos: torch.Tensor, dim: int, base: float = 100.0) -> torch.Tensor:
    """``[..., dim]`` sin/cos code of positions ``pos [...]`` (Vaswani et al., 2017, §3.5)."""
    half = dim // 2
    freq = torch.exp(-math.log(base) * torch.arange(half, device=pos.device) / max(half, 1))
    angle = pos.float().unsqueeze(-1) * freq
    return torch.cat([angle.sin(), angle.cos()], dim=-1)


def sincos_3d(coords: torch.Tensor, dim: int) -> torch.Tensor:
    """Fixed 3-D position code ``[..., dim]`` of patch coordinates ``coords [..., 3]``: a third of
    the (even) dimensions for each of ``t``, ``h``, ``w``, zero-padded to ``dim``."""
    per_axis = (dim // 3) // 2 * 2
    parts = [_sincos(coords[..., i], per_axis) for i in range(3)]
    code = torch.cat(parts, dim=-1)
    return F.pad(code, (0, dim - code.shape[-1]))


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal code of noise levels ``t in [0, 1]`` (scaled by 1000 as in DiT), ``[..., dim]``."""
    return _sincos(t * 1000.0, dim, base=10000.0)


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class _Attention(nn.Module):
    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, N, D = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.n_heads, D // self.n_heads).unbind(2)
        q, k, v = (a.transpose(1, 2) for a in (q, k, v))       # [B, H, N, Dh]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.unsqueeze(1))
        return self.proj(out.transpose(1, 2).reshape(B, N, D))


class DiTBlock(nn.Module):
    """One adaLN-Zero block (DiT §3.2, Fig. 3): attention and MLP, each modulated and gated by
    the per-token condition ``c``."""

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: int, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.norm1 = nn.LayerNorm(d_model, elementwise_affine=False, eps=1e-6)
        self.attn = _Attention(d_model, n_heads)
        self.norm2 = nn.LayerNorm(d_model, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(d_model, mlp_ratio * d_model), nn.GELU(approximate="tanh"),
                                 nn.Linear(mlp_ratio * d_model, d_model))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(d_model, 6 * d_model))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor, masks: dict[str, torch.Tensor]) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c).chunk(6, dim=-1)
        x = x + gate1 * self.attn(_modulate(self.norm1(x), shift1, scale1), masks[self.kind])
        return x + gate2 * self.mlp(_modulate(self.norm2(x), shift2, scale2))


class DiT(nn.Module):
    """The denoiser: ``v = model(tokens, coords, video, t, y)``, all per token.

    Args of ``forward``:
        tokens: ``[B, N, P]`` noisy patch tokens (``[N, P]`` is treated as ``B = 1``).
        coords: ``[B, N, 3]`` long patch-grid coordinates ``(t, h, w)``.
        video: ``[B, N]`` long: which video of the row each token belongs to (``-1``: padding).
            Attention never crosses videos, so a row may pack videos of different shapes.
        t: ``[B, N]`` noise level of each token in ``[0, 1]`` (``0`` = clean).
        y: ``[B, N]`` long class of each token's video, in ``[0, n_classes]``.

    Returns:
        ``[B, N, P]`` (or ``[N, P]``): the predicted velocity.
    """

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        if not isinstance(config, DiTConfig):
            raise TypeError(f"config must be a DiTConfig, got {type(config).__name__}")
        self.config = config
        D = config.d_model
        self.embed = nn.Linear(config.token_dim, D)
        self.t_mlp = nn.Sequential(nn.Linear(D, D), nn.SiLU(), nn.Linear(D, D))
        self.y_embed = nn.Embedding(config.n_classes + 1, D)
        self.blocks = nn.ModuleList(
            DiTBlock(D, config.n_heads, config.mlp_ratio, kind)
            for kind in block_kinds(config.attention, config.n_layers))
        self.norm_out = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(D, 2 * D))
        self.out = nn.Linear(D, config.token_dim)
        for layer in (self.ada_out[1], self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, tokens: torch.Tensor, coords: torch.Tensor, video: torch.Tensor,
                t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        squeeze = tokens.dim() == 2
        if squeeze:
            tokens, coords, video, t, y = (a.unsqueeze(0) for a in (tokens, coords, video, t, y))
        self._check(tokens, coords, video, t, y)
        kinds = {block.kind for block in self.blocks}
        masks = {kind: attention_mask(video, coords, kind) for kind in kinds}
        D = self.config.d_model
        x = self.embed(tokens) + sincos_3d(coords, D)                      # [B, N, D]
        c = self.t_mlp(timestep_embedding(t, D)) + self.y_embed(y)         # [B, N, D]
        for block in self.blocks:
            x = block(x, c, masks)
        shift, scale = self.ada_out(c).chunk(2, dim=-1)
        v = self.out(_modulate(self.norm_out(x), shift, scale))
        return v.squeeze(0) if squeeze else v

    def _check(self, tokens, coords, video, t, y) -> None:
        if tokens.dim() != 3 or tokens.shape[-1] != self.config.token_dim:
            raise ValueError(f"tokens must be [B, N, {self.config.token_dim}], "
                             f"got {list(tokens.shape)}")
        B, N = tokens.shape[:2]
        for name, a, shape in (("coords", coords, (B, N, 3)), ("video", video, (B, N)),
                               ("t", t, (B, N)), ("y", y, (B, N))):
            if tuple(a.shape) != shape:
                raise ValueError(f"{name} must have shape {list(shape)}, got {list(a.shape)}")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) > self.config.n_classes):
            raise ValueError(f"y must lie in [0, {self.config.n_classes}] "
                             f"({self.config.n_classes} = no class)")

    def n_params(self) -> int:
        """Number of trainable scalars."""
        return sum(p.numel() for p in self.parameters())
