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


@pytest.mark.parametrize(
    "field, value, error, message",
    [
        ("vocab_size", 0, ValueError, "vocab_size must be a positive int, got 0"),
        ("n_ctx", -1, ValueError, "n_ctx must be a positive int"),
        ("d_model", 16.0, TypeError, "d_model must be an int"),
        ("n_layers", True, TypeError, "n_layers must be an int"),
        ("n_heads", 0, ValueError, "n_heads must be a positive int"),
        ("n_heads", 3, ValueError, "d_model must be divisible by n_heads"),
        ("d_mlp", -1, ValueError, "d_mlp must be an int >= 0"),
        ("d_mlp", 2.5, TypeError, "d_mlp must be an int"),
        ("dropout", 1.0, ValueError, r"dropout must be in \[0, 1\)"),
        ("dropout", -0.1, ValueError, "dropout must be in"),
        ("dropout", "0.1", TypeError, "dropout must be a float"),
        ("layer_norm", 1, TypeError, "layer_norm must be a bool"),
        ("tie_embeddings", "no", TypeError, "tie_embeddings must be a bool"),
    ],
)
def test_config_validation_names_the_field(field, value, error, message):
    with pytest.raises(error, match=message):
        small_config(**{field: value})


# --- construction and forward ------------------------------------------------------------------


def test_model_rejects_bad_config():
    with pytest.raises(TypeError, match="config must be a TransformerConfig"):
        TinyTransformer({"vocab_size": V})
    config = small_config()
    config.n_heads = 5  # the dataclass is mutable; the model re-validates it
    with pytest.raises(ValueError, match="d_model must be divisible by n_heads"):
        TinyTransformer(config)


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


@pytest.mark.parametrize(
    "idx, error, message",
    [
        ([[1, 2]], TypeError, "idx must be a torch.Tensor"),
        (torch.zeros(2, 3), TypeError, "idx must have an integer dtype"),
        (torch.zeros(2, 3, dtype=torch.bool), TypeError, "idx must have an integer dtype"),
        (torch.zeros(3, dtype=torch.long), ValueError, r"idx must be 2-D \[B, T\]"),
        (torch.zeros(2, N_CTX + 1, dtype=torch.long), ValueError, f"T={N_CTX + 1}.*n_ctx={N_CTX}"),
        (torch.zeros(2, 0, dtype=torch.long), ValueError, "T=0"),
        (torch.full((2, 3), V), ValueError, f"vocab_size={V}"),
        (torch.full((2, 3), -1), ValueError, r"token ids in \[-1, -1\]"),
    ],
)
def test_forward_validates_idx(idx, error, message):
    model = small_model()
    with pytest.raises(error, match=message):
        model(idx)


def test_forward_rejects_idx_on_another_device():
    model = small_model().to("meta")
    with pytest.raises(ValueError, match="idx is on cpu but the model is on meta"):
        model(tokens(B=1, T=3))


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


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"max_new_tokens": -1}, ValueError, "max_new_tokens must be an int >= 0"),
        ({"max_new_tokens": 2.0}, TypeError, "max_new_tokens must be an int"),
        ({"greedy": "yes"}, TypeError, "greedy must be a bool"),
        ({"temperature": 0.0}, ValueError, "temperature must be a positive finite float"),
        ({"temperature": float("inf")}, ValueError, "temperature must be a positive finite float"),
        ({"temperature": "hot"}, TypeError, "temperature must be a float"),
        ({"generator": 0}, TypeError, "generator must be a torch.Generator"),
    ],
)
def test_generate_validates_arguments(kwargs, error, message):
    model = small_model()
    args = {"max_new_tokens": 2, **kwargs}
    with pytest.raises(error, match=message):
        model.generate(tokens(B=1, T=2), **args)


def test_generate_validates_idx():
    model = small_model()
    with pytest.raises(ValueError, match="idx must be 2-D"):
        model.generate(torch.zeros(3, dtype=torch.long), 1)
    with pytest.raises(ValueError, match="vocab_size"):
        model.generate(torch.full((1, 2), V), 1)


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


def test_generate_cache_must_be_a_bool():
    model = TinyTransformer(TransformerConfig(vocab_size=5, n_ctx=8, d_model=8, n_heads=2))
    with pytest.raises(TypeError, match="cache must be a bool"):
        model.generate(torch.zeros(1, 2, dtype=torch.long), 2, cache=1)
