"""Training and scoring a reader: random pages from a recipe, batches per mode, precision per page.

DeepSeek-OCR trains on rendered documents paired with their text (Section 3.4: "OCR 1.0" data,
PDFs with ground truth). Here every page is rendered on the fly from :func:`sample_text`
passages, so the data never repeat and never leave the machine: a :class:`PageRecipe` says how
(page size, font size, text lengths), :func:`sample_pages` draws pages, :func:`train_reader`
trains a :class:`~readingroom.ocr.model.MiniDeepSeekOCR` with the book's training loop (AdamW,
warmup + cosine, progress bar), cycling through the resolution modes, and :func:`evaluate`
reads pages back and scores each with :func:`~readingroom.ocr.model.precision`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from readingroom.common import TrainHistory, make_generator, train
from readingroom.common.checks import check_int
from readingroom.ocr.encoder import get_mode
from readingroom.ocr.model import MiniDeepSeekOCR, make_batch, page_target, precision
from readingroom.ocr.render import Page, page_capacity, render_text_page

__all__ = ["PageRecipe", "evaluate", "sample_pages", "train_reader"]


@dataclass(frozen=True)
class PageRecipe:
    """How training and test pages are made.

    Attributes:
        size: page ``(width, height)`` in pixels.
        font_size: font size in pixels (DejaVu Sans Mono).
        min_chars, max_chars: text length range, drawn uniformly per page; ``max_chars`` must
            leave room for word wrapping (at most 80 % of :func:`page_capacity`).
        margin: blank border in pixels.
    """

    size: tuple[int, int] = (128, 128)
    font_size: int = 8
    min_chars: int = 10
    max_chars: int = 40
    margin: int = 4

    def __post_init__(self) -> None:
        if (not isinstance(self.size, tuple) or len(self.size) != 2):
            raise TypeError(f"size must be a (width, height) tuple, got {self.size!r}")
        for i, name in enumerate(("width", "height")):
            check_int(self.size[i], f"size {name}")
        check_int(self.font_size, "font_size")
        check_int(self.min_chars, "min_chars")
        check_int(self.max_chars, "max_chars")
        check_int(self.margin, "margin", minimum=0)
        if self.min_chars > self.max_chars:
            raise ValueError(f"min_chars ({self.min_chars}) must be <= max_chars "
                             f"({self.max_chars})")
        room = int(0.8 * page_capacity(self.size, self.font_size, self.margin))
        if self.max_chars > room:
            raise ValueError(f"max_chars ({self.max_chars}) must be at most 80 % of the page's "
                             f"capacity ({room} characters at font_size {self.font_size} on a "
                             f"{self.size[0]}x{self.size[1]} page): word wrapping needs room")


def sample_pages(n: int, recipe: PageRecipe, *, generator: torch.Generator) -> list[Page]:
    """``n`` pages of ``recipe``, text lengths uniform in ``[min_chars, max_chars]``.

    Raises:
        TypeError, ValueError: ``n`` not a positive int; ``recipe`` not a PageRecipe.
    """
    check_int(n, "n")
    if not isinstance(recipe, PageRecipe):
        raise TypeError(f"recipe must be a PageRecipe, got {type(recipe).__name__}")
    lengths = torch.randint(recipe.min_chars, recipe.max_chars + 1, (n,), generator=generator)
    return [render_text_page(int(k), generator=generator, size=recipe.size,
                             font_size=recipe.font_size, margin=recipe.margin)
            for k in lengths]


@torch.no_grad()
def evaluate(model: MiniDeepSeekOCR, pages: Sequence[Page], mode: str, *,
             batch_size: int = 32) -> tuple[list[str], list[float]]:
    """Read ``pages`` in ``mode`` greedily; return ``(readings, precisions)``, one per page.

    Raises:
        TypeError, ValueError: a bad model, empty pages, unknown mode, non-positive batch size.
    """
    if not isinstance(model, MiniDeepSeekOCR):
        raise TypeError(f"model must be a MiniDeepSeekOCR, got {type(model).__name__}")
    get_mode(mode)
    check_int(batch_size, "batch_size")
    if isinstance(pages, Page) or not isinstance(pages, Sequence) or not pages:
        raise ValueError("pages must be a non-empty list of Page")
    readings: list[str] = []
    device = next(model.parameters()).device
    for start in range(0, len(pages), batch_size):
        chunk = list(pages[start:start + batch_size])
        pixels, _, _ = make_batch(chunk, mode, model.tokenizer)
        readings += model.read(pixels.to(device))
    scores = [precision(r, page_target(p)) for r, p in zip(readings, pages)]
    return readings, scores


def train_reader(model: MiniDeepSeekOCR, recipe: PageRecipe, *, steps: int,
                 modes: Sequence[str] = ("tiny",), batch_size: int = 16, lr: float = 1e-3,
                 warmup: int = 100, seed: int = 0, progress: bool = True,
                 eval_pages: Sequence[Page] | None = None, eval_every: int = 0,
                 desc: str = "reader") -> TrainHistory:
    """Train ``model`` on fresh pages of ``recipe`` for ``steps`` updates.

    Step ``s`` renders ``batch_size`` new pages and encodes them in ``modes[s % len(modes)]``;
    the pages follow ``seed``, so a rerun sees the same data. With ``eval_pages``, the mean
    precision per mode is recorded every ``eval_every`` steps and at the end (``history.evals``).

    Raises:
        TypeError, ValueError: bad arguments (see :func:`readingroom.common.train` for the
            optimiser's), an unknown mode, a text longer than the model's ``max_text``.
    """
    if not isinstance(model, MiniDeepSeekOCR):
        raise TypeError(f"model must be a MiniDeepSeekOCR, got {type(model).__name__}")
    if not isinstance(recipe, PageRecipe):
        raise TypeError(f"recipe must be a PageRecipe, got {type(recipe).__name__}")
    if isinstance(modes, str) or not isinstance(modes, Sequence) or not modes:
        raise ValueError(f"modes must be a non-empty list of mode names, got {modes!r}")
    for mode in modes:
        get_mode(mode)
    check_int(batch_size, "batch_size")
    if recipe.max_chars > model.config.max_text:
        raise ValueError(f"recipe.max_chars ({recipe.max_chars}) exceeds the model's max_text "
                         f"({model.config.max_text})")
    generator = make_generator(check_int(seed, "seed", minimum=0))
    max_text = recipe.max_chars

    def get_batch(step: int):
        pages = sample_pages(batch_size, recipe, generator=generator)
        pixels, inputs, targets = make_batch(pages, modes[step % len(modes)], model.tokenizer,
                                             max_text=max_text)
        return (pixels, inputs), targets

    eval_fn = None
    if eval_pages is not None:
        def eval_fn(m: MiniDeepSeekOCR) -> dict[str, float]:
            out = {}
            for mode in modes:
                _, scores = evaluate(m, eval_pages, mode)
                out[f"precision_{mode}"] = sum(scores) / len(scores)
            return out

    return train(model, get_batch, steps=steps, lr=lr, warmup=warmup,
                 loss_fn=lambda m, x, y: m.loss(*x, y), eval_every=eval_every, eval_fn=eval_fn,
                 progress=progress, desc=desc)
