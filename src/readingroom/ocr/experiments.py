"""The chapter's experiments: precision against compression, token budgets, fading memory.

DeepSeek-OCR's headline (Wei et al., 2025, Table 2) is a curve: decoding precision on the Fox
benchmark against the compression ratio, text tokens per vision token. :func:`compression_sweep`
measures the same curve for a trained :class:`~readingroom.ocr.model.MiniDeepSeekOCR`: it renders
English pages at several font sizes and lengths, reads each one in a resolution mode, and records
a :class:`Reading` per page. :data:`FOX_TINY` and :data:`FOX_SMALL` are the paper's numbers.

:func:`memory_sweep` is the paper's *forgetting* idea (Section 4.3 and Figure 13, offered there
without an experiment): older turns of a conversation are kept as images at ever lower
resolution. Each turn is rendered, shrunk by its age's factor and read back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from readingroom.common import make_generator
from readingroom.common.checks import check_choice, check_int
from readingroom.ocr.encoder import get_mode, shrink
from readingroom.ocr.model import (
    MiniDeepSeekOCR, check_pages, page_pixels, page_target, precision,
)
from readingroom.ocr.render import Page
from readingroom.ocr.tokenizer import CHARS_PER_BPE_TOKEN
from readingroom.ocr.train import PageRecipe, evaluate, sample_pages

__all__ = [
    "CONTROLS",
    "FOX_SMALL",
    "FOX_TINY",
    "Reading",
    "TokenBudget",
    "binned_precision",
    "compression_rho",
    "compression_sweep",
    "control_pixels",
    "read_controls",
    "memory_sweep",
    "pick_samples",
    "token_budget",
    "shrink",
]

#: Fox benchmark, Tiny mode (64 vision tokens): ``(compression ratio, precision)`` per bin of
#: 600-700, ..., 1200-1300 text tokens (Wei et al., 2025, Table 2).
FOX_TINY: tuple[tuple[float, float], ...] = (
    (10.5, 0.965), (11.8, 0.938), (13.2, 0.838), (15.1, 0.859), (16.5, 0.793), (17.7, 0.764),
    (19.7, 0.591),
)

#: Fox benchmark, Small mode (100 vision tokens), the same bins (Wei et al., 2025, Table 2).
FOX_SMALL: tuple[tuple[float, float], ...] = (
    (6.7, 0.985), (7.5, 0.973), (8.5, 0.968), (9.7, 0.968), (10.6, 0.915), (11.3, 0.898),
    (12.6, 0.871),
)


@dataclass(frozen=True)
class Reading:
    """One page read back: its text, the reading, and the compression it was read at.

    ``page`` is the rendered page itself (for pictures), when kept.

    ``chars_per_token`` is characters of text per vision token; ``bpe_ratio`` divides it by
    :data:`~readingroom.ocr.tokenizer.CHARS_PER_BPE_TOKEN`, an estimate of the paper's
    text-tokens-per-vision-token ratio.
    """

    font_size: int
    mode: str
    vision_tokens: int
    target: str
    reading: str
    precision: float
    page: Page | None = field(default=None, repr=False, compare=False)

    @property
    def n_chars(self) -> int:
        return len(self.target)

    @property
    def chars_per_token(self) -> float:
        return self.n_chars / self.vision_tokens

    @property
    def bpe_ratio(self) -> float:
        return self.chars_per_token / CHARS_PER_BPE_TOKEN


def compression_sweep(model: MiniDeepSeekOCR, *, font_sizes: Sequence[int],
                      lengths: Sequence[tuple[int, int]], pages_per_cell: int, mode: str = "tiny",
                      size: tuple[int, int] = (128, 128), seed: int = 0,
                      batch_size: int = 32, aspect: float | tuple[float, ...] | None = None,
                      native: bool = False) -> list[Reading]:
    """Read ``pages_per_cell`` fresh English pages per font size and length range.

    For each ``font`` in ``font_sizes`` and ``(lo, hi)`` in ``lengths``, pages of ``lo`` to
    ``hi`` characters (capped at the font's room on the page, :meth:`PageRecipe.room`; a range
    entirely above it is skipped) are rendered at ``size``, read in ``mode`` and scored with
    :func:`~readingroom.ocr.model.precision`. Pages follow ``seed``.

    ``aspect`` and ``native`` are :class:`PageRecipe`'s: pages of those aspect ratios (longer
    side ``size``'s side), and documents that each mode renders at its native resolution
    (DeepSeek-OCR Section 3.2.2). With several ratios a range is skipped when it is above the
    font's room on the smallest page, and each page's length is capped at its own page's room.
    The pages do not depend on ``mode``: the same ``seed`` reads the same documents in every
    mode.
    """
    if not isinstance(model, MiniDeepSeekOCR):
        raise TypeError(f"model must be a MiniDeepSeekOCR, got {type(model).__name__}")
    m = get_mode(mode)
    check_int(pages_per_cell, "pages_per_cell")
    if not font_sizes or not lengths:
        raise ValueError("font_sizes and lengths must be non-empty")
    generator = make_generator(check_int(seed, "seed", minimum=0))
    readings: list[Reading] = []
    n_tokens = model.encoder.n_tokens(m)
    for font in font_sizes:
        for lo, hi in lengths:
            probe = PageRecipe(size=size, font_size=font, min_chars=1, max_chars=1,
                               aspect=aspect)
            if lo > probe.room(font):
                continue
            top = max(probe.room(font, s) for s in probe.page_sizes)
            recipe = PageRecipe(size=size, font_size=font, min_chars=lo, max_chars=min(hi, top),
                                aspect=aspect, native=native)
            pages = sample_pages(pages_per_cell, recipe, generator=generator)
            texts, scores = evaluate(model, pages, m.name, batch_size=batch_size)
            for page, text, score in zip(pages, texts, scores):
                readings.append(Reading(font, m.name, n_tokens, page_target(page), text, score,
                                        page))
    return readings


#: What :func:`read_controls` feeds the reader: the page, a blank page, the page's tiles shuffled.
CONTROLS = ("page", "blank", "shuffled")


def control_pixels(pixels: torch.Tensor, control: str, *, tile: int = 16,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """The encoder's input ``[B, 1, S, S]`` (1 = white) under a control.

    ``"page"`` returns it unchanged; ``"blank"`` is an all-white page (no information at all: what
    the reader writes then is its language prior); ``"shuffled"`` cuts each page into
    ``tile x tile`` squares and permutes them (the same ink and the same glyph fragments, the
    layout destroyed). ``tile`` must divide ``S``; the permutation follows ``generator``.
    """
    check_choice(control, "control", CONTROLS)
    if not isinstance(pixels, torch.Tensor) or pixels.dim() != 4 or pixels.shape[1] != 1:
        raise ValueError(f"pixels must be [B, 1, S, S], got {getattr(pixels, 'shape', pixels)!r}")
    check_int(tile, "tile")
    B, _, S, S2 = pixels.shape
    if S != S2 or S % tile:
        raise ValueError(f"tile={tile} must divide the page side S={S} (a square page)")
    if control == "page":
        return pixels
    if control == "blank":
        return torch.ones_like(pixels)
    n = S // tile
    tiles = pixels.reshape(B, n, tile, n, tile).permute(0, 1, 3, 2, 4).reshape(B, n * n, tile, tile)
    order = torch.stack([torch.randperm(n * n, generator=generator) for _ in range(B)])
    tiles = tiles[torch.arange(B)[:, None], order]
    return tiles.reshape(B, n, n, tile, tile).permute(0, 1, 3, 2, 4).reshape(B, 1, S, S)


def read_controls(model: MiniDeepSeekOCR, pages: Sequence[Page], mode: str, *, tile: int = 16,
                  seed: int = 0, batch_size: int = 32) -> dict[str, list[float]]:
    """Precision of each page read from each of :data:`CONTROLS` (:func:`control_pixels`), against
    the page's own text: ``{control: [precision per page]}``.

    The sceptic's first question: how much of the precision is the language prior? A blank page
    gives the reader nothing to see; shuffled tiles keep the ink but not where it is.
    """
    if not isinstance(model, MiniDeepSeekOCR):
        raise TypeError(f"model must be a MiniDeepSeekOCR, got {type(model).__name__}")
    check_pages(pages)
    pixels = page_pixels(pages, mode)
    generator = make_generator(check_int(seed, "seed", minimum=0))
    targets = [page_target(p) for p in pages]
    out = {}
    for control in CONTROLS:
        readings = model.read(control_pixels(pixels, control, tile=tile, generator=generator),
                              batch_size=batch_size)
        out[control] = [precision(r, t) for r, t in zip(readings, targets)]
    return out


def binned_precision(readings: Sequence[Reading], edges: Sequence[float]
                     ) -> list[tuple[float, float, int]]:
    """Mean precision per bin of characters per vision token: ``(centre, mean, count)``.

    Bins are ``[edges[i], edges[i + 1])``; empty bins are left out.
    """
    edges = [float(e) for e in edges]
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"edges must be at least two increasing numbers, got {edges}")
    x = np.array([r.chars_per_token for r in readings])
    p = np.array([r.precision for r in readings])
    out = []
    for a, b in zip(edges, edges[1:]):
        inside = (x >= a) & (x < b)
        if inside.any():
            out.append(((a + b) / 2, float(p[inside].mean()), int(inside.sum())))
    return out


def compression_rho(readings: Sequence[Reading]) -> float:
    """Spearman rank correlation between characters per vision token and precision over
    ``readings`` (negative: the more text under each token, the worse the reading).
    """
    if len(readings) < 2:
        raise ValueError(f"readings must hold at least two readings, got {len(readings)}")
    from scipy.stats import spearmanr  # noqa: PLC0415

    return float(spearmanr([r.chars_per_token for r in readings],
                           [r.precision for r in readings])[0])


@dataclass(frozen=True)
class TokenBudget:
    """Where a page is a cheaper context than its characters, and how well it is read there.

    A page costs ``n_vision`` tokens whatever it holds; its text costs one token per character.
    ``dearer`` is the mean precision of the pages of at most ``n_vision`` characters (cheaper as
    text), ``cheaper`` that of the longer ones (cheaper as a page), over ``n_cheaper`` pages.
    """

    n_vision: int
    dearer: float
    cheaper: float
    n_cheaper: int


def token_budget(readings: Sequence[Reading]) -> TokenBudget:
    """Split one mode's readings at ``n_chars == vision_tokens``: see :class:`TokenBudget`."""
    if not readings or not all(isinstance(r, Reading) for r in readings):
        raise ValueError("readings must be a non-empty list of Reading")
    if len({r.vision_tokens for r in readings}) != 1:
        raise ValueError("readings must all come from one mode (one number of vision tokens)")
    n = readings[0].vision_tokens
    cheaper = [r.precision for r in readings if r.n_chars > n]
    dearer = [r.precision for r in readings if r.n_chars <= n]
    if not cheaper or not dearer:
        raise ValueError(f"need pages both above and at most {n} characters long")
    return TokenBudget(n, float(np.mean(dearer)), float(np.mean(cheaper)), len(cheaper))


