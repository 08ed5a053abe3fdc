"""nsa_attention(backend="triton") against the dense PyTorch backend: outputs, selected blocks
and gradients (through q, k, v, the compressed tokens and the gates), and the layer end to end.

Runs under Triton's interpreter on a CPU, so shapes are small. fp32, torch.testing's default
tolerances scaled to the magnitudes compared (atol 1e-5, rtol 1e-5)."""

from __future__ import annotations

import readingroom.kernels  # noqa: F401,I001  (first: decides TRITON_INTERPRET)
import pytest
import torch

from readingroom.nsa import BlockCompressor, NativeSparseAttention, NSAConfig, compression_blocks, nsa_attention

CONFIGS = {
    "one-block-choice": NSAConfig(block_len=16, stride=8, select_block=16, top_n=3, window=16),
    "paper-ratios": NSAConfig(block_len=16, stride=8, select_block=32, top_n=2, n_local=1, n_initial=0, window=24),
    "cmp+slc": NSAConfig(block_len=16, stride=16, select_block=16, top_n=3, window=8, branches=("cmp", "slc")),
}


def assert_same_selection(a, b, scores, cfg, q_pos, atol=1e-5):
    """Tie-aware comparison of two selections ``[B, T, H_kv, n]`` made from (almost) the same
    scores ``[B, T, H_kv, N_s]``: forced blocks must agree exactly; a free block chosen by one
    side only must score within ``atol`` of a block chosen by the other side only (a near tie
    that float rounding may break either way). Returns the ``[B, T, H_kv]`` mask of rows that
    agree exactly."""
    same = (a == b).all(-1)
    own = q_pos // cfg.select_block
    for bi, t, h in (~same).nonzero().tolist():
        sa = {j for j in a[bi, t, h].tolist() if j >= 0}
        sb = {j for j in b[bi, t, h].tolist() if j >= 0}
        forced = {j for j in range(int(own[t]) + 1)
                  if j < cfg.n_initial or j > int(own[t]) - cfg.n_local}
        assert forced <= sa and forced <= sb, (bi, t, h)
        assert len(sa) == len(sb), (bi, t, h)
        only_a, only_b = sorted(sa - sb), sorted(sb - sa)
        row = scores[bi, t, h]
        for ja, jb in zip(only_a, only_b):
            assert abs(float(row[ja]) - float(row[jb])) < atol, (bi, t, h, ja, jb)
    return same


def _run(backend, q, k, v, gates, phi, cfg):
    leaves = [x.detach().clone().requires_grad_(True) for x in (q, k, v, gates)]
    q_, k_, v_, g_ = leaves
    kc = phi(compression_blocks(k_, cfg.block_len, cfg.stride))
    vc = phi(compression_blocks(v_, cfg.block_len, cfg.stride))
    parts = nsa_attention(q_, k_, v_, kc, vc, g_, cfg, backend=backend, return_parts=True)
    loss = parts.out.sum() + (parts.out ** 2).sum()
    grads = torch.autograd.grad(loss, leaves + list(phi.parameters()), allow_unused=True)
    return parts, grads


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("shape", [(1, 45, 4, 2), (2, 40, 2, 1), (1, 33, 4, 4)], ids=str)
def test_triton_backend_matches_torch_backend(name, shape):
    cfg = CONFIGS[name]
    B, T, H, H_kv = shape
    D = 16
    gen = torch.Generator().manual_seed(T + H)
    q = torch.randn(B, T, H, D, generator=gen)
    k = torch.randn(B, T, H_kv, D, generator=gen)
    v = torch.randn(B, T, H_kv, D, generator=gen)
    gates = torch.rand(B, T, H, 3, generator=gen)
    torch.manual_seed(0)
    phi = BlockCompressor(D, cfg.block_len)
    with torch.no_grad():
        phi.fc2.weight.normal_(0, 0.1)  # make the MLP part of φ matter
    ref, g_ref = _run("torch", q, k, v, gates, phi, cfg)
    out, g_out = _run("triton", q, k, v, gates, phi, cfg)
    same = assert_same_selection(out.indices, ref.indices, ref.scores, cfg, torch.arange(T))
    # On these seeds every row agrees; a near tie would be accepted above but would change the
    # outputs, so the exact comparisons below need (and check) identical selections.
    assert same.all()
    torch.testing.assert_close(out.scores, ref.scores, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out.out, ref.out, atol=1e-5, rtol=1e-5)
    for c in cfg.branches:
        torch.testing.assert_close(out.branch[c], ref.branch[c], atol=1e-5, rtol=1e-5)
    for a, b in zip(g_out, g_ref):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-5)


def test_layer_with_triton_backend_matches_torch_and_decodes():
    cfg = CONFIGS["paper-ratios"]
    torch.manual_seed(0)
    layer = NativeSparseAttention(64, 4, 2, cfg=cfg)
    x = torch.randn(2, 37, 64)
    y_torch = layer(x)
    layer.backend = "triton"
    y_triton = layer(x)
    torch.testing.assert_close(y_triton, y_torch, atol=1e-5, rtol=1e-5)
    from readingroom.nsa import NSACache

    cache = NSACache()
    steps = torch.cat([layer(x[:, t : t + 1], cache) for t in range(x.shape[1])], dim=1)
    torch.testing.assert_close(steps, y_triton, atol=1e-5, rtol=1e-5)


def test_tie_aware_selection_comparison_accepts_near_ties_only():
    cfg = NSAConfig(block_len=4, stride=4, select_block=4, top_n=2, n_initial=1, n_local=0, window=4)
    q_pos = torch.tensor([11])
    scores = torch.tensor([[[[0.0, 0.5, 0.5 + 1e-7]]]])  # blocks 1 and 2 nearly tie
    a = torch.tensor([[[[0, 1]]]])
    b = torch.tensor([[[[0, 2]]]])
    assert not assert_same_selection(a, b, scores, cfg, q_pos).any()  # accepted: a near tie
    far = torch.tensor([[[[0.0, 0.1, 0.9]]]])
    with pytest.raises(AssertionError):
        assert_same_selection(a, b, far, cfg, q_pos)  # not a tie: a real disagreement
    with pytest.raises(AssertionError):  # the forced initial block missing is never a tie
        assert_same_selection(torch.tensor([[[[1, 2]]]]), b, scores, cfg, q_pos)
