"""The mini DeepSeek-OCR: a DeepEncoder and an MoE decoder, batches of pages, reading, precision.

DeepSeek-OCR (Wei et al., 2025, Section 3.1, Figure 3) is an encoder-decoder: the DeepEncoder
compresses a page into ``n`` vision tokens, and the decoder generates the page's text after them.
Its headline numbers are the *compression ratio* (text tokens on the page per vision token) and
the decoding *precision* at that ratio (Table 2: ~97 % below 10x, ~60 % at 20x).

:class:`MiniDeepSeekOCR` wires :class:`~readingroom.ocr.encoder.DeepEncoder` to
:class:`~readingroom.ocr.decoder.MoEDecoder`; :func:`make_batch` turns rendered
:class:`~readingroom.ocr.render.Page` objects into ``(pixels, inputs, targets)``;
:func:`precision` scores a reading with the normalised edit distance; :func:`compression_ratio`
counts text tokens per vision token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from readingroom.common.checks import check_int
from readingroom.common.train import eval_mode
from readingroom.ocr.decoder import DecoderConfig, DecoderOutput, MoEDecoder
from readingroom.ocr.encoder import (
    DeepEncoder,
    EncoderConfig,
    Mode,
    get_mode,
    prepare_page,
    vision_tokens,
)
from readingroom.ocr.moe import MoEConfig
from readingroom.ocr.render import Page
from readingroom.ocr.tokenizer import CharTokenizer

__all__ = [
    "MiniDeepSeekOCR",
    "OCRConfig",
    "compression_ratio",
    "edit_distance",
    "make_batch",
    "page_pixels",
    "page_target",
    "precision",
]


def _default_moe() -> MoEConfig:
    return MoEConfig(d_model=64, d_expert=64, n_routed=8, top_k=2, n_shared=1)


@dataclass(frozen=True)
class OCRConfig:
    """Sizes of :class:`MiniDeepSeekOCR`.

    Attributes:
        encoder: the DeepEncoder's sizes; its ``d_out`` is the decoder's width.
        n_layers, n_heads: the decoder's depth and heads.
        moe: the decoder's feed-forward (``None``: dense). DeepSeek3B-MoE activates 6 of 64
            routed experts plus 2 shared ones; the default here is 2 of 8 plus 1 shared.
        max_text: the longest text the decoder reads, in characters, without ``<bos>``/``<eos>``.
        modes: the resolution modes the model must accept; the decoder's context is the largest
            mode's vision tokens plus ``max_text + 2``.
    """

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    n_layers: int = 2
    n_heads: int = 4
    moe: MoEConfig | None = field(default_factory=_default_moe)
    max_text: int = 400
    modes: tuple[str, ...] = ("tiny", "small", "base", "large")

    def __post_init__(self) -> None:
        if not isinstance(self.encoder, EncoderConfig):
            raise TypeError(f"encoder must be an EncoderConfig, got {type(self.encoder).__name__}")
        check_int(self.n_layers, "n_layers")
        check_int(self.n_heads, "n_heads")
        check_int(self.max_text, "max_text")
        if self.moe is not None and not isinstance(self.moe, MoEConfig):
            raise TypeError(f"moe must be an MoEConfig or None, got {type(self.moe).__name__}")
        if self.moe is not None and self.moe.d_model != self.encoder.d_out:
            raise ValueError(f"moe.d_model ({self.moe.d_model}) must equal encoder.d_out "
                             f"({self.encoder.d_out}), the decoder's width")
        if not isinstance(self.modes, tuple) or not self.modes:
            raise ValueError(f"modes must be a non-empty tuple of mode names, got {self.modes!r}")
        for mode in self.modes:
            get_mode(mode)

    def max_vision_tokens(self) -> int:
        """The most vision tokens any of :attr:`modes` produces."""
        return max(vision_tokens(mode, self.encoder) for mode in self.modes)

    def decoder_config(self, vocab_size: int) -> DecoderConfig:
        """The :class:`~readingroom.ocr.decoder.DecoderConfig` for ``vocab_size`` token ids."""
        return DecoderConfig(vocab_size=vocab_size, d_model=self.encoder.d_out,
                             n_layers=self.n_layers, n_heads=self.n_heads,
                             max_len=self.max_vision_tokens() + self.max_text + 2, moe=self.moe)


class MiniDeepSeekOCR(nn.Module):
    """Page pixels -> vision tokens -> text: ``decoder([encoder(pixels) ; <bos> text])``.

    Example::

        tok = CharTokenizer()
        model = MiniDeepSeekOCR(OCRConfig(), tok)
        pixels, inputs, targets = make_batch(pages, "tiny", tok)
        loss = model.loss(pixels, inputs, targets)
        texts = model.read(pixels)          # greedy decoding, one str per page
    """

    def __init__(self, config: OCRConfig | None = None,
                 tokenizer: CharTokenizer | None = None) -> None:
        super().__init__()
        config = OCRConfig() if config is None else config
        if not isinstance(config, OCRConfig):
            raise TypeError(f"config must be an OCRConfig, got {type(config).__name__}")
        tokenizer = CharTokenizer() if tokenizer is None else tokenizer
        if not isinstance(tokenizer, CharTokenizer):
            raise TypeError(f"tokenizer must be a CharTokenizer, got {type(tokenizer).__name__}")
        self.config = config
        self.tokenizer = tokenizer
        self.encoder = DeepEncoder(config.encoder)
        self.decoder = MoEDecoder(config.decoder_config(len(tokenizer)))

    def forward(self, pixels: torch.Tensor, inputs: torch.Tensor) -> DecoderOutput:
        """Logits for ``inputs [B, T]`` (``<bos> c1 c2 ...``) after ``pixels [B, 1, S, S]``."""
        mask = inputs != self.tokenizer.pad_id  # [B, T]
        return self.decoder(self.encoder(pixels), inputs, token_mask=mask)

    def loss(self, pixels: torch.Tensor, inputs: torch.Tensor,
             targets: torch.Tensor) -> torch.Tensor:
        """Next-character cross-entropy (padding ignored) plus the MoE balance loss."""
        return self.decoder.loss(self(pixels, inputs), targets, ignore_index=self.tokenizer.pad_id)

    @torch.no_grad()
    def read(self, pixels: torch.Tensor, max_new_tokens: int | None = None, *,
             batch_size: int | None = None) -> list[str]:
        """Greedy decoding of each page in ``pixels [B, 1, S, S]``: one str per page.

        ``max_new_tokens`` defaults to ``max_text + 1`` (the text and its ``<eos>``).
        ``batch_size`` reads that many pages at a time (default: all at once); pages are moved
        to the model's device.
        """
        limit = self.config.max_text + 1 if max_new_tokens is None else check_int(
            max_new_tokens, "max_new_tokens")
        step = pixels.shape[0] if batch_size is None else check_int(batch_size, "batch_size")
        device = next(self.parameters()).device
        texts: list[str] = []
        with eval_mode(self):
            for start in range(0, pixels.shape[0], max(step, 1)):
                chunk = pixels[start:start + step].to(device)
                ids = self.decoder.generate(self.encoder(chunk), self.tokenizer.bos_id,
                                            self.tokenizer.eos_id, limit)  # [b, <= limit]
                texts += [self.tokenizer.decode(row) for row in ids]
        return texts

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def page_target(page: Page) -> str:
    """The text a reader should produce for ``page``: its lines in reading order, joined by spaces.
    """
    if not isinstance(page, Page):
        raise TypeError(f"page must be a Page, got {type(page).__name__}")
    return " ".join(page.lines)


def check_pages(pages: object) -> None:
    """Refuse ``pages`` unless it is a non-empty list or tuple of :class:`Page` (the check of every
    entry point that takes pages; :func:`page_pixels` relies on it)."""
    if isinstance(pages, Page) or not isinstance(pages, Sequence) or not pages:
        raise ValueError("pages must be a non-empty list of Page")
    for page in pages:
        if not isinstance(page, Page):
            raise TypeError(f"pages must hold Page objects, got {type(page).__name__}")


def page_pixels(pages: Sequence[Page], mode: str | Mode) -> torch.Tensor:
    """The pages as the encoder takes them in ``mode``: ``[B, 1, S, S]`` (:func:`prepare_page`).

    A native page (``page.native``) is first rendered at the mode's native resolution
    (:meth:`~readingroom.ocr.render.Page.in_mode`, DeepSeek-OCR Section 3.2.2); the mode's fit
    (resize or pad) then brings every image to the mode's square. Its callers have checked
    ``pages`` (:func:`check_pages`).
    """
    get_mode(mode)
    images = [p.in_mode(mode).image for p in pages]
    if len({tuple(img.shape) for img in images}) == 1:
        return prepare_page(torch.stack(images), mode)
    return torch.cat([prepare_page(img, mode) for img in images])


def make_batch(pages: Sequence[Page], mode: str | Mode, tokenizer: CharTokenizer,
               max_text: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pages to ``(pixels [B, 1, S, S], inputs [B, T], targets [B, T])`` for ``mode``.

    ``inputs`` is ``<bos> c1 ... cn`` and ``targets`` is ``c1 ... cn <eos>`` (padding
    ``<pad>`` in both), from :func:`page_target`. ``max_text`` (characters) pads every row to the
    same width ``max_text + 1`` and rejects longer texts; ``None`` pads to the longest page.
    """
    check_pages(pages)
    texts = [page_target(p) for p in pages]
    if not isinstance(tokenizer, CharTokenizer):
        raise TypeError(f"tokenizer must be a CharTokenizer, got {type(tokenizer).__name__}")
    max_len = None if max_text is None else check_int(max_text, "max_text") + 2
    ids, _ = tokenizer.batch_encode(texts, max_len=max_len)  # [B, T + 1]: <bos> text <eos> pad
    inputs = ids[:, :-1].clone()
    inputs[inputs == tokenizer.eos_id] = tokenizer.pad_id  # <eos> is only ever a target
    targets = ids[:, 1:].clone()
    return page_pixels(pages, mode), inputs, targets


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between ``a`` and ``b`` (insertions, deletions, substitutions cost 1).

    Row by row, vectorised with numpy: a row's left-to-right insertion chain is a running
    minimum, ``row[j] = min_k (t[k] + j - k)``.
    """
    for value, name in ((a, "a"), (b, "b")):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not a or not b:
        return len(a) + len(b)
    bb = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    j = np.arange(len(b) + 1)
    prev = j.copy()  # distance from "" to b[:j]
    for i, ch in enumerate(np.frombuffer(a.encode("utf-32-le"), dtype=np.uint32), start=1):
        t = np.empty_like(prev)
        t[0] = i
        t[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (bb != ch))  # deletion, substitution
        prev = np.minimum.accumulate(t - j) + j  # insertions chain left to right
    return int(prev[-1])


def precision(prediction: str, target: str) -> float:
    """``max(0, 1 - edit_distance(prediction, target) / len(target))``: 1 is a perfect reading.

    This is one minus the normalised edit distance, the usual OCR score; the paper reports
    "precision" on Fox, whose exact definition we do not have, so compare shapes, not decimals.
    """
    if not isinstance(target, str) or not isinstance(prediction, str):
        raise TypeError("prediction and target must be str")
    if not target:
        raise ValueError("target must be a non-empty str")
    return max(0.0, 1.0 - edit_distance(prediction, target) / len(target))


def compression_ratio(n_text_tokens: int, n_vision_tokens: int) -> float:
    """Text tokens per vision token, the x-axis of the paper's Table 2 (e.g. 600 / 64 = 9.4x)."""
    return check_int(n_text_tokens, "n_text_tokens") / check_int(n_vision_tokens,
                                                                 "n_vision_tokens")

