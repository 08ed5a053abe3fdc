"""Tests for looking inside NSA (readingroom.nsa.analysis), the chapter's figures
(readingroom.nsa.plots) and the decoding cost of Table 4 (readingroom.nsa.cost)."""

from __future__ import annotations

import dataclasses
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402

from readingroom.common.plotting import _BOOK_RC  # noqa: E402
from readingroom.common.train import TrainHistory  # noqa: E402
from readingroom.nsa import (  # noqa: E402
    CPU_CONFIG,
    NativeSparseAttention,
    NSAConfig,
    compressed_mask,
    compression_blocks,
    nsa_attention,
    num_compressed,
    window_mask,
)
from readingroom.nsa.analysis import attention_maps, branches_only, needle_distance  # noqa: E402
from readingroom.nsa.attention import nsa_decode  # noqa: E402
from readingroom.nsa.cost import PAPER_TABLE4, DecodeCost, decode_cost, decode_costs  # noqa: E402
from readingroom.nsa.plots import (  # noqa: E402
    _cmp_to_tokens,
    plot_branch_maps,
    plot_decode_cost,
    plot_query,
    plot_recall,
)
from readingroom.nsa.recall import RecallRun  # noqa: E402

F64 = torch.float64
CFG = NSAConfig(block_len=4, stride=2, select_block=8, top_n=3, window=5)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _qk(B=2, T=29, H=4, H_kv=2, D=3, cfg=CFG, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, T, H, D, generator=g, dtype=F64)
    k = torch.randn(B, T, H_kv, D, generator=g, dtype=F64)
    v = torch.randn(B, T, H_kv, D, generator=g, dtype=F64)
    k_cmp = compression_blocks(k, cfg.block_len, cfg.stride).mean(-2)
    v_cmp = compression_blocks(v, cfg.block_len, cfg.stride).mean(-2)
    return q, k, v, k_cmp, v_cmp


# --- attention_maps -------------------------------------------------------------------------


