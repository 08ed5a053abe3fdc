"""Render text as a page image: the input side of contexts optical compression.

DeepSeek-OCR reads text from a picture of a page. Here a page is a small greyscale image with
text set in DejaVu Sans Mono, the monospace font that ships with matplotlib (so no download is
needed). A monospace font makes every character equally wide, so the number of characters that
fit on a line (:func:`chars_per_line`), the number of lines on a page (:func:`lines_per_page`)
and hence a page's capacity (:func:`page_capacity`) follow from the page size and font size
alone.

:func:`render_page` wraps the text greedily at word boundaries (a word longer than a line is
split), draws it black on white with antialiasing and returns a :class:`Page` whose image is a
float tensor ``[H, W]`` with 1.0 for white paper and 0.0 for black ink.
:func:`render_text_page` renders a random passage of real text from
:func:`~readingroom.ocr.text.sample_text`.

A page is also a *document*: its text and line breaks are fixed once, at the scale it was laid
out at. :func:`render_for_mode` draws the same lines again at a resolution mode's native size
(DeepSeek-OCR, Section 3.2.2: Tiny 512, Small 640, Base 1024, Large 1280 pixels; here 128, 160,
256 and 320), with the font, margin and line pitch scaled alike, as a PDF is rasterised at a
higher DPI: more pixels per character, not an upsampled picture. A page made with
``native=True`` (:class:`~readingroom.ocr.train.PageRecipe`) is read that way in every mode
(:meth:`Page.in_mode`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from readingroom.common.checks import check_int
from readingroom.ocr.encoder import Mode, get_mode
from readingroom.ocr.text import ALPHABET, sample_text

__all__ = [
    "MIN_FONT_SIZE",
    "Page",
    "font_path",
    "glyph_boxes",
    "char_advance",
    "chars_per_line",
    "lines_per_page",
    "page_capacity",
    "wrap_text",
    "render_for_mode",
    "render_page",
    "render_text_page",
]

#: Smallest font size accepted, in pixels; below it glyphs are a blur of two or three pixels.
MIN_FONT_SIZE: int = 4

_ALLOWED = frozenset(ALPHABET) | {"\n"}


@dataclass(frozen=True, eq=False)
class Page:
    """A rendered page and the text on it (compared by identity: it holds a tensor).

    Attributes:
        image: float32 tensor ``[H, W]`` in ``[0, 1]``: 1.0 is white paper, 0.0 black ink.
        text: the ground truth as laid out on the page: the lines joined with ``"\\n"``.
        lines: the lines of text, top to bottom.
        font_size: the font size in pixels.
        size: the page size ``(W, H)`` in pixels.
        margin: the blank border the text starts after, in pixels.
        line_pitch: the distance between the tops of two lines, in pixels; ``None``: the
            font's line height (ascent plus descent), as :func:`render_page` draws. A page
            drawn by :func:`render_for_mode` keeps its document's pitch, scaled.
        native: the page is a document that a reader renders anew at each resolution mode's
            native size (:func:`render_for_mode`, via :meth:`in_mode`) instead of resizing or
            padding this image; set by ``PageRecipe(native=True)``.
    """

    image: torch.Tensor
    text: str
    lines: tuple[str, ...]
    font_size: int
    size: tuple[int, int]
    margin: int = 4
    line_pitch: float | None = None
    native: bool = False

    @property
    def pitch(self) -> float:
        """The distance between the tops of two lines in pixels (:attr:`line_pitch`)."""
        return _line_height(self.font_size) if self.line_pitch is None else self.line_pitch

    def in_mode(self, mode: str | Mode) -> Page:
        """The page as a reader in ``mode`` receives it, before the mode's fit (resize or pad):
        :func:`render_for_mode` for a :attr:`native` page, the page itself otherwise.
        """
        return render_for_mode(self, mode) if self.native else self


# ---- argument checks ------------------------------------------------------------------------

def _check_font_size(font_size: object) -> int:
    return check_int(font_size, "font_size", minimum=MIN_FONT_SIZE)


def _check_size(size: object) -> tuple[int, int]:
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise TypeError(f"size must be a (width, height) pair of ints, got {size!r}")
    width, height = size
    for value in (width, height):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"size must be a (width, height) pair of ints, got {size!r}")
        if value <= 0:
            raise ValueError(f"size must be a (width, height) pair of positive ints, got {size!r}")
    return width, height


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    foreign = sorted(set(text) - _ALLOWED)
    if foreign:
        raise ValueError(f"text contains characters outside ALPHABET (and '\\n'): {foreign!r}")
    return text


# ---- font and page geometry -----------------------------------------------------------------

def font_path() -> Path:
    """Path of ``DejaVuSansMono.ttf`` inside matplotlib's data folder.

    Raises:
        FileNotFoundError: the font is missing from this matplotlib installation.
    """
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSansMono.ttf"
    if not path.is_file():
        raise FileNotFoundError(f"DejaVuSansMono.ttf not found at {path}")
    return path


@functools.lru_cache(maxsize=32)
def _font(font_size: int) -> ImageFont.FreeTypeFont:
    """The font at ``font_size`` pixels, loaded once per size."""
    return ImageFont.truetype(str(font_path()), font_size)


def char_advance(font_size: int) -> float:
    """Horizontal advance of one character (every glyph has the same one in a monospace font)."""
    return _font(font_size).getlength("M")


def _line_height(font_size: int) -> int:
    """Distance between baselines: the font's ascent plus descent, in pixels."""
    ascent, descent = _font(font_size).getmetrics()
    return ascent + descent


