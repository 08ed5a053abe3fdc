"""Tests for readingroom.clt.adapter: the hook sites of TinyTransformer, GPT-2 and Llama, collect(),
traced() and freezing by substitution (Frozen record / apply)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from readingroom.clt import Frozen, ModelAdapter, collect, traced
from readingroom.clt.adapter import _TRACE_STATE
from readingroom.clt.task import batch
from readingroom.common import TinyTransformer, TransformerConfig

KINDS = ("tiny", "gpt2", "llama")
# Llama's RMSNorm computes in float32 even in a float64 model, so the live model is float32-exact
LIVE_TOL64 = {"tiny": 1e-12, "gpt2": 1e-12, "llama": 1e-5}


@pytest.fixture(scope="module")
def tokens(world):
    """Four 3-token prompts (state and capital questions)."""
    return batch(world.select("state")[:2] + world.select("capital")[3:5])[0]


def _double(model: nn.Module) -> ModelAdapter:
    return ModelAdapter(copy.deepcopy(model).double())


def _hook_counts(model: nn.Module) -> list[tuple[int, int]]:
    return [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in model.modules()]


# --- sites ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_sites_and_sizes(kind, models, tokens, world):
    adapter = ModelAdapter(models[kind])
    assert adapter.n_layers == 2 and adapter.d_model == 32
    assert len(adapter.mlps) == len(adapter.mlp_inputs) == 2
    assert len(adapter.norms) == 5  # two per block and the final one
    assert adapter.is_hf == (kind != "tiny")
    assert adapter.dtype == torch.float32 and adapter.device == torch.device("cpu")
    logits = adapter.logits(tokens)
    assert logits.shape == (4, 3, world.vocab_size)


def test_sites_are_the_expected_modules(models):
    tiny = ModelAdapter(models["tiny"])
    assert tiny.embedding is models["tiny"].emb_dropout
    assert tiny.mlps == [b.mlp for b in models["tiny"].blocks]
    assert tiny.mlp_inputs == [b.ln2 for b in models["tiny"].blocks]
    gpt2 = ModelAdapter(models["gpt2"])
    assert gpt2.embedding is models["gpt2"].transformer.drop
    assert gpt2.mlp_inputs == [b.ln_2 for b in models["gpt2"].transformer.h]
    llama = ModelAdapter(models["llama"])
    assert llama.embedding is models["llama"].model.embed_tokens
    assert llama.mlp_inputs == [b.post_attention_layernorm for b in models["llama"].model.layers]


@pytest.mark.parametrize("kind", KINDS)
def test_logits_match_the_plain_model(kind, models, tokens):
    model = models[kind]
    out = model(tokens)
    plain = out if kind == "tiny" else out.logits
    assert torch.equal(ModelAdapter(model).logits(tokens), plain)


# --- collect --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_collect_shapes_and_mlp_relation(kind, models, tokens):
    adapter = ModelAdapter(models[kind])
    x, y = collect(adapter, tokens)
    assert x.shape == y.shape == (2, 4, 3, 32)
    assert not x.requires_grad and not y.requires_grad
    with torch.no_grad():
        for layer in range(2):  # y[l] is the MLP applied to the normalised x[l]
            mlp_of_x = adapter.mlps[layer](adapter.mlp_inputs[layer](x[layer]))
            assert torch.allclose(mlp_of_x, y[layer], atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_collect_y_is_what_the_mlps_output(kind, models, tokens):
    adapter = ModelAdapter(models[kind])
    with torch.no_grad():
        plain = adapter.logits(tokens)
        _, y = collect(adapter, tokens)
        with traced(adapter, mlp_out=lambda l, o: y[l]):
            same = adapter.logits(tokens)
        with traced(adapter, mlp_out=lambda l, o: o * 0):
            ablated = adapter.logits(tokens)
    assert torch.equal(same, plain)
    assert (ablated - plain).abs().max() > 1e-3


@pytest.mark.parametrize("kind", KINDS)
def test_on_embed_sees_and_embed_replaces_the_embedding(kind, models, tokens):
    adapter = ModelAdapter(models[kind])
    seen = []
    with torch.no_grad():
        plain = adapter.logits(tokens)
        with traced(adapter, on_embed=seen.append):
            adapter.logits(tokens)
        (emb,) = seen
        assert emb.shape == (4, 3, 32)
        with traced(adapter, embed=emb):
            assert torch.equal(adapter.logits(tokens), plain)
        with traced(adapter, embed=emb * 0):
            assert not torch.allclose(adapter.logits(tokens), plain, atol=1e-3)


@pytest.mark.parametrize("kind", KINDS)
def test_on_mid_sees_the_residual_stream_collect_returns(kind, models, tokens):
    adapter = ModelAdapter(models[kind])
    mids = {}
    with torch.no_grad(), traced(adapter, on_mid=lambda l, x: mids.__setitem__(l, x)):
        adapter.logits(tokens)
    x, _ = collect(adapter, tokens)
    assert sorted(mids) == [0, 1]
    assert all(torch.equal(mids[l], x[l]) for l in range(2))


# --- freezing -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_recording_does_not_change_the_logits(kind, models, tokens):
    adapter = ModelAdapter(models[kind])
    frozen = Frozen()
    with torch.no_grad():
        plain = adapter.logits(tokens)
        with traced(adapter, freeze=frozen):
            recorded = adapter.logits(tokens)
    # HF models switch to the tracing attention (grouped-query for Llama) while recording
    assert torch.allclose(recorded, plain, atol=1e-5)
    assert len(frozen.scales) == 5 and sorted(frozen.patterns) == [0, 1]
    for scale in frozen.scales.values():
        assert scale.shape == (4, 3, 1) and bool((scale > 0).all())
    for pattern in frozen.patterns.values():
        assert pattern.shape == (4, 4, 3, 3)  # [B, H, T, T]
        assert torch.allclose(pattern.sum(-1), torch.ones(4, 4, 3), atol=1e-6)
        assert bool((pattern.triu(1) == 0).all())  # causal


@pytest.mark.parametrize("kind", KINDS)
def test_apply_reproduces_the_recorded_logits(kind, models, tokens):
    adapter = _double(models[kind])
    frozen = Frozen("record")
    with torch.no_grad():
        with traced(adapter, freeze=frozen):
            recorded = adapter.logits(tokens)
        with traced(adapter, freeze=frozen.applied()):
            applied = adapter.logits(tokens)
    assert recorded.dtype == applied.dtype == torch.float64
    assert torch.allclose(applied, recorded, rtol=0, atol=LIVE_TOL64[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_apply_float32_reproduces_the_recorded_logits(kind, models, tokens):
    adapter = ModelAdapter(models[kind])
    frozen = Frozen("record")
    with torch.no_grad():
        with traced(adapter, freeze=frozen):
            recorded = adapter.logits(tokens)
        with traced(adapter, freeze=frozen.applied()):
            applied = adapter.logits(tokens)
    assert torch.allclose(applied, recorded, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_a_batch_one_recording_broadcasts(kind, models, tokens):
    adapter = _double(models[kind])
    frozen = Frozen()
    with torch.no_grad():
        with traced(adapter, freeze=frozen):
            recorded = adapter.logits(tokens[1:2])
        with traced(adapter, freeze=frozen.applied()):
            applied = adapter.logits(tokens[1:2].expand(3, -1))
    assert applied.shape[0] == 3
    for row in applied:
        assert torch.allclose(row, recorded[0], rtol=0, atol=LIVE_TOL64[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_applying_a_recording_to_another_batch_size_fails(kind, models, tokens):
    adapter = ModelAdapter(models[kind])
    frozen = Frozen()
    with torch.no_grad():
        with traced(adapter, freeze=frozen):
            adapter.logits(tokens[:2])
        with pytest.raises(ValueError, match="recorded for batch 2, cannot apply it to batch 3"):
            with traced(adapter, freeze=frozen.applied()):
                adapter.logits(tokens[:3])
    assert all(c == (0, 0) for c in _hook_counts(models[kind]))


def _embedding_response(adapter, tokens, *, freeze: bool):
    """``f(e)``: logits as a function of the embedding, with the MLP outputs held at their clean
    values (so that only norms and attention can make ``f`` non-linear)."""
    frozen, seen = Frozen(), []
    with torch.no_grad():
        with traced(adapter, freeze=frozen, on_embed=seen.append):
            adapter.logits(tokens)
        _, y = collect(adapter, tokens)
    applied = frozen.applied() if freeze else None

    def f(e):
        with torch.no_grad(), traced(adapter, freeze=applied, embed=e, mlp_out=lambda l, o: y[l]):
            return adapter.logits(tokens)

    return f, seen[0]


@pytest.mark.parametrize("kind", KINDS)
def test_frozen_model_is_affine_in_the_embedding(kind, models, tokens):
    adapter = _double(models[kind])
    f, emb = _embedding_response(adapter, tokens, freeze=True)
    g = torch.Generator().manual_seed(0)
    d1 = torch.randn(emb.shape, generator=g, dtype=emb.dtype)
    d2 = torch.randn(emb.shape, generator=g, dtype=emb.dtype)
    zero = f(torch.zeros_like(emb))
    # scaling: f(2e) - f(e) == f(e) - f(0)
    assert torch.allclose(f(2 * emb) - f(emb), f(emb) - zero, rtol=0, atol=1e-10)
    # additivity: f(e + d1 + d2) - f(e + d1) - f(e + d2) + f(e) == 0
    second = f(emb + d1 + d2) - f(emb + d1) - f(emb + d2) + f(emb)
    assert second.abs().max() < 1e-10
    assert (f(emb + d1) - f(emb)).abs().max() > 1e-3  # and it does respond


@pytest.mark.parametrize("kind", KINDS)
def test_live_model_is_not_affine_in_the_embedding(kind, models, tokens):
    adapter = _double(models[kind])
    f, emb = _embedding_response(adapter, tokens, freeze=False)
    assert ((f(2 * emb) - f(emb)) - (f(emb) - f(torch.zeros_like(emb)))).abs().max() > 1e-3


@pytest.mark.parametrize("kind", KINDS)
def test_frozen_gradient_matches_finite_differences(kind, models, tokens):
    """Freezing by substitution: gradients and forward values describe the same linear map."""
    adapter = _double(models[kind])
    f, emb = _embedding_response(adapter, tokens, freeze=True)
    direction = torch.randn(emb.shape, generator=torch.Generator().manual_seed(1), dtype=emb.dtype)
    e = emb.clone().requires_grad_(True)
    frozen = Frozen()
    with torch.no_grad(), traced(adapter, freeze=frozen):
        adapter.logits(tokens)
    _, y = collect(adapter, tokens)
    with traced(adapter, freeze=frozen.applied(), embed=e, mlp_out=lambda l, o: y[l]):
        out = adapter.logits(tokens)[:, -1, 3].sum()
    (grad,) = torch.autograd.grad(out, e)
    fd = (f(emb + direction) - f(emb))[:, -1, 3].sum()
    assert torch.allclose((grad * direction).sum(), fd, rtol=1e-8, atol=1e-9)


def test_frozen_to_casts_every_tensor(models, tokens):
    adapter = ModelAdapter(models["tiny"])
    frozen = Frozen()
    with torch.no_grad(), traced(adapter, freeze=frozen):
        adapter.logits(tokens)
    cast = frozen.to(torch.float64)
    assert cast.mode == "record"
    assert all(v.dtype == torch.float64 for v in [*cast.scales.values(), *cast.patterns.values()])
    assert cast.scales.keys() == frozen.scales.keys()
    applied = frozen.applied()
    assert applied.mode == "apply" and applied.scales is frozen.scales


def test_a_model_without_layer_norm(world, tokens):
    torch.manual_seed(0)
    model = TinyTransformer(TransformerConfig(vocab_size=world.vocab_size, n_ctx=8, d_model=16,
                                              n_heads=2, layer_norm=False)).eval().double()
    adapter = ModelAdapter(model)
    assert adapter.norms == []
    frozen = Frozen()
    with torch.no_grad():
        with traced(adapter, freeze=frozen):
            recorded = adapter.logits(tokens)
        assert not frozen.scales and sorted(frozen.patterns) == [0, 1]
        with traced(adapter, freeze=frozen.applied()):
            assert torch.allclose(adapter.logits(tokens), recorded, rtol=0, atol=1e-12)


# Regression: an epsilon of 0.0 must not be mistaken for a missing one.
@pytest.mark.parametrize("kind", ["tiny", "gpt2"])
def test_apply_reproduces_a_model_whose_layer_norm_eps_is_zero(kind, make_model, world, tokens):
    model = make_model(kind, world.vocab_size)
    for module in model.modules():
        if isinstance(module, nn.LayerNorm):
            module.eps = 0.0
    adapter = _double(model)
    frozen = Frozen()
    with torch.no_grad():
        with traced(adapter, freeze=frozen):
            recorded = adapter.logits(tokens)
        with traced(adapter, freeze=frozen.applied()):
            applied = adapter.logits(tokens)
    assert torch.allclose(applied, recorded, rtol=0, atol=1e-10)


# Regression: on_embed / on_mid observe; whatever they return must not replace activations.
@pytest.mark.parametrize("callback", ["on_embed", "on_mid"])
def test_observer_callbacks_do_not_change_the_model(callback, models, tokens):
    adapter = ModelAdapter(models["tiny"])
    observer = {"on_embed": lambda e: torch.zeros_like(e),
                "on_mid": lambda l, x: torch.zeros_like(x)}[callback]
    with torch.no_grad():
        plain = adapter.logits(tokens)
        with traced(adapter, **{callback: observer}):
            observed = adapter.logits(tokens)
    assert torch.equal(observed, plain)


# --- hooks are removed ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_hooks_are_removed_after_the_context(kind, make_model, world, tokens):
    model = make_model(kind, world.vocab_size)
    before = _hook_counts(model)
    adapter = ModelAdapter(model)
    implementation = model.config._attn_implementation if kind != "tiny" else None
    frozen = Frozen()
    with torch.no_grad():
        with traced(adapter, freeze=frozen, on_embed=lambda e: None, on_mid=lambda l, x: None,
                    mlp_out=lambda l, o: o):
            adapter.logits(tokens)
            assert _hook_counts(model) != before
        with traced(adapter, freeze=frozen.applied(), embed=torch.zeros(4, 3, 32)):
            adapter.logits(tokens)
    assert _hook_counts(model) == before
    assert not _TRACE_STATE
    if kind != "tiny":
        assert model.config._attn_implementation == implementation


@pytest.mark.parametrize("kind", KINDS)
def test_hooks_are_removed_when_the_body_raises(kind, make_model, world, tokens):
    model = make_model(kind, world.vocab_size)
    if kind != "tiny":
        model.set_attn_implementation("eager")
    before = _hook_counts(model)
    with pytest.raises(RuntimeError, match="boom"):
        with traced(ModelAdapter(model), freeze=Frozen(), on_mid=lambda l, x: None):
            raise RuntimeError("boom")
    assert _hook_counts(model) == before
    assert not _TRACE_STATE
    if kind != "tiny":
        assert model.config._attn_implementation == "eager"


# --- errors ---------------------------------------------------------------------------------


def test_traced_rejects_a_bad_freeze(models):
    model = models["tiny"]
    with pytest.raises(TypeError, match="freeze must be a Frozen"):
        with traced(ModelAdapter(model), freeze="record"):
            pass
    assert all(c == (0, 0) for c in _hook_counts(model))
