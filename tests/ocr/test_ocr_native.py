"""Documents rendered at each mode's native resolution (DeepSeek-OCR Section 3.2.2), non-square
pages and the padded modes' valid tokens (Eq. 1), the native reader's start and command."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch

from readingroom.common import make_generator, read_record, seed_everything
from readingroom.ocr.__main__ import main
from readingroom.ocr.encoder import (
    MODES, EncoderConfig, prepare_page, valid_tokens, vision_tokens,
)
from readingroom.ocr.experiments import compression_sweep
from readingroom.ocr.model import MiniDeepSeekOCR, OCRConfig, make_batch, page_target
from readingroom.ocr.moe import MoEConfig
from readingroom.ocr.reader import (
    ALL_MODES_CONFIG, READER_CONFIG, READERS, load_reader, reader_path, start_reader,
)
from readingroom.ocr.render import (
    Page, chars_per_line, glyph_boxes, lines_per_page, render_for_mode, render_page,
)
from readingroom.ocr.text import sample_text
from readingroom.ocr.tokenizer import CharTokenizer
from readingroom.ocr.train import (
    NATIVE_CURRICULUM, NATIVE_RECIPE, Curriculum, PageRecipe, Stage, glyph_targets, sample_pages,
    train_curriculum,
)

ALL = tuple(MODES)
PORTRAIT = (96, 128)  # aspect 0.75, longer side the tiny mode's 128 px


def _ink_box(image: torch.Tensor) -> tuple[int, int]:
    """Height and width in pixels of the box around every pixel darker than mid-grey."""
    rows = torch.nonzero((image < 0.5).any(dim=1)).flatten()
    cols = torch.nonzero((image < 0.5).any(dim=0)).flatten()
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def _native(page: Page) -> Page:
    """``page`` as a document that each mode renders natively (as ``PageRecipe(native=True)``)."""
    return replace(page, native=True)


def _full_page(size: tuple[int, int], font: int) -> Page:
    """A page filled to capacity: every line as long as the width allows."""
    cols, rows = chars_per_line(size[0], font), lines_per_page(size[1], font)
    return render_page("\n".join(("mw" * cols)[:cols] for _ in range(rows)), size=size,
                       font_size=font)


# ---- one document, every mode ----------------------------------------------------------------

@pytest.mark.parametrize("size", [(128, 128), PORTRAIT, (128, 96)])
@pytest.mark.parametrize("font", [4, 8, 10, 12, 14, 16])
def test_every_mode_shows_the_same_lines_even_on_a_full_page(size, font):
    page = _full_page(size, font)
    for name, mode in MODES.items():
        native = render_for_mode(page, name)
        assert native.lines == page.lines and native.text == page.text, name
        assert max(native.size) == mode.size and native.font_size == math.floor(
            page.font_size * mode.size / 128 + 1e-9)
        assert native.image.shape == (native.size[1], native.size[0]) and not native.native
        # the last line's ink is on the page, not clipped at the bottom
        assert (native.image[-max(1, native.margin // 2):] > 0.99).all(), name


def test_sampled_documents_keep_their_lines_in_every_mode():
    pages = sample_pages(24, NATIVE_RECIPE, generator=make_generator(5))
    assert {p.size for p in pages} == {(96, 128), (128, 128)} and all(p.native for p in pages)
    for page in pages:
        for mode in ALL:
            assert page.in_mode(mode).lines == page.lines


def test_the_tiny_mode_renders_the_document_itself():
    page = render_page(sample_text(90, generator=make_generator(1)), size=PORTRAIT, font_size=10)
    tiny = render_for_mode(page, "tiny")
    assert torch.equal(tiny.image, page.image)
    assert (tiny.size, tiny.font_size, tiny.margin, tiny.pitch) == (page.size, 10, 4, page.pitch)
    assert page.in_mode("large") is page  # a page that is not native is read as it is


@pytest.mark.parametrize("mode,scale", [("small", 1.25), ("base", 2.0), ("large", 2.5)])
def test_larger_modes_see_more_pixels_per_character(mode, scale):
    page = render_page("reading at a glance\nthe quick brown fox\njumps over it", size=PORTRAIT,
                       font_size=8)
    tiny_h, tiny_w = _ink_box(render_for_mode(page, "tiny").image)
    h, w = _ink_box(render_for_mode(page, mode).image)
    # the ink grows with the mode's scale (before the fit), up to hinting and rounding
    assert h == pytest.approx(scale * tiny_h, rel=0.05)
    assert w == pytest.approx(scale * tiny_w, rel=0.05)
    # ...whereas the old path (one 128-px rendering, upsampled) has no more pixels of detail:
    # brought back down to the tiny square it is the tiny rendering again, the native one is not
    up = prepare_page(page.image, mode)[0, 0]
    native = prepare_page(render_for_mode(page, mode).image, mode)[0, 0]
    assert not torch.equal(up, native)


def test_glyph_boxes_follow_the_scaled_layout():
    page = render_page("ab cd\nef", size=PORTRAIT, font_size=12)
    base = render_for_mode(page, "base")
    for (c0, *box0), (c1, *box1) in zip(glyph_boxes(page), glyph_boxes(base)):
        assert c0 == c1
        assert box1 == pytest.approx([2 * v for v in box0], abs=1.0)  # the font is hinted


# ---- the fit: resize or pad, and Eq. 1 -------------------------------------------------------

def test_padded_modes_leave_tokens_empty_only_on_non_square_pages():
    for shape in (PORTRAIT, (128, 128)):
        page = render_page("a page", size=shape, font_size=12)
        for name, mode in MODES.items():
            n = vision_tokens(name)
            width, height = render_for_mode(page, name).size
            valid = valid_tokens(name, width, height)
            if mode.fit == "pad" and shape == PORTRAIT:
                assert valid == math.ceil(0.75 * n) < n  # 192 of 256, 300 of 400
            else:
                assert valid == n
    # the padded square of a 3:4 document: its right quarter is blank paper
    page = _native(render_page("a page", size=PORTRAIT, font_size=12))
    pixels, _, _ = make_batch([page], "base", CharTokenizer())
    assert pixels.shape == (1, 1, 256, 256) and (pixels[0, 0, :, 192:] == 1.0).all()
    tiny, _, _ = make_batch([page], "tiny", CharTokenizer())  # resized: the aspect is lost
    assert tiny.shape == (1, 1, 128, 128)


def test_glyph_targets_of_a_native_page_use_its_native_rendering():
    tok = CharTokenizer()
    page = _native(render_page("ab", size=PORTRAIT, font_size=12))
    rendered = render_for_mode(page, "large")
    assert torch.equal(glyph_targets([page], "large", tok), glyph_targets([rendered], "large", tok))
    labels = glyph_targets([page], "large", tok)[0, :, 0]
    assert sorted(tok.decode([int(i)]) for i in labels[labels != tok.pad_id]) == ["a", "b"]


# ---- the recipe ------------------------------------------------------------------------------

def test_the_default_recipe_draws_the_same_pages_as_before():
    recipe = PageRecipe(font_size=(8, 12), min_chars=5, max_chars=60)
    assert repr(recipe) == ("PageRecipe(size=(128, 128), font_size=(8, 12), min_chars=5, "
                            "max_chars=60, margin=4, random_share=0.0, low_res_share=0.0)")
    pages = sample_pages(6, recipe, generator=make_generator(11))
    g = make_generator(11)  # the same draws, by hand: font, length, English or not, the text
    for page in pages:
        font = (8, 12)[int(torch.randint(2, (1,), generator=g))]
        k = int(torch.randint(5, min(60, recipe.room(font)) + 1, (1,), generator=g))
        torch.rand((), generator=g)
        direct = render_page(sample_text(k, generator=g), size=(128, 128), font_size=font)
        assert torch.equal(page.image, direct.image) and page.lines == direct.lines
        assert not page.native and page.line_pitch is None


def test_a_recipe_with_aspect_ratios_has_one_page_size_per_ratio():
    recipe = PageRecipe(font_size=12, min_chars=4, max_chars=90, aspect=(0.75, 1.0, 4 / 3))
    assert recipe.page_sizes == ((96, 128), (128, 128), (128, 96))
    assert recipe.room(12, (96, 128)) == int(0.8 * 12 * 8)
    assert recipe.room(12) == min(recipe.room(12, s) for s in recipe.page_sizes)
    pages = sample_pages(30, recipe, generator=make_generator(0))
    assert {p.size for p in pages} == set(recipe.page_sizes)
    assert all(len(page_target(p)) <= recipe.room(12, p.size) + len(p.lines) for p in pages)
    assert PageRecipe(aspect=0.5).page_sizes == ((64, 128),)
    assert "aspect=(0.75, 1.0, 1.3333333333333333), native=True" in repr(
        PageRecipe(font_size=12, min_chars=4, max_chars=90, aspect=(0.75, 1.0, 4 / 3),
                   native=True))


# ---- the native reader's pipeline ------------------------------------------------------------

def test_a_sweep_reads_the_same_documents_in_every_mode():
    enc = EncoderConfig(d_window=16, n_window_layers=1, d_global=32, n_global_layers=1,
                        n_heads=2, d_out=32)
    seed_everything(0)
    model = MiniDeepSeekOCR(OCRConfig(encoder=enc, n_layers=1, n_heads=2,
                                      moe=MoEConfig(d_model=32, d_expert=32, n_routed=4,
                                                    top_k=2, n_shared=1), max_text=8))
    sweeps = {m: compression_sweep(model, font_sizes=(12,), lengths=((3, 6),), pages_per_cell=3,
                                   mode=m, aspect=(0.75, 1.0), native=True, seed=4, batch_size=3)
              for m in ("tiny", "large")}
    assert [r.target for r in sweeps["tiny"]] == [r.target for r in sweeps["large"]]
    assert all(r.page.native for r in sweeps["large"])
    assert {r.vision_tokens for r in sweeps["large"]} == {400}


def test_the_native_reader_starts_from_the_book_reader():
    book, record = load_reader(0, "book")
    seed_everything(0)
    model, start = start_reader(0, "book", ALL_MODES_CONFIG)
    assert start["sha256"] == record["sha256"]
    ours, theirs = model.state_dict(), book.state_dict()
    assert set(ours) == set(theirs)
    n = READER_CONFIG.max_vision_tokens() + READER_CONFIG.max_text + 2
    for name, tensor in theirs.items():
        if name == "decoder.pos_emb.weight":
            assert ours[name].shape == (ALL_MODES_CONFIG.max_vision_tokens() + 258, 64)
            assert torch.equal(ours[name][:n], tensor) and n == tensor.shape[0] == 358
        else:
            assert torch.equal(ours[name], tensor), name
    with pytest.raises(ValueError, match="shape"):
        start_reader(0, "book", OCRConfig(max_text=256, n_layers=2, encoder=EncoderConfig(
            d_window=16, d_global=64, d_out=64)))


def test_native_curriculum_and_reader_kind():
    assert NATIVE_CURRICULUM.pretrain is None and NATIVE_CURRICULUM.start == "book"
    assert NATIVE_CURRICULUM.modes == ALL
    (stage,) = NATIVE_CURRICULUM.stages
    assert stage.steps % len(stage.modes) == 0  # equal steps per mode
    assert stage.recipe.native and stage.recipe.aspects == (0.75, 1.0)
    assert "start='book'" in repr(NATIVE_CURRICULUM)
    assert READERS["native"][0] == ALL_MODES_CONFIG
    assert reader_path(0, "native").name == "reader_native_seed0.safetensors"
    with pytest.raises(FileNotFoundError, match="train --seed 7 --curriculum native"):
        load_reader(7, "native")
    small = OCRConfig(encoder=EncoderConfig(d_window=16, n_window_layers=1, d_global=32,
                                            n_global_layers=1, n_heads=2, d_out=32),
                      n_layers=1, n_heads=2, moe=None, max_text=12)
    quick = Curriculum(pretrain=None, stages=(Stage("native", 4, PageRecipe(
        font_size=12, min_chars=2, max_chars=8, aspect=0.75, native=True), ALL),), batch_size=2)
    seed_everything(0)
    histories = train_curriculum(MiniDeepSeekOCR(small), quick, progress=False)
    assert list(histories) == ["native"] and len(histories["native"].losses) == 4


def test_train_command_native_quick_starts_from_the_book_reader(tmp_path, capsys):
    out = tmp_path / "native.safetensors"
    assert main(["train", "--quick", "--out", str(out), "--no-progress", "--seed", "0",
                 "--curriculum", "native"]) == 0
    printed = json.loads(capsys.readouterr().out)
    record = read_record(out)
    assert printed["weights"] == str(out)
    assert record["command"] == ("python -m readingroom.ocr train --seed 0 --curriculum native "
                                 "--quick")
    assert record["extra"]["config"] == repr(ALL_MODES_CONFIG)
    assert record["extra"]["start"] == {"kind": "book", "file": "reader_seed0.safetensors",
                                        "sha256": read_record(reader_path(0))["sha256"]}
    assert list(record["extra"]["final_losses"]) == ["native modes"]
    assert "native=True" in record["data"] and "start='book'" in record["data"]
