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
import math
from dataclasses import dataclass, fields, replace

import torch
import torch.nn.functional as F

from readingroom.common import TrainHistory, make_generator, train
from readingroom.common.checks import check_bool, check_float, check_int
from torch import nn

from readingroom.ocr.encoder import EncoderConfig, get_mode, shrink, vision_tokens
from readingroom.ocr.model import (
    MiniDeepSeekOCR,
    check_pages,
    make_batch,
    page_pixels,
    page_target,
    precision,
)
from readingroom.ocr.render import (
    Page,
    chars_per_line,
    glyph_boxes,
    lines_per_page,
    page_capacity,
    render_page,
    render_text_page,
)
from readingroom.ocr.text import random_text
from readingroom.ocr.tokenizer import CharTokenizer

__all__ = [
    "ALL_MODES_CURRICULUM", "FILL", "MIN_FACTOR", "NATIVE_CURRICULUM", "NATIVE_RECIPE",
    "PAPER_GEOMETRY_CURRICULUM", "QUICK_CURRICULUM", "QUICK_NATIVE_CURRICULUM",
    "QUICK_PAPER_GEOMETRY_CURRICULUM", "READER_CURRICULUM",
    "Curriculum", "PageRecipe", "Stage", "evaluate", "glyph_targets", "pretrain_encoder",
    "sample_pages", "train_curriculum",
    "train_reader",
]


_TRIES = 50

#: The lowest resolution factor of :attr:`PageRecipe.low_res_share` (0.4: a quarter of the
#: original detail, about the size below which our reader's glyphs blur into each other).
MIN_FACTOR = 0.4

#: Share of a page's capacity a passage may fill: word wrapping needs the rest.
FILL = 0.8


