"""Tests for readingroom.video.vae: shapes, exact causality in time, the first frame encoded
alone, the loss, latent normalisation and a short training run."""

from __future__ import annotations

import math

import pytest
import torch

from readingroom.video.vae import (
    CausalConv3d,
    CausalVAE,
    VAEConfig,
    decode_normalised,
    encode_normalised,
    latent_stats,
    train_vae,
    vae_loss,
)


def _model(**kw) -> CausalVAE:
    torch.manual_seed(0)
    kw.setdefault("width", 16)
    return CausalVAE(VAEConfig(**kw)).eval()


def _squares(n: int, frames: int = 5, size: int = 16, side: int = 4, seed: int = 0) -> torch.Tensor:
    """``[n, 1, frames, size, size]``: a white square moving one pixel a frame, bouncing."""
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(n, 1, frames, size, size)
    hi = size - side
    for i in range(n):
        y, x = torch.randint(0, hi + 1, (2,), generator=g).tolist()
        dy, dx = (torch.randint(0, 2, (2,), generator=g) * 2 - 1).tolist()
        for t in range(frames):
            out[i, 0, t, y : y + side, x : x + side] = 1.0
            if not 0 <= y + dy <= hi:
                dy = -dy
            if not 0 <= x + dx <= hi:
                dx = -dx
            y, x = y + dy, x + dx
    return out


def test_default_size():
    model = CausalVAE()
    n = sum(p.numel() for p in model.parameters())
    assert 100_000 <= n <= 300_000
    assert model.config == VAEConfig()


@pytest.mark.parametrize("time_factor", [1, 2])
@pytest.mark.parametrize("space_factor", [1, 2, 4, 8])
@pytest.mark.parametrize("frames,height,width", [(1, 8, 8), (5, 16, 8), (9, 8, 24)])
def test_shapes(time_factor, space_factor, frames, height, width):
    model = _model(width=8, time_factor=time_factor, space_factor=space_factor)
    x = torch.rand(2, 1, frames, height, width)
    with torch.no_grad():
        mean, logvar = model.encode(x)
        x_hat = model.decode(mean)
    latent = (4, 1 + (frames - 1) // time_factor, height // space_factor, width // space_factor)
    assert model.latent_shape(frames, height, width) == latent
    assert mean.shape == logvar.shape == (2, *latent)
    assert x_hat.shape == x.shape


def test_channels():
    model = _model(channels=3, latent_channels=2)
    x = torch.rand(1, 3, 3, 8, 8)
    x_hat, mean, logvar = model(x)
    assert x_hat.shape == x.shape and mean.shape == (1, 2, 2, 2, 2)


def test_causal_conv3d_pads_the_past_only():
    torch.manual_seed(0)
    conv = CausalConv3d(2, 3, (3, 3, 3))
    x = torch.randn(1, 2, 6, 5, 5)
    y = conv(x)
    assert y.shape == (1, 3, 6, 5, 5)
    # The past is the first frame repeated: the same as an ordinary conv on the padded input.
    padded = torch.cat([x[:, :, :1], x[:, :, :1], x], dim=2)
    ref = torch.nn.functional.conv3d(padded, conv.conv.weight, conv.conv.bias, padding=(0, 1, 1))
    torch.testing.assert_close(y, ref)
    # Time stride keeps the first frame alone: 1 + 2 k frames -> 1 + k.
    down = CausalConv3d(2, 3, (2, 3, 3), stride=(2, 2, 2))
    assert down(torch.randn(1, 2, 7, 8, 8)).shape == (1, 3, 4, 4, 4)


@pytest.mark.parametrize("time_factor", [1, 2])
def test_encoder_is_causal(time_factor):
    f = time_factor
    model = _model(time_factor=f)
    x = torch.rand(2, 1, 1 + 4 * f, 16, 16)
    with torch.no_grad():
        base = model.encode(x)[0]
        for j in range(4):
            y = x.clone()
            y[:, :, f * j + 1 :] = torch.rand_like(y[:, :, f * j + 1 :])  # change frames > f j
            changed = model.encode(y)[0]
            assert torch.equal(changed[:, :, : j + 1], base[:, :, : j + 1])
            assert not torch.equal(changed[:, :, j + 1 :], base[:, :, j + 1 :])


@pytest.mark.parametrize("time_factor", [1, 2])
def test_decoder_is_causal(time_factor):
    f = time_factor
    model = _model(time_factor=f)
    z = torch.randn(2, 4, 5, 4, 4)
    with torch.no_grad():
        base = model.decode(z)
        assert base.shape[2] == 1 + 4 * f
        for j in range(4):
            w = z.clone()
            w[:, :, j + 1 :] = torch.randn_like(w[:, :, j + 1 :])  # change latent frames > j
            changed = model.decode(w)
            # Output frame t lies in latent frame ceil(t / f): frames <= f j are unchanged.
            assert torch.equal(changed[:, :, : f * j + 1], base[:, :, : f * j + 1])
            assert not torch.equal(changed[:, :, f * j + 1 :], base[:, :, f * j + 1 :])


@pytest.mark.parametrize("time_factor", [1, 2])
def test_an_image_is_a_one_frame_video(time_factor):
    f = time_factor
    model = _model(time_factor=f)
    x = torch.rand(2, 1, 1 + 3 * f, 16, 8)
    with torch.no_grad():
        mean, logvar = model.encode(x)
        for k in range(3):  # every prefix 1 + f k of the video encodes to the latent's prefix
            m, lv = model.encode(x[:, :, : 1 + f * k])
            torch.testing.assert_close(m, mean[:, :, : 1 + k], rtol=0, atol=1e-6)
            torch.testing.assert_close(lv, logvar[:, :, : 1 + k], rtol=0, atol=1e-6)
        video = model.decode(mean)
        torch.testing.assert_close(
            model.decode(mean[:, :, :1]), video[:, :, :1], rtol=0, atol=1e-6
        )


def test_forward_samples_in_training_and_uses_the_mean_in_eval():
    model = _model()
    x = torch.rand(2, 1, 3, 8, 8)
    with torch.no_grad():
        mean, _ = model.encode(x)
        x_hat, m, _ = model(x)
        torch.testing.assert_close(x_hat, model.decode(mean))
        torch.testing.assert_close(m, mean)
        model.train()
        a = model(x, generator=torch.Generator().manual_seed(1))[0]
        b = model(x, generator=torch.Generator().manual_seed(1))[0]
        c = model(x, generator=torch.Generator().manual_seed(2))[0]
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, x_hat)


