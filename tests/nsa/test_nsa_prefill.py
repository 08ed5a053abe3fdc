"""Tests for readingroom.nsa.prefill: the chunked prefill path (nsa_prefill) equals the dense
masked nsa_attention(backend="torch") in float64 for every shape, chunk, configuration and branch
subset tried, its gradients equal the dense path's, and no intermediate tensor grows like T^2
(bad arguments: test_nsa_bad_input)."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import readingroom.nsa.prefill as prefill_mod
from readingroom.nsa import CPU_CONFIG, NSAConfig, compression_blocks, nsa_attention, nsa_prefill

F64 = torch.float64


def _cfg(l, d, lp, n, w, **kw) -> NSAConfig:
    return NSAConfig(block_len=l, stride=d, select_block=lp, top_n=n, window=w, **kw)


def _case(cfg, *, B=2, T=37, H=4, H_kv=2, D=3, q_start=0, separate=False, seed=0, dtype=F64):
    """Random inputs of nsa_attention for T queries after q_start cached positions; the
    compressed tokens are the mean of each compression block (φ does not matter here)."""
    g = torch.Generator().manual_seed(seed * 7919 + T)
    S = q_start + T

    def rnd(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)

    k, v = rnd(B, S, H_kv, D), rnd(B, S, H_kv, D)
    kw = dict(
        q=rnd(B, T, H, D), k=k, v=v,
        k_cmp=compression_blocks(k, cfg.block_len, cfg.stride).mean(-2),
        v_cmp=compression_blocks(v, cfg.block_len, cfg.stride).mean(-2),
        gates=torch.rand(B, T, H, 3, generator=g, dtype=dtype),
        cfg=cfg,
    )
    if separate:
        kw.update(k_win=rnd(B, S, H_kv, D), v_win=rnd(B, S, H_kv, D))
    return kw


def _check(cfg, chunk, atol=1e-10, **shape):
    kw = _case(cfg, **shape)
    q_start = shape.get("q_start", 0)
    ref = nsa_attention(**kw, q_start=q_start, backend="torch")
    out = nsa_prefill(**kw, q_start=q_start, chunk=chunk)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    torch.testing.assert_close(out, ref, rtol=0, atol=atol)
    return kw, out


# Small sizes with nothing dividing anything: l = 6, d = 4, l' = 10, w = 7.
ODD = _cfg(6, 4, 10, 3, 7, n_initial=1, n_local=1)

CASES = [
    # (cfg, shape, chunks)
    (CPU_CONFIG, dict(T=5, H=2, H_kv=2), [1, 2, 64]),  # T shorter than one block (l = 16)
    (CPU_CONFIG, dict(T=100, H=2, H_kv=2), [1, 7, 1000]),  # G = 1
    (CPU_CONFIG, dict(T=131, H=4, H_kv=2), [7, 64]),  # G = 2, T a multiple of no block size
    (CPU_CONFIG, dict(T=257, H=4, H_kv=1, D=5), [1, 33, 256]),  # G = 4
    (ODD, dict(T=47, H=4, H_kv=2), [1, 7, 100]),
    (_cfg(8, 4, 4, 5, 9), dict(T=45, H=4, H_kv=1), [3, 45]),  # l > l'
    (_cfg(3, 3, 5, 2, 4, n_initial=0, n_local=0), dict(T=29, H=2, H_kv=1), [1, 5]),  # none forced
    (_cfg(4, 4, 4, 16, 512), dict(T=19, H=2, H_kv=1), [4, 64]),  # n and w beyond the sequence
    # the paper's sizes: fewer blocks than n (padding), then a real choice among 21 blocks
    (NSAConfig(), dict(B=1, T=700, H=4, H_kv=2, D=4), [64]),
    (NSAConfig(), dict(B=1, T=1300, H=4, H_kv=1, D=4), [7, 64, 2000]),
]


@pytest.mark.parametrize("cfg,shape,chunks", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_equals_dense_nsa_attention(cfg, shape, chunks):
    outs = [_check(cfg, c, **shape)[1] for c in chunks]
    for o in outs[1:]:  # the chunk does not change the result beyond rounding
        torch.testing.assert_close(o, outs[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "branches", [("cmp",), ("win",), ("cmp", "win"), ("cmp", "slc"), ("cmp", "slc", "win")]
)
@pytest.mark.parametrize("cfg", [CPU_CONFIG, ODD], ids=["cpu_config", "odd"])
def test_branch_subsets(cfg, branches):
    _check(cfg.replace(branches=branches), 9, T=83, H=4, H_kv=2)


@pytest.mark.parametrize("q_start,T", [(1, 20), (13, 1), (40, 37), (75, 9)])
def test_continues_after_a_cached_prefix(q_start, T):
    _check(ODD, 8, T=T, q_start=q_start)
    _check(CPU_CONFIG, 5, T=T, q_start=q_start, H=4, H_kv=1)


def test_separate_window_keys_and_a_scale():
    cfg = CPU_CONFIG.replace(separate_kv=True)
    kw = _case(cfg, T=90, separate=True)
    ref = nsa_attention(**kw, scale=0.3)
    torch.testing.assert_close(nsa_prefill(**kw, scale=0.3, chunk=11), ref, rtol=0, atol=1e-10)
    # the window branch really reads k_win / v_win
    assert not torch.allclose(nsa_prefill(**dict(kw, k_win=kw["k"], v_win=kw["v"]), scale=0.3), ref)


@pytest.mark.parametrize("budget,sub", [(1, 1), (40, 3), (1 << 19, 1000)])
def test_inner_pieces_do_not_change_the_result(monkeypatch, budget, sub):
    # The compression branch splits a chunk into pieces of CMP_BUDGET / (G N_c) queries and the
    # selection branch gathers SLC_SUB queries at once; tiny values exercise every boundary.
    monkeypatch.setattr(prefill_mod, "CMP_BUDGET", budget)
    monkeypatch.setattr(prefill_mod, "SLC_SUB", sub)
    _check(ODD, 17, T=61, H=4, H_kv=2)
    _check(CPU_CONFIG, 40, T=150, H=4, H_kv=1)


def test_float32_matches():
    _check(CPU_CONFIG, 32, atol=1e-5, T=200, H=4, H_kv=1, D=8, dtype=torch.float32)


def test_gradients_equal_the_dense_path():
    names = ("q", "k", "v", "k_cmp", "v_cmp", "gates")
    grads = []
    for fn in (lambda kw: nsa_attention(**kw), lambda kw: nsa_prefill(**kw, chunk=6)):
        kw = _case(CPU_CONFIG, T=70, H=4, H_kv=2, seed=3)
        kw["k_cmp"], kw["v_cmp"] = kw["k_cmp"].detach().clone(), kw["v_cmp"].detach().clone()
        for name in names:
            kw[name].requires_grad_(True)
        w = torch.randn(kw["q"].shape, generator=torch.Generator().manual_seed(1), dtype=F64)
        (fn(kw) * w).sum().backward()
        grads.append([kw[name].grad for name in names])
    for name, g_ref, g in zip(names, *grads):
        torch.testing.assert_close(g, g_ref, rtol=0, atol=1e-10, msg=name)


def test_gradient_of_the_queries_alone():
    # Keys and values without gradients: the gathered blocks must still be kept for backward.
    kw = _case(CPU_CONFIG, T=70, H=4, H_kv=1, seed=4)
    q_ref = kw["q"].clone().requires_grad_(True)
    nsa_attention(**dict(kw, q=q_ref)).sum().backward()
    q = kw["q"].clone().requires_grad_(True)
    nsa_prefill(**dict(kw, q=q), chunk=16).sum().backward()
    torch.testing.assert_close(q.grad, q_ref.grad, rtol=0, atol=1e-10)


class _LargestTensor(TorchDispatchMode):
    """Records the largest tensor any aten op returns."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for x in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(x, torch.Tensor):
                self.largest = max(self.largest, x.numel())
        return out


def test_no_tensor_grows_like_t_squared():
    T, H, H_kv, D, chunk = 4096, 2, 1, 2, 64
    cfg = CPU_CONFIG  # l = 16, d = 8, l' = 32, n = 4, w = 32: N_c = 511
    kw = _case(cfg, B=1, T=T, H=H, H_kv=H_kv, D=D, dtype=torch.float32)
    with torch.no_grad(), _LargestTensor() as mode:
        nsa_prefill(**kw, chunk=chunk)
    n_cmp = kw["k_cmp"].shape[1]
    per_chunk = chunk * H * (cfg.top_n * cfg.select_block + cfg.window + chunk + n_cmp) * D
    assert mode.largest <= max(per_chunk, T * H * D)  # a chunk's tensors, or the output
    assert mode.largest < T * T / 100