def chars_per_line(width: int, font_size: int, margin: int = 4) -> int:
    """Number of characters that fit on one line of a page ``width`` pixels wide.

    A line of ``n`` characters takes ``ceil(n * advance)`` pixels, where ``advance`` is the
    font's character width at ``font_size``; it must fit in ``width - 2 * margin``.

    Args:
        width: page width in pixels.
        font_size: font size in pixels, at least :data:`MIN_FONT_SIZE`.
        margin: blank border on each side, in pixels.

    Returns:
        The number of characters, possibly 0 for a very narrow page.
    """
    check_int(width, "width", minimum=1)
    _check_font_size(font_size)
    check_int(margin, "margin", minimum=0)
    available = width - 2 * margin
    if available <= 0:
        return 0
    advance = char_advance(font_size)
    n = int(available / advance)
    while n > 0 and math.ceil(n * advance) > available:
        n -= 1
    return n


def lines_per_page(height: int, font_size: int, margin: int = 4) -> int:
    """Number of lines that fit on a page ``height`` pixels tall.

    Lines are stacked at the font's line height (ascent plus descent); ``n`` lines take
    ``n * line_height`` pixels, which must fit in ``height - 2 * margin``.

    Args:
        height: page height in pixels.
        font_size: font size in pixels, at least :data:`MIN_FONT_SIZE`.
        margin: blank border at the top and bottom, in pixels.

    Returns:
        The number of lines, possibly 0 for a very short page.
    """
    check_int(height, "height", minimum=1)
    _check_font_size(font_size)
    check_int(margin, "margin", minimum=0)
    available = height - 2 * margin
    return max(available, 0) // _line_height(font_size)


def page_capacity(size: tuple[int, int], font_size: int, margin: int = 4) -> int:
    """Most characters a page can hold: ``chars_per_line * lines_per_page``.

    Word wrapping wastes the end of most lines, so real text fills less than this; see
    :func:`render_text_page`.

    Args:
        size: page size ``(W, H)`` in pixels.
        font_size: font size in pixels, at least :data:`MIN_FONT_SIZE`.
        margin: blank border on every side, in pixels.
    """
    width, height = _check_size(size)
    return chars_per_line(width, font_size, margin) * lines_per_page(height, font_size, margin)


# ---- layout and drawing ---------------------------------------------------------------------

