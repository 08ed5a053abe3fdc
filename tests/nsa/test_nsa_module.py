"""Tests for readingroom.nsa.module: BlockCompressor (φ), NativeSparseAttention and decoding
with NSACache."""

from __future__ import annotations

import pytest
import torch

from readingroom.nsa import (
    BlockCompressor,
    NativeSparseAttention,
    NSACache,
    NSAConfig,
    NSAParts,
    compression_blocks,
    nsa_loop_reference,
    num_compressed,
)

F64 = torch.float64
SMALL = NSAConfig(block_len=4, stride=2, select_block=4, top_n=3, window=5)
ODD = NSAConfig(block_len=6, stride=4, select_block=10, top_n=3, n_initial=1, n_local=1, window=7)


def _layer(cfg=SMALL, d_model=12, n_heads=4, n_kv_heads=2, seed=0, randomise=True, **kw):
    torch.manual_seed(seed)
    layer = NativeSparseAttention(d_model, n_heads, n_kv_heads, cfg=cfg, **kw).double()
    if randomise:  # livelier than the init: φ's MLP active, gates away from 1/2
        with torch.no_grad():
            for p in layer.parameters():
                p.normal_(0.0, 0.3)
    return layer


def _x(B=2, T=29, C=12, seed=1):
    return torch.randn(B, T, C, generator=torch.Generator().manual_seed(seed), dtype=F64)


# --- BlockCompressor ------------------------------------------------------------------------


def test_block_compressor_starts_as_mean_pooling():
    torch.manual_seed(0)
    phi = BlockCompressor(5, 4)
    assert phi.kind == "mlp"
    assert torch.equal(phi.fc2.weight, torch.zeros_like(phi.fc2.weight))
    assert torch.equal(phi.fc2.bias, torch.zeros_like(phi.fc2.bias))
    assert phi.fc1.in_features == 4 * 5 and phi.fc1.out_features == 2 * 5  # default hidden 2D
    assert phi.pos.shape == (4, 5)
    blocks = torch.randn(2, 3, 7, 4, 5)
    out = phi(blocks)
    assert out.shape == (2, 3, 7, 5)
    # the mean of the position-encoded block, Eq. (7) with W_2 = 0
    torch.testing.assert_close(out, (blocks + phi.pos).mean(dim=-2))
    torch.testing.assert_close(out, blocks.mean(dim=-2) + phi.pos.mean(0))


def test_block_compressor_mlp_changes_the_output_once_trained():
    torch.manual_seed(0)
    phi = BlockCompressor(3, 4, hidden=7)
    assert phi.fc1.out_features == 7
    with torch.no_grad():
        phi.fc2.weight.normal_()
    blocks = torch.randn(5, 4, 3)
    assert not torch.allclose(phi(blocks), (blocks + phi.pos).mean(-2))


def test_block_compressor_mean_kind():
    phi = BlockCompressor(3, 4, kind="mean")
    assert list(phi.parameters()) == []
    blocks = torch.randn(2, 6, 4, 3, dtype=F64)
    assert torch.equal(phi(blocks), blocks.mean(dim=-2))
    assert phi(blocks).dtype == F64


def test_block_compressor_works_on_a_single_block_and_on_none():
    phi = BlockCompressor(3, 4).double()
    block = torch.randn(4, 3, dtype=F64)
    torch.testing.assert_close(phi(block[None])[0], phi(block), rtol=0, atol=1e-15)
    assert phi(torch.zeros(2, 0, 1, 4, 3, dtype=F64)).shape == (2, 0, 1, 3)


# --- NativeSparseAttention: construction ----------------------------------------------------


def test_default_config_is_the_papers():
    layer = NativeSparseAttention(64, 4)
    assert layer.cfg == NSAConfig()
    assert (layer.n_heads, layer.n_kv_heads, layer.head_dim) == (4, 4, 16)
    assert layer.backend == "torch"


@pytest.mark.parametrize("separate", [False, True])
def test_parameter_shapes_and_counts(separate):
    cfg = SMALL.replace(separate_kv=separate)
    layer = NativeSparseAttention(12, 4, 2, head_dim=5, cfg=cfg)
    n_sets = 3 if separate else 1
    assert layer.kv_sets == (("cmp", "slc", "win") if separate else ("all",))
    assert layer.w_q.out_features == 4 * 5
    assert layer.w_k.out_features == layer.w_v.out_features == n_sets * 2 * 5
    assert layer.w_g[-1].out_features == 3 * 4
    assert layer.w_o.in_features == 4 * 5 and layer.w_o.out_features == 12
    shared = NativeSparseAttention(12, 4, 2, head_dim=5, cfg=SMALL)
    n = sum(p.numel() for p in layer.parameters())
    n_shared = sum(p.numel() for p in shared.parameters())
    # w_k and w_v each gain two more sets of [H_kv * D, d_model]
    assert n - n_shared == (2 * (n_sets - 1)) * (2 * 5) * 12


