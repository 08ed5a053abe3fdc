"""Tests of readingroom.ocr.experiments on a tiny untrained reader (shapes and bookkeeping)."""

import numpy as np
import pytest
import torch

from readingroom.common import seed_everything
from readingroom.ocr import EncoderConfig, MiniDeepSeekOCR, MoEConfig, OCRConfig, render_page
from readingroom.ocr.encoder import shrink
from readingroom.ocr.experiments import (
    CONTROLS,
    FOX_SMALL,
    FOX_TINY,
    Reading,
    binned_precision,
    compression_rho,
    compression_sweep,
    control_pixels,
    memory_sweep,
    read_controls,
    pick_samples,
    token_budget,
)
from readingroom.ocr.model import precision

ENC = EncoderConfig(d_window=16, n_window_layers=1, d_global=32, n_global_layers=1, n_heads=2,
                    d_out=32)
CFG = OCRConfig(encoder=ENC, n_layers=1, n_heads=2,
                moe=MoEConfig(d_model=32, d_expert=32, n_routed=4, top_k=2, n_shared=1),
                max_text=60, modes=("tiny",))


@pytest.fixture(scope="module")
def model() -> MiniDeepSeekOCR:
    seed_everything(0)
    return MiniDeepSeekOCR(CFG).eval()


def test_fox_tables_are_the_papers_seven_bins() -> None:
    for table in (FOX_TINY, FOX_SMALL):
        assert len(table) == 7
        ratios = [r for r, _ in table]
        assert ratios == sorted(ratios)  # more text per page, higher ratio
    assert FOX_TINY[0] == (10.5, 0.965) and FOX_TINY[-1] == (19.7, 0.591)
    assert FOX_SMALL[0] == (6.7, 0.985) and FOX_SMALL[-1] == (12.6, 0.871)


def test_compression_sweep_reads_every_cell_and_scores_it(model: MiniDeepSeekOCR) -> None:
    readings = compression_sweep(model, font_sizes=(12, 16), lengths=((5, 10), (50, 60)),
                                 pages_per_cell=2, seed=1)
    # font 16 holds at most 57 characters on a 128-pixel page: its (50, 60) cell is capped
    assert len(readings) == 8
    for r in readings:
        assert r.vision_tokens == 64 and r.mode == "tiny"
        assert r.precision == precision(r.reading, r.target)
        assert r.chars_per_token == pytest.approx(len(r.target) / 64)
        assert r.bpe_ratio == pytest.approx(r.chars_per_token / 4)
    again = compression_sweep(model, font_sizes=(12, 16), lengths=((5, 10), (50, 60)),
                              pages_per_cell=2, seed=1)
    assert [r.target for r in again] == [r.target for r in readings]
    # a range entirely above a font's room is skipped
    assert compression_sweep(model, font_sizes=(16,), lengths=((100, 120),),
                             pages_per_cell=1) == []


def test_binned_precision_averages_per_bin() -> None:
    def reading(n: int, p: float) -> Reading:
        return Reading(12, "tiny", 64, "x" * n, "", p)

    rs = [reading(32, 1.0), reading(40, 0.5), reading(128, 0.2)]  # 0.5, 0.625, 2 chars/token
    assert binned_precision(rs, [0, 1, 2, 3]) == [(0.5, 0.75, 2), (2.5, 0.2, 1)]


def test_compression_rho_is_the_rank_correlation() -> None:
    def reading(n: int, p: float) -> Reading:
        return Reading(12, "tiny", 64, "x" * n, "", p)

    falling = [reading(32, 0.9), reading(64, 0.8), reading(128, 0.3)]
    assert compression_rho(falling) == pytest.approx(-1.0)
    assert compression_rho(falling[::-1]) == pytest.approx(-1.0)  # order of readings is free
    rising = [reading(32, 0.1), reading(64, 0.5), reading(96, 0.2), reading(128, 0.9)]
    assert compression_rho(rising) == pytest.approx(0.8)


def test_shrink_keeps_the_size_and_loses_detail() -> None:
    page = render_page("ab cd", size=(128, 128), font_size=12)
    x = 1.0 - page.image[None, None]  # any [B, 1, S, S] tensor
    assert torch.equal(shrink(x, 1.0), x)
    y = shrink(x, 0.25)
    assert y.shape == x.shape and not torch.allclose(y, x)
    # a page blurred harder is further from the original
    assert (shrink(x, 0.25) - x).abs().sum() > (shrink(x, 0.75) - x).abs().sum()


def test_memory_sweep_scores_every_turn_at_every_age(model: MiniDeepSeekOCR) -> None:
    turns = [render_page(t, size=(128, 128), font_size=12) for t in ("first turn", "second")]
    out = memory_sweep(model, turns, [1.0, 0.5, 0.25])
    assert out.shape == (3, 2) and np.all((0 <= out) & (out <= 1))


def _reading(n: int, p: float, tokens: int = 64) -> Reading:
    return Reading(12, "tiny" if tokens == 64 else "small", tokens, "x" * n, "", p)


def test_token_budget_splits_at_the_vision_token_count() -> None:
    rs = [_reading(30, 0.9), _reading(64, 0.7), _reading(65, 0.4), _reading(200, 0.2)]
    b = token_budget(rs)
    assert (b.n_vision, b.n_cheaper) == (64, 2)
    assert b.dearer == pytest.approx(0.8) and b.cheaper == pytest.approx(0.3)


def test_pick_samples_takes_one_reading_per_third_of_compression() -> None:
    rs = [_reading(n, p) for n, p in [(10, 0.9), (12, 1.0), (20, 1.0), (80, 0.5), (90, 0.7),
                                      (100, 0.6), (200, 0.3), (210, 0.1), (220, 0.2)]]
    best, middle, worst = pick_samples(rs)
    assert (best.n_chars, best.precision) == (20, 1.0)  # best read, longest on a tie
    assert middle.precision == 0.6  # the median of 0.5, 0.7, 0.6
    assert worst.precision == 0.1


# --- controls: a blank page and shuffled tiles -------------------------------------------------


def _pixels(B: int = 3, S: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (torch.rand(B, 1, S, S, generator=g) > 0.3).float()


def test_control_pixels_page_and_blank() -> None:
    x = _pixels()
    assert control_pixels(x, "page") is x
    blank = control_pixels(x, "blank")
    assert blank.shape == x.shape and bool((blank == 1).all())  # white everywhere


def test_control_pixels_shuffled_permutes_whole_tiles() -> None:
    x = _pixels(B=2, S=32)
    y = control_pixels(x, "shuffled", tile=8, generator=torch.Generator().manual_seed(1))
    assert y.shape == x.shape and not torch.equal(x, y)
    for b in range(2):  # the same 16 tiles of 8 x 8, in another order
        tiles = lambda img: sorted(tuple(t.flatten().tolist()) for t in  # noqa: E731
                                   img[0].unfold(0, 8, 8).unfold(1, 8, 8).reshape(16, 8, 8))
        assert tiles(x[b]) == tiles(y[b])
    again = control_pixels(x, "shuffled", tile=8, generator=torch.Generator().manual_seed(1))
    assert torch.equal(y, again)  # the permutation follows the generator


def test_read_controls_scores_every_page_under_every_control(model: MiniDeepSeekOCR) -> None:
    pages = [render_page(text, size=(64, 64), font_size=10) for text in ("a cat", "the dog ran")]
    out = read_controls(model, pages, "tiny", tile=16, seed=3)
    assert list(out) == list(CONTROLS)
    for control, scores in out.items():
        assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores), control
