"""Tests for readingroom.nsa.hf: NSA as a transformers attention implementation, on tiny Llama
models built from a config (no download)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM

from readingroom.nsa import NSAConfig, compression_blocks, num_compressed
from readingroom.nsa.hf import (
    IMPLEMENTATION,
    NSAParams,
    enable_nsa,
    nsa_attention_forward,
    register,
)

CFG = NSAConfig(block_len=4, stride=2, select_block=4, top_n=3, window=5)
VOCAB = 23


def _llama(layers=2, heads=4, kv_heads=2, hidden=16, seed=0, init=0.2) -> LlamaForCausalLM:
    """A random LlamaForCausalLM (weights std ``init``, so that logits are far from uniform)."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=hidden, intermediate_size=2 * hidden,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
        max_position_embeddings=128, initializer_range=init, attn_implementation="sdpa",
    )
    return LlamaForCausalLM(config).eval()


def _attn_layers(model):
    return [layer.self_attn for layer in model.model.layers]


def _nsa_model(cfg=CFG, seed=0, **kw) -> LlamaForCausalLM:
    """A Llama with NSA whose φ and gates have random weights (so every path changes numbers)."""
    model = enable_nsa(_llama(seed=seed, **kw), cfg)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for layer in _attn_layers(model):
            for p in layer.nsa.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return model.eval()


def _ids(B=2, T=21, seed=3):
    return torch.randint(0, VOCAB, (B, T), generator=torch.Generator().manual_seed(seed))


# --- enable_nsa -----------------------------------------------------------------------------


def test_enable_nsa_switches_the_implementation_and_adds_parameters():
    model = _llama()
    n_before = sum(p.numel() for p in model.parameters())
    assert enable_nsa(model, CFG) is model
    assert model.config._attn_implementation == IMPLEMENTATION == "nsa"
    layers = _attn_layers(model)
    assert len(layers) == 2
    expected = NSAParams(16, 4, 4, CFG, "torch")
    for layer in layers:
        assert isinstance(layer.nsa, NSAParams)
        assert layer.nsa.cfg == CFG and layer.nsa.backend == "torch" and layer.nsa.n_heads == 4
        assert layer.nsa.w_g[0].in_features == 16 and layer.nsa.w_g[-1].out_features == 3 * 4
        assert layer.nsa.phi_k.head_dim == 4 and layer.nsa.phi_k.block_len == CFG.block_len
        assert layer.nsa.keep is None
    n_nsa = sum(p.numel() for p in expected.parameters())
    assert sum(p.numel() for p in model.parameters()) == n_before + 2 * n_nsa
    names = {n for n, _ in model.named_parameters()}
    assert "model.layers.1.self_attn.nsa.w_g.2.weight" in names
    assert "model.layers.0.self_attn.nsa.phi_k.fc1.weight" in names
    assert any(k.startswith("model.layers.0.self_attn.nsa.") for k in model.state_dict())


def test_default_config_is_the_papers():
    model = enable_nsa(_llama(layers=1))
    assert _attn_layers(model)[0].nsa.cfg == NSAConfig()


def test_nsa_parameters_get_gradients():
    model = _llama().train()
    enable_nsa(model, CFG)
    ids = _ids()
    out = model(ids, labels=ids)
    out.loss.backward()
    for name, p in model.named_parameters():
        if ".nsa." in name:
            assert p.grad is not None, name
            assert torch.isfinite(p.grad).all(), name
    for layer in _attn_layers(model):
        # fc2 starts at zero, so φ starts as mean pooling and fc1's gradient is 0 at first; the
        # gate, the position encoding and fc2 do get a gradient
        for p in (layer.nsa.w_g[0].weight, layer.nsa.w_g[-1].weight, layer.nsa.phi_k.fc2.weight, layer.nsa.phi_v.fc2.weight,
                  layer.nsa.phi_k.pos):
            assert p.grad.abs().sum() > 0


def test_enable_nsa_twice_replaces_the_parameters_and_keeps_one_hook():
    model = _llama(layers=1)
    enable_nsa(model, CFG)
    layer = _attn_layers(model)[0]
    first, hooks = layer.nsa, len(layer._forward_pre_hooks)
    cfg2 = CFG.replace(window=3)
    enable_nsa(model, cfg2)
    assert layer.nsa is not first and layer.nsa.cfg == cfg2
    assert len(layer._forward_pre_hooks) == hooks == 1
    assert model(_ids()).logits.shape == (2, 21, VOCAB)


def test_parameters_follow_the_model_dtype():
    model = _llama(layers=1).double()
    enable_nsa(model, CFG)
    assert all(p.dtype == torch.float64 for p in _attn_layers(model)[0].nsa.parameters())
    assert model(_ids()).logits.dtype == torch.float64


def test_window_only_nsa_with_open_gates_is_the_models_own_attention():
    # Only the window branch, w >= T and every gate 1: NSA is causal softmax attention, so the
    # logits equal those of the same weights under SDPA.
    ids = _ids(T=24)
    sdpa = _llama(seed=4)
    with torch.no_grad():
        ref = sdpa(ids).logits
    model = enable_nsa(sdpa, CFG.replace(branches=("win",), window=64))
    with torch.no_grad():
        for layer in _attn_layers(model):
            layer.nsa.w_g[-1].weight.zero_()
            layer.nsa.w_g[-1].bias.fill_(40.0)  # sigmoid(40) == 1.0 in float32
        got = model(ids).logits
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-5)


