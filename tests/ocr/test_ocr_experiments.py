"""Tests of readingroom.ocr.experiments on a tiny untrained reader (shapes, bookkeeping, errors)."""

import numpy as np
import pytest
import torch

from readingroom.common import seed_everything
from readingroom.ocr import EncoderConfig, MiniDeepSeekOCR, MoEConfig, OCRConfig, render_page
from readingroom.ocr.experiments import (
    FOX_SMALL,
    FOX_TINY,
    Reading,
    binned_precision,
    compression_sweep,
    memory_sweep,
    shrink,
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
    with pytest.raises(ValueError, match="non-empty"):
        compression_sweep(model, font_sizes=(), lengths=((1, 2),), pages_per_cell=1)
    with pytest.raises(TypeError, match="model must be a MiniDeepSeekOCR"):
        compression_sweep(None, font_sizes=(12,), lengths=((1, 2),), pages_per_cell=1)
    with pytest.raises(ValueError, match="pages_per_cell must be a positive int"):
        compression_sweep(model, font_sizes=(12,), lengths=((1, 2),), pages_per_cell=0)


def test_binned_precision_averages_per_bin() -> None:
    def reading(n: int, p: float) -> Reading:
        return Reading(12, "tiny", 64, "x" * n, "", p)

    rs = [reading(32, 1.0), reading(40, 0.5), reading(128, 0.2)]  # 0.5, 0.625, 2 chars/token
    assert binned_precision(rs, [0, 1, 2, 3]) == [(0.5, 0.75, 2), (2.5, 0.2, 1)]
    with pytest.raises(ValueError, match="increasing"):
        binned_precision(rs, [1, 1])


def test_shrink_keeps_the_size_and_loses_detail() -> None:
    page = render_page("ab cd", size=(128, 128), font_size=12)
    x = 1.0 - page.image[None, None]  # any [B, 1, S, S] tensor
    assert torch.equal(shrink(x, 1.0), x)
    y = shrink(x, 0.25)
    assert y.shape == x.shape and not torch.allclose(y, x)
    # a page blurred harder is further from the original
    assert (shrink(x, 0.25) - x).abs().sum() > (shrink(x, 0.75) - x).abs().sum()
    with pytest.raises(ValueError, match="factor must be in"):
        shrink(x, 0.0)
    with pytest.raises(ValueError, match="factor must be in"):
        shrink(x, 1.5)
    with pytest.raises(ValueError, match="pixels must be a tensor"):
        shrink(x[0], 0.5)


def test_memory_sweep_scores_every_turn_at_every_age(model: MiniDeepSeekOCR) -> None:
    turns = [render_page(t, size=(128, 128), font_size=12) for t in ("first turn", "second")]
    out = memory_sweep(model, turns, [1.0, 0.5, 0.25])
    assert out.shape == (3, 2) and np.all((0 <= out) & (out <= 1))
    with pytest.raises(ValueError, match="non-empty"):
        memory_sweep(model, [], [1.0])
    with pytest.raises(ValueError, match="factor must be in"):
        memory_sweep(model, turns, [2.0])