def _softmax_rows(logits: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    p = torch.softmax(logits.masked_fill(~visible, float("-inf")), -1)
    return torch.where(visible.any(-1, keepdim=True), p, torch.zeros_like(p))


@pytest.mark.parametrize("H,H_kv", [(4, 2), (2, 2), (4, 1)])
def test_attention_maps_are_the_branches_probabilities(H, H_kv):
    B, T, D = 2, 29, 3
    q, k, v, k_cmp, v_cmp = _qk(B, T, H, H_kv, D, seed=H + H_kv)
    G = H // H_kv
    maps = attention_maps(q, k, k_cmp, CFG)
    n_cmp = k_cmp.shape[1]
    assert set(maps) == {"cmp", "slc", "win", "indices"}
    assert maps["cmp"].shape == (B, T, H, n_cmp)
    assert maps["slc"].shape == maps["win"].shape == (B, T, H, T)
    assert maps["indices"].shape == (B, T, H_kv, CFG.top_n)

    # the same selection, compression probabilities and branch outputs as nsa_attention
    gates = torch.rand(B, T, H, 3, dtype=F64)
    parts = nsa_attention(q, k, v, k_cmp, v_cmp, gates, CFG, return_parts=True)
    assert torch.equal(maps["indices"], parts.indices)
    torch.testing.assert_close(maps["cmp"], parts.p_cmp, rtol=0, atol=0)
    vg = v.repeat_interleave(G, dim=2)  # [B, T, H, D]
    vcg = v_cmp.repeat_interleave(G, dim=2)
    for c, values in (("cmp", vcg), ("slc", vg), ("win", vg)):
        o = torch.einsum("bths,bshd->bthd", maps[c], values)
        torch.testing.assert_close(o, parts.branch[c], rtol=0, atol=1e-12, msg=c)

    # each map is the softmax of q.k / sqrt(D) over exactly the keys its branch sees
    scale = 1 / math.sqrt(D)
    pos = torch.arange(T)
    logits = torch.einsum("bthd,bshd->bths", q, k.repeat_interleave(G, dim=2)) * scale
    logits_cmp = torch.einsum("bthd,bshd->bths", q, k_cmp.repeat_interleave(G, dim=2)) * scale
    vis_cmp = compressed_mask(pos, n_cmp, CFG)[None, :, None, :].expand(B, T, H, n_cmp)
    vis_win = window_mask(pos, T, CFG.window)[None, :, None, :].expand(B, T, H, T)
    vis_slc = torch.zeros(B, T, H, T, dtype=torch.bool)
    for b in range(B):
        for t in range(T):
            for h in range(H):
                for s in range(t + 1):
                    chosen = maps["indices"][b, t, h // G].tolist()
                    vis_slc[b, t, h, s] = s // CFG.select_block in chosen
    cases = (("cmp", logits_cmp, vis_cmp), ("slc", logits, vis_slc), ("win", logits, vis_win))
    for c, lg, vis in cases:
        p = maps[c]
        assert torch.all(p.masked_select(~vis) == 0), c  # zero outside the branch's keys
        torch.testing.assert_close(p, _softmax_rows(lg, vis), rtol=0, atol=1e-12, msg=c)
        sums = p.sum(-1)
        seen = vis.any(-1)
        torch.testing.assert_close(sums[seen], torch.ones_like(sums[seen]), rtol=0, atol=1e-12)
        assert torch.all(sums[~seen] == 0), c
    # the first l - 1 queries see no compressed token; every query sees itself through slc, win
    assert not vis_cmp[:, : CFG.block_len - 1].any()
    assert vis_cmp[:, CFG.block_len - 1 :].any(-1).all()
    assert vis_slc.any(-1).all() and vis_win.any(-1).all()


def test_attention_maps_scale():
    q, k, _, k_cmp, _ = _qk(seed=9)
    default = attention_maps(q, k, k_cmp, CFG)
    same = attention_maps(q, k, k_cmp, CFG, scale=1 / math.sqrt(3))
    other = attention_maps(q, k, k_cmp, CFG, scale=2.0)
    for c in ("cmp", "slc", "win"):
        assert torch.equal(default[c], same[c])
    assert not torch.allclose(default["win"], other["win"])


def test_attention_maps_of_a_sequence_shorter_than_a_block():
    q, k, _, k_cmp, _ = _qk(T=3, seed=4)
    assert k_cmp.shape[1] == 0
    maps = attention_maps(q, k, k_cmp, CFG)
    assert maps["cmp"].shape == (2, 3, 4, 0)
    ones = torch.ones(2, 3, 4, dtype=F64)
    torch.testing.assert_close(maps["win"].sum(-1), ones, rtol=0, atol=1e-12)
    assert torch.equal(maps["indices"][0, 2, 0], torch.tensor([0, -1, -1]))


# --- branches_only --------------------------------------------------------------------------


def _layer(cfg=CFG, seed=0):
    torch.manual_seed(seed)
    layer = NativeSparseAttention(12, 4, 2, cfg=cfg).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_(0.0, 0.3)
    return layer


def test_branches_only_ablates_a_layer_and_restores_it():
    layer = _layer()
    x = torch.randn(2, 23, 12, dtype=F64)
    original = layer.cfg
    with torch.no_grad():
        full = layer(x)
        with branches_only(layer, ("cmp", "win")) as m:
            assert m is layer
            assert layer.cfg == original.replace(branches=("cmp", "win"))
            ablated = layer(x)
        twin = _layer(original.replace(branches=("cmp", "win")))
        twin.load_state_dict(layer.state_dict())
        expected = twin(x)
        after = layer(x)
    assert not torch.allclose(ablated, full)
    torch.testing.assert_close(ablated, expected, rtol=0, atol=0)
    assert layer.cfg is original
    torch.testing.assert_close(after, full, rtol=0, atol=0)


def test_branches_only_restores_after_an_exception():
    outer = nn.Sequential(_layer(), nn.Identity(), _layer(seed=1))
    saved = [outer[0].cfg, outer[2].cfg]
    with pytest.raises(KeyError):
        with branches_only(outer, ["win"]):
            assert outer[0].cfg.branches == outer[2].cfg.branches == ("win",)  # a list is accepted
            raise KeyError("inside")
    assert [outer[0].cfg, outer[2].cfg] == saved
    assert outer[0].cfg is saved[0] and outer[2].cfg is saved[1]


def test_branches_only_rejects_invalid_branches_and_leaves_the_model_alone():
    layer = _layer()
    original = layer.cfg
    with pytest.raises(ValueError, match="branches"):
        with branches_only(layer, ("slc",)):  # selection needs compression
            pass  # pragma: no cover
    assert layer.cfg is original


def test_branches_only_on_a_transformers_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    from readingroom.nsa.hf import enable_nsa

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=17, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, initializer_range=0.2)
    model = enable_nsa(LlamaForCausalLM(config), CFG).eval()
    ids = torch.randint(0, 17, (1, 21), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = model(ids).logits
        with branches_only(model, ("win",)):
            assert all(layer.self_attn.nsa.cfg.branches == ("win",) for layer in model.model.layers)
            ablated = model(ids).logits
        after = model(ids).logits
    assert not torch.allclose(ablated, full, atol=1e-4)
    assert all(layer.self_attn.nsa.cfg == CFG for layer in model.model.layers)
    torch.testing.assert_close(after, full, rtol=0, atol=0)


# --- needle_distance ------------------------------------------------------------------------


def test_needle_distance_by_hand():
    #                  0   1   2  3   4   5  6   7  8   9
    tokens = torch.tensor([[3, 20, 30, 1, 21, 31, 3, 20, 1, 21],
                           [2, 22, 2, 22, 30, 30, 30, 30, 2, 22]])
    targets = torch.full_like(tokens, -100)
    targets[0, 6], targets[0, 8] = 20, 21  # keys 3 (first at 0) and 1 (first at 3)
    targets[1, 8] = 22  # key 2, shown at 0 and again at 2: the first occurrence counts
    d = needle_distance(tokens, targets)
    assert d.tolist() == [6, 5, 8]
    assert d.dtype == torch.long


def test_needle_positions_by_hand():
    from readingroom.nsa.analysis import needle_positions

    tokens = torch.tensor([[3, 20, 30, 1, 21, 31, 3, 20, 1, 21],
                           [2, 22, 2, 22, 30, 30, 30, 30, 2, 22]])
    targets = torch.full_like(tokens, -100)
    targets[0, 6], targets[0, 8], targets[1, 8] = 20, 21, 22
    rows, queries, keys = needle_positions(tokens, targets)
    assert rows.tolist() == [0, 0, 1] and queries.tolist() == [6, 8, 8] and keys.tolist() == [0, 3, 0]
    assert all(x.dtype == torch.long for x in (rows, queries, keys))
    # the value asked for is the token right after the key's first occurrence
    assert tokens[rows, keys + 1].tolist() == targets[rows, queries].tolist()


# --- plots ----------------------------------------------------------------------------------


def _maps(T=29, seed=0):
    q, k, _, k_cmp, _ = _qk(T=T, seed=seed)
    return attention_maps(q, k, k_cmp, CFG)


def test_cmp_to_tokens_spreads_each_block_over_its_tokens():
    maps = _maps()
    p = maps["cmp"][0, :, 1].numpy()  # [T, N_c]
    out = _cmp_to_tokens(p, 29, CFG)
    assert out.shape == (29, 29)
    np.testing.assert_allclose(out.sum(1), p.sum(1), rtol=0, atol=1e-12)  # rows still sum to 1 or 0
    brute = np.zeros((29, 29))
    for i in range(p.shape[1]):
        for s in range(i * CFG.stride, i * CFG.stride + CFG.block_len):
            brute[:, s] += p[:, i] / CFG.block_len
    np.testing.assert_allclose(out, brute, rtol=0, atol=1e-15)


@pytest.mark.parametrize("head,batch", [(0, 0), (3, 1)])
def test_plot_branch_maps(head, batch):
    fig = plot_branch_maps(_maps(), CFG, head=head, batch=batch)
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert len(axes) == 3
    for ax in axes:
        (image,) = ax.get_images()
        assert image.get_array().shape == (29, 29)
    assert f"head {head}" in fig._suptitle.get_text()
    # window panel: sqrt of the window probabilities, masked where 0
    win = _maps()["win"][batch, :, head].numpy()
    shown = axes[2].get_images()[0].get_array()
    np.testing.assert_array_equal(np.ma.getmaskarray(shown), win <= 0)
    np.testing.assert_allclose(shown.filled(0), np.sqrt(win), rtol=0, atol=1e-12)


def test_plot_query():
    maps = _maps()
    t, head = 27, 3
    fig = plot_query(maps, CFG, t, head=head, batch=1, marks={"needle": 4, "other": 10})
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    g = head // 2  # G = 2
    chosen = [j for j in maps["indices"][1, t, g].tolist() if j >= 0]
    assert len(ax.patches) == len(chosen) == CFG.top_n  # one shaded band per selected block
    starts = sorted(round(p.get_x() + 0.5) for p in ax.patches)
    assert starts == [j * CFG.select_block for j in chosen]
    lines = ax.get_lines()
    assert len(lines) == 3 + 1 + 2  # three branches, the query, two marks
    np.testing.assert_allclose(lines[2].get_ydata(), maps["win"][1, t, head].numpy())
    assert {txt.get_text().strip() for txt in ax.texts} == {"needle", "other"}


def _run(name, n, acc):
    history = TrainHistory(losses=[2.0 - 0.01 * i for i in range(n)], seconds=1.0)
    curve = [(s, acc * s / n) for s in range(10, n + 1, 10)]
    return RecallRun(name, history, curve[-1][1], curve)


def test_plot_recall():
    runs = [_run("full", 30, 0.9), _run("nsa", 30, 0.8), _run("window", 30, 0.1)]
    with mpl.rc_context(_BOOK_RC):  # the chapter's style: loss and accuracy share each run's colour
        fig = plot_recall(runs)
        assert isinstance(fig, Figure)
        ax_loss, ax_acc = fig.axes
        acc_lines = ax_acc.get_lines()
        assert [line.get_label() for line in acc_lines] == ["full", "nsa", "window"]
        for line, run in zip(acc_lines, runs):
            assert list(line.get_xdata()) == [s for s, _ in run.curve]
            assert list(line.get_ydata()) == [a for _, a in run.curve]
        assert ax_acc.get_ylim() == (0, 1.02)
        names = {"full", "nsa", "window"}
        smoothed = [line for line in ax_loss.get_lines() if line.get_label() in names]
        assert len(smoothed) == 3
        for loss_line, acc_line in zip(smoothed, acc_lines):
            assert mpl.colors.same_color(loss_line.get_color(), acc_line.get_color())


def test_plot_decode_cost():
    costs = decode_costs()
    fig = plot_decode_cost(costs)
    assert isinstance(fig, Figure)
    ax_tok, ax_speed = fig.axes
    heights = [p.get_height() for p in ax_tok.patches]
    assert heights == [c.full for c in costs] + [c.nsa_exact for c in costs]
    lines = ax_speed.get_lines()
    assert len(lines) == 2  # expected, and the paper's values (every context is in Table 4)
    np.testing.assert_allclose(lines[1].get_ydata(), [PAPER_TABLE4[c.context][2] for c in costs])
    bench = {"device": "NVIDIA H200 (141 GB)", "results": [
        {"context": 8192, "measured_speedup": 3.1}, {"context": 65536, "measured_speedup": 9.0}]}
    fig = plot_decode_cost(costs, bench)
    measured = fig.axes[1].get_lines()[-1]
    assert len(fig.axes[1].get_lines()) == 3
    assert measured.get_label().startswith("measured: NVIDIA H200")
    assert list(measured.get_ydata()) == [3.1, 9.0]
    # a context outside Table 4: no paper line
    fig = plot_decode_cost(decode_costs((4096, 8192)))
    assert len(fig.axes[1].get_lines()) == 1


# --- cost -----------------------------------------------------------------------------------


@pytest.mark.parametrize("context", sorted(PAPER_TABLE4))
def test_decode_cost_reproduces_table_4(context):
    full, nsa, speedup = PAPER_TABLE4[context]
    c = decode_cost(context)
    assert isinstance(c, DecodeCost)
    assert (c.context, c.full, c.nsa_paper) == (context, full, nsa)
    assert round(c.speedup, 1) == speedup
    assert c.speedup == c.full / c.nsa_paper
    assert abs(c.nsa_exact - c.nsa_paper) <= 1
    assert c.nsa_exact == NSAConfig().tokens_per_query(context - 1)


def test_decode_costs_default_is_table_4():
    costs = decode_costs()
    assert [c.context for c in costs] == list(PAPER_TABLE4)
    assert costs == [decode_cost(c) for c in PAPER_TABLE4]
    assert decode_costs((100, 20), CFG) == [decode_cost(100, CFG), decode_cost(20, CFG)]
    assert decode_costs(()) == []


def test_decode_cost_small_config_by_hand():
    # l=4, d=2, l'=8, n=3, w=5 at s=20: paper 20//2 + 3*8 + 5 = 39; exact: 9 compressed tokens,
    # blocks 0, 1 and the first 4 tokens of block 2 (20), 5 window tokens
    assert decode_cost(20, CFG) == DecodeCost(20, 20, 39, 9 + 20 + 5)
    # one token: nothing compressed, the token itself through selection and window
    assert decode_cost(1, CFG) == DecodeCost(1, 1, 0 + 24 + 5, 0 + 1 + 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decode_cost(1, CFG).full = 3


@pytest.mark.parametrize("context", [1, 15, 16, 17, 100, 257])
def test_nsa_exact_is_what_a_decoding_step_reads(context):
    # Count the keys nsa_decode actually attends to for the last query (CPU config, n_local >= 1).
    cfg = CPU_CONFIG
    g = torch.Generator().manual_seed(context)
    S, D = context, 4
    k = torch.randn(1, S, 1, D, generator=g, dtype=F64)
    n_cmp = num_compressed(S, cfg.block_len, cfg.stride)
    kc = torch.randn(1, n_cmp, 1, D, generator=g, dtype=F64)
    _, idx = nsa_decode(torch.randn(1, 1, D, generator=g, dtype=F64), k, k, kc, kc,
                        torch.ones(1, 1, 3, dtype=F64), cfg)
    blocks = [j for j in idx[0, 0].tolist() if j >= 0]
    selected = sum(min(cfg.select_block, S - j * cfg.select_block) for j in blocks)
    assert decode_cost(context, cfg).nsa_exact == n_cmp + selected + min(cfg.window, S)


def test_plot_recall_records_draws_every_kind_and_seed():
    from readingroom.nsa.plots import plot_recall_records

    def record(seed):
        run = {"loss_every_10": [3.0, 2.0, 1.0], "curve": [[10, 0.1], [20, 0.6], [30, 0.9]]}
        return {"seed": seed, "runs": {"full": run, "nsa": run}}

    fig = plot_recall_records([record(0), record(1)], chance=0.0625)
    ax_loss, ax_acc = fig.axes
    assert len(ax_loss.get_lines()) == 4
    labels = [line.get_label() for line in ax_acc.get_lines()]
    assert len(labels) == 5  # two kinds x two seeds + the chance line
    assert [x for x in labels if not x.startswith("_")] == ["full", "nsa", "chance"]
    assert "seeds 0, 1" in ax_loss.get_title()
    plt.close(fig)


def test_learned_at():
    from readingroom.nsa.experiments import learned_at

    curve = [[100, 0.1], [200, 0.49], [300, 0.5], [400, 0.9]]
    assert learned_at(curve) == 300
    assert learned_at(curve, threshold=0.8) == 400
    assert learned_at(curve, threshold=0.95) is None
    assert learned_at([]) is None


def test_selected_blocks_equals_the_maps_indices():
    from readingroom.nsa.analysis import selected_blocks

    q, k, _, k_cmp, _ = _qk()
    maps = attention_maps(q, k, k_cmp, CFG)
    assert torch.equal(selected_blocks(q, k_cmp, CFG), maps["indices"])


def test_capture_returns_what_each_nsa_layer_saw():
    from readingroom.nsa.analysis import capture
    from readingroom.nsa.experiments import RecallRecipe, make_recall_model
    from readingroom.nsa.recall import RecallTask

    recipe = RecallRecipe(task=RecallTask(seq_len=40, n_pairs=1, n_queries=1), layers=2)
    model = make_recall_model("nsa", recipe).eval()
    tokens = torch.randint(0, recipe.task.vocab_size, (3, 40))
    seen = capture(model, tokens)
    assert len(seen) == 2
    for layer in seen:
        assert layer["q"].shape == (3, 40, 4, 16) and layer["k"].shape == (3, 40, 2, 16)
        assert layer["k_cmp"].shape == (3, (40 - 16) // 8 + 1, 2, 16)
        assert layer["gates"].shape == (3, 40, 4, 3)
        assert ((layer["gates"] >= 0) & (layer["gates"] <= 1)).all()
    # nothing is kept afterwards
    assert all(m.nsa.keep is None for m in model.modules() if hasattr(m, "nsa"))


def test_needle_selections_and_trace_relay_on_a_small_nsa_llama():
    from readingroom.nsa.analysis import Relay, capture, needle_positions, needle_selections, trace_relay
    from readingroom.nsa.experiments import RecallRecipe, make_recall_model
    from readingroom.nsa.recall import RecallTask

    cfg = NSAConfig(block_len=4, stride=2, select_block=4, top_n=3, window=4)
    recipe = RecallRecipe(task=RecallTask(seq_len=40, n_pairs=1, n_queries=1), nsa=cfg)
    torch.manual_seed(0)
    model = make_recall_model("nsa", recipe).eval()
    tokens, targets = recipe.task.sample(6, torch.Generator().manual_seed(1))
    selected, free = needle_selections(model, tokens, targets, cfg, batch=4)  # two batches
    assert selected.shape == (6, 2) and free.shape == (6,)
    rows, queries, keys = needle_positions(tokens, targets)
    for i in range(6):  # against the selection of each sequence taken on its own
        seen = capture(model, tokens[rows[i]][None])
        block = (int(keys[i]) + 1) // cfg.select_block
        for layer in range(2):
            chosen = attention_maps(seen[layer]["q"], seen[layer]["k"],
                                                   seen[layer]["k_cmp"], cfg)["indices"]
            assert bool(selected[i, layer]) == bool((chosen[0, queries[i]] == block).any())
        own = int(queries[i]) // cfg.select_block
        assert bool(free[i]) == (block != 0 and block <= own - cfg.n_local)
    seen = capture(model, tokens[:1])
    maps = [attention_maps(x["q"], x["k"], x["k_cmp"], cfg) for x in seen]
    hop = trace_relay(seen, maps, value=int(keys[0]) + 1, query=int(queries[0]))
    assert isinstance(hop, Relay) and 0 <= hop.relay <= hop.query
    gated1 = maps[1]["slc"][0, hop.query] * seen[1]["gates"][0, hop.query, :, 1:2]
    assert hop.relay == int(gated1.sum(0).argmax()) and hop.head1 == int(gated1[:, hop.relay].argmax())


def test_recall_hits_are_per_query():
    from readingroom.nsa.recall import recall_accuracy, recall_hits

    targets = torch.full((2, 5), -100)
    targets[0, 3], targets[1, 1], targets[1, 4] = 7, 2, 4

    class Oracle(nn.Module):  # right on every query except (1, 4)
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, tokens):
            logits = torch.zeros(*tokens.shape, 8)
            t = targets.clamp(min=0)
            t[1, 4] = 5
            return logits.scatter(-1, t[..., None], 1.0)

    hits = recall_hits(Oracle(), torch.zeros(2, 5, dtype=torch.long), targets)
    assert hits.tolist() == [True, True, False] and hits.dtype == torch.bool
    assert recall_accuracy(Oracle(), torch.zeros(2, 5, dtype=torch.long), targets) == pytest.approx(2 / 3)
