"""The book's trained reader: its configuration, where its weights live, how it is scored.

Reading takes thousands of steps to learn (38 minutes on one CPU thread for the committed
reader), more than a chapter's two-minute budget, so ``python -m readingroom.ocr train`` trains
it once with :data:`~readingroom.ocr.train.READER_CURRICULUM` and writes the weights and their
provenance record to ``book/data/ocr/`` (see :func:`readingroom.common.save_weights`). The
chapter loads them with :func:`load_reader`, and a test checks that they still reproduce
:func:`reader_metrics` as recorded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from readingroom.common import book_data_path, load_committed
from readingroom.ocr.experiments import Reading, compression_sweep
from readingroom.ocr.model import MiniDeepSeekOCR, OCRConfig
from readingroom.common.checks import check_choice

__all__ = ["ALL_MODES_CONFIG", "HELD_OUT", "READERS", "READER_CONFIG", "load_reader",
           "reader_metrics", "reader_path"]

#: The reader's sizes: the default OCRConfig reading up to 256 characters after the 64 vision
#: tokens of the tiny mode or the 100 of the small mode.
READER_CONFIG = OCRConfig(max_text=256, modes=("tiny", "small"))

#: The second reader's sizes: the same model, reading after the vision tokens of any of the
#: four modes (64, 100, 256 or 400).
ALL_MODES_CONFIG = OCRConfig(max_text=256)

#: The committed readers: kind (the ``--curriculum`` value) -> (config, file name pattern).
READERS = {
    "book": (READER_CONFIG, "reader_seed{seed}"),
    "all-modes": (ALL_MODES_CONFIG, "reader_all_modes_seed{seed}"),
}

#: The held-out pages the record's metrics are measured on: fonts, length ranges, pages per
#: cell, and a seed no training stage uses.
HELD_OUT = dict(font_sizes=(8, 10, 12, 14), lengths=((4, 30), (30, 80), (80, 150), (150, 230)),
                pages_per_cell=8, seed=12345)


def _kind(kind: str) -> tuple:
    check_choice(kind, "kind", READERS)
    return READERS[kind]


def reader_path(seed: int = 0, kind: str = "book") -> Path:
    """``book/data/ocr/reader_seed{seed}.safetensors`` (``kind="all-modes"``:
    ``reader_all_modes_seed{seed}.safetensors``)."""
    return book_data_path(f"ocr/{_kind(kind)[1].format(seed=seed)}.safetensors")


def load_reader(seed: int = 0, kind: str = "book") -> tuple[MiniDeepSeekOCR, dict]:
    """The committed reader of ``seed`` (and ``kind``: ``"book"``, trained in the tiny and small
    modes, or ``"all-modes"``) and its record, in eval mode (hash checked by
    :func:`~readingroom.common.load_committed`).

    Raises:
        ValueError: an unknown ``kind``.
        FileNotFoundError: no weights for ``seed`` (the message says how to make them).
    """
    config = _kind(kind)[0]
    flag = "" if kind == "book" else f" --curriculum {kind}"
    return load_committed(reader_path(seed, kind), MiniDeepSeekOCR(config),
                          command=f"python -m readingroom.ocr train --seed {seed}{flag}")


def reader_metrics(model: MiniDeepSeekOCR) -> tuple[dict[str, float], list[Reading]]:
    """Mean precision on the :data:`HELD_OUT` pages, per mode of the model and per font size.

    Returns ``(metrics, readings)``; ``metrics`` has ``pages`` (pages per mode), and for each
    mode ``m`` ``precision_{m}`` and ``precision_{m}_font{f}``; readings of every mode.
    """
    metrics: dict[str, float] = {}
    readings: list[Reading] = []
    for mode in model.config.modes:
        mine = compression_sweep(model, mode=mode, **HELD_OUT)
        metrics["pages"] = len(mine)
        metrics[f"precision_{mode}"] = float(np.mean([r.precision for r in mine]))
        for f in HELD_OUT["font_sizes"]:
            metrics[f"precision_{mode}_font{f}"] = float(np.mean([r.precision for r in mine
                                                                  if r.font_size == f]))
        readings += mine
    return metrics, readings