def test_nsa_changes_the_logits():
    ids = _ids()
    sdpa = _llama(seed=5)
    with torch.no_grad():
        ref = sdpa(ids).logits
        got = enable_nsa(sdpa, CFG)(ids).logits
    assert not torch.allclose(got, ref, atol=1e-3)
    # causal: the first tokens' logits do not depend on later tokens
    with torch.no_grad():
        ids2 = ids.clone()
        ids2[:, 15:] = (ids2[:, 15:] + 1) % VOCAB
        got2 = sdpa(ids2).logits
    torch.testing.assert_close(got2[:, :15], got[:, :15], rtol=0, atol=1e-6)


# --- decoding through the transformers cache --------------------------------------------------


@pytest.mark.parametrize(
    "pieces", [[1] * 21, [7] + [1] * 14, [7, 5, 1, 8]], ids=["tokens", "prompt", "chunks"]
)
def test_decoding_with_the_cache_equals_one_full_pass(pieces):
    model = _nsa_model()
    ids = _ids(T=21)
    with torch.no_grad():
        full = model(ids).logits
        cache, logits, pos = None, [], 0
        for n in pieces:
            kw = {} if cache is None else {"cache": cache}
            out = model(ids[:, pos:pos + n], use_cache=True, **kw)
            cache, pos = out.cache, pos + n
            logits.append(out.logits)
    assert pos == 21
    torch.testing.assert_close(torch.cat(logits, dim=1), full, rtol=0, atol=1e-5)


def test_generate_with_and_without_cache_agree():
    model = _nsa_model(seed=6)
    prompt = _ids(T=6, seed=7)
    kw = dict(max_new_tokens=15, do_sample=False, attention_mask=torch.ones_like(prompt),
              pad_token_id=0)
    with torch.no_grad():
        cached = model.generate(prompt, use_cache=True, **kw)
        uncached = model.generate(prompt, use_cache=False, **kw)
    assert cached.shape == (2, 21)
    assert torch.equal(cached[:, :6], prompt)
    assert torch.equal(cached, uncached)
    assert len(set(cached[:, 6:].flatten().tolist())) > 1  # not a degenerate constant output


# --- keep -----------------------------------------------------------------------------------


def test_keep_captures_the_tensors_of_the_next_forward():
    model = _nsa_model()
    layer = _attn_layers(model)[1]
    layer.nsa.keep = {}
    ids = _ids(B=2, T=21)
    with torch.no_grad():
        model(ids)
    keep = layer.nsa.keep
    n_cmp = num_compressed(21, CFG.block_len, CFG.stride)  # 10
    assert set(keep) == {"q", "k", "k_cmp", "gates"}
    assert keep["q"].shape == (2, 21, 4, 4)
    assert keep["k"].shape == (2, 21, 2, 4)
    assert keep["k_cmp"].shape == (2, n_cmp, 2, 4)
    assert keep["gates"].shape == (2, 21, 4, 3)
    assert all(not x.requires_grad for x in keep.values())
    assert bool(((keep["gates"] > 0) & (keep["gates"] < 1)).all())
    # φ of the kept keys gives the kept compressed keys
    torch.testing.assert_close(
        layer.nsa.phi_k(compression_blocks(keep["k"], CFG.block_len, CFG.stride)), keep["k_cmp"],
        rtol=0, atol=1e-6,
    )
    assert _attn_layers(model)[0].nsa.keep is None  # other layers keep nothing


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cfg", [{"block_len": 4}, "paper", 3])
def test_enable_nsa_cfg_must_be_an_nsaconfig(cfg):
    model = _llama(layers=1)
    with pytest.raises(TypeError, match="cfg must be an NSAConfig"):
        enable_nsa(model, cfg)
    assert model.config._attn_implementation == "sdpa"  # unchanged


def test_setting_the_implementation_without_enable_nsa_is_a_clear_error():
    register()
    register()  # idempotent
    model = _llama(layers=1)
    model.set_attn_implementation("nsa")
    assert model.config._attn_implementation == "nsa"
    with pytest.raises(RuntimeError, match="enable_nsa"):
        model(_ids())


def test_an_all_ones_mask_is_plain_causality():
    # (a padded batch or a mask with a hole is refused: test_nsa_bad_input)
    model = _nsa_model()
    ids = _ids(T=9)
    mask = torch.ones(2, 9, dtype=torch.long)
    # accepted, same logits as no mask
    with torch.no_grad():
        torch.testing.assert_close(model(ids, attention_mask=mask).logits,
                                   model(ids).logits, rtol=0, atol=0)


def test_attention_forward_checks_the_mask_and_the_gate_input():
    model = _nsa_model(layers=1)
    layer = _attn_layers(model)[0]
    B, H, H_kv, T, D = 1, 4, 2, 6, 4
    q, k = torch.randn(B, H, T, D), torch.randn(B, H_kv, T, D)
    layer.nsa.hidden = torch.randn(B, T, 16)
    causal = torch.ones(T, T, dtype=torch.bool).tril()[None, None]
    with torch.no_grad():
        out, weights = nsa_attention_forward(layer, q, k, k, causal)
    assert out.shape == (B, T, H, D) and weights is None
    assert layer.nsa.hidden is None  # consumed
    padded = causal.clone()
    padded[..., 0] = False  # key 0 hidden: a padded sequence
    layer.nsa.hidden = torch.randn(B, T, 16)
    with pytest.raises(ValueError, match="causal masks only"):
        nsa_attention_forward(layer, q, k, k, padded)
    layer.nsa.hidden = None  # no pre-hook ran
    with pytest.raises(RuntimeError, match="enable_nsa"):
        nsa_attention_forward(layer, q, k, k, None)
    layer.nsa.hidden = torch.randn(B, T + 1, 16)  # the input of another call
    with pytest.raises(RuntimeError, match="gate input"):
        nsa_attention_forward(layer, q, k, k, None)
    with pytest.raises(RuntimeError, match="enable_nsa"):
        nsa_attention_forward(nn.Module(), q, k, k, None)
