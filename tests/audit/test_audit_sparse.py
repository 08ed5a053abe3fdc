"""readingroom.common.sparse: the generic sparse autoencoder the audit chapter trains (TopK and
ReLU + L1), its normalisation, training and metrics."""

from __future__ import annotations

import math

import pytest
import torch

from readingroom.common.sparse import (
    SAEConfig, SAELoss, SAEMetrics, SparseAutoencoder, evaluate_sae, train_sae,
)


def _data(n=600, d=8, f=12, seed=0):
    """Sparse combinations of ``f`` random unit directions (a dictionary to recover)."""
    g = torch.Generator().manual_seed(seed)
    dirs = torch.randn(f, d, generator=g)
    dirs /= dirs.norm(dim=-1, keepdim=True)
    codes = (torch.rand(n, f, generator=g) < 0.15).float() * torch.rand(n, f, generator=g) * 3
    return codes @ dirs + 0.5


def test_config_default_feature_count():
    assert SAEConfig(d_in=4).n_features == 256


def test_topk_keeps_exactly_k_and_the_largest():
    torch.manual_seed(0)
    sae = SparseAutoencoder(SAEConfig(d_in=6, n_features=10, k=3))
    x = torch.randn(5, 6)
    h = sae.preactivations(x)
    a = sae.encode(x)
    assert ((a > 0).sum(-1) <= 3).all()
    for row_h, row_a in zip(h, a):
        kept = row_a > 0
        if kept.any():
            assert row_h[kept].min() >= row_h[~kept].max() - 1e-6  # the largest ones survive
            torch.testing.assert_close(row_a[kept], row_h[kept])


def test_relu_activation_and_decode_shapes():
    sae = SparseAutoencoder(SAEConfig(d_in=6, n_features=10, activation="relu"))
    x = torch.randn(2, 3, 6)
    x_hat, a = sae(x)
    assert x_hat.shape == (2, 3, 6) and a.shape == (2, 3, 10) and (a >= 0).all()
    torch.testing.assert_close(sae.decode(a), x_hat)


def test_set_scale_and_direction_units():
    sae = SparseAutoencoder(SAEConfig(d_in=4, n_features=6, k=2))
    x = torch.full((10, 4), 3.0)  # norm 6 each
    assert sae.set_scale(x) == pytest.approx(math.sqrt(4) / 6)
    # a feature active at c reconstructs b_dec + c W_dec[i] in normalised units: c direction()
    a = torch.zeros(6)
    a[2] = 1.5
    torch.testing.assert_close(sae.decode(a) - sae.decode(torch.zeros(6)), 1.5 * sae.direction(2))


def test_loss_terms_by_hand():
    sae = SparseAutoencoder(SAEConfig(d_in=2, n_features=2, activation="relu", l1=0.5))
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(2))
        sae.W_dec.copy_(2 * torch.eye(2))
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    x = torch.tensor([[1.0, -1.0]])
    terms = sae.loss(x)
    # a = relu(x) = [1, 0]; x' = [2, 0]; error [1, 1] -> 2; L1 = 1 * ||W_dec,0|| = 2
    assert isinstance(terms, SAELoss)
    assert terms.mse == pytest.approx(2.0) and terms.l1 == pytest.approx(2.0)
    assert terms.total.item() == pytest.approx(2.0 + 0.5 * 2.0) and terms.l0 == 1.0


@pytest.mark.parametrize("activation", ["topk", "relu"])
def test_train_sae_reconstructs_sparse_data(activation):
    x = _data()
    config = SAEConfig(d_in=8, n_features=24, activation=activation, k=4, l1=1e-3)
    sae, log = train_sae(x, config, steps=200, lr=1e-2, batch_size=64, seed=0, progress=False)
    assert len(log) == 200 and not sae.training
    metrics = evaluate_sae(sae, x)
    assert isinstance(metrics, SAEMetrics)
    assert metrics.nmse < 0.3 and 0 <= metrics.dead <= 1
    if activation == "topk":
        assert metrics.l0 <= 4
    torch.testing.assert_close(sae.W_dec.norm(dim=-1), torch.ones(24))  # kept at unit norm
    again, _ = train_sae(x, config, steps=20, lr=1e-2, batch_size=64, seed=0, progress=False)
    first, _ = train_sae(x, config, steps=20, lr=1e-2, batch_size=64, seed=0, progress=False)
    torch.testing.assert_close(again.W_dec, first.W_dec)  # same seed, same dictionary
