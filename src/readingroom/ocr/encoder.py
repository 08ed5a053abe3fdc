"""A mini DeepEncoder: window attention, a 16x token compressor, global attention, a projector.

DeepSeek-OCR (Wei et al., 2025, Section 3.2, Figure 3) encodes a page in three stages:

1. **Perception at high resolution, cheaply**: SAM-base (a ViTDet-style encoder, patch size 16)
   *dominated by* window attention: 8 of its 12 blocks attend only inside local 14 x 14 windows,
   whose memory is linear in the number of patches, and 4 blocks between them attend globally.
   Because this stage is dominated by window attention and small (80M), the paper finds its
   activations on a 1024 x 1024 page — 64 x 64 = 4096 patch tokens — acceptable. This module's
   first stage has window blocks only.
2. **A 16x token compressor**: two convolutions, kernel 3, stride 2, padding 1 (256 -> 1024
   channels in the paper). Each halves both sides of the patch grid: 64 x 64 -> 16 x 16, so 4096
   patch tokens become 256 vision tokens.
3. **Knowledge with global attention**: CLIP-large (its patch embedding removed) attends over the
   few compressed tokens; a projector maps them to the decoder's width.

This module keeps that structure at a size a CPU can train: the patch size is 4 instead of 16 and
the pages are 4x smaller per side, so every resolution mode yields exactly the paper's number of
vision tokens (Table 1):

======  ==============  ===========  =================
mode    paper (pixels)  here         vision tokens
======  ==============  ===========  =================
tiny    512 x 512       128 x 128    64  (resize)
small   640 x 640       160 x 160    100 (resize)
base    1024 x 1024     256 x 256    256 (pad)
large   1280 x 1280     320 x 320    400 (pad)
======  ==============  ===========  =================

Tiny and Small *resize* the page to the square (the aspect ratio is lost, every token is
content). Base and Large keep the aspect ratio and *pad* the page to the square; only part of the
tokens then cover content, and the paper counts the valid ones with its Eq. (1):
``N_valid = ceil(N_actual * (1 - (max(w, h) - min(w, h)) / max(w, h)))``
(:func:`valid_tokens`). The dynamic-tiling "Gundam" modes are not built.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from readingroom.common.checks import check_int as _check_int
from readingroom.common.checks import check_choice, check_float

__all__ = [
    "COMPRESSION",
    "MODES",
    "DeepEncoder",
    "EncoderConfig",
    "Mode",
    "get_mode",
    "prepare_page",
    "shrink",
    "sincos_2d",
    "valid_tokens",
    "vision_tokens",
]

#: How many patch tokens the compressor folds into one vision token: two stride-2 convolutions.
COMPRESSION = 16


@dataclass(frozen=True)
class Mode:
    """A resolution mode: the square input ``size`` in pixels and how a page gets there.

    ``fit="resize"`` stretches the page to ``size x size``; ``fit="pad"`` scales it so its longer
    side is ``size`` and pads the shorter side with white paper (Section 3.2.2).
    """

    name: str
    size: int
    fit: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty str, got {self.name!r}")
        _check_int(self.size, "size")
        check_choice(self.fit, "fit", ("resize", "pad"))


#: The native-resolution modes of Table 1, at a quarter of the paper's pixel size (patch size 4).
MODES: dict[str, Mode] = {
    "tiny": Mode("tiny", 128, "resize"),
    "small": Mode("small", 160, "resize"),
    "base": Mode("base", 256, "pad"),
    "large": Mode("large", 320, "pad"),
}


def get_mode(mode: str | Mode) -> Mode:
    """``MODES[mode]`` for a name, or ``mode`` itself."""
    if isinstance(mode, Mode):
        return mode
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a mode name or a Mode, got {type(mode).__name__}")
    check_choice(mode, "mode", MODES)
    return MODES[mode]


@dataclass(frozen=True)
class EncoderConfig:
    """Sizes of the mini DeepEncoder.

    Attributes:
        patch_size: pixels per patch side (16 in the paper, 4 here; see the module docstring).
        d_window, n_window_layers, window: width, depth and window side (in patches) of the
            window-attention stage (SAM-base: 768 wide, 12 layers, 14 x 14 windows in 8 of
            them and global attention in the other 4; here every block is windowed).
        d_global, n_global_layers: width and depth of the global-attention stage (CLIP-large:
            1024 wide, 24 layers); the compressor maps ``d_window`` to ``d_global`` channels.
        n_heads: attention heads in both stages.
        d_out: the projector's output width, i.e. the decoder's ``d_model``.
    """

    patch_size: int = 4
    d_window: int = 32
    n_window_layers: int = 2
    window: int = 8
    d_global: int = 64
    n_global_layers: int = 2
    n_heads: int = 4
    d_out: int = 64

    def __post_init__(self) -> None:
        for name in ("patch_size", "d_window", "window", "d_global", "n_heads", "d_out"):
            _check_int(getattr(self, name), name)
        for name in ("n_window_layers", "n_global_layers"):  # 0 layers: an ablation
            _check_int(getattr(self, name), name, minimum=0)
        for name in ("d_window", "d_global"):
            if getattr(self, name) % self.n_heads:
                raise ValueError(f"{name} ({getattr(self, name)}) must be divisible by n_heads "
                                 f"({self.n_heads})")
            if getattr(self, name) % 4:
                raise ValueError(f"{name} must be divisible by 4 for the 2-D sine-cosine "
                                 f"positions, got {getattr(self, name)}")


def vision_tokens(mode: str | Mode, config: EncoderConfig | None = None) -> int:
    """Vision tokens a page yields in ``mode``: ``(size / patch_size / 4) ** 2``.

    The patch grid is ``size / patch_size`` per side and each of the compressor's two stride-2
    convolutions halves it (rounding up, as a padded 3 x 3 convolution does).
    """
    mode = get_mode(mode)
    config = EncoderConfig() if config is None else config
    if mode.size % config.patch_size:
        raise ValueError(f"mode {mode.name!r}: size {mode.size} is not a multiple of "
                         f"patch_size {config.patch_size}")
    side = mode.size // config.patch_size
    for _ in range(2):
        side = (side + 1) // 2
    return side * side


def valid_tokens(mode: str | Mode, width: int, height: int,
                 config: EncoderConfig | None = None) -> int:
    """The vision tokens that cover a ``width x height`` page: the paper's Eq. (1).

    ``N_valid = ceil(N_actual * (1 - (max(w, h) - min(w, h)) / max(w, h)))`` for the padded modes
    (Base, Large); for the resized modes (Tiny, Small) every token covers the page, so
    ``N_valid = N_actual``.
    """
    mode = get_mode(mode)
    width, height = _check_int(width, "width"), _check_int(height, "height")
    n_actual = vision_tokens(mode, config)
    if mode.fit == "resize":
        return n_actual
    long_side, short_side = max(width, height), min(width, height)
    # Exact rational arithmetic: N * short / long, rounded up.
    return -(-n_actual * short_side // long_side)


def prepare_page(image: torch.Tensor, mode: str | Mode) -> torch.Tensor:
    """Bring page images ``[H, W]`` or ``[B, H, W]`` (1 = white, 0 = ink) to the mode's square.

    ``resize`` stretches to ``size x size`` (bilinear, antialiased); ``pad`` scales the page so
    its longer side is ``size`` (aspect ratio kept) and pads the rest with white, page at the top
    left. Returns ``[B, 1, size, size]`` float32.
    """
    mode = get_mode(mode)
    if not isinstance(image, torch.Tensor) or not image.dtype.is_floating_point:
        raise TypeError(f"image must be a floating-point tensor, got "
                        f"{getattr(image, 'dtype', type(image).__name__)}")
    if image.dim() not in (2, 3) or image.numel() == 0:
        raise ValueError(f"image must be [H, W] or [B, H, W] and non-empty, got shape "
                         f"{tuple(image.shape)}")
    x = (image if image.dim() == 3 else image[None]).float()[:, None]  # [B, 1, H, W]
    H, W = x.shape[-2:]
    S = mode.size
    if mode.fit == "resize":
        return F.interpolate(x, size=(S, S), mode="bilinear", align_corners=False,
                             antialias=True).clamp(0, 1)
    scale = S / max(H, W)
    h, w = max(1, round(H * scale)), max(1, round(W * scale))
    x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False,
                      antialias=True).clamp(0, 1)
    return F.pad(x, (0, S - w, 0, S - h), value=1.0)  # [B, 1, S, S]


def shrink(pixels: torch.Tensor, factor: float) -> torch.Tensor:
    """Lower the resolution of ``pixels [B, 1, S, S]`` by ``factor`` and bring it back to ``S``.

    The page is resized to ``round(S * factor)`` pixels a side (antialiased: the detail is
    gone) and then back to ``S`` (bilinear), so that the encoder sees the size it was trained
    on. The information left is that of a page ``factor`` times smaller: an encoder working at
    that size would spend ``factor ** 2`` as many vision tokens on it.
    """
    check_float(factor, "factor", low=0.0, high=1.0, low_open=True)
    if not isinstance(pixels, torch.Tensor) or pixels.dim() != 4 or pixels.shape[1] != 1:
        raise ValueError("pixels must be a tensor [B, 1, S, S]")
    S = pixels.shape[-1]
    small = max(1, round(S * factor))
    if small == S:
        return pixels
    low = F.interpolate(pixels, size=(small, small), mode="bilinear", antialias=True,
                        align_corners=False)
    return F.interpolate(low, size=(S, S), mode="bilinear", align_corners=False).clamp(0, 1)


def sincos_2d(h: int, w: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """Fixed 2-D sine-cosine positions ``[h * w, dim]`` (half the channels per axis).

    Parameter-free, so one encoder serves every mode's grid size.
    """
    for value, name in ((h, "h"), (w, "w"), (dim, "dim")):
        _check_int(value, name)
    if dim % 4:
        raise ValueError(f"dim must be divisible by 4, got {dim}")
    quarter = dim // 4
    freq = 1.0 / (10000 ** (torch.arange(quarter, device=device, dtype=torch.float32) / quarter))
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32),
                            torch.arange(w, device=device, dtype=torch.float32), indexing="ij")
    ay = ys.flatten()[:, None] * freq  # [h*w, dim/4]
    ax = xs.flatten()[:, None] * freq  # [h*w, dim/4]
    return torch.cat([ay.sin(), ay.cos(), ax.sin(), ax.cos()], dim=1)  # [h*w, dim]


class _Block(nn.Module):
    """Pre-LayerNorm block on ``[B, N, D]``: ``x += Attn(LN(x))``, then ``x += MLP(LN(x))``."""

    def __init__(self, d: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, N, 3, self.n_heads, D // self.n_heads).unbind(2)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                           v.transpose(1, 2))  # [B, H, N, Dh], bidirectional
        x = x + self.proj(y.transpose(1, 2).reshape(B, N, D))
        return x + self.mlp(self.ln2(x))


def _to_windows(x: torch.Tensor, window: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """``[B, Gh, Gw, D]`` -> ``[B * nWin, window * window, D]``; pads the grid to whole windows."""
    B, Gh, Gw, D = x.shape
    ph, pw = (-Gh) % window, (-Gw) % window
    if ph or pw:
        x = F.pad(x, (0, 0, 0, pw, 0, ph))
    Hp, Wp = Gh + ph, Gw + pw
    x = x.view(B, Hp // window, window, Wp // window, window, D).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window * window, D), (Gh, Gw, Hp, Wp)


def _from_windows(x: torch.Tensor, B: int, window: int, dims: tuple[int, int, int, int]
                  ) -> torch.Tensor:
    """Inverse of :func:`_to_windows`: back to ``[B, Gh, Gw, D]`` without the padding."""
    Gh, Gw, Hp, Wp = dims
    D = x.shape[-1]
    x = x.view(B, Hp // window, Wp // window, window, window, D).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, Hp, Wp, D)[:, :Gh, :Gw]


class DeepEncoder(nn.Module):
    """Page pixels ``[B, 1, S, S]`` -> vision tokens ``[B, N, d_out]``, ``N = (S / p / 4)^2``.

    Stages (module docstring): patch embedding (a ``p x p`` stride-``p`` convolution) with 2-D
    sine-cosine positions; ``n_window_layers`` blocks attending within ``window x window``
    patches; the compressor (two 3 x 3 stride-2 convolutions with a GELU between, ``d_window ->
    d_global`` channels: 16x fewer tokens); ``n_global_layers`` blocks of global attention with
    fresh positions; LayerNorm and a linear projector to ``d_out``.

    Example::

        enc = DeepEncoder(EncoderConfig())
        tokens = enc(prepare_page(page.image, "tiny"))   # [1, 64, 64]
    """

    def __init__(self, config: EncoderConfig | None = None) -> None:
        super().__init__()
        config = EncoderConfig() if config is None else config
        if not isinstance(config, EncoderConfig):
            raise TypeError(f"config must be an EncoderConfig, got {type(config).__name__}")
        self.config = config
        c = config
        self.patch_embed = nn.Conv2d(1, c.d_window, kernel_size=c.patch_size, stride=c.patch_size)
        self.window_blocks = nn.ModuleList(_Block(c.d_window, c.n_heads)
                                           for _ in range(c.n_window_layers))
        self.compressor = nn.Sequential(  # the 16x token compressor (Section 3.2.1)
            nn.Conv2d(c.d_window, c.d_global, kernel_size=3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(c.d_global, c.d_global, kernel_size=3, stride=2, padding=1),
        )
        self.global_blocks = nn.ModuleList(_Block(c.d_global, c.n_heads)
                                           for _ in range(c.n_global_layers))
        self.ln = nn.LayerNorm(c.d_global)
        self.projector = nn.Linear(c.d_global, c.d_out)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Encode ``pixels [B, 1, S, S]`` (``S`` a multiple of ``patch_size``) into vision tokens.
        """
        c = self.config
        if not isinstance(pixels, torch.Tensor) or not pixels.dtype.is_floating_point:
            raise TypeError("pixels must be a floating-point tensor [B, 1, H, W]")
        if pixels.dim() != 4 or pixels.shape[1] != 1:
            raise ValueError(f"pixels must be [B, 1, H, W], got shape {tuple(pixels.shape)} "
                             "(use prepare_page)")
        H, W = pixels.shape[-2:]
        if H % c.patch_size or W % c.patch_size:
            raise ValueError(f"pixels sides must be multiples of patch_size={c.patch_size}, "
                             f"got {H} x {W}")
        B = pixels.shape[0]
        x = self.patch_embed(1.0 - pixels)  # ink = 1, paper = 0: blank regions start near zero
        Gh, Gw = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)  # [B, Gh*Gw, Dw]
        x = x + sincos_2d(Gh, Gw, c.d_window, x.device)
        if self.window_blocks:
            w, dims = _to_windows(x.reshape(B, Gh, Gw, -1), c.window)  # [B*nWin, w*w, Dw]
            for block in self.window_blocks:
                w = block(w)
            x = _from_windows(w, B, c.window, dims).reshape(B, Gh * Gw, -1)
        x = x.transpose(1, 2).reshape(B, -1, Gh, Gw)  # [B, Dw, Gh, Gw]
        x = self.compressor(x)  # [B, Dg, ceil(Gh/4), ceil(Gw/4)]
        h, w_ = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)  # [B, N, Dg]
        x = x + sincos_2d(h, w_, c.d_global, x.device)
        for block in self.global_blocks:
            x = block(x)
        return self.projector(self.ln(x))  # [B, N, d_out]

    def n_tokens(self, mode: str | Mode) -> int:
        """:func:`vision_tokens` for this encoder's patch size."""
        return vision_tokens(mode, self.config)