@dataclass(frozen=True)
class PageRecipe:
    """How training and test pages are made.

    Attributes:
        size: page ``(width, height)`` in pixels.
        font_size: font size in pixels (DejaVu Sans Mono), or a tuple of sizes drawn uniformly
            per page. Smaller fonts put more characters under each vision token: the recipe's
            axis of compression.
        min_chars, max_chars: text length range, drawn uniformly per page; a page's length is
            also capped at :data:`FILL` (80 %) of its font's :func:`page_capacity`, since word
            wrapping needs room. ``max_chars`` must fit the font with the largest capacity and
            ``min_chars`` every font.
        margin: blank border in pixels.
        random_share: the share of pages whose text is :func:`~readingroom.ocr.text.random_text`
            instead of English (:func:`~readingroom.ocr.text.sample_text`). A decoder trained
            on English alone first learns to *guess* the text and, in our runs, never started
            to look at the page in 700 steps (loss stuck at the text's entropy, ~2.2 nats);
            random words cannot be guessed, so they make reading pay from the first step.
        low_res_share: the share of pages the reader sees at a lower resolution, shrunk by a
            factor drawn uniformly from ``[MIN_FACTOR, 1)``
            (:func:`~readingroom.ocr.encoder.shrink`),
            so that it learns to read blurred pages as well as it can instead of failing on
            anything it was not shown. Used by :func:`train_reader`, not by page rendering.
        aspect: ``None`` (default): every page is ``size``. Otherwise the pages' aspect ratio
            width / height, or a tuple of ratios drawn uniformly per page (after the font):
            the longer side of a page is ``size``'s side (which must then be square) and the
            other side ``round(side * aspect)`` (or ``/``). Real documents are rarely square
            (A4 is 0.71, US Letter 0.77); only a non-square page makes the padded modes Base
            and Large pad, leaving vision tokens without content (the paper's Eq. 1,
            :func:`~readingroom.ocr.encoder.valid_tokens`).
        native: ``False`` (default): a page is rendered once at its size and every mode
            resizes or pads that image to its square. ``True``: a page is a document laid out
            at its size (the reference scale, the tiny mode's 128 pixels by default) and each
            mode renders the same lines at its own native resolution
            (:func:`~readingroom.ocr.render.render_for_mode`, DeepSeek-OCR Section 3.2.2), so
            Base and Large see 2x and 2.5x the tiny mode's pixels per character.

    ``aspect`` and ``native`` appear in the ``repr`` only when set, so the repr of a recipe
    without them (and the committed readers' records) is what it was before they existed.
    """

    size: tuple[int, int] = (128, 128)
    font_size: int | tuple[int, ...] = 8
    min_chars: int = 10
    max_chars: int = 40
    margin: int = 4
    random_share: float = 0.0
    low_res_share: float = 0.0
    aspect: float | tuple[float, ...] | None = None
    native: bool = False

    def __repr__(self) -> str:
        shown = [f for f in fields(self) if not (f.name == "aspect" and self.aspect is None
                                                  or f.name == "native" and not self.native)]
        return f"PageRecipe({', '.join(f'{f.name}={getattr(self, f.name)!r}' for f in shown)})"

    def __post_init__(self) -> None:
        for name in ("random_share", "low_res_share"):
            check_float(getattr(self, name), name, low=0.0, high=1.0)
        if (not isinstance(self.size, tuple) or len(self.size) != 2):
            raise TypeError(f"size must be a (width, height) tuple, got {self.size!r}")
        for i, name in enumerate(("width", "height")):
            check_int(self.size[i], f"size {name}")
        if isinstance(self.font_size, tuple):
            if not self.font_size:
                raise ValueError("font_size must be an int or a non-empty tuple of ints")
            for f in self.font_size:
                check_int(f, "font_size")
        else:
            check_int(self.font_size, "font_size")
        check_int(self.min_chars, "min_chars")
        check_int(self.max_chars, "max_chars")
        check_int(self.margin, "margin", minimum=0)
        check_bool(self.native, "native")
        if self.aspect is not None:
            ratios = self.aspects
            if not ratios:
                raise ValueError("aspect must be None, a number or a non-empty tuple of numbers")
            for a in ratios:
                check_float(a, "aspect", low=0.0, low_open=True)
            if self.size[0] != self.size[1]:
                raise ValueError(f"aspect needs a square size (its side is every page's longer "
                                 f"side), got size={self.size!r}")
            for a, (w, h) in zip(ratios, self.page_sizes):
                if chars_per_line(w, min(self.font_sizes), self.margin) == 0 or lines_per_page(
                        h, min(self.font_sizes), self.margin) == 0:
                    raise ValueError(f"aspect {a} makes a {w}x{h} page, too small for one "
                                     f"character at font_size {min(self.font_sizes)}")
        if self.min_chars > self.max_chars:
            raise ValueError(f"min_chars ({self.min_chars}) must be <= max_chars "
                             f"({self.max_chars})")
        rooms = {(f, s): self.room(f, s) for f in self.font_sizes for s in self.page_sizes}
        big = max(rooms, key=rooms.get)
        if self.max_chars > rooms[big]:
            raise ValueError(f"max_chars ({self.max_chars}) must be at most 80 % of the page's "
                             f"capacity ({rooms[big]} characters at font_size {big[0]} on a "
                             f"{big[1][0]}x{big[1][1]} page): word wrapping needs room")
        small = min(rooms, key=rooms.get)
        if self.min_chars > rooms[small]:
            where = "" if len(self.page_sizes) == 1 else f" on a {small[1][0]}x{small[1][1]} page"
            raise ValueError(f"min_chars ({self.min_chars}) must fit every font: at most "
                             f"{rooms[small]} characters at font_size {small[0]}{where}")

    @property
    def font_sizes(self) -> tuple[int, ...]:
        """The font sizes as a tuple (one element for a single size)."""
        return self.font_size if isinstance(self.font_size, tuple) else (self.font_size,)

    @property
    def aspects(self) -> tuple[float, ...] | None:
        """The aspect ratios as a tuple, or ``None`` when every page is :attr:`size`."""
        if self.aspect is None:
            return None
        return self.aspect if isinstance(self.aspect, tuple) else (self.aspect,)

    @property
    def page_sizes(self) -> tuple[tuple[int, int], ...]:
        """The page sizes ``(W, H)`` a page is drawn from, one per aspect ratio (``(size,)``
        without one): longer side ``size[0]``, the other ``round(size[0] * min(a, 1 / a))``."""
        if self.aspects is None:
            return (self.size,)
        side = self.size[0]
        return tuple((max(1, round(side * a)), side) if a <= 1 else (side, max(1, round(side / a)))
                     for a in self.aspects)

    def room(self, font_size: int, size: tuple[int, int] | None = None) -> int:
        """The longest passage at ``font_size``: :data:`FILL` of the page capacity.

        ``size``: the page size (one of :attr:`page_sizes`); ``None``: the smallest room over
        :attr:`page_sizes` (a passage that fits every page shape; with no aspect, :attr:`size`'s).
        """
        sizes = self.page_sizes if size is None else (size,)
        return min(int(FILL * page_capacity(s, font_size, self.margin)) for s in sizes)


