"""The mini DeepEncoder: exact vision-token counts per mode, Eq. (1), preprocessing, the stages."""

from __future__ import annotations

import math

import pytest
import torch

from readingroom.common import seed_everything
from readingroom.ocr.encoder import (
    COMPRESSION,
    MODES,
    DeepEncoder,
    EncoderConfig,
    Mode,
    get_mode,
    prepare_page,
    sincos_2d,
    valid_tokens,
    vision_tokens,
)

SMALL = EncoderConfig(d_window=16, n_window_layers=1, d_global=16, n_global_layers=1, n_heads=2,
                      d_out=24)


# ---- token counts ----------------------------------------------------------------------------

@pytest.mark.parametrize("mode, expected", [("tiny", 64), ("small", 100), ("base", 256),
                                            ("large", 400)])
def test_modes_give_the_papers_token_counts(mode, expected):
    # DeepSeek-OCR Table 1: 64 / 100 / 256 / 400 vision tokens
    assert vision_tokens(mode) == expected
    seed_everything(0)
    enc = DeepEncoder(SMALL)
    pixels = torch.ones(2, 1, MODES[mode].size, MODES[mode].size)
    out = enc(pixels)
    assert out.shape == (2, expected, SMALL.d_out)
    assert enc.n_tokens(mode) == expected
    # 16x fewer tokens than patches
    patches = (MODES[mode].size // SMALL.patch_size) ** 2
    assert patches == COMPRESSION * expected


def test_modes_resize_small_and_pad_large():
    assert [MODES[m].fit for m in ("tiny", "small", "base", "large")] == [
        "resize", "resize", "pad", "pad"]
    assert [MODES[m].size for m in ("tiny", "small", "base", "large")] == [128, 160, 256, 320]


def test_vision_tokens_with_other_patch_sizes_rounds_like_a_padded_conv():
    config = EncoderConfig(patch_size=8)
    assert vision_tokens(Mode("m", 128, "resize"), config) == 16  # 16x16 grid -> 4x4
    assert vision_tokens(Mode("m", 40, "resize"), config) == 4  # 5x5 -> 3x3 -> 2x2


@pytest.mark.parametrize("width, height, expected", [
    (256, 256, 256),                   # square page: every token is content
    (210, 297, math.ceil(256 * 210 / 297)),  # A4 portrait: ceil(181.01) = 182
    (297, 210, 182),                   # landscape: same
    (100, 400, 64),                    # 1:4 -> a quarter of the tokens
    (1, 1000, 1),                      # a sliver still takes one token (ceil)
])
def test_valid_tokens_is_equation_1_for_padded_modes(width, height, expected):
    assert valid_tokens("base", width, height) == expected
    # N_valid = ceil(N_actual * (1 - (max - min) / max))
    n = vision_tokens("base")
    formula = math.ceil(n * (1 - (max(width, height) - min(width, height)) / max(width, height)))
    assert valid_tokens("base", width, height) == formula


def test_valid_tokens_for_resized_modes_is_all_of_them():
    assert valid_tokens("tiny", 210, 297) == 64
    assert valid_tokens("small", 50, 500) == 100
    assert valid_tokens("large", 500, 500) == 400


def test_token_count_errors():
    assert get_mode(MODES["tiny"]) is MODES["tiny"]


# ---- preprocessing ---------------------------------------------------------------------------

def test_prepare_page_resize_and_pad():
    page = torch.ones(90, 60)
    page[10:20, 5:55] = 0.0  # a line of ink
    tiny = prepare_page(page, "tiny")
    assert tiny.shape == (1, 1, 128, 128) and tiny.dtype == torch.float32
    assert 0.0 <= float(tiny.min()) < 0.5 and float(tiny.max()) <= 1.0
    base = prepare_page(torch.stack([page, page]), "base")
    assert base.shape == (2, 1, 256, 256)
    # aspect ratio kept: the page is 256 tall, 171 wide; the padding on the right is white paper
    assert torch.all(base[:, :, :, 171:] == 1.0)
    assert float(base[0, 0, :, :170].min()) < 0.5
    # a page already at the mode's size is unchanged by padding
    square = torch.rand(256, 256)
    torch.testing.assert_close(prepare_page(square, "base")[0, 0], square)


# ---- the encoder's stages --------------------------------------------------------------------

def test_window_attention_is_local_and_global_attention_is_not():
    """Ink in one corner reaches only its own window before the compressor, but every vision
    token after the global stage."""
    seed_everything(0)
    cfg = EncoderConfig(d_window=16, n_window_layers=1, window=8, d_global=16,
                        n_global_layers=0, n_heads=2, d_out=16)
    enc = DeepEncoder(cfg).eval()
    blank = torch.ones(1, 1, 128, 128)
    inked = blank.clone()
    inked[..., :8, :8] = 0.0  # inside the first 8x8-patch window (patch 4: 32x32 pixels)
    with torch.no_grad():
        a, b = enc(blank), enc(inked)
    changed = (a - b).abs().amax(-1)[0].view(8, 8) > 1e-6  # 8x8 vision-token grid
    # The window covers patches 0-7 = vision tokens 0-1 per side; the two padded 3x3 stride-2
    # convolutions let token 2 (patches 5-11) see it too, token 3 (patches 9-15) no longer.
    assert changed[:2, :2].all()
    assert not changed[3:, :].any() and not changed[:, 3:].any()
    glob = DeepEncoder(EncoderConfig(d_window=16, n_window_layers=1, window=8, d_global=16,
                                     n_global_layers=1, n_heads=2, d_out=16)).eval()
    with torch.no_grad():
        changed = (glob(blank) - glob(inked)).abs().amax(-1)[0] > 1e-6
    assert changed.all()


def test_encoder_is_differentiable_and_handles_grids_that_are_not_whole_windows():
    seed_everything(0)
    enc = DeepEncoder(SMALL)
    pixels = torch.rand(1, 1, 160, 160, requires_grad=True)  # 40x40 patches: 5x5 windows of 8
    enc(pixels).sum().backward()
    assert pixels.grad is not None and pixels.grad.abs().sum() > 0
    odd = DeepEncoder(EncoderConfig(d_window=16, window=6, d_global=16, n_heads=2, d_out=8))
    assert odd(torch.rand(1, 1, 128, 128)).shape == (1, 64, 8)  # 32x32 grid, windows of 6


def test_sincos_2d():
    pos = sincos_2d(3, 5, 8)
    assert pos.shape == (15, 8)
    # position (0, 0): sin 0 = 0 and cos 0 = 1 for each axis and frequency
    assert torch.equal(pos[0], torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]))
    assert len({tuple(r.tolist()) for r in pos}) == 15  # every position distinct

