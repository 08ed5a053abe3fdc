"""Unit tests for readingroom.ocr.render: page geometry, wrapping and rendering."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch

from readingroom.common import make_generator
from readingroom.ocr.render import (
    Page,
    chars_per_line,
    font_path,
    lines_per_page,
    page_capacity,
    render_page,
    render_text_page,
    wrap_text,
)
from readingroom.ocr.text import sample_text

SMALL = (96, 64)


def _normalised(text: str) -> str:
    return " ".join(text.split())


# ---- font and geometry -----------------------------------------------------------------------

def test_font_ships_with_matplotlib():
    path = font_path()
    assert path.name == "DejaVuSansMono.ttf" and path.is_file()


def test_geometry_grows_with_page_and_shrinks_with_font():
    assert chars_per_line(256, 12) > chars_per_line(128, 12) > 0
    assert chars_per_line(256, 8) > chars_per_line(256, 12)
    assert lines_per_page(256, 12) > lines_per_page(128, 12) > 0
    assert lines_per_page(256, 8) > lines_per_page(256, 12)
    assert chars_per_line(256, 12, margin=0) >= chars_per_line(256, 12, margin=20)
    assert page_capacity((256, 128), 12) == chars_per_line(256, 12) * lines_per_page(128, 12)


def test_geometry_matches_dejavu_sans_mono_metrics():
    # DejaVu Sans Mono: advance 0.602 em, ascent + descent = 15 px at 12 px.
    assert chars_per_line(256, 12, margin=4) == 34  # 248 px / 7.22 px
    assert lines_per_page(256, 12, margin=4) == 16  # 248 px / 15 px


def test_geometry_of_a_page_smaller_than_a_character_is_zero():
    assert chars_per_line(8, 12, margin=4) == 0
    assert lines_per_page(10, 12, margin=4) == 0


# ---- wrapping --------------------------------------------------------------------------------

def test_wrap_text_is_greedy_and_respects_the_width():
    assert wrap_text("aa bb cc dd", 5) == ("aa bb", "cc dd")
    assert wrap_text("aa bb cc dd", 4) == ("aa", "bb", "cc", "dd")
    assert wrap_text("one  two\n\nthree", 20) == ("one two", "", "three")


def test_wrap_text_hard_splits_long_words():
    assert wrap_text("ab abcdefghij c", 4) == ("ab", "abcd", "efgh", "ij c")
    assert wrap_text("abcdefgh", 4) == ("abcd", "efgh")


def test_wrap_text_never_exceeds_the_width_on_sampled_text():
    gen = make_generator(5)
    for width in (1, 3, 10, 33):
        text = sample_text(400, generator=gen)
        lines = wrap_text(text, width)
        assert all(len(line) <= width for line in lines)
        assert all(line == line.strip() for line in lines)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")


# ---- render_page -----------------------------------------------------------------------------

def test_render_page_returns_a_black_on_white_float_image():
    page = render_page("hello, world. (12:30) it's ok; yes-no", size=SMALL, font_size=8)
    assert isinstance(page, Page)
    assert page.image.shape == (SMALL[1], SMALL[0])  # [H, W]
    assert page.image.dtype == torch.float32
    assert page.image.min() >= 0.0 and page.image.max() <= 1.0
    assert page.image.min() < 0.5  # there is ink
    assert page.image.median() > 0.9  # mostly white paper
    assert page.size == SMALL and page.font_size == 8
    # Antialiased: some pixels are neither paper nor full ink.
    grey = ((page.image > 0.05) & (page.image < 0.95)).sum()
    assert grey > 0


def test_render_page_leaves_the_margin_blank():
    # A full page of glyphs with descenders and tall strokes, every line at full width.
    width, rows = chars_per_line(SMALL[0], 8, margin=6), lines_per_page(SMALL[1], 8, margin=6)
    line = ("gjq(l)wm" * 20)[:width]
    page = render_page("\n".join([line] * rows), size=SMALL, font_size=8, margin=6)
    img = page.image  # [H, W]
    assert (img[:6] == 1.0).all() and (img[:, :6] == 1.0).all()
    assert (img[-6:] == 1.0).all() and (img[:, -6:] == 1.0).all()


def test_more_text_means_more_ink():
    ink = [(1.0 - render_page("word " * n, size=SMALL, font_size=8).image).sum().item()
           for n in (1, 4, 12)]
    assert ink[0] < ink[1] < ink[2]


def test_empty_text_gives_a_blank_page():
    page = render_page("", size=SMALL, font_size=8)
    assert (page.image == 1.0).all()
    assert page.text == "" and page.lines == ("",)


def test_page_text_is_the_wrapped_input():
    gen = make_generator(2)
    width = chars_per_line(SMALL[0], 8)
    for _ in range(5):
        text = sample_text(60, generator=gen)
        if max(len(w) for w in text.split()) > width:
            continue  # a hard-split word would change the words
        page = render_page(text, size=SMALL, font_size=8)
        assert page.text == "\n".join(page.lines)
        assert _normalised(page.text) == _normalised(text)
        assert page.text.replace("\n", " ") == text  # sampled text has single spaces
        assert all(len(line) <= width for line in page.lines)


def test_newlines_force_line_breaks():
    page = render_page("ab\ncd", size=SMALL, font_size=8)
    assert page.lines == ("ab", "cd") and page.text == "ab\ncd"


def test_render_page_is_deterministic():
    a = render_page("the same text", size=SMALL, font_size=8)
    b = render_page("the same text", size=SMALL, font_size=8)
    assert torch.equal(a.image, b.image)


def test_page_is_frozen():
    page = render_page("a", size=SMALL, font_size=8)
    with pytest.raises(dataclasses.FrozenInstanceError):
        page.text = "b"


def test_too_long_text_raises_with_line_counts():
    fit = lines_per_page(SMALL[1], 8)
    width = chars_per_line(SMALL[0], 8)
    text = " ".join(["abc"] * (width * (fit + 2)))
    with pytest.raises(ValueError, match=r"text needs (\d+) lines .* only (\d+) fit") as info:
        render_page(text, size=SMALL, font_size=8)
    needed, fits = map(int, re.search(r"needs (\d+) lines.*only (\d+) fit",
                                      str(info.value)).groups())
    assert fits == fit and needed > fit
    assert needed == len(wrap_text(text, width))


def test_max_lines_limits_the_page():
    render_page("ab\ncd", size=SMALL, font_size=8, max_lines=2)
    with pytest.raises(ValueError, match=r"needs 3 lines .* only 2 fit"):
        render_page("ab\ncd\nef", size=SMALL, font_size=8, max_lines=2)


# ---- render_text_page ------------------------------------------------------------------------

def test_render_text_page_is_deterministic_and_has_ink():
    a = render_text_page(150, generator=make_generator(4), size=(128, 128), font_size=8)
    b = render_text_page(150, generator=make_generator(4), size=(128, 128), font_size=8)
    assert a.text == b.text and torch.equal(a.image, b.image)
    assert len(a.text.replace("\n", " ")) == 150
    assert a.image.min() < 0.5 and a.image.median() > 0.9
    c = render_text_page(150, generator=make_generator(5), size=(128, 128), font_size=8)
    assert c.text != a.text


def test_glyph_boxes_locate_every_visible_character():
    from readingroom.ocr.render import glyph_boxes

    page = render_page("ab c\nd", size=(96, 64), font_size=12, margin=6)
    boxes = glyph_boxes(page)
    assert [b[0] for b in boxes] == ["a", "b", "c", "d"]  # spaces have no box
    (_, ax0, ay0, ax1, ay1), (_, bx0, _, _, _) = boxes[:2]
    assert ax0 == 6 and ay0 == 6 and bx0 == pytest.approx(ax1)  # monospace, from the margin
    assert boxes[3][2] == pytest.approx(ay1)  # the second line starts one line height lower
    for char, x0, y0, x1, y1 in boxes:  # each box holds ink
        assert float(page.image[int(y0):int(y1) + 1, int(x0):int(x1) + 1].min()) < 0.5, char
    assert page.margin == 6


def test_char_advance_is_the_monospace_width_that_sets_chars_per_line():
    from readingroom.ocr import char_advance

    assert char_advance(12) > char_advance(8) > 0
    # a line holds as many characters as fit between the margins at this advance
    assert chars_per_line(256, 12, margin=0) == int(256 // char_advance(12))
