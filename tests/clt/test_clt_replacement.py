"""Tests for readingroom.clt.replacement: the replacement model, interventions on the real model
(clamped features move the MLP outputs by their decoders) and the local replacement model."""

from __future__ import annotations

import copy

import pytest
import torch

from readingroom.clt import (
    ModelAdapter, attribute, collect, intervene,
    local_replacement_logits, predict_ablation, replacement_logits, traced,
)
from readingroom.clt.task import batch

KINDS = ("tiny", "gpt2", "llama")
LIVE_TOL = {"tiny": 1e-10, "gpt2": 1e-10, "llama": 1e-5}  # Llama's RMSNorm computes in float32
# The graph's feature values come from the live float64 model; local_replacement_logits recomputes
# them in the frozen one. Both agree to rounding, except for Llama, whose live RMSNorm rounds to
# float32, so its recomputed features differ from the graph's by ~1e-7.
LOCAL_TOL = {"tiny": 1e-10, "gpt2": 1e-10, "llama": 1e-5}


@pytest.fixture(scope="module")
def dallas(world):
    return torch.tensor(world.prompt("capital", city="Dallas").tokens)


@pytest.fixture(scope="module")
def tokens(world):
    return batch(world.select("state")[3:5] + world.select("capital")[:2])[0]


@pytest.fixture(scope="module")
def graphs(models, clts, dallas):
    return {kind: attribute(ModelAdapter(models[kind]), clts[kind], dallas) for kind in KINDS}


def _double(model, clt):
    return ModelAdapter(copy.deepcopy(model).double()), copy.deepcopy(clt).double()


@torch.no_grad()
def _activations(adapter, clt, tokens):
    x, _ = collect(adapter, tokens)
    return clt.encode(x)  # [L, B, T, F]


def _strongest(a: torch.Tensor, layer: int, pos: int, row: int = 0) -> int:
    return int(a[layer, row, pos].argmax())


def _next_norm(model, kind: str, layer: int):
    """The module whose input is the residual stream after block ``layer``."""
    if kind == "tiny":
        return model.blocks[layer + 1].ln1 if layer + 1 < len(model.blocks) else model.ln_f
    if kind == "gpt2":
        h = model.transformer.h
        return h[layer + 1].ln_1 if layer + 1 < len(h) else model.transformer.ln_f
    layers = model.model.layers
    return layers[layer + 1].input_layernorm if layer + 1 < len(layers) else model.model.norm


# --- intervene ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_intervene_without_clamps_is_the_model(kind, models, clts, tokens):
    adapter = ModelAdapter(models[kind])
    with torch.no_grad():
        plain = adapter.logits(tokens)
    out = intervene(adapter, clts[kind], tokens, {})
    assert out.shape == plain.shape
    assert torch.allclose(out, plain, rtol=0, atol=1e-7)


@pytest.mark.parametrize("kind", KINDS)
def test_intervene_accepts_one_prompt_as_1d(kind, models, clts, dallas):
    adapter = ModelAdapter(models[kind])
    out = intervene(adapter, clts[kind], dallas, {})
    assert out.shape == (1, 3, adapter.logits(dallas[None]).shape[-1])


