"""Every bad input to readingroom.nsa's entry points (and the internal functions the tests call
directly) is refused with a clear error naming it.

One table: ``(id, call, exception, match)``. Inputs are a few random tensors of toy sizes and
untrained layers, built inside the call; no row trains or runs a kernel.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from readingroom.common.seed import make_generator
from readingroom.nsa import NSAConfig
from readingroom.nsa.analysis import (
    attention_maps, branches_only, capture, needle_distance, trace_relay,
)
from readingroom.nsa.attention import nsa_attention, nsa_decode, window_attention
from readingroom.nsa.blocks import compression_blocks, num_compressed
from readingroom.nsa.cost import decode_cost, decode_costs
from readingroom.nsa.experiments import (
    RecallRecipe, load_recall, make_recall_model, run_recall,
)
from readingroom.nsa.hf import NSAParams, enable_nsa
from readingroom.nsa.module import BlockCompressor, NativeSparseAttention
from readingroom.nsa.plots import plot_query
from readingroom.nsa.prefill import nsa_prefill
from readingroom.nsa.recall import RecallTask
from readingroom.nsa.triton_backend import select_from_lse
from refusals import refusal_test

F64 = torch.float64
_r = torch.randn
SMALL = NSAConfig(block_len=4, stride=2, select_block=4, top_n=3, window=5)
DECODE_CFG = NSAConfig(block_len=4, stride=2, select_block=8, top_n=3, window=5)
MAPS_CFG = NSAConfig(block_len=4, stride=2, select_block=8, top_n=3, window=5)
TASK = RecallTask(seq_len=64, n_pairs=4, n_queries=3, n_keys=8, n_values=5, n_filler=7)
TINY = RecallRecipe(
    task=RecallTask(seq_len=48, n_pairs=2, n_queries=1, n_keys=4, n_values=4, n_filler=8),
    nsa=NSAConfig(block_len=4, stride=2, select_block=8, top_n=3, window=8),
    hidden=16, layers=1, heads=2, kv_heads=1, steps=4, batch=2, eval_every=2, n_eval=8,
)


def _attn(**change):
    """nsa_attention on valid inputs (B=2, T=9, H=4, H_kv=2, D=3) with ``change`` applied."""
    B, T, H, H_kv, D = 2, 9, 4, 2, 3
    n_cmp = num_compressed(T, 4, 2)  # 3
    kw = dict(q=_r(B, T, H, D), k=_r(B, T, H_kv, D), v=_r(B, T, H_kv, D),
              k_cmp=_r(B, n_cmp, H_kv, D), v_cmp=_r(B, n_cmp, H_kv, D),
              gates=torch.rand(B, T, H, 3), cfg=SMALL)
    kw.update(change)
    return nsa_attention(**kw)


def _decode(**change):
    """nsa_decode on valid float64 inputs of one step (S=9, B=2, H=4, H_kv=2, D=3)."""
    B, S, H, H_kv, D = 2, 9, 4, 2, 3
    n_cmp = num_compressed(S, DECODE_CFG.block_len, DECODE_CFG.stride)
    kw = dict(q=_r(B, H, D, dtype=F64), k=_r(B, S, H_kv, D, dtype=F64),
              v=_r(B, S, H_kv, D, dtype=F64), k_cmp=_r(B, n_cmp, H_kv, D, dtype=F64),
              v_cmp=_r(B, n_cmp, H_kv, D, dtype=F64), gates=torch.rand(B, H, 3, dtype=F64),
              cfg=DECODE_CFG)
    kw.update(change)
    return nsa_decode(**kw)


def _prefill(**change):
    """nsa_prefill on valid inputs (B=2, T=9, H=4, H_kv=2, D=3; mean-pooled compression)."""
    B, T, H, H_kv, D = 2, 9, 4, 2, 3
    k, v = _r(B, T, H_kv, D), _r(B, T, H_kv, D)
    kw = dict(q=_r(B, T, H, D), k=k, v=v,
              k_cmp=compression_blocks(k, SMALL.block_len, SMALL.stride).mean(-2),
              v_cmp=compression_blocks(v, SMALL.block_len, SMALL.stride).mean(-2),
              gates=torch.rand(B, T, H, 3), cfg=SMALL)
    kw.update(change)
    return nsa_prefill(**kw)


def _triton_with_q_start():
    """7 queries at positions 2..8 of 9 keys: a valid decoding call, but not for Triton."""
    n_cmp = num_compressed(9, 4, 2)
    return nsa_attention(_r(2, 7, 4, 3), _r(2, 9, 2, 3), _r(2, 9, 2, 3), _r(2, n_cmp, 2, 3),
                         _r(2, n_cmp, 2, 3), torch.rand(2, 7, 4, 3), SMALL, q_start=2,
                         backend="triton")


def _maps(T=29):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, T, 4, 3, generator=g, dtype=F64)
    k = torch.randn(2, T, 2, 3, generator=g, dtype=F64)
    k_cmp = compression_blocks(k, MAPS_CFG.block_len, MAPS_CFG.stride).mean(-2)
    return attention_maps(q, k, k_cmp, MAPS_CFG)


def _enter(context):
    """Enter (and leave) a context manager: its refusal comes on entry."""
    with context:
        pass  # pragma: no cover - refused before


def _run_recall_untrained(kinds):
    """run_recall with training replaced by a failure: bad kinds must be refused before it."""
    def no_training(*args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("trained before checking kinds")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("readingroom.nsa.experiments.train_recall", no_training)
        return run_recall(TINY, 0, progress=False, kinds=kinds)


def _llama(layers=1):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=23, hidden_size=16, intermediate_size=32, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        attn_implementation="sdpa",
    )
    return LlamaForCausalLM(config).eval()


def _masked_nsa_model(hole: int | None = None, left: int | None = None):
    """A Llama with NSA run on a batch whose row 0 is left-padded or has a hole in its mask."""
    model = enable_nsa(_llama(layers=2), SMALL)
    ids = torch.randint(0, 23, (2, 9), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(2, 9, dtype=torch.long)
    if left is not None:
        mask[0, :left] = 0
    if hole is not None:
        mask[0, hole] = 0
    with torch.no_grad():
        return model(ids, attention_mask=mask)


CASES = [
    # (id, call, exception, match)
    # -- NSAConfig -----------------------------------------------------------------------------
    *[(f"NSAConfig: {name}={bad!r}", lambda name=name, bad=bad: NSAConfig(**{name: bad}), exc, name)
      for name in ("block_len", "stride", "select_block", "top_n", "window")
      for bad, exc in ((0, ValueError), (-1, ValueError), (2.0, TypeError), (True, TypeError),
                       ("4", TypeError))],
    *[(f"NSAConfig: {name}={bad!r}", lambda name=name, bad=bad: NSAConfig(**{name: bad}), exc, name)
      for name in ("n_initial", "n_local")
      for bad, exc in ((-1, ValueError), (1.0, TypeError), (False, TypeError))],
    ("NSAConfig: stride 9 > block_len 8", lambda: NSAConfig(block_len=8, stride=9), ValueError,
     "stride"),
    ("NSAConfig: top_n 2 < 1 + 2 forced", lambda: NSAConfig(top_n=2, n_initial=1, n_local=2),
     ValueError, "top_n"),
    ("NSAConfig: top_n 4 < 3 + 2 forced", lambda: NSAConfig(top_n=4, n_initial=3, n_local=2),
     ValueError, "top_n"),
    ("NSAConfig: gate 'conv'", lambda: NSAConfig(gate="conv"), ValueError, "gate must be one of"),
    *[(f"NSAConfig: phi={bad!r}", lambda bad=bad: NSAConfig(phi=bad), ValueError, "phi")
      for bad in ("max", "", None, "MLP")],
    *[(f"NSAConfig: separate_kv={bad!r}", lambda bad=bad: NSAConfig(separate_kv=bad), TypeError,
       "separate_kv") for bad in (1, 0, "yes", None)],
    *[(f"NSAConfig: branches={bad!r}", lambda bad=bad: NSAConfig(branches=bad), ValueError,
       "branches")
      for bad in ((), [], ("cmp", "foo"), ("cmp", "cmp"), ("cmp", "win", "win"), "cmp", None,
                  {"cmp"}, ("CMP",))],
    *[(f"NSAConfig: branches={bad!r} (no cmp)", lambda bad=bad: NSAConfig(branches=bad),
       ValueError, "'slc' needs 'cmp'") for bad in (("slc",), ("slc", "win"), ("win", "slc"))],
    ("NSAConfig.replace: stride 33", lambda: NSAConfig().replace(stride=33), ValueError, "stride"),
    ("NSAConfig.replace: top_n 2", lambda: NSAConfig().replace(top_n=2), ValueError, "top_n"),
    ("NSAConfig.replace: no such field", lambda: NSAConfig().replace(no_such_field=1), TypeError,
     "no_such_field"),
    ("tokens_per_query: t -1", lambda: NSAConfig().tokens_per_query(-1), ValueError, "t"),
    ("tokens_per_query: t 1.5", lambda: NSAConfig().tokens_per_query(1.5), TypeError, "t"),
    ("tokens_per_query: t True", lambda: NSAConfig().tokens_per_query(True), TypeError, "t"),
    # -- nsa_attention -------------------------------------------------------------------------
    ('nsa_attention: cfg=None',
     lambda: _attn(cfg=None), TypeError, "cfg must be an NSAConfig"),
    ('nsa_attention: cfg={"block_len": 4}',
     lambda: _attn(cfg={"block_len": 4}), TypeError, "cfg"),
    ('nsa_attention: backend="cuda"',
     lambda: _attn(backend="cuda"), ValueError, "backend"),
    ('nsa_attention: q=[[1.0]]',
     lambda: _attn(q=[[1.0]]), TypeError, "q must be a torch.Tensor"),
    ('nsa_attention: q=torch.randn(2, 9, 12)',
     lambda: _attn(q=torch.randn(2, 9, 12)), ValueError, "q must be 4-D"),
    ('nsa_attention: q=torch.ones(2, 9, 4, 3, dtype=torch.int64)',
     lambda: _attn(q=torch.ones(2, 9, 4, 3, dtype=torch.int64)), TypeError, "q must have a floating"),
    ('nsa_attention: k=None',
     lambda: _attn(k=None), TypeError, "k must be a torch.Tensor"),
    ('nsa_attention: k=torch.randn(2, 9, 6)',
     lambda: _attn(k=torch.randn(2, 9, 6)), ValueError, "k must be 4-D"),
    ('nsa_attention: k=torch.randn(2, 10, 2, 3)',
     lambda: _attn(k=torch.randn(2, 10, 2, 3)), ValueError, r"k must be \[B=2, S=q_start\+T=9"),
    ('nsa_attention: k=torch.randn(2, 8, 2, 3)',
     lambda: _attn(k=torch.randn(2, 8, 2, 3)), ValueError, "k must be"),
    ('nsa_attention: k=torch.randn(1, 9, 2, 3)',
     lambda: _attn(k=torch.randn(1, 9, 2, 3)), ValueError, "k must be"),
    ('nsa_attention: k=torch.randn(2, 9, 2, 4)',
     lambda: _attn(k=torch.randn(2, 9, 2, 4)), ValueError, "k must be"),
    ('nsa_attention: v=torch.randn(2, 8, 2, 3)',
     lambda: _attn(v=torch.randn(2, 8, 2, 3)), ValueError, "v must be"),
    ('nsa_attention: v=torch.ones(2, 9, 2, 3, dtype=torch.int32)',
     lambda: _attn(v=torch.ones(2, 9, 2, 3, dtype=torch.int32)), TypeError, "v must have a floating"),
    ('nsa_attention: v=torch.randn(2, 9, 1, 3)',
     lambda: _attn(v=torch.randn(2, 9, 1, 3)), ValueError, "v has 1 heads"),
    ('nsa_attention: k=torch.randn(2, 9, 3, 3), v=torch.randn(2, 9, 3, 3)',
     lambda: _attn(k=torch.randn(2, 9, 3, 3), v=torch.randn(2, 9, 3, 3)), ValueError, "H=4 must be a multiple of the key/value heads H_kv=3"),
    ('nsa_attention: k_cmp=torch.randn(2, 4, 2, 3)',
     lambda: _attn(k_cmp=torch.randn(2, 4, 2, 3)), ValueError, r"k_cmp must be \[B=2, N_c=3, H_kv=2"),
    ('nsa_attention: k_cmp=torch.randn(2, 3, 1, 3)',
     lambda: _attn(k_cmp=torch.randn(2, 3, 1, 3)), ValueError, "k_cmp must be .*N_c=3"),
    ('nsa_attention: v_cmp=torch.randn(2, 2, 2, 3)',
     lambda: _attn(v_cmp=torch.randn(2, 2, 2, 3)), ValueError, "v_cmp must be .*N_c=3"),
    ('nsa_attention: v_cmp=torch.randn(2, 3, 2)',
     lambda: _attn(v_cmp=torch.randn(2, 3, 2)), ValueError, "v_cmp must be 4-D"),
    ('nsa_attention: k_cmp=None',
     lambda: _attn(k_cmp=None), TypeError, "k_cmp must be a torch.Tensor"),
    ('nsa_attention: gates=torch.rand(2, 9, 4, 2)',
     lambda: _attn(gates=torch.rand(2, 9, 4, 2)), ValueError, r"gates must be \[B=2, T=9, H=4, 3\]"),
    ('nsa_attention: gates=torch.rand(2, 9, 4)',
     lambda: _attn(gates=torch.rand(2, 9, 4)), ValueError, "gates must be 4-D"),
    ('nsa_attention: gates=torch.rand(2, 9, 2, 3)',
     lambda: _attn(gates=torch.rand(2, 9, 2, 3)), ValueError, "gates must be"),
    ('nsa_attention: k_win=torch.randn(2, 9, 2, 3)',
     lambda: _attn(k_win=torch.randn(2, 9, 2, 3)), (TypeError, ValueError), "v_win"),
    ('nsa_attention: v_win=torch.randn(2, 9, 2, 3)',
     lambda: _attn(v_win=torch.randn(2, 9, 2, 3)), (TypeError, ValueError), "k_win"),
    ('nsa_attention: k_win=_r(2, 8, 2, 3), v_win=_r(2, 9, 2, 3)',
     lambda: _attn(k_win=_r(2, 8, 2, 3), v_win=_r(2, 9, 2, 3)), ValueError, "k_win must be"),
    ('nsa_attention: k_win=_r(2, 9, 1, 3), v_win=_r(2, 9, 1, 3)',
     lambda: _attn(k_win=_r(2, 9, 1, 3), v_win=_r(2, 9, 1, 3)), ValueError, "k_win has 1 heads"),
    ('nsa_attention: k_win=_r(2, 9, 2, 3), v_win=_r(2, 9, 2, 2)',
     lambda: _attn(k_win=_r(2, 9, 2, 3), v_win=_r(2, 9, 2, 2)), ValueError, "v_win must be"),
    ('nsa_attention: q_start=-1',
     lambda: _attn(q_start=-1), ValueError, "q_start"),
    ('nsa_attention: q_start=1.0',
     lambda: _attn(q_start=1.0), TypeError, "q_start"),
    ('nsa_attention: q_start=True',
     lambda: _attn(q_start=True), TypeError, "q_start"),
    ('nsa_attention: q_start=2',
     lambda: _attn(q_start=2), ValueError, r"S=q_start\+T=11"),
    ("nsa_attention: backend 'triton' with q_start 2", _triton_with_q_start, ValueError,
     "q_start"),
    ("nsa_attention: no key/value heads (a regression)",
     lambda: _attn(k=_r(2, 9, 0, 3), v=_r(2, 9, 0, 3), k_cmp=_r(2, 3, 0, 3),
                   v_cmp=_r(2, 3, 0, 3)), ValueError, "H_kv"),
    ("nsa_attention: k and v float64, q float32 (a regression)",
     lambda: _attn(k=_r(2, 9, 2, 3, dtype=F64), v=_r(2, 9, 2, 3, dtype=F64)),
     (TypeError, ValueError), r"\bk\b.*dtype|dtype.*\bk\b"),
    # -- nsa_decode, window_attention, nsa_prefill, select_from_lse ----------------------------
    ('nsa_decode: q=torch.randn(2, 1, 4, 3, dtype=F64)',
     lambda: _decode(q=torch.randn(2, 1, 4, 3, dtype=F64)), ValueError, r"q must be \[B, H, D\]"),
    ('nsa_decode: q=torch.randn(2, 12, dtype=F64)',
     lambda: _decode(q=torch.randn(2, 12, dtype=F64)), ValueError, r"q must be \[B, H, D\]"),
    ('nsa_decode: q=[[0.0]]',
     lambda: _decode(q=[[0.0]]), ValueError, r"q must be \[B, H, D\]"),
    ('nsa_decode: q=torch.ones(2, 4, 3, dtype=torch.long)',
     lambda: _decode(q=torch.ones(2, 4, 3, dtype=torch.long)), TypeError, "q must have a floating"),
    ('nsa_decode: gates=torch.rand(2, 1, 4, 3, dtype=F64)',
     lambda: _decode(gates=torch.rand(2, 1, 4, 3, dtype=F64)), ValueError, r"gates must be \[B, H, 3\]"),
    ('nsa_decode: gates=torch.rand(2, 4, dtype=F64)',
     lambda: _decode(gates=torch.rand(2, 4, dtype=F64)), ValueError, r"gates must be \[B, H, 3\]"),
    ('nsa_decode: gates=None',
     lambda: _decode(gates=None), ValueError, r"gates must be \[B, H, 3\]"),
    ('nsa_decode: gates=torch.rand(2, 4, 2, dtype=F64)',
     lambda: _decode(gates=torch.rand(2, 4, 2, dtype=F64)), ValueError, "gates must be"),
    ('nsa_decode: gates=torch.rand(2, 2, 3, dtype=F64)',
     lambda: _decode(gates=torch.rand(2, 2, 3, dtype=F64)), ValueError, "gates must be"),
    ('nsa_decode: cfg="paper"',
     lambda: _decode(cfg="paper"), TypeError, "cfg must be an NSAConfig"),
    ('nsa_decode: v=torch.randn(2, 8, 2, 3, dtype=F64)',
     lambda: _decode(v=torch.randn(2, 8, 2, 3, dtype=F64)), ValueError, "v must be"),
    ('nsa_decode: k_cmp=torch.randn(2, 5, 2, 3, dtype=F64)',
     lambda: _decode(k_cmp=torch.randn(2, 5, 2, 3, dtype=F64)), ValueError, "k_cmp must be"),
    ('nsa_decode: k_win=torch.randn(2, 9, 2, 3, dtype=F64)',
     lambda: _decode(k_win=torch.randn(2, 9, 2, 3, dtype=F64)), ValueError, "v_win"),
    ('nsa_decode: q=torch.randn(2, 3, 3, dtype=F64)',
     lambda: _decode(q=torch.randn(2, 3, 3, dtype=F64)), ValueError, "multiple of the key/value heads"),
    ('nsa_decode: k=torch.randn(2, 9, 2, 3), v=torch.randn(2, 9, 2, 3)',
     lambda: _decode(k=torch.randn(2, 9, 2, 3), v=torch.randn(2, 9, 2, 3)), TypeError, "dtype"),
    ("nsa_decode: k None (a regression)", lambda: _decode(k=None), TypeError,
     "k must be a torch.Tensor"),
    *[(f"window_attention: window {bad}",
       lambda bad=bad: window_attention(_r(1, 5, 2, 4), _r(1, 5, 1, 4), _r(1, 5, 1, 4), bad, 0.5),
       ValueError, "window") for bad in (0, -1)],
    ('nsa_prefill: chunk=0',
     lambda: _prefill(chunk=0), ValueError, "chunk"),
    ('nsa_prefill: chunk=-3',
     lambda: _prefill(chunk=-3), ValueError, "chunk"),
    ('nsa_prefill: chunk=2.0',
     lambda: _prefill(chunk=2.0), TypeError, "chunk"),
    ('nsa_prefill: chunk=True',
     lambda: _prefill(chunk=True), TypeError, "chunk"),
    ('nsa_prefill: k=torch.randn(2, 8, 2, 3)',
     lambda: _prefill(k=torch.randn(2, 8, 2, 3)), ValueError, "k must be"),
    ('nsa_prefill: q=torch.randn(2, 9, 4)',
     lambda: _prefill(q=torch.randn(2, 9, 4)), ValueError, "q must be 4-D"),
    ('nsa_prefill: gates=torch.rand(2, 9, 4, 2)',
     lambda: _prefill(gates=torch.rand(2, 9, 4, 2)), ValueError, "gates must be"),
    ('nsa_prefill: k_cmp=torch.randn(2, 4, 2, 3)',
     lambda: _prefill(k_cmp=torch.randn(2, 4, 2, 3)), ValueError, "k_cmp must be"),
    ('nsa_prefill: k=torch.randn(2, 9, 3, 3), v=torch.randn(2, 9, 3, 3)',
     lambda: _prefill(k=torch.randn(2, 9, 3, 3), v=torch.randn(2, 9, 3, 3)), ValueError, "H_kv=3"),
    ('nsa_prefill: k_win=torch.randn(2, 9, 2, 3)',
     lambda: _prefill(k_win=torch.randn(2, 9, 2, 3)), ValueError, "k_win and v_win"),
    ('nsa_prefill: q_start=-1',
     lambda: _prefill(q_start=-1), ValueError, "q_start"),
    ('nsa_prefill: cfg="paper"',
     lambda: _prefill(cfg="paper"), TypeError, "cfg must be an NSAConfig"),
    ("select_from_lse: chunk 0",
     lambda: select_from_lse(torch.zeros(1, 4, 1, 2), torch.zeros(1, 0, 1, 2),
                             torch.zeros(1, 4, 1), 4, NSAConfig(), 1.0, chunk=0),
     ValueError, "chunk"),
    # -- the layer -----------------------------------------------------------------------------
    *[(f"BlockCompressor({kind}): blocks of shape {shape}",
       lambda kind=kind, shape=shape: BlockCompressor(3, 4, kind=kind)(torch.randn(*shape)),
       ValueError, r"blocks must end with \[l=4, D=3\]")
      for shape in ((2, 3, 4), (2, 4, 4), (2, 5, 3), (3,)) for kind in ("mlp", "mean")],
    ("BlockCompressor: kind 'max'", lambda: BlockCompressor(3, 4, kind="max"), ValueError, "kind"),
    ("BlockCompressor: head_dim 0", lambda: BlockCompressor(0, 4), ValueError, "head_dim"),
    ("BlockCompressor: block_len 4.0", lambda: BlockCompressor(3, 4.0), TypeError, "block_len"),
    ("BlockCompressor: block_len 0", lambda: BlockCompressor(3, 0), ValueError, "block_len"),
    ("BlockCompressor: hidden 0", lambda: BlockCompressor(3, 4, hidden=0), ValueError, "hidden"),
    ('NativeSparseAttention: d_model=0, n_heads=2',
     lambda: NativeSparseAttention(d_model=0, n_heads=2), ValueError, "d_model"),
    ('NativeSparseAttention: d_model=12.0, n_heads=2',
     lambda: NativeSparseAttention(d_model=12.0, n_heads=2), TypeError, "d_model"),
    ('NativeSparseAttention: d_model=10, n_heads=4',
     lambda: NativeSparseAttention(d_model=10, n_heads=4), ValueError, "d_model=10 must be divisible by n_heads=4"),
    ('NativeSparseAttention: d_model=12, n_heads=0',
     lambda: NativeSparseAttention(d_model=12, n_heads=0), ValueError, "n_heads"),
    ('NativeSparseAttention: d_model=12, n_heads=True',
     lambda: NativeSparseAttention(d_model=12, n_heads=True), TypeError, "n_heads"),
    ('NativeSparseAttention: d_model=12, n_heads=4, n_kv_heads=3',
     lambda: NativeSparseAttention(d_model=12, n_heads=4, n_kv_heads=3), ValueError, "n_kv_heads=3 must divide n_heads"),
    ('NativeSparseAttention: d_model=12, n_heads=4, n_kv_heads=8',
     lambda: NativeSparseAttention(d_model=12, n_heads=4, n_kv_heads=8), ValueError, "n_kv_heads"),
    ('NativeSparseAttention: d_model=12, n_heads=4, n_kv_heads=0',
     lambda: NativeSparseAttention(d_model=12, n_heads=4, n_kv_heads=0), ValueError, "n_kv_heads"),
    ('NativeSparseAttention: d_model=12, n_heads=4, n_kv_heads=2.0',
     lambda: NativeSparseAttention(d_model=12, n_heads=4, n_kv_heads=2.0), TypeError, "n_kv_heads"),
    ('NativeSparseAttention: d_model=12, n_heads=4, head_dim=0',
     lambda: NativeSparseAttention(d_model=12, n_heads=4, head_dim=0), ValueError, "head_dim"),
    ('NativeSparseAttention: d_model=12, n_heads=4, head_dim=2.5',
     lambda: NativeSparseAttention(d_model=12, n_heads=4, head_dim=2.5), TypeError, "head_dim"),
    ('NativeSparseAttention: d_model=12, n_heads=4, cfg="paper"',
     lambda: NativeSparseAttention(d_model=12, n_heads=4, cfg="paper"), TypeError, "cfg must be an NSAConfig"),
    ('NativeSparseAttention: d_model=12, n_heads=4, cfg={"block_len": 4}',
     lambda: NativeSparseAttention(d_model=12, n_heads=4, cfg={"block_len": 4}), TypeError, "cfg"),
    ('NativeSparseAttention: d_model=12, n_heads=4, backend="jax"',
     lambda: NativeSparseAttention(d_model=12, n_heads=4, backend="jax"), ValueError, "backend"),
    *[(f"NativeSparseAttention forward: x {name}",
       lambda x=x: NativeSparseAttention(12, 4, cfg=SMALL)(x), ValueError, "x must be a")
      for name, x in (("2-D", torch.randn(9, 12)), ("4-D", torch.randn(1, 2, 9, 12)),
                      ("a list", [[0.0] * 12]), ("None", None))],
    ("NativeSparseAttention forward: width 8",
     lambda: NativeSparseAttention(12, 4, cfg=SMALL)(torch.randn(2, 9, 8)), ValueError,
     "d_model=12"),
    # -- transformers ---------------------------------------------------------------------------
    ("enable_nsa: no attention layers", lambda: enable_nsa(nn.Sequential(nn.Linear(4, 4)), SMALL),
     ValueError, "q_proj, k_proj, v_proj and o_proj"),
    *[(f"enable_nsa: backend {backend!r}",
       lambda backend=backend: enable_nsa(_llama(), SMALL, backend=backend), ValueError,
       "backend must be one of") for backend in ("cuda", "", None)],
    ("enable_nsa: separate_kv", lambda: enable_nsa(_llama(), SMALL.replace(separate_kv=True)),
     ValueError, "separate_kv"),
    ("NSAParams: separate_kv", lambda: NSAParams(16, 4, 4, SMALL.replace(separate_kv=True), "torch"),
     ValueError, "separate_kv"),
    ("NSA model: a left-padded batch", lambda: _masked_nsa_model(left=2), ValueError, "padded"),
    ("NSA model: a mask with a hole (a regression)", lambda: _masked_nsa_model(hole=4), ValueError,
     "mask|padded"),
    # -- recall task and experiments ------------------------------------------------------------
    ('RecallTask: seq_len=0',
     lambda: RecallTask(seq_len=0), ValueError, "seq_len must be a positive int"),
    ('RecallTask: n_pairs=1.5',
     lambda: RecallTask(n_pairs=1.5), TypeError, "n_pairs must be an int"),
    ('RecallTask: n_queries=True',
     lambda: RecallTask(n_queries=True), TypeError, "n_queries must be an int"),
    ('RecallTask: n_keys=0',
     lambda: RecallTask(n_keys=0), ValueError, "n_keys"),
    ('RecallTask: n_values=-2',
     lambda: RecallTask(n_values=-2), ValueError, "n_values"),
    ('RecallTask: n_filler="7"',
     lambda: RecallTask(n_filler="7"), TypeError, "n_filler"),
    ('RecallTask: n_pairs=5, n_keys=4, n_queries=1',
     lambda: RecallTask(n_pairs=5, n_keys=4, n_queries=1), ValueError, "n_pairs=5 must be <= n_keys=4"),
    ('RecallTask: n_pairs=5, n_values=4, n_queries=1',
     lambda: RecallTask(n_pairs=5, n_values=4, n_queries=1), ValueError, "n_values=4 .distinct keys, distinct values"),
    ('RecallTask: n_pairs=2, n_queries=3',
     lambda: RecallTask(n_pairs=2, n_queries=3), ValueError, "n_queries=3 must be <= n_pairs=2"),
    ('RecallTask: seq_len=15, n_pairs=4, n_queries=4',
     lambda: RecallTask(seq_len=15, n_pairs=4, n_queries=4), ValueError, "seq_len=15 is too short.*needs >= 16"),
    *[(f"RecallTask.sample: batch {batch!r}",
       lambda batch=batch: TASK.sample(batch, make_generator(0)), exc, "batch")
      for batch, exc in ((0, ValueError), (2.0, TypeError), (True, TypeError))],
    *[(f"make_recall_model: kind {kind!r}", lambda kind=kind: make_recall_model(kind, TINY),
       ValueError, "kind must be one of") for kind in ("sdpa", "NSA", "", None)],
    *[(f"RecallRecipe: {name}={bad!r}", lambda name=name, bad=bad: RecallRecipe(**{name: bad}),
       exc, name)
      for name, bad, exc in (("steps", 0, ValueError), ("hidden", 1.5, TypeError),
                             ("n_eval", True, TypeError))],
    *[(f"run_recall: kinds {kinds!r}", lambda kinds=kinds: _run_recall_untrained(kinds), ValueError,
       "kinds must be a subset of") for kinds in (("nsa", "sparse"), ("FULL",))],
    ("load_recall: kind 'sparse'", lambda: load_recall("sparse", 0), ValueError,
     "kind must be one of"),
    # -- analysis, cost and plots -------------------------------------------------------------
    ("attention_maps: q a list", lambda: attention_maps([[0.0]], _r(2, 7, 2, 3, dtype=F64),
                                                        torch.zeros(2, 1, 2, 3, dtype=F64),
                                                        MAPS_CFG), TypeError, "q must be a 4-D"),
    ("attention_maps: 3-D keys", lambda: attention_maps(_r(2, 5, 4, 3, dtype=F64),
                                                       _r(2, 5, 6, dtype=F64),
                                                       torch.zeros(2, 1, 2, 3, dtype=F64),
                                                       MAPS_CFG), ValueError, r"k must be a 4-D"),
    ("attention_maps: keys of another length (a regression)",
     lambda: attention_maps(_r(2, 5, 4, 3, dtype=F64), _r(2, 7, 2, 3, dtype=F64),
                            torch.zeros(2, 1, 2, 3, dtype=F64), MAPS_CFG),
     ValueError, r"\bk\b"),
    *[(f"branches_only: {type(model).__name__} has no NSA layer",
       lambda model=model: _enter(branches_only(model, ("win",))), ValueError, "no NSA layer")
      for model in (nn.Linear(3, 3), nn.Sequential(nn.ReLU()))],
    ("capture: a model without NSA",
     lambda: capture(make_recall_model("full", TINY), torch.zeros(1, 8, dtype=torch.long)),
     ValueError, "enable_nsa"),
    ("needle_distance: a key never shown",
     lambda: needle_distance(torch.tensor([[3, 20, 30, 1, 21, 31, 5, 20]]),
                             torch.tensor([[-100] * 6 + [20, -100]])),
     ValueError, r"\(0, 6\) has no earlier occurrence"),
    ("trace_relay: one layer", lambda: trace_relay([{}], [{}], value=1, query=2), ValueError,
     "two layers"),
    *[(f"plot_query: t {t}", lambda t=t: plot_query(_maps(), MAPS_CFG, t), ValueError,
       r"t must be in \[0, 29\)") for t in (-1, 29, 100)],
    *[(f"{fn.__name__}: {args!r}", call, exc, match)
      for args, exc, match in (((0,), ValueError, "context must be a positive int"),
                               ((-8,), ValueError, "context"),
                               ((True,), TypeError, "context must be an int"),
                               ((8192.0,), TypeError, "context"),
                               ((8192, "paper"), TypeError, "cfg must be an NSAConfig"),
                               ((8192, {"stride": 16}), TypeError, "cfg must be an NSAConfig"))
      for fn, call in ((decode_cost, lambda args=args: decode_cost(*args)),
                       (decode_costs, lambda args=args: decode_costs((args[0],), *args[1:])))],
]



test_bad_input_is_refused_with_a_clear_error = refusal_test(CASES)