def test_phi_kind_follows_the_config():
    layer = NativeSparseAttention(12, 4, cfg=SMALL.replace(phi="mean"))
    assert layer.phi_k.kind == layer.phi_v.kind == "mean"


def test_head_dim_may_be_given_when_d_model_does_not_divide():
    layer = NativeSparseAttention(10, 4, head_dim=3, cfg=SMALL)
    assert layer(torch.randn(2, 9, 10)).shape == (2, 9, 10)


# --- NativeSparseAttention: forward ---------------------------------------------------------


@pytest.mark.parametrize("T", [1, 3, 4, 17, 40])
@pytest.mark.parametrize("separate", [False, True])
def test_output_shape_and_dtype(T, separate):
    layer = NativeSparseAttention(12, 4, 2, cfg=SMALL.replace(separate_kv=separate))
    x = torch.randn(3, T, 12)
    y = layer(x)
    assert y.shape == (3, T, 12) and y.dtype == torch.float32
    assert torch.isfinite(y).all()
    y2, parts = layer(x, return_parts=True)
    assert isinstance(parts, NSAParts)
    assert torch.equal(y, y2)
    assert parts.out.shape == (3, T, 4, 3)
    assert parts.indices.shape == (3, T, 2, SMALL.top_n)


@pytest.mark.parametrize("separate", [False, True])
@pytest.mark.parametrize("phi", ["mlp", "mean"])
def test_layer_matches_the_loop_reference(separate, phi):
    """End to end: the layer's projections, φ and gates fed to the per-token loop."""
    cfg = ODD.replace(separate_kv=separate, phi=phi)
    layer = _layer(cfg)
    x = _x(T=33)
    B, T, _ = x.shape
    with torch.no_grad():
        y, parts = layer(x, return_parts=True)
        q = layer.w_q(x).view(B, T, 4, 3)
        n_sets = 3 if separate else 1
        k = layer.w_k(x).view(B, T, n_sets, 2, 3).unbind(2)
        v = layer.w_v(x).view(B, T, n_sets, 2, 3).unbind(2)
        if not separate:
            k, v = k * 3, v * 3
        gates = torch.sigmoid(layer.w_g(x)).view(B, T, 4, 3)
        o, selected = nsa_loop_reference(
            q, tuple(k), tuple(v), gates, cfg, layer.phi_k, layer.phi_v
        )
        ref = layer.w_o(o.reshape(B, T, 12))
    torch.testing.assert_close(y, ref, rtol=0, atol=1e-10)
    for b in range(B):
        for t in range(T):
            for h in range(2):
                assert [j for j in parts.indices[b, t, h].tolist() if j >= 0] == selected[b][t][h]


@pytest.mark.parametrize("separate", [False, True])
def test_causality(separate):
    layer = _layer(SMALL.replace(separate_kv=separate))
    x = _x(T=30)
    with torch.no_grad():
        y = layer(x)
        for t in (0, 3, 4, 11, 22, 28):
            x2 = x.clone()
            x2[:, t + 1 :] = torch.randn_like(x2[:, t + 1 :]) * 3
            y2 = layer(x2)
            torch.testing.assert_close(y2[:, : t + 1], y[:, : t + 1], rtol=0, atol=1e-12)
            assert not torch.allclose(y2[:, t + 1], y[:, t + 1])  # the test can see a change


# --- decoding with NSACache -----------------------------------------------------------------


def _decode(layer, x, sizes):
    cache = NSACache()
    assert cache.length == 0
    outs, start = [], 0
    for n in sizes:
        outs.append(layer(x[:, start : start + n], cache))
        start += n
        assert cache.length == start
        cfg = layer.cfg
        n_cmp = num_compressed(start, cfg.block_len, cfg.stride)
        assert cache.k_cmp.shape[1] == cache.v_cmp.shape[1] == n_cmp
    assert start == x.shape[1]
    return torch.cat(outs, dim=1), cache


@pytest.mark.parametrize("separate", [False, True])
@pytest.mark.parametrize("cfg", [SMALL, ODD], ids=["small", "odd"])
@pytest.mark.parametrize(
    "sizes",
    [[1] * 31, [12] + [1] * 19, [5, 1, 7, 2, 9, 3, 4], [3, 28], [31]],
    ids=["tokens", "prompt+tokens", "uneven", "short-prompt", "one-chunk"],
)
def test_decoding_equals_one_full_pass(separate, cfg, sizes):
    cfg = cfg.replace(separate_kv=separate)
    layer = _layer(cfg)
    x = _x(T=31)
    with torch.no_grad():
        full = layer(x)
        y, cache = _decode(layer, x, sizes)
    torch.testing.assert_close(y, full, rtol=0, atol=1e-10)
    assert set(cache.k) == set(cache.v) == set(layer.kv_sets)
    for s in layer.kv_sets:
        assert cache.k[s].shape == (2, 31, 2, 3)
    # the cached compressed tokens are those of a full pass
    src = "all" if not separate else "cmp"
    with torch.no_grad():
        k_cmp, v_cmp = layer.compress(cache.k[src], cache.v[src])
    torch.testing.assert_close(cache.k_cmp, k_cmp, rtol=0, atol=1e-12)
    torch.testing.assert_close(cache.v_cmp, v_cmp, rtol=0, atol=1e-12)


