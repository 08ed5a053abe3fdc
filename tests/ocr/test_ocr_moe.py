"""Tests for readingroom.ocr.moe: DeepSeekMoE routing, dispatch and balance loss."""

from __future__ import annotations

import math

import pytest
import torch

from readingroom.common import seed_everything
from readingroom.ocr.moe import Expert, MoEAux, MoEConfig, MoEFeedForward, moe_reference


def _make(dtype: torch.dtype = torch.float64, **overrides) -> MoEFeedForward:
    seed_everything(0)
    kw = dict(d_model=8, d_expert=6, n_routed=5, top_k=2, n_shared=1, balance_coef=0.01)
    kw.update(overrides)
    module = MoEFeedForward(MoEConfig(**kw)).to(dtype)
    with torch.no_grad():  # a livelier router than the default init, so choices vary
        module.gate.weight.normal_(0.0, 1.0)
    return module


def _grads(module: MoEFeedForward, x: torch.Tensor, fn) -> list[torch.Tensor]:
    module.zero_grad()
    x = x.detach().clone().requires_grad_(True)
    y, aux = fn(x)
    w = torch.linspace(-1.0, 1.0, y.numel(), dtype=y.dtype).reshape(y.shape)
    ((y * w).sum() + aux.balance_loss).backward()
    return [x.grad.clone()] + [
        p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in module.parameters()
    ]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_shared", [0, 2])
@pytest.mark.parametrize("use_mask", [False, True])
def test_dispatch_matches_reference(dtype, n_shared, use_mask):
    module = _make(dtype, n_shared=n_shared)
    x = torch.randn(3, 7, 8, dtype=dtype)
    mask = None
    if use_mask:
        mask = torch.ones(3, 7, dtype=torch.bool)
        mask[0, 4:] = False
        mask[2, 1:] = False
    y, aux = module(x, mask)
    y_ref, aux_ref = moe_reference(module, x, mask)
    assert isinstance(aux, MoEAux)
    assert y.shape == (3, 7, 8) and y.dtype == dtype
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(aux.balance_loss, aux_ref.balance_loss, atol=1e-7, rtol=1e-6)
    torch.testing.assert_close(aux.load, aux_ref.load)
    torch.testing.assert_close(aux.router_probs, aux_ref.router_probs)
    assert torch.equal(aux.topk_idx, aux_ref.topk_idx)

    g = _grads(module, x, lambda t: module(t, mask))
    g_ref = _grads(module, x, lambda t: moe_reference(module, t, mask))
    assert len(g) == len(g_ref)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_mask_excludes_padding_from_statistics():
    module = _make()
    x = torch.randn(2, 6, 8, dtype=torch.float64)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, 3:] = False
    _, aux = module(x, mask)
    # The same statistics from only the real tokens, in a batch of one.
    real = torch.cat([x[0], x[1, :3]])[None]  # [1, 9, 8]
    _, aux_real = module(real)
    torch.testing.assert_close(aux.balance_loss, aux_real.balance_loss)
    torch.testing.assert_close(aux.load, aux_real.load)
    torch.testing.assert_close(aux.router_probs, aux_real.router_probs)
    # Padding changes no output of the real tokens (routing is per token).
    y, _ = module(x, mask)
    y_nomask, _ = module(x)
    torch.testing.assert_close(y, y_nomask)


def test_all_padding_gives_zero_statistics():
    module = _make()
    x = torch.randn(1, 3, 8, dtype=torch.float64)
    _, aux = module(x, torch.zeros(1, 3, dtype=torch.bool))
    assert aux.balance_loss.item() == 0.0
    assert torch.all(aux.load == 0)


def test_routing_picks_exactly_top_k_largest():
    module = _make(n_routed=6, top_k=3)
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    _, aux = module(x)
    probs, topk_s, topk_i = module.route(x.reshape(-1, 8))
    assert aux.topk_idx.shape == (2, 5, 3)
    for row_p, row_i, row_s in zip(probs, topk_i, topk_s):
        assert len(set(row_i.tolist())) == 3  # three distinct experts
        expected = torch.topk(row_p, 3).indices
        assert set(row_i.tolist()) == set(expected.tolist())
        torch.testing.assert_close(row_s, row_p[row_i])  # not renormalised
        assert row_s.sum() < 1.0
    torch.testing.assert_close(probs.sum(-1), torch.ones(10, dtype=torch.float64))
    # Every token fills k slots: the load sums to 1.
    torch.testing.assert_close(aux.load.sum(), torch.tensor(1.0, dtype=torch.float64))


def test_ties_go_to_lower_expert_index():
    module = _make(n_routed=4, top_k=2)
    with torch.no_grad():
        module.gate.weight.zero_()
    _, aux = module(torch.randn(1, 3, 8, dtype=torch.float64))
    assert aux.topk_idx.tolist() == [[[0, 1], [0, 1], [0, 1]]]


