"""Tests for readingroom.clt.transcoder: CLTConfig, the JumpReLU and its straight-through
gradients, the cross-layer transcoder's shapes, causality, normalisation, loss, metrics and
training."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from readingroom.clt import (
    CLTConfig, CLTMetrics, CrossLayerTranscoder, JumpReLU, evaluate_clt, jump_relu, train_clt,
)

L, D, F = 3, 8, 6


def _clt(seed: int = 0, **kw) -> CrossLayerTranscoder:
    torch.manual_seed(seed)
    return CrossLayerTranscoder(CLTConfig(n_layers=L, d_model=D, n_features=F, **kw))


def _data(n: int = 256, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` ``[L, n, D]`` and a linear target ``y[l] = x[l] @ M[l]`` (plus an offset)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(L, n, D, generator=g) * 3.0
    M = torch.randn(L, D, D, generator=g) / math.sqrt(D)
    return x, torch.bmm(x, M) + 0.5


# --- CLTConfig ------------------------------------------------------------------------------


def test_config_defaults_are_valid():
    cfg = CLTConfig(n_layers=2, d_model=16)
    assert CLTConfig(**dataclasses.asdict(cfg)) == cfg  # passes validation again
    assert cfg.n_features >= 1 and cfg.sparsity > 0 and cfg.preact >= 0


@pytest.mark.parametrize("name", ["sparsity", "preact"])
def test_config_penalties_may_be_zero(name):
    assert getattr(CLTConfig(n_layers=2, d_model=4, **{name: 0}), name) == 0
    assert getattr(CLTConfig(n_layers=2, d_model=4, **{name: 1}), name) == 1  # an int is fine


# --- JumpReLU -------------------------------------------------------------------------------


def _h_theta(seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(5, 7, 4, generator=g, dtype=torch.float64)
    theta = torch.tensor([0.1, 0.3, 0.5, 0.05], dtype=torch.float64)
    return h, theta


def test_jump_relu_forward():
    h, theta = _h_theta()
    out = jump_relu(h, theta, 0.2)
    assert torch.equal(out, h * (h > theta))
    assert torch.equal(out, torch.where(h > theta, h, torch.zeros_like(h)))
    # exactly at the threshold the unit is off
    assert jump_relu(torch.tensor([0.5]), torch.tensor([0.5]), 0.1).item() == 0.0


def test_jump_relu_gradient_wrt_h_is_the_step():
    h, theta = _h_theta()
    h = h.requires_grad_(True)
    grad_out = torch.randn(h.shape, generator=torch.Generator().manual_seed(1), dtype=h.dtype)
    (g,) = torch.autograd.grad((jump_relu(h, theta, 0.2) * grad_out).sum(), h)
    assert torch.equal(g, grad_out * (h > theta))


@pytest.mark.parametrize("eps", [0.05, 0.2, 1.0])
def test_jump_relu_gradient_wrt_theta_is_the_rectangle_estimator(eps):
    h, theta = _h_theta()
    theta = theta.clone().requires_grad_(True)
    grad_out = torch.randn(h.shape, generator=torch.Generator().manual_seed(2), dtype=h.dtype)
    (g,) = torch.autograd.grad((jump_relu(h, theta, eps) * grad_out).sum(), theta)
    manual = torch.zeros(4, dtype=torch.float64)
    theta_ = theta.detach()
    for idx in torch.cartesian_prod(*(torch.arange(n) for n in h.shape)).tolist():
        b, t, i = idx
        u = (h[b, t, i] - theta_[i]) / eps
        kernel = 1.0 if abs(float(u)) < 0.5 else 0.0
        manual[i] += -(float(theta_[i]) / eps) * kernel * float(grad_out[b, t, i])
    assert torch.allclose(g, manual, rtol=1e-12, atol=1e-12)
    if eps == 1.0:
        assert (g != 0).all()  # a wide kernel sees every unit


def test_jump_relu_theta_gradient_is_zero_far_from_the_threshold():
    h = torch.tensor([[3.0, -3.0], [2.0, -2.0]])
    theta = torch.tensor([0.1, 0.1], requires_grad=True)
    (g,) = torch.autograd.grad(jump_relu(h, theta, 0.1).sum(), theta)
    assert torch.equal(g, torch.zeros(2))


def test_jump_relu_on_a_1d_input():
    h = torch.tensor([0.2, 0.0, 0.62], requires_grad=True)
    theta = torch.tensor([0.15, 0.3, 0.55], requires_grad=True)
    out = jump_relu(h, theta, 0.2)
    assert torch.equal(out.detach(), torch.tensor([0.2, 0.0, 0.62]))
    out.sum().backward()
    assert torch.equal(h.grad, torch.tensor([1.0, 0.0, 1.0]))
    # the kernel sees units 0 and 2 (|h - theta| < eps / 2 = 0.1), not unit 1 (0.3 away)
    assert torch.allclose(theta.grad, torch.tensor([-0.15 / 0.2, 0.0, -0.55 / 0.2]))


def test_jump_relu_is_an_autograd_function():
    assert issubclass(JumpReLU, torch.autograd.Function)


# --- CrossLayerTranscoder: shapes, causality, scales ----------------------------------------


def test_parameter_shapes():
    clt = _clt()
    assert clt.W_enc.shape == (L, F, D) and clt.b_enc.shape == (L, F)
    assert clt.log_theta.shape == (L, F) and clt.b_dec.shape == (L, D)
    assert [tuple(w.shape) for w in clt.W_dec] == [(F, L - l, D) for l in range(L)]
    assert torch.allclose(clt.theta, torch.full((L, F), 0.1))
    assert torch.equal(clt.in_scale, torch.ones(L)) and torch.equal(clt.out_scale, torch.ones(L))
    assert clt.decoder_norms().shape == (L, F)
    assert clt.describe() == dataclasses.asdict(clt.config)


def test_forward_shapes():
    clt = _clt()
    x = torch.randn(L, 2, 5, D)
    y_hat, a = clt(x)
    assert y_hat.shape == (L, 2, 5, D) and a.shape == (L, 2, 5, F)
    assert clt.preactivations(x).shape == (L, 2, 5, F)
    assert clt.preactivations(x[1], layer=1).shape == (2, 5, F)
    assert torch.allclose(clt.preactivations(x[1], layer=1), clt.preactivations(x)[1], atol=1e-6)
    assert torch.equal(clt.encode(x), a)
    assert bool((a >= 0).all())


def test_decoder_norms_are_over_every_target_layer():
    clt = _clt()
    for l in range(L):
        for i in range(F):
            expected = torch.cat([clt.W_dec[l][i, k] for k in range(L - l)]).norm()
            assert torch.allclose(clt.decoder_norms()[l, i], expected)


def test_decode_layer_formula():
    clt = _clt()
    with torch.no_grad():
        clt.out_scale.copy_(torch.tensor([2.0, 0.5, 4.0]))
        clt.b_dec.normal_()
    a = torch.rand(L, 5, F)
    y2 = clt.decode_layer(a, 2)
    manual = (clt.b_dec[2] + a[0] @ clt.W_dec[0][:, 2] + a[1] @ clt.W_dec[1][:, 1]
              + a[2] @ clt.W_dec[2][:, 0]) / 4.0
    assert torch.allclose(y2, manual, atol=1e-6)
    assert torch.allclose(clt.decode(a)[2], manual, atol=1e-6)


def test_decode_is_causal_across_layers():
    clt = _clt()
    a = torch.rand(L, 4, F)
    base = clt.decode(a)
    late = a.clone()
    late[2] += 1.0
    changed = clt.decode(late)
    assert torch.equal(changed[:2], base[:2])
    assert not torch.allclose(changed[2], base[2])
    early = a.clone()
    early[0] += 1.0
    changed = clt.decode(early)
    for l in range(L):
        assert not torch.allclose(changed[l], base[l], atol=1e-4)


def test_decode_layer_only_reads_earlier_layers():
    clt = _clt()
    a = torch.rand(L, 3, F)
    # layer 0's reconstruction reads a[0] only: a list with just that entry suffices
    assert torch.equal(clt.decode_layer([a[0]], 0), clt.decode(a)[0])
    assert torch.equal(clt.decode_layer({0: a[0], 1: a[1]}, 1), clt.decode(a)[1])


def test_set_scales_gives_mean_norm_sqrt_d():
    clt = _clt()
    x, y = _data()
    x = x * torch.tensor([1.0, 10.0, 0.1])[:, None, None]
    clt.set_scales(x, y)
    for t, scale in ((x, clt.in_scale), (y, clt.out_scale)):
        norms = (t * scale[:, None, None]).norm(dim=-1).mean(-1)
        assert torch.allclose(norms, torch.full((L,), math.sqrt(D)), rtol=1e-5)
    # the buffers belong to the state dict
    assert {"in_scale", "out_scale"} <= set(clt.state_dict())


def test_set_scales_accepts_4d_activations():
    clt = _clt()
    x, y = _data(n=24)
    clt.set_scales(x.reshape(L, 4, 6, D), y.reshape(L, 4, 6, D))
    norms = (x * clt.in_scale[:, None, None]).norm(dim=-1).mean(-1)
    assert torch.allclose(norms, torch.full((L,), math.sqrt(D)), rtol=1e-5)


# --- loss -----------------------------------------------------------------------------------


def test_loss_terms_recomputed():
    clt = _clt(preact=0.01, sparsity=0.02)
    x, y = _data(n=32)
    clt.set_scales(x, y)
    with torch.no_grad():
        clt.b_enc.fill_(0.2)
    terms = clt.loss(x, y)
    with torch.no_grad():
        h = clt.preactivations(x)
        a = clt.activate(h)
        y_hat = clt.decode(a)
        n = x.shape[1]
        mse = ((y_hat - y) * clt.out_scale[:, None, None]).pow(2).sum() / n
        norms = clt.decoder_norms()[:, None, :]
        sparse = torch.tanh(clt.config.c * norms * a).sum() / n
        pre = (torch.relu(clt.theta[:, None, :] - h) * norms).sum() / n
    for value in (terms.mse, terms.sparsity, terms.preact, terms.l0, float(terms.total.detach())):
        assert math.isfinite(value)
    assert terms.mse == pytest.approx(float(mse), rel=1e-5)
    assert terms.sparsity == pytest.approx(float(sparse), rel=1e-5)
    assert terms.preact == pytest.approx(float(pre), rel=1e-5)
    assert terms.l0 == pytest.approx(float((a > 0).sum()) / n)
    expected = terms.mse + 0.02 * terms.sparsity + 0.01 * terms.preact
    assert float(terms.total.detach()) == pytest.approx(expected, rel=1e-5)
    assert terms.total.requires_grad


def test_loss_sparsity_override_and_4d_inputs():
    clt = _clt()
    x, y = _data(n=24)
    flat = clt.loss(x, y, sparsity=0.5)
    assert float(flat.total.detach()) == pytest.approx(flat.mse + 0.5 * flat.sparsity
                                              + clt.config.preact * flat.preact, rel=1e-5)
    shaped = clt.loss(x.reshape(L, 4, 6, D), y.reshape(L, 4, 6, D), sparsity=0.5)
    for name in ("mse", "sparsity", "preact", "l0"):
        assert getattr(shaped, name) == pytest.approx(getattr(flat, name), rel=1e-5)


def test_loss_gradient_reaches_every_parameter():
    clt = _clt()
    x, y = _data(n=64)
    clt.set_scales(x, y)
    clt.loss(x, y).total.backward()
    for name, p in clt.named_parameters():
        assert p.grad is not None, name
    assert clt.W_enc.grad.abs().sum() > 0 and clt.b_dec.grad.abs().sum() > 0


# --- evaluate_clt ---------------------------------------------------------------------------


def test_evaluate_a_mean_predictor_has_nmse_one():
    clt = _clt()
    x, y = _data()
    clt.set_scales(x, y)
    with torch.no_grad():
        for w in clt.W_dec:
            w.zero_()
        clt.b_dec.copy_(y.mean(1) * clt.out_scale[:, None])
    metrics = evaluate_clt(clt, x, y)
    assert isinstance(metrics, CLTMetrics)
    assert metrics.nmse == pytest.approx([1.0] * L, rel=1e-5)
    assert metrics.mean_nmse == pytest.approx(1.0, rel=1e-5)


def test_evaluate_counts_active_and_dead_features():
    clt = _clt()
    x, y = _data()
    clt.set_scales(x, y)
    with torch.no_grad():
        clt.b_enc[:, : F // 2] = -1e3  # half of every layer's features can never fire
        clt.b_enc[:, F // 2:] = 1e3  # the others always do
    metrics = evaluate_clt(clt, x, y)
    assert metrics.l0 == pytest.approx([F / 2] * L)
    assert metrics.total_l0 == pytest.approx(L * F / 2)
    assert metrics.dead == pytest.approx(0.5)


def test_evaluate_l0_and_dead_on_random_features():
    clt = _clt()
    x, y = _data()
    clt.set_scales(x, y)
    metrics = evaluate_clt(clt, x, y)
    _, a = clt(x)
    assert metrics.l0 == pytest.approx((a > 0).float().sum(-1).mean(-1).tolist())
    assert 0.0 <= metrics.dead <= 1.0
    assert metrics.dead == pytest.approx(float((~(a > 0).any(1)).float().mean()))
    with torch.no_grad():
        clt.log_theta.fill_(10.0)  # threshold e^10: nothing fires
    metrics = evaluate_clt(clt, x, y)
    assert metrics.dead == 1.0 and metrics.l0 == [0.0] * L


def test_evaluate_accepts_4d_activations():
    clt = _clt()
    x, y = _data(n=24)
    flat = evaluate_clt(clt, x, y)
    shaped = evaluate_clt(clt, x.reshape(L, 4, 6, D), y.reshape(L, 4, 6, D))
    assert shaped.nmse == pytest.approx(flat.nmse, rel=1e-5)
    assert shaped.l0 == pytest.approx(flat.l0)


# --- train_clt ------------------------------------------------------------------------------

CFG = CLTConfig(n_layers=L, d_model=D, n_features=16, sparsity=1e-3)


@pytest.fixture(scope="module")
def trained():
    x, y = _data(n=512)
    clt, log = train_clt(x, y, CFG, steps=200, batch_size=128, lr=5e-3, progress=False)
    return x, y, clt, log


def test_train_reduces_the_reconstruction_error(trained):
    x, y, clt, log = trained
    assert not clt.training
    assert len(log) == 200
    assert set(log[0]) == {"total", "mse", "sparsity", "preact", "l0", "lambda"}
    first = sum(r["mse"] for r in log[:10]) / 10
    last = sum(r["mse"] for r in log[-10:]) / 10
    assert last < 0.5 * first
    assert evaluate_clt(clt, x, y).mean_nmse < 0.5


def test_train_ramps_lambda(trained):
    *_, log = trained
    lambdas = [r["lambda"] for r in log]
    assert lambdas[0] < lambdas[-1] == CFG.sparsity
    assert all(b >= a for a, b in zip(lambdas, lambdas[1:]))
    ramp_steps = int(0.8 * 200)
    assert lambdas[ramp_steps - 1] == CFG.sparsity and lambdas[ramp_steps - 2] < CFG.sparsity
    assert lambdas[0] == pytest.approx(CFG.sparsity / ramp_steps)


def test_train_without_ramp_starts_at_full_lambda():
    x, y = _data(n=64)
    _, log = train_clt(x, y, CFG, steps=3, ramp=0.0, progress=False)
    assert [r["lambda"] for r in log] == [CFG.sparsity] * 3


def test_train_is_deterministic_and_leaves_the_global_rng_alone():
    x, y = _data(n=128)
    state = torch.get_rng_state()
    a, log_a = train_clt(x, y, CFG, steps=20, batch_size=32, seed=3, progress=False)
    assert torch.equal(torch.get_rng_state(), state)
    b, log_b = train_clt(x, y, CFG, steps=20, batch_size=32, seed=3, progress=False)
    c, _ = train_clt(x, y, CFG, steps=20, batch_size=32, seed=4, progress=False)
    assert log_a == log_b
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_train_keeps_the_data_dtype_and_sets_scales():
    x, y = _data(n=64)
    clt, _ = train_clt(x.double(), y.double(), CFG, steps=2, progress=False)
    assert clt.W_enc.dtype == torch.float64
    norms = (x.double() * clt.in_scale[:, None, None]).norm(dim=-1).mean(-1)
    assert torch.allclose(norms, torch.full((L,), math.sqrt(D), dtype=torch.float64))


# --- per-layer transcoders (cross_layer=False) -------------------------------------------------


def test_per_layer_transcoder_has_one_decoder_per_feature():
    clt = CrossLayerTranscoder(CLTConfig(n_layers=3, d_model=4, n_features=5, cross_layer=False))
    assert [tuple(w.shape) for w in clt.W_dec] == [(5, 1, 4)] * 3


def test_per_layer_transcoder_decodes_each_layer_from_its_own_features():
    torch.manual_seed(0)
    clt = CrossLayerTranscoder(CLTConfig(n_layers=3, d_model=4, n_features=5, cross_layer=False))
    a = torch.rand(3, 2, 5)
    y = clt.decode(a)
    for layer in range(3):
        expected = (a[layer] @ clt.W_dec[layer][:, 0] + clt.b_dec[layer]) / clt.out_scale[layer]
        torch.testing.assert_close(y[layer], expected)
    changed = a.clone()
    changed[0] += 1.0
    y2 = clt.decode(changed)
    torch.testing.assert_close(y2[1:], y[1:])  # layer 0's features no longer reach layers 1, 2
    assert not torch.allclose(y2[0], y[0])