def test_vae_loss_matches_a_hand_computation():
    g = torch.Generator().manual_seed(0)
    x, x_hat = torch.rand(2, 1, 3, 4, 4, generator=g), torch.rand(2, 1, 3, 4, 4, generator=g)
    mean, logvar = torch.randn(2, 4, 2, 1, 1, generator=g), torch.randn(2, 4, 2, 1, 1, generator=g)
    beta = 0.3
    recon = sum(float(a - b) ** 2 for a, b in zip(x.flatten(), x_hat.flatten())) / x.numel()
    kl = sum(
        0.5 * (float(m) ** 2 + math.exp(float(lv)) - 1 - float(lv))
        for m, lv in zip(mean.flatten(), logvar.flatten())
    ) / mean.numel()
    loss, parts = vae_loss(x, x_hat, mean, logvar, beta)
    assert loss.shape == ()
    assert math.isclose(float(loss), recon + beta * kl, rel_tol=1e-5)
    assert math.isclose(parts["recon"], recon, rel_tol=1e-5)
    assert math.isclose(parts["kl"], kl, rel_tol=1e-5)
    assert parts["loss"] == pytest.approx(float(loss))
    # The KL of the prior itself is zero.
    assert vae_loss(x, x, torch.zeros(3), torch.zeros(3), 1.0)[1]["kl"] == 0.0


def test_latent_normalisation_round_trip():
    model = _model()
    videos = _squares(6)
    mean, std = latent_stats(model, videos, batch_size=4)
    assert mean.shape == std.shape == (4,) and bool((std > 0).all())
    z = encode_normalised(model, videos, (mean, std), batch_size=4)
    assert z.shape == (6, *model.latent_shape(5, 16, 16))
    per_channel = z.transpose(0, 1).reshape(4, -1)
    torch.testing.assert_close(per_channel.mean(1), torch.zeros(4), rtol=0, atol=1e-4)
    torch.testing.assert_close(per_channel.std(1), torch.ones(4), rtol=0, atol=1e-4)
    with torch.no_grad():
        expected = model.decode(model.encode(videos)[0])
    torch.testing.assert_close(decode_normalised(model, z, (mean, std)), expected)


def _mse(model: CausalVAE, videos: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model.eval()(videos)[0] - videos).square().mean())


def test_training_lowers_the_reconstruction_error():
    torch.manual_seed(0)
    model = CausalVAE(VAEConfig(width=16, space_factor=2))
    test = _squares(16, seed=123)
    black = float(test.square().mean())  # the error of predicting an empty frame: 0.0625
    before = _mse(model, test)
    history = train_vae(
        model, lambda step: _squares(8, seed=step), steps=120, lr=1e-2, warmup=10, progress=False
    )
    after = _mse(model, test)
    assert len(history.losses) == 120
    # Measured: 0.166 -> about 0.015 (0.020 after 100 steps), well under the empty-frame error
    # of 0.0625, so the latent carries where the square is, not only the background.
    assert after < before / 4, (before, after)
    assert after < black / 2, (black, after)


def test_train_vae_is_repeatable():
    def run() -> list[float]:
        torch.manual_seed(0)
        model = CausalVAE(VAEConfig(width=8, space_factor=2))
        return train_vae(model, lambda s: _squares(2, 3, 8, 2, seed=s), steps=3, seed=5,
                         progress=False).losses

    assert run() == run()