def sample_pages(n: int, recipe: PageRecipe, *, generator: torch.Generator) -> list[Page]:
    """``n`` pages of ``recipe``: a font drawn per page, then (with :attr:`PageRecipe.aspect`) a
    page size, then a length uniform in ``[min_chars, min(max_chars, recipe.room(font, size))]``.

    With ``recipe.native`` the pages are documents (``page.native``): each mode that reads one
    renders it at its own native resolution (:meth:`~readingroom.ocr.render.Page.in_mode`).
    The draws do not depend on the mode, so the same generator state gives the same documents
    for every mode.
    """
    check_int(n, "n")
    if not isinstance(recipe, PageRecipe):
        raise TypeError(f"recipe must be a PageRecipe, got {type(recipe).__name__}")
    fonts, sizes = recipe.font_sizes, recipe.page_sizes
    pages = []
    for _ in range(n):
        font = fonts[int(torch.randint(len(fonts), (1,), generator=generator))]
        size = recipe.size  # no draw without aspect ratios: the pages of old recipes unchanged
        if recipe.aspects is not None:
            size = sizes[int(torch.randint(len(sizes), (1,), generator=generator))]
        top = min(recipe.max_chars, recipe.room(font, size))
        k = int(torch.randint(recipe.min_chars, top + 1, (1,), generator=generator))
        scrambled = bool(torch.rand((), generator=generator) < recipe.random_share)
        for attempt in range(_TRIES):  # long words can make a passage wrap onto too many lines
            try:
                if scrambled:
                    page = render_page(random_text(k, generator=generator), size=size,
                                       font_size=font, margin=recipe.margin)
                else:
                    page = render_text_page(k, generator=generator, size=size,
                                            font_size=font, margin=recipe.margin)
                pages.append(replace(page, native=True) if recipe.native else page)
                break
            except ValueError:
                if attempt == _TRIES - 1:
                    raise
    return pages


@torch.no_grad()
def evaluate(model: MiniDeepSeekOCR, pages: Sequence[Page], mode: str, *,
             batch_size: int = 32) -> tuple[list[str], list[float]]:
    """Read ``pages`` in ``mode`` greedily; return ``(readings, precisions)``, one per page."""
    if not isinstance(model, MiniDeepSeekOCR):
        raise TypeError(f"model must be a MiniDeepSeekOCR, got {type(model).__name__}")
    get_mode(mode)
    check_int(batch_size, "batch_size")
    check_pages(pages)
    readings = model.read(page_pixels(pages, mode), batch_size=batch_size)
    scores = [precision(r, page_target(p)) for r, p in zip(readings, pages)]
    return readings, scores


def _check_training(model: object, recipe: object, modes: object, batch_size: object) -> None:
    """The argument checks :func:`train_reader` and :func:`pretrain_encoder` share."""
    if not isinstance(model, MiniDeepSeekOCR):
        raise TypeError(f"model must be a MiniDeepSeekOCR, got {type(model).__name__}")
    if not isinstance(recipe, PageRecipe):
        raise TypeError(f"recipe must be a PageRecipe, got {type(recipe).__name__}")
    if isinstance(modes, str) or not isinstance(modes, Sequence) or not modes:
        raise ValueError(f"modes must be a non-empty list of mode names, got {modes!r}")
    for mode in modes:
        get_mode(mode)
    check_int(batch_size, "batch_size")


