"""The DiT: adaLN-Zero starts as the identity, packing equals running each video alone, and the
attention modes really restrict what a frame can see."""

from __future__ import annotations

import pytest
import torch

from readingroom.video.dit import ATTENTION_MODES, DIT_SIZES, DiT, DiTConfig, block_kinds, sincos_3d
from readingroom.video.patch import pack


def _model(attention="full", **kw):
    torch.manual_seed(0)
    model = DiT(DiTConfig(token_dim=16, n_classes=5, d_model=48, n_layers=4, n_heads=4,
                          attention=attention, **kw))
    with torch.no_grad():  # leave adaLN-Zero's zero start, so that the blocks do something
        for p in model.parameters():
            p.normal_(0, 0.1)
    return model


def _inputs(packed):
    N = packed.tokens.shape[0]
    gen = torch.Generator().manual_seed(1)
    return (packed.tokens, packed.coords, packed.video, torch.rand(N, generator=gen),
            torch.randint(0, 6, (N,), generator=gen))


def test_adaln_zero_starts_as_zero_velocity():
    model = DiT(DiTConfig(token_dim=16, n_classes=5, d_model=48, n_layers=2, n_heads=4))
    packed = pack([torch.randn(4, 3, 4, 4)], (1, 2, 2))
    assert torch.equal(model(*_inputs(packed)), torch.zeros_like(packed.tokens))
    for block in model.blocks:  # every gate is zero at initialisation
        assert not block.ada[1].weight.any() and not block.ada[1].bias.any()


@pytest.mark.parametrize("attention", ATTENTION_MODES)
def test_packed_sequence_equals_each_video_alone(attention):
    model = _model(attention)
    packed = pack([torch.randn(4, 5, 8, 8), torch.randn(4, 3, 6, 10), torch.randn(4, 1, 4, 4)],
                  (1, 2, 2))
    tokens, coords, video, t, y = _inputs(packed)
    together = model(tokens, coords, video, t, y)
    start = 0
    for n in packed.lengths():
        part = slice(start, start + n)
        alone = model(tokens[part], coords[part], torch.zeros(n, dtype=torch.long), t[part],
                      y[part])
        torch.testing.assert_close(together[part], alone, atol=1e-5, rtol=1e-5)
        start += n


@pytest.mark.parametrize("attention, crosses", [("full", True), ("factorised", True),
                                                ("frame", False)])
def test_only_per_frame_attention_keeps_frames_apart(attention, crosses):
    model = _model(attention)
    packed = pack([torch.randn(4, 3, 4, 4)], (1, 2, 2))
    tokens, coords, video, t, y = _inputs(packed)
    base = model(tokens, coords, video, t, y)
    changed = tokens.clone()
    changed[coords[:, 0] == 2] += 1.0                       # change the last latent frame only
    diff = (model(changed, coords, video, t, y) - base).abs()
    first_frame = coords[:, 0] == 0
    assert (diff[first_frame].max() > 1e-4) == crosses


def test_class_changes_the_output_and_batch_rows_are_independent():
    model = _model()
    packed = pack([torch.randn(4, 3, 4, 4)], (1, 2, 2))
    tokens, coords, video, t, y = (a.unsqueeze(0).repeat(2, *[1] * a.dim()) for a in _inputs(packed))
    y = y.clone()
    y[1] = (y[1] + 1) % 6
    out = model(tokens, coords, video, t, y)
    assert (out[0] - out[1]).abs().max() > 1e-4
    torch.testing.assert_close(out[0], model(tokens[0], coords[0], video[0], t[0], y[0]))


def test_block_kinds_and_sizes():
    assert block_kinds("factorised", 4) == ["spatial", "temporal", "spatial", "temporal"]
    assert block_kinds("frame", 2) == ["spatial", "spatial"]
    params = []
    for size in ("small", "medium", "large"):
        params.append(DiT(DiTConfig(token_dim=16, n_classes=5, **DIT_SIZES[size])).n_params())
    assert params[0] < params[1] < params[2]


def test_position_code_separates_every_coordinate():
    grid = torch.stack(torch.meshgrid(*(torch.arange(n) for n in (5, 8, 8)), indexing="ij"), -1)
    code = sincos_3d(grid.reshape(-1, 3), 48)
    assert code.shape == (320, 48)
    assert torch.cdist(code, code).add(torch.eye(320) * 10).min() > 1e-3