def test_decoding_selects_the_same_blocks():
    layer = _layer(SMALL)
    x = _x(T=25)
    with torch.no_grad():
        _, full = layer(x, return_parts=True)
        cache = NSACache()
        for t in range(25):
            _, parts = layer(x[:, t : t + 1], cache, return_parts=True)
            assert torch.equal(parts.indices[:, 0], full.indices[:, t]), t


def test_compress_from_a_later_block():
    layer = _layer(ODD)
    k = torch.randn(2, 31, 2, 3, dtype=F64)
    v = torch.randn(2, 31, 2, 3, dtype=F64)
    with torch.no_grad():
        kc, vc = layer.compress(k, v)
        kc2, vc2 = layer.compress(k, v, first=3)
        assert kc.shape == (2, num_compressed(31, 6, 4), 2, 3)
        torch.testing.assert_close(kc2, kc[:, 3:], rtol=0, atol=1e-14)
        torch.testing.assert_close(vc2, vc[:, 3:], rtol=0, atol=1e-14)
        torch.testing.assert_close(kc, layer.phi_k(compression_blocks(k, 6, 4)), rtol=0, atol=0)


def test_triton_layer_decodes_with_torch():
    """A layer built for Triton still decodes: cached calls use the dense backend."""
    torch_layer = _layer(SMALL)
    triton_layer = _layer(SMALL, backend="triton")
    triton_layer.load_state_dict(torch_layer.state_dict())
    x = _x(T=9)
    with torch.no_grad():
        y_ref, _ = _decode(torch_layer, x, [4, 5])
        y, _ = _decode(triton_layer, x, [4, 5])
    assert torch.equal(y, y_ref)


# --- gradients ------------------------------------------------------------------------------


@pytest.mark.parametrize("separate", [False, True])
def test_gradients_reach_every_parameter(separate):
    torch.manual_seed(0)
    layer = NativeSparseAttention(12, 4, 2, cfg=SMALL.replace(separate_kv=separate))  # default init
    x = torch.randn(2, 20, 12)
    w = torch.linspace(-1, 1, 2 * 20 * 12).view(2, 20, 12)
    (layer(x) * w).sum().backward()
    for name, module in [("w_q", layer.w_q), ("w_k", layer.w_k), ("w_v", layer.w_v),
                         ("w_g[0]", layer.w_g[0]), ("w_g[2]", layer.w_g[2]), ("w_o", layer.w_o)]:
        grad = module.weight.grad
        assert grad is not None and grad.abs().sum() > 0, name
    assert layer.w_g[-1].bias.grad.abs().sum() > 0
    # every gate (cmp, slc, win of every head) gets a gradient
    assert (layer.w_g[-1].weight.grad.view(4, 3, 12).abs().sum(-1) > 0).all()
    if separate:  # the three key sets (cmp, slc, win) are all used
        for g in (layer.w_k.weight.grad, layer.w_v.weight.grad):
            assert (g.view(3, 6, 12).abs().sum((1, 2)) > 0).all()
    for phi in (layer.phi_k, layer.phi_v):
        assert phi.pos.grad.abs().sum() > 0
        assert phi.fc2.weight.grad.abs().sum() > 0 and phi.fc2.bias.grad.abs().sum() > 0
        # W_2 = 0 at init, so no gradient reaches W_1 yet; it is still part of the graph
        assert phi.fc1.weight.grad is not None


def test_input_gradient_is_finite_for_a_short_sequence():
    layer = _layer(SMALL)
    x = _x(T=3).requires_grad_(True)  # T < l: the compression branch sees nothing
    layer(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    grads = [p.grad for p in layer.parameters() if p.grad is not None]
    assert all(torch.isfinite(g).all() for g in grads)


def test_nsa_parameters_gate_and_compress_as_the_layer_does():
    from readingroom.nsa import NSAConfig, NSAParameters, compression_blocks

    cfg = NSAConfig(block_len=4, stride=2, select_block=4, top_n=3, window=3)
    torch.manual_seed(0)
    params = NSAParameters(8, 2, 4, cfg)
    x = torch.randn(3, 11, 8)
    g = params.gates(x)
    assert g.shape == (3, 11, 2, 3) and bool(((g > 0) & (g < 1)).all())
    torch.testing.assert_close(g, torch.sigmoid(params.w_g(x)).view(3, 11, 2, 3))
    k, v = torch.randn(3, 11, 1, 4), torch.randn(3, 11, 1, 4)
    k_cmp, v_cmp = params.compress(k, v)
    torch.testing.assert_close(k_cmp, params.phi_k(compression_blocks(k, 4, 2)))
    torch.testing.assert_close(v_cmp, params.phi_v(compression_blocks(v, 4, 2)))
    later_k, _ = params.compress(k, v, first=2)  # blocks 2, 3 only
    torch.testing.assert_close(later_k, k_cmp[:, 2:])