@pytest.mark.parametrize("kind", KINDS)
def test_clamping_a_feature_to_its_value_changes_nothing(kind, models, clts, tokens):
    adapter = ModelAdapter(models[kind])
    a = _activations(adapter, clts[kind], tokens[:1])
    i = _strongest(a, 0, 1)
    j = _strongest(a, 1, 2)
    clamps = {(0, 1, i): float(a[0, 0, 1, i]), (1, 2, j): float(a[1, 0, 2, j])}
    assert all(v > 0 for v in clamps.values())
    with torch.no_grad():
        plain = adapter.logits(tokens[:1])
    assert torch.allclose(intervene(adapter, clts[kind], tokens[:1], clamps), plain, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("new", [0.0, 3.0])
def test_clamping_moves_the_mlp_outputs_by_the_decoders(kind, new, models, clts, dallas):
    """y_l += W_dec^{0 -> l} (a_new - a) / out_scale_l at the clamped position; everything else
    in the MLP outputs is what the real MLPs compute on the (changed) residual stream."""
    adapter, clt = _double(models[kind], clts[kind])
    tokens = dallas[None]
    a = _activations(adapter, clt, tokens)
    pos = 1
    i = _strongest(a, 0, pos)
    change = new - float(a[0, 0, pos, i])
    mids, posts, handles = {}, {}, []
    for layer in range(2):
        handles.append(adapter.mlp_inputs[layer].register_forward_pre_hook(
            lambda m, inp, layer=layer: mids.__setitem__(layer, inp[0])))
        handles.append(_next_norm(adapter.model, kind, layer).register_forward_pre_hook(
            lambda m, inp, layer=layer: posts.__setitem__(layer, inp[0])))
    try:
        clamped = intervene(adapter, clt, tokens, {(0, pos, i): new})
    finally:
        for h in handles:
            h.remove()
    with torch.no_grad():
        plain = adapter.logits(tokens)
        for layer in range(2):
            real = adapter.mlps[layer](adapter.mlp_inputs[layer](mids[layer]))
            shift = posts[layer] - mids[layer] - real  # [1, T, D]
            expected = torch.zeros_like(shift)
            expected[0, pos] = clt.W_dec[0][i, layer] * change / clt.out_scale[layer]
            assert torch.allclose(shift, expected, rtol=1e-9, atol=1e-10), layer
    assert (clamped - plain).abs().max() > 1e-4
    assert torch.allclose(clamped[:, :pos], plain[:, :pos], atol=1e-12)  # causal


@pytest.mark.parametrize("kind", KINDS)
def test_clamps_apply_to_every_row_of_a_batch(kind, models, clts, tokens):
    adapter = ModelAdapter(models[kind])
    clamps = {(0, 2, 3): 2.0, (1, -1, 5): 0.0}
    out = intervene(adapter, clts[kind], tokens, clamps)
    for row in range(tokens.shape[0]):
        single = intervene(adapter, clts[kind], tokens[row:row + 1], clamps)
        assert torch.allclose(out[row], single[0], atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_negative_positions_are_normalised(kind, models, clts, tokens):
    adapter = ModelAdapter(models[kind])
    neg = intervene(adapter, clts[kind], tokens, {(0, -2, 4): 5.0, (1, -3, 1): 5.0})
    pos = intervene(adapter, clts[kind], tokens, {(0, 1, 4): 5.0, (1, 0, 1): 5.0})
    assert torch.equal(neg, pos)
    with torch.no_grad():
        assert (neg - adapter.logits(tokens)).abs().max() > 1e-4


def test_intervene_leaves_no_hooks(models, clts, tokens):
    model = models["gpt2"]
    implementation = model.config._attn_implementation
    intervene(ModelAdapter(model), clts["gpt2"], tokens, {(0, 0, 0): 1.0})
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert model.config._attn_implementation == implementation


# --- replacement_logits ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_replacement_logits_shape_and_difference(kind, models, clts, tokens, dallas):
    adapter = ModelAdapter(models[kind])
    out = replacement_logits(adapter, clts[kind], tokens)
    with torch.no_grad():
        plain = adapter.logits(tokens)
    assert out.shape == plain.shape and out.dtype == plain.dtype
    assert bool(torch.isfinite(out).all())
    assert not torch.allclose(out, plain, atol=1e-4)  # the CLT is not exact
    assert replacement_logits(adapter, clts[kind], dallas).shape == (1, 3, plain.shape[-1])


@pytest.mark.parametrize("kind", KINDS)
def test_replacement_logits_put_the_decoder_in_place_of_the_mlps(kind, models, clts, tokens):
    """With zero decoders every MLP output is the constant b_dec / out_scale."""
    adapter = ModelAdapter(models[kind])
    clt = copy.deepcopy(clts[kind])
    with torch.no_grad():
        for w in clt.W_dec:
            w.zero_()
        clt.b_dec.copy_(torch.randn(clt.b_dec.shape, generator=torch.Generator().manual_seed(0)))
        constant = clt.b_dec / clt.out_scale[:, None]
        with traced(adapter, mlp_out=lambda l, o: torch.zeros_like(o) + constant[l]):
            expected = adapter.logits(tokens)
    assert torch.allclose(replacement_logits(adapter, clt, tokens), expected, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_replacement_features_are_read_from_the_replacement_stream(kind, models, clts, tokens):
    """Built pass by pass: layer 0's features read the real stream (nothing is replaced before
    MLP 0); layer 1's read the stream in which MLP 0 was already replaced."""
    adapter, clt = ModelAdapter(models[kind]), clts[kind]
    with torch.no_grad():
        x, _ = collect(adapter, tokens)
        a0 = clt.encode(x)[0]
        y0 = clt.decode_layer([a0], 0)
        mids = {}
        with traced(adapter, on_mid=lambda l, m: mids.__setitem__(l, m),
                    mlp_out=lambda l, o: y0 if l == 0 else o):
            adapter.logits(tokens)
        a1 = clt.activate(clt.preactivations(mids[1], 1), 1)
        y1 = clt.decode_layer([a0, a1], 1)
        with traced(adapter, mlp_out=lambda l, o: y0 if l == 0 else y1):
            expected = adapter.logits(tokens)
        real_a1 = clt.encode(x)[1]
    assert not torch.equal(a1, real_a1)
    assert torch.allclose(replacement_logits(adapter, clt, tokens), expected, atol=1e-6)


# --- local_replacement_logits ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_local_replacement_without_clamps_is_the_float64_model(kind, graphs):
    g = graphs[kind]
    rep = g.replacement
    out = local_replacement_logits(g, {})
    with torch.no_grad():
        live = rep.adapter.logits(rep.tokens)[0]
    assert out.shape == live.shape and out.dtype == torch.float64
    assert torch.allclose(out, live, rtol=0, atol=LIVE_TOL[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_local_replacement_clamp_to_own_value_changes_nothing(kind, graphs):
    g = graphs[kind]
    clamps = {g.nodes[i].key: g.nodes[i].value for i in g.indices("feature")[::5]}
    base = local_replacement_logits(g, {})
    assert torch.allclose(local_replacement_logits(g, clamps), base, rtol=0, atol=LOCAL_TOL[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_local_replacement_agrees_with_the_graph_for_last_layer_features(kind, graphs):
    """A last-layer feature has no downstream features, so the graph's linear prediction is the
    local replacement model's exact response."""
    g = graphs[kind]
    base = local_replacement_logits(g, {})
    ids = [g.nodes[i].index for i in g.indices("logit")]
    last = [i for i in g.indices("feature") if g.nodes[i].layer == 1 and g.nodes[i].pos == 2]
    assert last
    for s in last[:4]:
        for new in (0.0, 2.5 * g.nodes[s].value):
            out = local_replacement_logits(g, {g.nodes[s].key: new})
            moved = (out[-1] - out[-1].mean()) - (base[-1] - base[-1].mean())
            predicted = predict_ablation(g, {s: new})
            assert torch.allclose(moved[ids], predicted, rtol=0, atol=LOCAL_TOL[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_local_replacement_negative_positions(kind, graphs):
    g = graphs[kind]
    a = local_replacement_logits(g, {(0, -1, 2): 4.0, (1, -3, 0): 1.0})
    b = local_replacement_logits(g, {(0, 2, 2): 4.0, (1, 0, 0): 1.0})
    assert torch.equal(a, b)
    assert (a - local_replacement_logits(g, {})).abs().max() > 1e-6
