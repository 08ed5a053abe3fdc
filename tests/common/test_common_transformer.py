"""Tests for readingroom.common.transformer."""

import pytest
import torch

from readingroom.common import TinyTransformer, TransformerConfig, seed_everything

V, N_CTX, D = 11, 8, 16


def small_config(**overrides) -> TransformerConfig:
    fields = dict(vocab_size=V, n_ctx=N_CTX, d_model=D, n_layers=2, n_heads=2)
    fields.update(overrides)
    return TransformerConfig(**fields)


def small_model(seed: int = 0, **overrides) -> TinyTransformer:
    seed_everything(seed)
    return TinyTransformer(small_config(**overrides))


def tokens(B: int = 3, T: int = N_CTX, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


# --- TransformerConfig -------------------------------------------------------------------------


def test_config_defaults_and_d_head():
    config = TransformerConfig(vocab_size=10, n_ctx=4)
    assert (config.d_model, config.n_layers, config.n_heads) == (128, 2, 4)
    assert config.d_mlp == 4 * 128  # None is resolved to 4 * d_model
    assert config.d_head == 32
    assert TransformerConfig(vocab_size=10, n_ctx=4, d_mlp=0).d_mlp == 0


# --- construction and forward ------------------------------------------------------------------


def test_forward_shapes_and_attention_probabilities():
    model = small_model()
    idx = tokens(B=3, T=5)
    logits = model(idx)
    assert logits.shape == (3, 5, V)
    logits2, attn = model(idx, return_attention=True)
    assert torch.equal(logits, logits2)
    assert len(attn) == 2
    for a in attn:
        assert a.shape == (3, 2, 5, 5)  # [B, H, T, T]
        torch.testing.assert_close(a.sum(-1), torch.ones(3, 2, 5))  # rows are distributions
        upper = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
        assert torch.all(a[..., upper] == 0)  # causal: nothing above the diagonal
        assert torch.all(a >= 0)


def test_forward_is_causal():
    model = small_model()
    idx = tokens(B=2, T=N_CTX)
    changed = idx.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % V  # change only the future of position 4
    torch.testing.assert_close(model(idx)[:, :5], model(changed)[:, :5])
    assert not torch.allclose(model(idx)[:, 5:], model(changed)[:, 5:])


def test_init_is_determined_by_the_seed():
    a, b, c = small_model(seed=3), small_model(seed=3), small_model(seed=4)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.tok_emb.weight, c.tok_emb.weight)
    assert abs(float(a.tok_emb.weight.detach().std()) - 0.02) < 0.005  # N(0, 0.02^2) init


def test_num_parameters_matches_the_architecture():
    M = 4 * D
    per_layer = 2 * D + (D * 3 * D + 3 * D) + (D * D + D) + 2 * D + (D * M + M) + (M * D + D)
    expected = V * D + N_CTX * D + 2 * per_layer + 2 * D + D * V
    assert small_model().num_parameters() == expected
    # Tied embeddings are counted once; attention-only blocks have no MLP or second LayerNorm.
    assert small_model(tie_embeddings=True).num_parameters() == expected - D * V
    attn_only = small_model(d_mlp=0)
    assert attn_only.num_parameters() == expected - 2 * (2 * D + (D * M + M) + (M * D + D))
    assert all(block.mlp is None for block in attn_only.blocks)


def test_variants_run():
    idx = tokens(B=2, T=4)
    for overrides in (
        {"d_mlp": 0},
        {"layer_norm": False},
        {"tie_embeddings": True},
        {"n_layers": 1},
    ):
        model = small_model(**overrides)
        logits, attn = model(idx, return_attention=True)
        assert logits.shape == (2, 4, V) and len(attn) == model.config.n_layers
    tied = small_model(tie_embeddings=True)
    assert tied.unembed.weight is tied.tok_emb.weight


def test_dropout_only_acts_in_training_mode():
    model = small_model(dropout=0.5)
    idx = tokens(B=2, T=6)
    model.train()
    assert not torch.equal(model(idx), model(idx))
    model.eval()
    assert torch.equal(model(idx), model(idx))


def test_forward_accepts_other_integer_dtypes():
    model = small_model()
    idx = tokens(B=2, T=4)
    torch.testing.assert_close(model(idx.to(torch.int32)), model(idx))


# --- generate ----------------------------------------------------------------------------------


def test_generate_greedy_shape_crop_and_mode():
    model = small_model(dropout=0.1)
    model.train()
    idx = tokens(B=2, T=N_CTX)  # already at n_ctx: every step must crop the context
    out = model.generate(idx, 5)
    assert out.shape == (2, N_CTX + 5)
    assert torch.equal(out[:, :N_CTX], idx)
    assert torch.equal(out, model.generate(idx, 5))  # greedy and in eval mode: deterministic
    assert model.training  # mode restored
    assert torch.equal(model.generate(idx, 0), idx)
    assert ((out >= 0) & (out < V)).all()


def test_generate_first_token_is_the_argmax():
    model = small_model()
    idx = tokens(B=2, T=3)
    out = model.generate(idx, 1)
    model.eval()
    assert torch.equal(out[:, -1], model(idx)[:, -1].argmax(-1))


def test_generate_sampling_is_repeatable_with_a_generator():
    model = small_model()
    idx = tokens(B=4, T=2)
    a = model.generate(
        idx, 6, greedy=False, temperature=2.0, generator=torch.Generator().manual_seed(0)
    )
    b = model.generate(
        idx, 6, greedy=False, temperature=2.0, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(a, b)


def test_gpt2_init_sets_weights_and_biases():
    from torch import nn

    from readingroom.common.transformer import gpt2_init

    torch.manual_seed(0)
    lin, emb, ln = nn.Linear(200, 300), nn.Embedding(500, 40), nn.LayerNorm(8)
    for m in (lin, emb, ln):
        gpt2_init(m)
    assert torch.all(lin.bias == 0) and abs(lin.weight.std().item() - 0.02) < 1e-3
    assert abs(emb.weight.std().item() - 0.02) < 1e-3
    assert torch.all(ln.weight == 1) and torch.all(ln.bias == 0)  # LayerNorm untouched


@pytest.mark.parametrize("greedy", [True, False])
def test_generate_with_a_cache_gives_the_same_tokens(greedy):
    torch.manual_seed(0)
    model = TinyTransformer(TransformerConfig(vocab_size=11, n_ctx=24, d_model=32, n_layers=2))
    prompt = torch.randint(0, 11, (16, 3))
    plain = model.generate(prompt, 12, greedy=greedy, temperature=1.3,
                           generator=torch.Generator().manual_seed(5))
    cached = model.generate(prompt, 12, greedy=greedy, temperature=1.3,
                            generator=torch.Generator().manual_seed(5), cache=True)
    assert torch.equal(plain, cached)
    # past n_ctx the window slides: the cache is not used, and the answer is still the same
    long_plain = model.generate(prompt, 30, greedy=True)
    assert torch.equal(long_plain, model.generate(prompt, 30, greedy=True, cache=True))


def test_cached_attention_matches_the_full_pattern_rows():
    torch.manual_seed(1)
    config = TransformerConfig(vocab_size=7, n_ctx=8, d_model=16, n_layers=1, n_heads=2)
    block = TinyTransformer(config).blocks[0]
    x = torch.randn(2, 5, 16)
    full, attn = block(x)
    cache: list = []
    first, _ = block(x[:, :3], cache)
    rest, attn_rest = block(x[:, 3:], cache)
    torch.testing.assert_close(torch.cat([first, rest], 1), full)
    torch.testing.assert_close(attn_rest, attn[:, :, 3:, :])
