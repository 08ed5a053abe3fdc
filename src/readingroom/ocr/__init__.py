"""DeepSeek-OCR (Wei et al., 2025, arXiv 2510.18234): contexts optical compression, at toy scale.

Text is rendered as a page image (:mod:`~readingroom.ocr.render`), a mini DeepEncoder turns the
page into a few vision tokens — window attention at high resolution (the paper's SAM-base is
dominated by it, with a few global blocks), a 16x convolutional token compressor, global
attention, a projector (:mod:`~readingroom.ocr.encoder`) — and a small causal decoder with a
DeepSeekMoE-style mixture-of-experts feed-forward (Dai et al., 2024, arXiv 2401.06066) reads the
text back from them (:mod:`~readingroom.ocr.moe`, :mod:`~readingroom.ocr.decoder`). The text is
Python docstrings, shipped as package data (:mod:`~readingroom.ocr.text`). The chapter's
experiments (:mod:`~readingroom.ocr.experiments`), its committed reader
(:mod:`~readingroom.ocr.reader`, :func:`load_reader`), the error alignment
(:mod:`~readingroom.ocr.errors`) and the figures (:mod:`~readingroom.ocr.plots`) build on them.
"""

from readingroom.ocr.decoder import DecoderConfig, DecoderOutput, MoEDecoder, count_parameters
from readingroom.ocr.errors import align, highlight_errors
from readingroom.ocr.encoder import (
    COMPRESSION,
    MODES,
    DeepEncoder,
    EncoderConfig,
    Mode,
    get_mode,
    prepare_page,
    valid_tokens,
    vision_tokens,
)
from readingroom.ocr.model import (
    MiniDeepSeekOCR,
    OCRConfig,
    compression_ratio,
    edit_distance,
    make_batch,
    page_target,
    precision,
)
from readingroom.ocr.experiments import (
    FOX_SMALL,
    FOX_TINY,
    binned_precision,
    compression_rho,
    compression_sweep,
    memory_sweep,
    pick_samples,
    read_controls,
    token_budget,
)
from readingroom.ocr.moe import MoEAux, MoEConfig, MoEFeedForward, moe_reference
from readingroom.ocr.plots import (
    plot_compression,
    plot_memory,
    plot_token_budget,
    plot_token_grid,
    readings_html,
)
from readingroom.ocr.reader import load_reader
from readingroom.ocr.render import (
    Page, char_advance, glyph_boxes, page_capacity, render_for_mode, render_page, render_text_page,
)
from readingroom.ocr.text import ALPHABET, sample_text
from readingroom.ocr.tokenizer import CHARS_PER_BPE_TOKEN, CharTokenizer
from readingroom.ocr.train import (
    NATIVE_CURRICULUM,
    READER_CURRICULUM,
    PageRecipe,
    evaluate,
    glyph_targets,
    pretrain_encoder,
    sample_pages,
    train_reader,
)

__all__ = [
    # data
    "ALPHABET", "sample_text", "Page", "char_advance", "glyph_boxes", "page_capacity", "render_page",
    "render_text_page", "render_for_mode",
    "CHARS_PER_BPE_TOKEN", "CharTokenizer",
    # encoder
    "COMPRESSION", "MODES", "Mode", "get_mode", "vision_tokens", "valid_tokens", "prepare_page",
    "EncoderConfig", "DeepEncoder",
    # decoder
    "MoEConfig", "MoEAux", "MoEFeedForward", "DecoderConfig", "DecoderOutput", "MoEDecoder",
    "count_parameters", "moe_reference",
    # the whole reader and its scores
    "OCRConfig", "MiniDeepSeekOCR", "make_batch", "page_target", "edit_distance", "precision",
    "compression_ratio",
    # training and scoring
    "PageRecipe", "sample_pages", "train_reader", "evaluate", "glyph_targets",
    "pretrain_encoder", "READER_CURRICULUM", "NATIVE_CURRICULUM",
    # the chapter's experiments, the committed reader, errors and figures
    "FOX_SMALL", "FOX_TINY", "binned_precision", "compression_rho", "compression_sweep",
    "memory_sweep", "pick_samples",
    "read_controls", "token_budget", "load_reader", "align", "highlight_errors",
    "plot_compression", "plot_memory", "plot_token_budget", "plot_token_grid", "readings_html",
]
