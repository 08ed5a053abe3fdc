"""The book's trained reader: its configuration, where its weights live, how it is scored.

Reading takes thousands of steps to learn (38 minutes on one CPU thread for the committed
reader), more than a chapter's two-minute budget, so ``python -m readingroom.ocr train`` trains
it once with :data:`~readingroom.ocr.train.READER_CURRICULUM` and writes the weights and their
provenance record to ``book/data/ocr/`` (see :func:`readingroom.common.save_weights`). The
chapter loads them with :func:`load_reader`, and a test checks that they still reproduce
:func:`reader_metrics` as recorded.

The third reader, ``"native"`` (``--curriculum native``,
:data:`~readingroom.ocr.train.NATIVE_CURRICULUM`), starts from the book's reader
(:func:`start_reader`) and learns all four modes on documents rendered at each mode's native
resolution, on pages that are not all square (DeepSeek-OCR Section 3.2.2 and Eq. 1); it is
scored on the same held-out documents, rendered natively, in every mode
(:data:`HELD_OUT_NATIVE`).

The fourth, ``"paper-geometry"`` (``--curriculum paper-geometry``,
:data:`PAPER_GEOMETRY_CONFIG`, :data:`~readingroom.ocr.train.PAPER_GEOMETRY_CURRICULUM`), is
trained from scratch with the paper's patch size, 16: the same held-out pages then sit under 4
vision tokens instead of 64, at 0.25-14x compression (BPE-equivalent) instead of 0.02-0.9x.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from readingroom.common import book_data_path, load_committed
from readingroom.ocr.experiments import Reading, compression_sweep
from readingroom.ocr.encoder import EncoderConfig
from readingroom.ocr.model import MiniDeepSeekOCR, OCRConfig
from readingroom.ocr.moe import MoEConfig
from readingroom.common.checks import check_choice

__all__ = ["ALL_MODES_CONFIG", "HELD_OUT", "HELD_OUT_NATIVE", "PAPER_GEOMETRY_CONFIG", "READERS",
           "READER_CONFIG", "load_reader", "reader_metrics", "reader_path", "start_reader"]

#: The reader's sizes: the default OCRConfig reading up to 256 characters after the 64 vision
#: tokens of the tiny mode or the 100 of the small mode.
READER_CONFIG = OCRConfig(max_text=256, modes=("tiny", "small"))

#: The second reader's sizes: the same model, reading after the vision tokens of any of the
#: four modes (64, 100, 256 or 400).
ALL_MODES_CONFIG = OCRConfig(max_text=256)

#: The paper-geometry reader's sizes: patch size 16 (DeepSeek-OCR's), so the tiny mode's
#: 128-pixel page becomes 8 x 8 patches and, after the 16x compressor, 2 x 2 = 4 vision tokens of
#: 64 x 64 pixels each, the paper's area per token; a wider model (128 instead of 64, window
#: stage 64), since each token must now carry dozens of characters. In a pilot (400
#: glyph-pretraining steps, then 2,000 on one-line pages) widths 128 and 256 both read at
#: precision 0.52, and 128 costs half of 256's time per step; width 64 (150 pretraining steps,
#: then 600) was still guessing common words (0.18).
PAPER_GEOMETRY_CONFIG = OCRConfig(
    encoder=EncoderConfig(patch_size=16, d_window=64, d_global=128, d_out=128),
    moe=MoEConfig(d_model=128, d_expert=128, n_routed=8, top_k=2, n_shared=1),
    max_text=256, modes=("tiny",))

#: The committed readers: kind (the ``--curriculum`` value) -> (config, file name pattern).
READERS = {
    "book": (READER_CONFIG, "reader_seed{seed}"),
    "all-modes": (ALL_MODES_CONFIG, "reader_all_modes_seed{seed}"),
    "native": (ALL_MODES_CONFIG, "reader_native_seed{seed}"),
    "paper-geometry": (PAPER_GEOMETRY_CONFIG, "reader_paper_geometry_seed{seed}"),
}

#: The held-out pages the record's metrics are measured on: fonts, length ranges, pages per
#: cell, and a seed no training stage uses.
HELD_OUT = dict(font_sizes=(8, 10, 12, 14), lengths=((4, 30), (30, 80), (80, 150), (150, 230)),
                pages_per_cell=8, seed=12345)

#: The native reader's held-out pages: :data:`HELD_OUT`'s fonts, lengths and seed, on pages of
#: the native curriculum's aspect ratios (3:4 and square), rendered in each mode at its native
#: resolution. The documents do not depend on the mode, so every mode reads the same ones.
HELD_OUT_NATIVE = dict(HELD_OUT, aspect=(0.75, 1.0), native=True)


def _kind(kind: str) -> tuple:
    check_choice(kind, "kind", READERS)
    return READERS[kind]


def reader_path(seed: int = 0, kind: str = "book") -> Path:
    """``book/data/ocr/reader_seed{seed}.safetensors`` (``kind="all-modes"``:
    ``reader_all_modes_seed{seed}.safetensors``; ``"native"``:
    ``reader_native_seed{seed}.safetensors``; ``"paper-geometry"``:
    ``reader_paper_geometry_seed{seed}.safetensors``)."""
    return book_data_path(f"ocr/{_kind(kind)[1].format(seed=seed)}.safetensors")


def load_reader(seed: int = 0, kind: str = "book") -> tuple[MiniDeepSeekOCR, dict]:
    """The committed reader of ``seed`` (and ``kind``: ``"book"``, trained in the tiny and small
    modes, ``"all-modes"``, ``"native"`` or ``"paper-geometry"``) and its record, in eval mode
    (hash checked by :func:`~readingroom.common.load_committed`).

    Raises:
        FileNotFoundError: no weights for ``seed`` (the message says how to make them).
    """
    config = _kind(kind)[0]
    flag = "" if kind == "book" else f" --curriculum {kind}"
    return load_committed(reader_path(seed, kind), MiniDeepSeekOCR(config),
                          command=f"python -m readingroom.ocr train --seed {seed}{flag}")


def start_reader(seed: int, kind: str, config: OCRConfig) -> tuple[MiniDeepSeekOCR, dict]:
    """A new :class:`MiniDeepSeekOCR` of ``config`` holding the committed ``kind`` reader's
    weights, and that reader's record (its ``sha256`` names the start).

    The modes change only the input size, so every weight fits, except the decoder's learned
    position embedding: it has a row per position of the longest prefix plus text, and a config
    with larger modes has more positions (the book's reader: 100 + 258 = 358; all four modes:
    400 + 258 = 658). The committed rows are copied; the rows beyond them keep the new model's
    initialisation (call :func:`~readingroom.common.seed_everything` first to fix it).

    Raises:
        ValueError: a ``config`` whose other shapes differ from the committed reader's.
        FileNotFoundError: no weights for ``seed`` (the message says how to make them).
    """
    start, record = load_reader(seed, kind)
    model = MiniDeepSeekOCR(config)
    state = model.state_dict()
    for name, tensor in start.state_dict().items():
        if name not in state:
            raise ValueError(f"the {kind!r} reader has a tensor {name} that config lacks")
        target = state[name]
        if name == "decoder.pos_emb.weight" and tensor.shape[0] <= target.shape[0]:
            tensor = torch.cat([tensor, target[tensor.shape[0]:]])
        if tensor.shape != target.shape:
            raise ValueError(f"{name}: the {kind!r} reader's shape {tuple(tensor.shape)} does not "
                             f"fit config's {tuple(target.shape)}")
        state[name] = tensor
    model.load_state_dict(state)
    return model, record


def reader_metrics(model: MiniDeepSeekOCR, kind: str = "book"
                   ) -> tuple[dict[str, float], list[Reading]]:
    """Mean precision on the held-out pages, per mode of the model and per font size.

    The pages are :data:`HELD_OUT` (``kind`` ``"book"`` or ``"all-modes"``) or, for the
    ``"native"`` reader, :data:`HELD_OUT_NATIVE`: the same documents in every mode, each
    rendered at the mode's native resolution. Returns ``(metrics, readings)``; ``metrics`` has
    ``pages`` (pages per mode), and for each mode ``m`` ``precision_{m}`` and
    ``precision_{m}_font{f}``; readings of every mode.
    """
    _kind(kind)
    held_out = HELD_OUT_NATIVE if kind == "native" else HELD_OUT
    metrics: dict[str, float] = {}
    readings: list[Reading] = []
    for mode in model.config.modes:
        mine = compression_sweep(model, mode=mode, **held_out)
        metrics["pages"] = len(mine)
        metrics[f"precision_{mode}"] = float(np.mean([r.precision for r in mine]))
        for f in HELD_OUT["font_sizes"]:
            metrics[f"precision_{mode}_font{f}"] = float(np.mean([r.precision for r in mine
                                                                  if r.font_size == f]))
        readings += mine
    return metrics, readings