def wrap_text(text: str, width: int) -> tuple[str, ...]:
    """Wrap ``text`` greedily into lines of at most ``width`` characters.

    Each ``"\\n"``-separated paragraph is wrapped on its own (an empty paragraph gives an empty
    line). Within a paragraph, words (runs of non-space characters) are joined by single spaces
    and a line takes as many words as fit; a word longer than ``width`` starts a new line and is
    split into pieces of ``width`` characters, the last of which may share its line with the
    next words.

    Args:
        text: the text; any characters, spaces and newlines.
        width: the line length in characters, at least 1.

    Returns:
        The lines, none longer than ``width`` and none starting or ending with a space.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    check_int(width, "width", minimum=1)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            while len(word) > width:  # hard-split a word that cannot fit on any line
                if line:
                    lines.append(line)
                lines.append(word[:width])
                line, word = "", word[width:]
            if not line:
                line = word
            elif len(line) + 1 + len(word) <= width:
                line = f"{line} {word}"
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return tuple(lines)


def render_page(text: str, *, size: tuple[int, int] = (256, 256), font_size: int = 12,
                margin: int = 4, max_lines: int | None = None) -> Page:
    """Render ``text`` black on white as a greyscale page.

    The text is wrapped with :func:`wrap_text` to :func:`chars_per_line` characters, and the
    lines are drawn from the top-left corner (inside the margin) at the font's line height,
    antialiased, in an 8-bit greyscale image that is then scaled to ``[0, 1]``.

    Args:
        text: characters from :data:`~readingroom.ocr.text.ALPHABET` and ``"\\n"`` (a forced
            line break).
        size: page size ``(W, H)`` in pixels.
        font_size: font size in pixels, at least :data:`MIN_FONT_SIZE`.
        margin: blank border on every side, in pixels.
        max_lines: if given, the most lines allowed (on top of what fits on the page).

    Returns:
        The :class:`Page`; ``page.text`` is the wrapped text, which equals ``text`` up to
        whitespace when no word had to be split.
    """
    text = _check_text(text)
    width, height = _check_size(size)
    font_size = _check_font_size(font_size)
    margin = check_int(margin, "margin", minimum=0)
    if max_lines is not None:
        max_lines = check_int(max_lines, "max_lines", minimum=1)
    n_cols = chars_per_line(width, font_size, margin)
    n_rows = lines_per_page(height, font_size, margin)
    if n_cols == 0 or n_rows == 0:
        raise ValueError(f"size {size!r} is too small to hold one character at "
                         f"font_size={font_size} with margin={margin}")
    limit = n_rows if max_lines is None else min(n_rows, max_lines)

    lines = wrap_text(text, n_cols)
    if len(lines) > limit:
        raise ValueError(f"text needs {len(lines)} lines of {n_cols} characters but only {limit} "
                         f"fit (size={size!r}, font_size={font_size}, margin={margin}, "
                         f"max_lines={max_lines}); use a shorter text or a smaller font_size")

    image = _draw(lines, (width, height), font_size, margin, _line_height(font_size))
    return Page(image=image, text="\n".join(lines), lines=lines, font_size=font_size,
                size=(width, height), margin=margin)


def _draw(lines: tuple[str, ...], size: tuple[int, int], font_size: int, margin: int,
          pitch: float) -> torch.Tensor:
    """Draw ``lines`` from the top-left corner inside ``margin``, line ``r`` at
    ``y = margin + r * pitch``, antialiased; the image ``[H, W]`` scaled to ``[0, 1]``."""
    canvas = Image.new("L", size, color=255)  # white paper
    draw = ImageDraw.Draw(canvas)
    draw.fontmode = "L"  # antialiased greyscale glyphs
    font = _font(font_size)
    for row, line in enumerate(lines):
        draw.text((margin, margin + row * pitch), line, font=font, fill=0)
    pixels = np.asarray(canvas, dtype=np.float32) / 255.0  # [H, W]
    return torch.from_numpy(pixels.copy())  # [H, W]


def render_for_mode(page: Page, mode: str | Mode) -> Page:
    """Draw ``page``'s lines again at ``mode``'s native resolution: the same document, more pixels.

    DeepSeek-OCR's native-resolution modes (Section 3.2.2) read a document at 512, 640, 1024 or
    1280 pixels (here 128, 160, 256, 320): a larger mode sees each character with more pixels.
    The page is scaled by ``k = mode.size / max(W, H)``: its size becomes
    ``(round(k W), round(k H))`` (longer side ``mode.size``), its margin ``round(k margin)``, its
    line pitch ``k * page.pitch``, and its font ``floor(k * font_size)`` pixels, rounded *down*
    so that every line, laid out at ``page``'s scale, still fits the scaled width (a monospace
    character's advance grows in proportion to the font size). The lines are not wrapped
    again: every mode shows the same lines. For a page of the tiny mode's size the result has
    the page's own pixels. The mode's fit (resize or pad to its square,
    :func:`~readingroom.ocr.encoder.prepare_page`) comes after; a non-square page therefore
    keeps its aspect ratio in the padded modes and covers only part of their vision tokens (the
    paper's Eq. 1, :func:`~readingroom.ocr.encoder.valid_tokens`).

    Args:
        page: the document, a :class:`Page` (its ``native`` flag does not matter here).
        mode: a mode name (``"tiny"``, ``"small"``, ``"base"``, ``"large"``) or a
            :class:`~readingroom.ocr.encoder.Mode`.

    Returns:
        A :class:`Page` with the same ``text`` and ``lines``, the scaled ``size``,
        ``font_size``, ``margin`` and ``line_pitch``, and ``native=False`` (it is a rendering).
    """
    if not isinstance(page, Page):
        raise TypeError(f"page must be a Page, got {type(page).__name__}")
    m = get_mode(mode)
    width, height = page.size
    k = m.size / max(width, height)
    size = (max(1, round(width * k)), max(1, round(height * k)))
    font_size = math.floor(page.font_size * k + 1e-9)  # k * font may be 17.499999...
    if font_size < MIN_FONT_SIZE:
        raise ValueError(f"mode {m.name!r} ({m.size} px) scales font_size {page.font_size} of a "
                         f"{width}x{height} page to {font_size}, below MIN_FONT_SIZE "
                         f"({MIN_FONT_SIZE})")
    margin, pitch = round(page.margin * k), page.pitch * k
    longest = max((len(line) for line in page.lines), default=0)
    needed = math.ceil(longest * char_advance(font_size))
    if margin + needed > size[0] - margin:
        raise ValueError(f"mode {m.name!r}: a line of {longest} characters needs {needed} px at "
                         f"font_size {font_size}, but the {size[0]} px wide page has "
                         f"{size[0] - 2 * margin} px inside its margins")
    bottom = margin + (len(page.lines) - 1) * pitch + _line_height(font_size)
    if bottom > size[1]:
        raise ValueError(f"mode {m.name!r}: {len(page.lines)} lines at font_size {font_size} "
                         f"reach {bottom:.1f} px, beyond the {size[1]} px tall page")
    image = _draw(page.lines, size, font_size, margin, pitch)
    return Page(image=image, text=page.text, lines=page.lines, font_size=font_size, size=size,
                margin=margin, line_pitch=pitch)


def glyph_boxes(page: Page) -> list[tuple[str, float, float, float, float]]:
    """Where each visible character of ``page`` is: ``(char, x0, y0, x1, y1)`` in pixels.

    The font is monospace, so character ``i`` of line ``r`` occupies
    ``x in [margin + i * advance, margin + (i + 1) * advance)`` and
    ``y in [margin + r * pitch, margin + (r + 1) * pitch)`` (the pitch is the font's line height
    unless the page says otherwise, :attr:`Page.pitch`), exactly where :func:`render_page` and
    :func:`render_for_mode` drew it. Spaces are left out (they have no ink).
    """
    if not isinstance(page, Page):
        raise TypeError(f"page must be a Page, got {type(page).__name__}")
    advance, height = char_advance(page.font_size), page.pitch
    boxes = []
    for row, line in enumerate(page.lines):
        y0 = page.margin + row * height
        for i, char in enumerate(line):
            if char != " ":
                x0 = page.margin + i * advance
                boxes.append((char, x0, y0, x0 + advance, y0 + height))
    return boxes


def render_text_page(n_chars: int, *, generator: torch.Generator,
                     size: tuple[int, int] = (256, 256), font_size: int = 12,
                     margin: int = 4) -> Page:
    """Render a random passage of ``n_chars`` characters of real text (see :func:`sample_text`).

    Word wrapping leaves the end of most lines blank, so a passage close to
    :func:`page_capacity` may not fit even though ``n_chars`` is within it. On pages of 128
    pixels and more, passages of up to 80% of the capacity always fitted in 200 tries each; on
    tiny pages (a few lines of a dozen characters) stay nearer 60%, or catch the ValueError.

    Args:
        n_chars: passage length, at least 1 and at most the page capacity (and
            :data:`~readingroom.ocr.text.MAX_CHARS`).
        generator: the :class:`torch.Generator` that picks the passage.
        size: page size ``(W, H)`` in pixels.
        font_size: font size in pixels, at least :data:`MIN_FONT_SIZE`.
        margin: blank border on every side, in pixels.

    Returns:
        The :class:`Page`; the same generator state gives the same page.
    """
    capacity = page_capacity(size, font_size, margin)
    if isinstance(n_chars, int) and not isinstance(n_chars, bool) and n_chars > capacity:
        raise ValueError(f"n_chars={n_chars} exceeds the page capacity of {capacity} characters "
                         f"(size={size!r}, font_size={font_size}, margin={margin})")
    text = sample_text(n_chars, generator=generator)
    return render_page(text, size=size, font_size=font_size, margin=margin)
