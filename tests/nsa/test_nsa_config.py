"""Tests for readingroom.nsa.config: NSAConfig's defaults, validation and token counts."""

from __future__ import annotations

import dataclasses

import pytest

from readingroom.nsa import BRANCHES, CPU_CONFIG, NSAConfig


_SMALL = NSAConfig(block_len=4, stride=2, select_block=4, top_n=3, window=5)


def _brute_tokens(cfg: NSAConfig, t: int) -> int:
    """Keys a query at position ``t`` loads, counted from the definitions (needs n_local >= 1,
    so that the query's own block is always chosen and the count does not depend on scores)."""
    l, d, lp = cfg.block_len, cfg.stride, cfg.select_block
    total = 0
    if "cmp" in cfg.branches:
        total += sum(1 for i in range(t + 2) if i * d + l - 1 <= t)
    if "slc" in cfg.branches:
        own = t // lp
        past = list(range(own + 1))
        forced = [j for j in past if j < cfg.n_initial or j > own - cfg.n_local]
        free = [j for j in past if j not in forced]
        chosen = forced + free[: max(0, cfg.top_n - len(forced))]
        total += sum(1 for j in chosen for s in range(j * lp, (j + 1) * lp) if s <= t)
    if "win" in cfg.branches:
        total += sum(1 for s in range(t + 1) if t - cfg.window < s <= t)
    return total


def test_paper_defaults():
    cfg = NSAConfig()
    assert (cfg.block_len, cfg.stride, cfg.select_block, cfg.top_n) == (32, 16, 64, 16)
    assert (cfg.n_initial, cfg.n_local, cfg.window) == (1, 2, 512)
    assert cfg.phi == "mlp" and cfg.separate_kv is False
    assert cfg.branches == BRANCHES == ("cmp", "slc", "win")


def test_cpu_config_is_valid_and_keeps_the_paper_ratios():
    assert isinstance(CPU_CONFIG, NSAConfig)
    fields = {f.name: getattr(CPU_CONFIG, f.name) for f in dataclasses.fields(CPU_CONFIG)}
    assert CPU_CONFIG == NSAConfig(**fields)  # passes validation again
    assert CPU_CONFIG.block_len == 2 * CPU_CONFIG.stride
    assert CPU_CONFIG.select_block == 2 * CPU_CONFIG.block_len
    assert CPU_CONFIG.top_n >= CPU_CONFIG.n_initial + CPU_CONFIG.n_local


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        NSAConfig().top_n = 3  # type: ignore[misc]


@pytest.mark.parametrize("name", ["n_initial", "n_local"])
def test_forced_counts_may_be_zero(name):
    assert getattr(NSAConfig(**{name: 0}), name) == 0


def test_stride_may_equal_block_len():
    assert NSAConfig(block_len=8, stride=8).stride == 8  # d == l: no overlap, allowed


def test_top_n_counts_the_forced_blocks():
    assert NSAConfig(top_n=3, n_initial=1, n_local=2).top_n == 3


def test_gate():
    assert NSAConfig().gate == "mlp" and NSAConfig(gate="linear").gate == "linear"


def test_gate_network_follows_the_config():
    from torch import nn

    from readingroom.nsa import NSAParameters

    mlp = NSAParameters(8, 2, 4, NSAConfig(block_len=4, stride=2, select_block=4, top_n=3))
    linear = NSAParameters(8, 2, 4, NSAConfig(block_len=4, stride=2, select_block=4, top_n=3, gate="linear"))
    assert [type(m) for m in mlp.w_g] == [nn.Linear, nn.SiLU, nn.Linear]
    assert mlp.w_g[0].out_features == 8 and mlp.w_g[2].out_features == 3 * 2
    assert isinstance(linear.w_g, nn.Linear) and linear.w_g.out_features == 3 * 2


def test_phi():
    assert NSAConfig(phi="mean").phi == "mean"


def test_separate_kv():
    assert NSAConfig(separate_kv=True).separate_kv is True