def train_reader(model: MiniDeepSeekOCR, recipe: PageRecipe, *, steps: int,
                 modes: Sequence[str] = ("tiny",), batch_size: int = 16, lr: float = 1e-3,
                 warmup: int = 100, seed: int = 0, schedule: str = "cosine",
                 grad_clip: float | None = 1.0, progress: bool = True,
                 eval_pages: Sequence[Page] | None = None, eval_every: int = 0,
                 desc: str = "reader") -> TrainHistory:
    """Train ``model`` on fresh pages of ``recipe`` for ``steps`` updates.

    Step ``s`` renders ``batch_size`` new pages and encodes them in ``modes[s % len(modes)]``;
    the pages follow ``seed``, so a rerun sees the same data. With ``eval_pages``, the mean
    precision per mode is recorded every ``eval_every`` steps and at the end (``history.evals``).
    """
    _check_training(model, recipe, modes, batch_size)
    if recipe.max_chars > model.config.max_text:
        raise ValueError(f"recipe.max_chars ({recipe.max_chars}) exceeds the model's max_text "
                         f"({model.config.max_text})")
    generator = make_generator(check_int(seed, "seed", minimum=0))

    def get_batch(step: int):
        pages = sample_pages(batch_size, recipe, generator=generator)
        # No fixed width: wrapping a word longer than a line adds a space to the target.
        pixels, inputs, targets = make_batch(pages, modes[step % len(modes)], model.tokenizer)
        if recipe.low_res_share > 0:
            blur = torch.rand(len(pages), generator=generator) < recipe.low_res_share
            factors = MIN_FACTOR + (1 - MIN_FACTOR) * torch.rand(len(pages), generator=generator)
            for i in torch.nonzero(blur).flatten().tolist():
                pixels[i:i + 1] = shrink(pixels[i:i + 1], float(factors[i]))
        return (pixels, inputs), targets

    eval_fn = None
    if eval_pages is not None:
        def eval_fn(m: MiniDeepSeekOCR) -> dict[str, float]:
            out = {}
            for mode in modes:
                _, scores = evaluate(m, eval_pages, mode)
                out[f"precision_{mode}"] = sum(scores) / len(scores)
            return out

    return train(model, get_batch, steps=steps, lr=lr, warmup=warmup, schedule=schedule,
                 grad_clip=grad_clip, loss_fn=lambda m, x, y: m.loss(*x, y),
                 eval_every=eval_every, eval_fn=eval_fn,
                 progress=progress, desc=desc)


def glyph_targets(pages: Sequence[Page], mode: str, tokenizer: CharTokenizer,
                  patch_size: int = 4, slots: int = 1) -> torch.Tensor:
    """The characters under each vision token: ids ``[B, N, slots]`` for ``mode``.

    The page (for a native page: its rendering for the mode,
    :meth:`~readingroom.ocr.render.Page.in_mode`) is mapped to the mode's ``S x S`` square as
    :func:`prepare_page` maps it (resize or pad) and cut into the ``n x n`` grid of vision
    tokens (``n^2 = N``). A character belongs to the token in whose square its glyph-box centre
    (:func:`~readingroom.ocr.render.glyph_boxes`) falls. Slot ``s`` of a token holds its
    ``s``-th character in reading order; after its last character comes ``<eos>`` (if a slot is
    left), so the labels also say how many characters the token holds; characters beyond
    ``slots`` are dropped. A token with no character is ``<pad>`` in every slot. These are the
    dense labels of :func:`pretrain_encoder`.
    """
    m = get_mode(mode)
    check_pages(pages)
    if not isinstance(tokenizer, CharTokenizer):
        raise TypeError(f"tokenizer must be a CharTokenizer, got {type(tokenizer).__name__}")
    check_int(slots, "slots")
    N = vision_tokens(m, EncoderConfig(patch_size=check_int(patch_size, "patch_size")))
    n = math.isqrt(N)
    out = torch.full((len(pages), N, slots), tokenizer.pad_id, dtype=torch.long)  # [B, N, K]
    cell = m.size / n
    for b, page in enumerate(pages):
        page = page.in_mode(m)
        W, H = page.size
        sx, sy = (m.size / W, m.size / H) if m.fit == "resize" else (m.size / max(W, H),) * 2
        held: dict[int, list[int]] = {}
        for char, x0, y0, x1, y1 in glyph_boxes(page):
            col = min(int((x0 + x1) / 2 * sx / cell), n - 1)
            row = min(int((y0 + y1) / 2 * sy / cell), n - 1)
            held.setdefault(row * n + col, []).append(tokenizer.encode(char)[0])
        for token, ids in held.items():
            ids = (ids + [tokenizer.eos_id])[:slots]
            out[b, token, :len(ids)] = torch.tensor(ids)
    return out