def pick_samples(readings: Sequence[Reading]) -> list[Reading]:
    """Three readings to show, from the thirds of ``readings`` ordered by compression: the
    best-read (longest on ties) of the least compressed third, the median-precision one of the
    middle third, and the worst-read of the most compressed third.
    """
    if len(readings) < 3:
        raise ValueError(f"need at least three readings, got {len(readings)}")
    ordered = sorted(readings, key=lambda r: r.chars_per_token)
    third = len(ordered) // 3
    low, middle, high = ordered[:third], ordered[third:2 * third], ordered[2 * third:]
    return [max(low, key=lambda r: (r.precision, r.n_chars)),
            sorted(middle, key=lambda r: r.precision)[len(middle) // 2],
            min(high, key=lambda r: r.precision)]


def memory_sweep(model: MiniDeepSeekOCR, turns: Sequence[Page], factors: Sequence[float], *,
                 mode: str = "tiny", batch_size: int = 32) -> np.ndarray:
    """Precision of every turn read at every resolution factor: an array ``[len(factors),
    len(turns)]``.

    Row ``a`` is what the reader recalls of each turn once the turn is ``a`` turns old and
    kept at ``factors[a]`` of its resolution (:func:`shrink`); the mean of row ``a`` is recall
    at age ``a``.
    """
    if not isinstance(model, MiniDeepSeekOCR):
        raise TypeError(f"model must be a MiniDeepSeekOCR, got {type(model).__name__}")
    if not turns or not factors:
        raise ValueError("turns and factors must be non-empty")
    m = get_mode(mode)
    pixels = page_pixels(turns, m)  # [n, 1, S, S]
    targets = [page_target(t) for t in turns]
    out = np.zeros((len(factors), len(turns)))
    for a, factor in enumerate(factors):
        texts = model.read(shrink(pixels, factor), batch_size=batch_size)
        out[a] = [precision(x, y) for x, y in zip(texts, targets)]
    return out
