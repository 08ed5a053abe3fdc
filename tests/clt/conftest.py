"""Shared fixtures of the readingroom.clt tests: the world, a tiny model of each supported layout
(TinyTransformer trained on the world; GPT-2 and Llama built from configs, no download) and a
small CLT trained on each.

Everything is trained once per test module (``scope="module"``) and small enough for one CPU
thread: d_model 32, 2 layers, 150 model steps, 200 CLT steps.
"""

from __future__ import annotations

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from readingroom.clt import CLTConfig, ModelAdapter, collect, make_world, prompt_loss, train_clt
from readingroom.clt.task import batch
from readingroom.common import TinyTransformer, TransformerConfig, seed_everything, train

D_MODEL, N_LAYERS, N_FEATURES = 32, 2, 24


def build_model(kind: str, vocab_size: int, *, seed: int = 0, d_mlp: int = 64) -> torch.nn.Module:
    """An untrained model of ``kind`` ("tiny", "gpt2" or "llama") in eval mode."""
    torch.manual_seed(seed)
    if kind == "tiny":
        seed_everything(seed)
        config = TransformerConfig(vocab_size=vocab_size, n_ctx=8, d_model=D_MODEL,
                                   n_layers=N_LAYERS, n_heads=4, d_mlp=d_mlp)
        return TinyTransformer(config).eval()
    if kind == "gpt2":
        config = GPT2Config(vocab_size=vocab_size, n_positions=8, n_embd=D_MODEL,
                            n_layer=N_LAYERS, n_head=4, bos_token_id=0, eos_token_id=0,
                            initializer_range=0.2)
        return GPT2LMHeadModel(config).eval()
    if kind == "llama":
        config = LlamaConfig(vocab_size=vocab_size, hidden_size=D_MODEL, intermediate_size=64,
                             num_hidden_layers=N_LAYERS, num_attention_heads=4,
                             num_key_value_heads=2, max_position_embeddings=8, bos_token_id=0,
                             eos_token_id=0, initializer_range=0.2)
        return LlamaForCausalLM(config).eval()
    raise ValueError(kind)


def collect_world(adapter: ModelAdapter, prompts) -> tuple[torch.Tensor, torch.Tensor]:
    """``collect`` over prompts of mixed lengths: ``(x, y)`` ``[L, N, D]`` with every token."""
    xs, ys = [], []
    for length in sorted({len(p.tokens) for p in prompts}):
        x, y = collect(adapter, batch([p for p in prompts if len(p.tokens) == length])[0])
        xs.append(x.flatten(1, 2))
        ys.append(y.flatten(1, 2))
    return torch.cat(xs, 1), torch.cat(ys, 1)


@pytest.fixture(scope="module")
def world():
    return make_world()


@pytest.fixture(scope="module")
def make_model():
    """``make_model(kind, vocab_size, seed=0, d_mlp=64)``: a fresh untrained model."""
    return build_model


@pytest.fixture(scope="module")
def trained_tiny(world):
    """A TinyTransformer trained on the world's training prompts (fits them almost perfectly)."""
    model = build_model("tiny", world.vocab_size).train()
    prompts = world.select(held_out=False)
    train(model, lambda step: (0, 0), steps=150, lr=1e-2,
          loss_fn=lambda m, x, y: prompt_loss(m, prompts), progress=False)
    return model.eval()


@pytest.fixture(scope="module")
def models(world, trained_tiny):
    """kind -> model: the trained TinyTransformer and random GPT-2 / Llama (eval mode, float32)."""
    return {"tiny": trained_tiny,
            "gpt2": build_model("gpt2", world.vocab_size),
            "llama": build_model("llama", world.vocab_size)}


@pytest.fixture(scope="module")
def clts(world, models):
    """kind -> a CLT trained on that model's activations over every prompt of the world."""
    out = {}
    for kind, model in models.items():
        x, y = collect_world(ModelAdapter(model), world.prompts)
        config = CLTConfig(n_layers=N_LAYERS, d_model=D_MODEL, n_features=N_FEATURES,
                           sparsity=3e-3)
        out[kind], _ = train_clt(x, y, config, steps=200, batch_size=128, progress=False)
    return out