def test_only_routed_experts_run():
    module = _make(n_routed=4, top_k=1, n_shared=0)
    seen = []
    for i, expert in enumerate(module.routed):
        expert.register_forward_hook(lambda m, inp, out, i=i: seen.append((i, inp[0].shape[0])))
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    _, aux = module(x)
    counts = torch.bincount(aux.topk_idx.reshape(-1), minlength=4)
    assert sum(n for _, n in seen) == 10  # each token evaluated by exactly one routed expert
    assert {i: n for i, n in seen} == {i: int(c) for i, c in enumerate(counts) if c > 0}


@pytest.mark.parametrize("top_k", [1, 2, 5])
def test_balance_loss_is_alpha_when_router_is_uniform(top_k):
    module = _make(n_routed=5, top_k=top_k, balance_coef=0.03)
    with torch.no_grad():
        module.gate.weight.zero_()  # s_i = 1/n for every token, so P_i = 1/n
    _, aux = module(torch.randn(2, 4, 8, dtype=torch.float64))
    torch.testing.assert_close(aux.router_probs, torch.full((5,), 0.2, dtype=torch.float64))
    # sum_i f_i = n for any assignment, so L = alpha * n * (1/n) = alpha.
    assert aux.balance_loss.item() == pytest.approx(0.03, abs=1e-12)


def test_balance_loss_matches_hand_computation():
    # n = 3 experts, k = 1, D = 3; gate = c * identity, tokens are scaled one-hot vectors.
    module = MoEFeedForward(MoEConfig(d_model=3, d_expert=2, n_routed=3, top_k=1, balance_coef=0.1))
    module = module.double()
    c = 2.0
    with torch.no_grad():
        module.gate.weight.copy_(c * torch.eye(3, dtype=torch.float64))
    e = torch.eye(3, dtype=torch.float64)
    x = torch.stack([e[0], e[0], e[0], e[1]])[None]  # [1, 4, 3]: experts 0, 0, 0, 1
    _, aux = module(x)
    hi = math.exp(c) / (math.exp(c) + 2)  # the chosen expert's softmax score
    lo = 1 / (math.exp(c) + 2)
    N, n, k = 4, 3, 1
    P = [(3 * hi + lo) / N, (3 * lo + hi) / N, (4 * lo) / N]
    f = [n / (k * N) * 3, n / (k * N) * 1, 0.0]
    expected = 0.1 * sum(fi * pi for fi, pi in zip(f, P))
    assert aux.balance_loss.item() == pytest.approx(expected, rel=1e-12)
    assert aux.load.tolist() == pytest.approx([0.75, 0.25, 0.0])
    assert aux.router_probs.tolist() == pytest.approx(P)


def test_balance_loss_larger_for_collapsed_routing():
    alpha = 0.01
    balanced = _make(n_routed=4, top_k=1, balance_coef=alpha)
    with torch.no_grad():
        balanced.gate.weight.zero_()
    collapsed = _make(n_routed=4, top_k=1, balance_coef=alpha)
    with torch.no_grad():
        collapsed.gate.weight.zero_()
        collapsed.gate.weight[2] = 50.0  # every positive-sum token goes to expert 2
    x = torch.rand(2, 6, 8, dtype=torch.float64) + 0.1
    _, aux_b = balanced(x)
    _, aux_c = collapsed(x)
    assert aux_c.load.tolist() == [0.0, 0.0, 1.0, 0.0]
    assert aux_b.balance_loss.item() == pytest.approx(alpha)
    # Collapse: f_2 = n / k = 4, P_2 ~ 1, so L ~ alpha * n / k.
    assert aux_c.balance_loss.item() == pytest.approx(alpha * 4, rel=1e-6)
    assert aux_c.balance_loss > aux_b.balance_loss


def test_balance_loss_gradient_reaches_gate_only():
    module = _make()
    x = torch.randn(2, 3, 8, dtype=torch.float64)
    _, aux = module(x)
    aux.balance_loss.backward()
    assert module.gate.weight.grad is not None and module.gate.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in module.routed.parameters())


def test_expert_shapes_and_count():
    expert = Expert(8, 6)
    assert expert(torch.randn(2, 3, 8)).shape == (2, 3, 8)
    assert sum(p.numel() for p in expert.parameters()) == 2 * 8 * 6 + 6 + 8


# --------------------------------------------------------------------------- errors


def test_config_is_frozen():
    cfg = MoEConfig(d_model=8, d_expert=6, n_routed=4, top_k=2)
    assert cfg.n_shared == 0 and cfg.balance_coef == 0.01
    with pytest.raises(AttributeError):
        cfg.top_k = 3  # type: ignore[misc]

