"""Rectified flow: the loss is Eq. (2), conditioning tokens stay clean and out of the loss, and the
sampler integrates the velocity it is given."""

from __future__ import annotations

import torch
from torch import nn

from readingroom.video.dit import DiT, DiTConfig
from readingroom.video.flow import (
    as_tokens, first_frame_mask, flow_loss, flow_val_loss, from_tokens, sample_flow,
)


class Oracle(nn.Module):
    """Knows the data point x0 (all tokens equal to ``target``): v = (x_t - x0) / t exactly."""

    def __init__(self, target: float, n_classes: int = 5, token_dim: int = 4) -> None:
        super().__init__()
        self.config = DiTConfig(token_dim=token_dim, n_classes=n_classes, d_model=12, n_heads=2)
        self.target = target
        self.seen_t = []

    def forward(self, x, coords, video, t, y):
        self.seen_t.append(t.clone())
        return (x - self.target) / t.clamp_min(1e-6).unsqueeze(-1)


def _tokens(B=2):
    z = torch.randn(B, 4, 3, 2, 2)
    return as_tokens(z, (1, 1, 1)), z


def test_as_tokens_roundtrip():
    (tokens, coords, video), z = _tokens()
    assert tokens.shape == (2, 12, 4) and video.abs().sum() == 0
    assert torch.equal(from_tokens(tokens, (4, 3, 2, 2), (1, 1, 1)), z)


def test_sampler_follows_the_velocity_to_the_data():
    (tokens, coords, video), _ = _tokens()
    oracle = Oracle(target=0.7)
    out = sample_flow(oracle, coords, video, torch.zeros(2, dtype=torch.long), steps=8,
                      guidance=1.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, torch.full_like(out, 0.7), atol=1e-4, rtol=0)


def test_guidance_extrapolates_from_the_unconditional_velocity():
    class ByClass(Oracle):
        def forward(self, x, coords, video, t, y):
            return y.float().unsqueeze(-1).expand_as(x) * 0 + (y == 5).float().unsqueeze(-1) * -1.0
    (tokens, coords, video), _ = _tokens(1)
    gen = torch.Generator().manual_seed(0)
    start = torch.randn((1, 12, 4), generator=torch.Generator().manual_seed(0))
    out = sample_flow(ByClass(0.0), coords, video, torch.zeros(1, dtype=torch.long), steps=4,
                      guidance=3.0, generator=gen)
    # v = v_null + 3 (v_y - v_null) = -1 + 3 (0 + 1) = 2 over dt = -1 in total
    torch.testing.assert_close(out, start - 2.0)


def test_context_tokens_stay_clean_and_get_t_zero():
    (tokens, coords, video), _ = _tokens()
    cond = first_frame_mask(coords)
    oracle = Oracle(target=0.0)
    out = sample_flow(oracle, coords, video, torch.zeros(2, dtype=torch.long), steps=3,
                      guidance=1.0, context=tokens, cond_mask=cond)
    assert torch.equal(out[cond], tokens[cond])
    assert all(float(t[cond].abs().max()) == 0.0 for t in oracle.seen_t)
    assert all(float(t[~cond].min()) > 0.0 for t in oracle.seen_t)


def test_loss_is_equation_2_and_ignores_context_tokens():
    (x0, coords, video), _ = _tokens()
    torch.manual_seed(0)
    model = DiT(DiTConfig(token_dim=4, n_classes=5, d_model=12, n_heads=2, n_layers=1))
    y = torch.tensor([1, 2])
    # a zero model predicts v = 0, so the loss is E|eps - x0|^2 over the kept tokens
    gen = torch.Generator().manual_seed(3)
    loss = flow_loss(model, x0, coords, video, y, generator=gen, class_dropout=0.0)
    gen = torch.Generator().manual_seed(3)
    t = torch.sigmoid(torch.randn(2, 1, generator=gen))
    eps = torch.randn(x0.shape, generator=gen)
    torch.testing.assert_close(loss, ((eps - x0) ** 2).mean())
    cond = first_frame_mask(coords)
    gen = torch.Generator().manual_seed(3)
    masked = flow_loss(model, x0, coords, video, y, generator=gen, cond_mask=cond,
                       class_dropout=0.0)
    torch.testing.assert_close(masked, ((eps - x0) ** 2).mean(-1)[~cond].mean())
    assert t.shape == (2, 1)


def test_training_lowers_the_loss_below_the_zero_predictor():
    torch.manual_seed(0)
    z = torch.randn(1, 4, 3, 2, 2).repeat(32, 1, 1, 1, 1) * 0.5   # one data point: learnable
    x0, coords, video = as_tokens(z, (1, 1, 1))
    y = torch.zeros(32, dtype=torch.long)
    model = DiT(DiTConfig(token_dim=4, n_classes=5, d_model=32, n_heads=2, n_layers=2))
    before = flow_val_loss(model, x0, coords, video, y)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        loss = flow_loss(model, x0, coords, video, y, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = flow_val_loss(model, x0, coords, video, y)
    assert after < 0.5 * before