@pytest.mark.parametrize(
    "given,canonical",
    [
        (("win", "slc", "cmp"), ("cmp", "slc", "win")),
        (["win", "cmp"], ("cmp", "win")),
        (("slc", "cmp"), ("cmp", "slc")),
        (("win",), ("win",)),
        (("cmp",), ("cmp",)),
    ],
)
def test_branches_in_canonical_order(given, canonical):
    cfg = NSAConfig(branches=given)
    assert cfg.branches == canonical
    assert isinstance(cfg.branches, tuple)
    assert cfg == NSAConfig(branches=canonical)
    assert hash(cfg) == hash(NSAConfig(branches=canonical))


def test_replace_copies_and_validates():
    cfg = NSAConfig()
    small = cfg.replace(block_len=8, stride=4)
    assert (small.block_len, small.stride, small.select_block) == (8, 4, 64)
    assert (cfg.block_len, cfg.stride) == (32, 16)  # the original is untouched
    assert small.replace(branches=("win", "cmp")).branches == ("cmp", "win")
    # (the copy is validated again: test_nsa_bad_input's NSAConfig.replace rows)


@pytest.mark.parametrize(
    "cfg",
    [
        NSAConfig(),
        CPU_CONFIG,
        _SMALL,
        NSAConfig(block_len=6, stride=4, select_block=10, top_n=3, n_local=1, window=7),
        NSAConfig(block_len=5, stride=5, select_block=3, top_n=4, n_initial=0, n_local=2, window=1),
        NSAConfig(block_len=3, stride=1, select_block=7, top_n=2, n_local=1, window=11),
        _SMALL.replace(branches=("cmp",)),
        _SMALL.replace(branches=("cmp", "slc")),
        _SMALL.replace(branches=("win",)),
        _SMALL.replace(branches=("cmp", "win")),
    ],
    ids=lambda c: (
        f"l{c.block_len}-d{c.stride}-lp{c.select_block}-n{c.top_n}-w{c.window}-"
        + "+".join(c.branches)
    ),
)
def test_tokens_per_query_matches_brute_force(cfg):
    ts = sorted(set(range(0, 80)) | {cfg.block_len - 1, cfg.block_len, 255, 511, 512, 1023, 4095})
    for t in ts:
        assert cfg.tokens_per_query(t) == _brute_tokens(cfg, t), t


def test_tokens_per_query_paper_values():
    cfg = NSAConfig()
    # t = 0: no compressed token, one selection token, one window token.
    assert cfg.tokens_per_query(0) == 0 + 1 + 1
    # t = 31: the first compression block has just ended.
    assert cfg.tokens_per_query(31) == 1 + 32 + 32
    # A long context: (t+1-32)//16+1 compressed, 16 whole blocks of 64 minus the cut own block, w.
    t = 65535
    assert cfg.tokens_per_query(t) == (t + 1 - 32) // 16 + 1 + 16 * 64 + 512


def test_tokens_per_query_bounds_the_keys_loaded_without_local_blocks():
    # Regression test for a bug the first version had (fixed).
    import torch

    from readingroom.nsa import select_blocks, selection_mask

    cfg = NSAConfig(
        block_len=4, stride=2, select_block=4, top_n=2, n_initial=0, n_local=0,
        branches=("cmp", "slc"),
    )
    t = 9
    scores = torch.tensor([[[[5.0, 4.0, 0.0]]]])  # [B, T, H_kv, N_s]: blocks 0 and 1 win
    idx = select_blocks(scores, torch.tensor([t]), cfg)
    assert idx[0, 0, 0].tolist() == [0, 1]
    loaded_slc = int(selection_mask(idx, torch.tensor([t]), t + 1, 4).sum())
    assert loaded_slc == 8
    loaded_cmp = cfg.replace(branches=("cmp",)).tokens_per_query(t)
    assert cfg.tokens_per_query(t) - loaded_cmp >= loaded_slc