class _GlyphProbe(nn.Module):
    """The encoder plus a linear head naming the character under each vision token."""

    def __init__(self, model: MiniDeepSeekOCR, slots: int) -> None:
        super().__init__()
        self.encoder = model.encoder
        self.slots = slots
        self.head = nn.Linear(model.config.encoder.d_out, slots * len(model.tokenizer))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.encoder(pixels))  # [B, N, K * V]
        return logits.unflatten(-1, (self.slots, -1))  # [B, N, K, V]


def pretrain_encoder(model: MiniDeepSeekOCR, recipe: PageRecipe, *, steps: int,
                     modes: Sequence[str] = ("tiny",), batch_size: int = 16, lr: float = 1e-3,
                     slots: int = 1, seed: int = 0, schedule: str = "cosine",
                     grad_clip: float | None = 1.0, progress: bool = True) -> TrainHistory:
    """Teach ``model.encoder`` to see glyphs before the decoder learns to read them.

    Trained from scratch together, encoder and decoder do not meet: the decoder's attention
    spreads over dozens of near-identical blank-page vision tokens, the gradient reaching the
    encoder fades (norm 2.9 at step 0, 0.006 by step 350 in our runs) and the decoder settles on
    the text's unconditional statistics. DeepSeek-OCR, too, trains its DeepEncoder before the
    whole model (Section 3.5.1), but together with a compact language model, by next-token
    prediction. Here, more cheaply, a linear head on every vision token learns to name the
    character under it (:func:`glyph_targets`), cross-entropy over the tokens that hold a glyph
    centre only; the head is thrown away afterwards.

    Measured on the 2-core CPU (default OCRConfig, tiny mode, 4-16 characters at font 12 on
    128 x 128 pages, batch 16, 40 held-out pages): 300 steps of this, then 800 steps of
    :func:`train_reader`, read at precision 0.53 (joint loss 1.07); the same 800 steps without it
    reach 0.06 (loss 2.28). With a constant learning rate and no clipping in both stages the
    pretrained reader reached 0.77. Counting blank tokens as a class, even at weight 0.1, undid
    the benefit on single letters (5/40 read, against 40/40 when blanks are ignored).
    """
    _check_training(model, recipe, modes, batch_size)
    generator = make_generator(check_int(seed, "seed", minimum=0))
    probe = _GlyphProbe(model, check_int(slots, "slots")).to(next(model.parameters()).device)
    patch = model.config.encoder.patch_size
    blank = model.tokenizer.pad_id

    def get_batch(step: int):
        pages = sample_pages(batch_size, recipe, generator=generator)
        mode = modes[step % len(modes)]
        pixels, _, _ = make_batch(pages, mode, model.tokenizer)
        return pixels, glyph_targets(pages, mode, model.tokenizer, patch, slots)

    def loss_fn(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = m(x)  # [B, N, K, V]
        return F.cross_entropy(logits.flatten(0, 2), y.flatten(), ignore_index=blank)

    return train(probe, get_batch, steps=steps, lr=lr, warmup=min(20, steps // 10),
                 schedule=schedule, grad_clip=grad_clip, loss_fn=loss_fn, progress=progress,
                 desc="encoder pretraining")


@dataclass(frozen=True)
class Stage:
    """One stage of a :class:`Curriculum`: ``steps`` on ``recipe``, cycling through ``modes``."""

    name: str
    steps: int
    recipe: PageRecipe
    modes: tuple[str, ...] = ("tiny",)

    def __post_init__(self) -> None:
        check_int(self.steps, "steps")
        if not isinstance(self.modes, tuple) or not self.modes:
            raise ValueError(f"modes must be a non-empty tuple of mode names, got {self.modes!r}")
        for mode in self.modes:
            get_mode(mode)
        if not isinstance(self.recipe, PageRecipe):
            raise TypeError(f"recipe must be a PageRecipe, got {type(self.recipe).__name__}")


@dataclass(frozen=True)
class Curriculum:
    """How the book's reader is trained: encoder pretraining, then stages of rising difficulty.

    Reading appears suddenly: on one-line pages (4-16 characters, font 12) precision stayed near
    0.1 for 400 steps, then rose to 0.25, 0.50, 0.78 and 0.85 at steps 600, 800, 1000 and 1200
    (constant learning rate 1e-3, no clipping). On long pages of mixed fonts from the start the
    loss stayed at the text's entropy for 700 steps. So the curriculum starts short and grows.

    Attributes:
        pretrain: the recipe and steps of :func:`pretrain_encoder` (``slots`` characters per
            vision token), or ``None`` for none (a curriculum that starts from a trained
            reader).
        stages: the reader's stages, in order.
        batch_size, lr, warmup: as :func:`train_reader` (constant learning rate, no
            clipping).
        start: ``None`` (from scratch) or the kind of committed reader
            (:data:`~readingroom.ocr.reader.READERS`) whose weights the training command
            starts from (:func:`~readingroom.ocr.reader.start_reader`);
            :func:`train_curriculum` itself trains the model it is given. Shown in the
            ``repr`` only when set.
    """

    pretrain: Stage | None
    stages: tuple[Stage, ...]
    slots: int = 4
    batch_size: int = 16
    lr: float = 1e-3
    warmup: int = 50
    start: str | None = None

    def __repr__(self) -> str:
        shown = [f for f in fields(self) if f.name != "start" or self.start is not None]
        return f"Curriculum({', '.join(f'{f.name}={getattr(self, f.name)!r}' for f in shown)})"

    def __post_init__(self) -> None:
        if self.pretrain is not None and not isinstance(self.pretrain, Stage):
            raise TypeError(f"pretrain must be a Stage or None, got "
                            f"{type(self.pretrain).__name__}")
        if self.start is not None and (not isinstance(self.start, str) or not self.start):
            raise ValueError(f"start must be None or a reader kind, got {self.start!r}")
        if not isinstance(self.stages, tuple) or not self.stages or not all(
                isinstance(s, Stage) for s in self.stages):
            raise ValueError("stages must be a non-empty tuple of Stage")
        check_int(self.slots, "slots")
        check_int(self.batch_size, "batch_size")

    @property
    def modes(self) -> tuple[str, ...]:
        """Every mode a stage trains in, in first-use order."""
        stages = self.stages if self.pretrain is None else (self.pretrain, *self.stages)
        return tuple(dict.fromkeys(m for s in stages for m in s.modes))


_FONTS = (8, 10, 12, 14)

#: The curriculum of the committed reader (``python -m readingroom.ocr train``): reading is
#: discovered on one-line pages in the tiny mode, then practised on longer pages, four fonts,
#: random words, blurred pages, and the tiny (64 tokens) and small (100 tokens) modes in turn.
_BOTH = ("tiny", "small")
READER_CURRICULUM = Curriculum(
    pretrain=Stage("encoder", 400, PageRecipe(font_size=_FONTS, min_chars=4, max_chars=100,
                                              random_share=0.2), _BOTH),
    stages=(
        Stage("one line", 1200, PageRecipe(font_size=12, min_chars=4, max_chars=16)),
        Stage("short", 1500, PageRecipe(font_size=_FONTS, min_chars=4, max_chars=48,
                                        random_share=0.2, low_res_share=0.2), _BOTH),
        Stage("medium", 2500, PageRecipe(font_size=_FONTS, min_chars=4, max_chars=120,
                                         random_share=0.2, low_res_share=0.2), _BOTH),
        Stage("long", 3000, PageRecipe(font_size=_FONTS, min_chars=4, max_chars=230,
                                       random_share=0.2, low_res_share=0.2), _BOTH),
    ),
)

#: The book's curriculum plus a last stage in all four modes (tiny, small, base with 256
#: tokens, large with 400; the padded squares show the page at 2x and 2.5x the tiny mode's
#: pixels), 2,400 steps, 600 per mode: ``python -m readingroom.ocr train --curriculum
#: all-modes``.
ALL_MODES_CURRICULUM = Curriculum(
    pretrain=READER_CURRICULUM.pretrain,
    stages=READER_CURRICULUM.stages + (
        Stage("all modes", 2400, PageRecipe(font_size=_FONTS, min_chars=4, max_chars=230,
                                            random_share=0.2, low_res_share=0.2),
              ("tiny", "small", "base", "large")),
    ),
)

#: The native reader's pages: the book's last stage (four fonts, up to 230 characters, random
#: words, blurred pages), on documents of two shapes, 3:4 (US Letter is 0.77, A4 0.71) and the
#: square the book's reader knows, each rendered at the native resolution of the mode reading it.
NATIVE_RECIPE = PageRecipe(font_size=_FONTS, min_chars=4, max_chars=230, random_share=0.2,
                           low_res_share=0.2, aspect=(0.75, 1.0), native=True)

#: The native reader (``python -m readingroom.ocr train --curriculum native``): the book's
#: committed reader, then one stage in all four modes, equal steps each, on documents rendered
#: at each mode's native resolution (:data:`NATIVE_RECIPE`): Small, Base and Large see 1.25x,
#: 2x and 2.5x the tiny mode's pixels per character, and Base and Large pad the 3:4 pages
#: (192 of 256 and 300 of 400 vision tokens valid, the paper's Eq. 1). 2,400 steps, 600 per
#: mode, as the all-modes reader's last stage: at 0.29, 0.38, 1.01 and 1.62 s a step in the
#: tiny, small, base and large modes (a 152-step pilot on one CPU thread), about 33 minutes,
#: plus 22 s to score it.
NATIVE_CURRICULUM = Curriculum(
    pretrain=None,
    stages=(Stage("native modes", 2400, NATIVE_RECIPE, ("tiny", "small", "base", "large")),),
    start="book",
)

#: A few steps of the same shape, for tests and smoke runs.
QUICK_CURRICULUM = Curriculum(
    pretrain=Stage("encoder", 3, PageRecipe(font_size=(12, 16), min_chars=2, max_chars=8)),
    stages=(Stage("one line", 3, PageRecipe(font_size=12, min_chars=2, max_chars=8)),
            Stage("short", 2, PageRecipe(font_size=(12, 16), min_chars=2, max_chars=12,
                                         random_share=0.5, low_res_share=0.5),
                  ("tiny", "small"))),
    batch_size=4,
)

#: A few steps of the native curriculum's shape (from the book's reader), for tests.
QUICK_NATIVE_CURRICULUM = Curriculum(
    pretrain=None,
    stages=(Stage("native modes", 4, PageRecipe(font_size=(12, 16), min_chars=2, max_chars=12,
                                                aspect=(0.75, 1.0), native=True,
                                                low_res_share=0.5),
                  ("tiny", "small", "base", "large")),),
    batch_size=2,
    start="book",
)


#: The paper-geometry reader (``python -m readingroom.ocr train --curriculum paper-geometry``,
#: :data:`~readingroom.ocr.reader.PAPER_GEOMETRY_CONFIG`): patch size 16, as DeepSeek-OCR's, so
#: each vision token covers 64 x 64 pixels of the page, as each of the paper's does, and the
#: tiny mode's 128-pixel page yields 4 vision tokens: a quarter of a quarter of the paper's Tiny
#: page (64 tokens over 512 x 512 pixels). The pages and their lengths are the book reader's (up
#: to 230 characters, fonts 8-14), so the same text now sits under 16x fewer tokens: up to
#: 230 / 4 = 57 characters, about 14 BPE tokens, per vision token, the paper's 5-20x regime.
#: The same stages as :data:`READER_CURRICULUM`, tiny mode only, longer (a step costs 0.04-0.16 s
#: on one CPU thread, against 0.3 s for the book's reader, whose encoder sees 1,024 patches
#: where this one sees 64), 16 glyph slots per token in pretraining (a token holds dozens of
#: characters), and no blurred pages (this reader is not used for the forgetting experiment).
PAPER_GEOMETRY_CURRICULUM = Curriculum(
    pretrain=Stage("encoder", 400, PageRecipe(font_size=_FONTS, min_chars=4, max_chars=100,
                                              random_share=0.2)),
    stages=(
        Stage("one line", 2500, PageRecipe(font_size=12, min_chars=4, max_chars=16)),
        Stage("short", 2500, PageRecipe(font_size=_FONTS, min_chars=4, max_chars=48,
                                        random_share=0.2)),
        Stage("medium", 4000, PageRecipe(font_size=_FONTS, min_chars=4, max_chars=120,
                                         random_share=0.2)),
        Stage("long", 14000, PageRecipe(font_size=_FONTS, min_chars=4, max_chars=230,
                                        random_share=0.2)),
    ),
    slots=16,
)

#: A few steps of the paper-geometry curriculum's shape (tiny mode only), for tests.
QUICK_PAPER_GEOMETRY_CURRICULUM = Curriculum(
    pretrain=Stage("encoder", 3, PageRecipe(font_size=(12, 16), min_chars=2, max_chars=8)),
    stages=(Stage("one line", 3, PageRecipe(font_size=12, min_chars=2, max_chars=8)),),
    slots=16,
    batch_size=4,
)


def train_curriculum(model: MiniDeepSeekOCR, curriculum: Curriculum, *, seed: int = 0,
                     progress: bool = True) -> dict[str, TrainHistory]:
    """Pretrain ``model.encoder`` and train the reader through ``curriculum``'s stages.

    Stage ``i`` draws its pages with seed ``(seed * 100 + i) mod 2**32`` (pretraining: ``+ 99``),
    so one seed fixes every page the reader ever sees. Returns the history of each stage by name.
    A curriculum without ``pretrain`` skips it; ``curriculum.start`` is the caller's to honour
    (load those weights into ``model`` first, :func:`~readingroom.ocr.reader.start_reader`).
    """
    if not isinstance(curriculum, Curriculum):
        raise TypeError(f"curriculum must be a Curriculum, got {type(curriculum).__name__}")
    seed = check_int(seed, "seed", minimum=0)
    c = curriculum
    missing = [m for m in c.modes if m not in getattr(getattr(model, "config", None), "modes", ())]
    if missing:
        raise ValueError(f"the curriculum trains in modes {missing} that the model's config "
                         f"does not list (OCRConfig.modes)")
    common = dict(batch_size=c.batch_size, lr=c.lr, schedule="constant", grad_clip=None,
                  progress=progress)
    out = {}
    if c.pretrain is not None:
        out[c.pretrain.name] = pretrain_encoder(model, c.pretrain.recipe, steps=c.pretrain.steps,
                                                modes=c.pretrain.modes, slots=c.slots,
                                                seed=(seed * 100 + 99) % 2**32, **common)
    for i, stage in enumerate(c.stages):
        out[stage.name] = train_reader(model, stage.recipe, steps=stage.steps, modes=stage.modes,
                                       warmup=min(c.warmup, stage.steps - 1),
                                       seed=(seed * 100 + i) % 2**32,
                                       desc=f"reader: {stage.name}", **common)
    return out
