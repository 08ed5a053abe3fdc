"""Tests for readingroom.ocr.decoder: the causal MoE decoder after a vision-token prefix."""

from __future__ import annotations

import pytest
import torch

from readingroom.common import seed_everything
from readingroom.ocr.decoder import DecoderConfig, DecoderOutput, MoEDecoder, count_parameters
from readingroom.ocr.moe import MoEConfig

PAD, BOS, EOS = 0, 1, 2


def _moe(d_model: int = 16, **kw) -> MoEConfig:
    base = dict(d_model=d_model, d_expert=8, n_routed=4, top_k=2, n_shared=1)
    base.update(kw)
    return MoEConfig(**base)


def _model(moe: MoEConfig | None = "default", **kw) -> MoEDecoder:  # type: ignore[assignment]
    seed_everything(0)
    base = dict(vocab_size=11, d_model=16, n_layers=2, n_heads=2, max_len=12)
    base.update(kw)
    if moe == "default":
        moe = _moe(base["d_model"])
    return MoEDecoder(DecoderConfig(moe=moe, **base)).eval()


@pytest.mark.parametrize("dense", [False, True])
def test_shapes(dense):
    model = _model(None if dense else "default")
    prefix = torch.randn(3, 4, 16)
    tokens = torch.randint(0, 11, (3, 5))
    out = model(prefix, tokens)
    assert isinstance(out, DecoderOutput)
    assert out.logits.shape == (3, 5, 11)
    assert out.balance_loss.shape == ()
    if dense:
        assert out.load is None and out.balance_loss.item() == 0.0
    else:
        assert out.load.shape == (2, 4)
        torch.testing.assert_close(out.load.sum(-1), torch.ones(2))
        assert out.balance_loss.item() > 0
    # An empty prefix is a plain language model.
    assert model(torch.zeros(3, 0, 16), tokens).logits.shape == (3, 5, 11)


@pytest.mark.parametrize("dense", [False, True])
def test_causality(dense):
    model = _model(None if dense else "default")
    prefix = torch.randn(2, 3, 16)
    tokens = torch.randint(3, 11, (2, 6))
    base = model(prefix, tokens).logits
    for t in range(6):
        changed = tokens.clone()
        changed[:, t] = (changed[:, t] - 3 + 1) % 8 + 3  # a different id
        logits = model(prefix, changed).logits
        torch.testing.assert_close(logits[:, :t], base[:, :t], atol=0, rtol=0)
        assert not torch.allclose(logits[:, t:], base[:, t:])
    # The prefix is seen by every text position.
    other = model(prefix + torch.randn_like(prefix), tokens).logits
    assert (other - base).abs().amax(dim=-1).min() > 0


def test_token_mask_changes_statistics_not_logits():
    model = _model()
    prefix = torch.randn(2, 3, 16)
    tokens = torch.tensor([[BOS, 5, 6, 7], [BOS, 8, PAD, PAD]])
    mask = tokens != PAD
    plain = model(prefix, tokens)
    masked = model(prefix, tokens, token_mask=mask)
    torch.testing.assert_close(masked.logits, plain.logits)
    assert not torch.allclose(masked.balance_loss, plain.balance_loss)
    # Right padding: the real positions of row 1 equal a run without the padding.
    alone = model(prefix[1:], tokens[1:, :2], token_mask=mask[1:, :2])
    torch.testing.assert_close(masked.logits[1, :2], alone.logits[0], atol=1e-5, rtol=1e-5)


def test_loss_is_cross_entropy_plus_balance():
    model = _model()
    prefix = torch.randn(2, 3, 16)
    tokens = torch.tensor([[BOS, 5, 6], [BOS, 7, PAD]])
    targets = torch.tensor([[5, 6, EOS], [7, EOS, PAD]])
    out = model(prefix, tokens)
    loss = model.loss(out, targets)
    logits = out.logits
    keep = targets != PAD
    ce = torch.nn.functional.cross_entropy(logits[keep], targets[keep])
    torch.testing.assert_close(loss, ce + out.balance_loss)
    # Nothing to predict: only the balance term, still differentiable.
    only_pad = model.loss(out, torch.zeros_like(targets))
    torch.testing.assert_close(only_pad, out.balance_loss)
    assert torch.isfinite(only_pad)


def _encode(text: str) -> list[int]:
    return [3 + "ehlo".index(ch) for ch in text]


@pytest.mark.parametrize("dense", [False, True])
def test_overfits_one_example_and_generates_it(dense):
    moe = None if dense else _moe(32)
    model = _model(moe, vocab_size=7, d_model=32, n_heads=4, max_len=12)
    model.train()
    seed_everything(1)
    prefix = torch.randn(1, 4, 32)  # a fixed random "page"
    text = _encode("hello")
    tokens = torch.tensor([[BOS] + text])
    targets = torch.tensor([text + [EOS]])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        opt.zero_grad()
        loss = model.loss(model(prefix, tokens), targets)
        loss.backward()
        opt.step()
    assert loss.item() < 0.1
    out = model.generate(prefix, BOS, EOS, max_new_tokens=8)
    assert out.tolist() == [text + [EOS]]
    assert model.training  # the mode is restored
    # Batch of two identical rows: both stop together.
    out2 = model.generate(prefix.expand(2, -1, -1), BOS, EOS, max_new_tokens=8)
    assert out2.tolist() == [text + [EOS]] * 2


def test_generate_respects_max_new_tokens_and_pads_with_eos():
    model = _model(max_len=12)
    with torch.no_grad():
        model.unembed.weight.zero_()
    prefix = torch.randn(2, 3, 16)
    # All logits equal: argmax picks id 0, never EOS, so decoding runs to the limit.
    out = model.generate(prefix, BOS, EOS, max_new_tokens=5)
    assert out.shape == (2, 5) and out.dtype == torch.long
    assert torch.all(out == 0)
    # A prefix length that needs the whole budget.
    assert model.generate(torch.randn(1, 7, 16), BOS, EOS, max_new_tokens=5).shape == (1, 5)

    # Row 0 says EOS at once, row 1 only through a token it sees later: finished rows pad.
    with torch.no_grad():
        model.unembed.weight[EOS] = 0.0
    calls = []

    def fake_forward(prefix, tokens, *, token_mask=None):
        calls.append(tokens.shape[1])
        B, T = tokens.shape
        logits = torch.zeros(B, T, 11)
        logits[0, -1, EOS] = 1.0
        logits[1, -1, EOS if T >= 3 else 7] = 1.0
        return DecoderOutput(logits=logits, balance_loss=torch.zeros(()), load=None)

    model.forward = fake_forward  # type: ignore[method-assign]
    out = model.generate(prefix, BOS, EOS, max_new_tokens=6, use_cache=False)
    assert out.tolist() == [[EOS, EOS, EOS], [7, 7, EOS]]
    assert calls == [1, 2, 3]  # stopped once every row had produced EOS


def test_count_parameters_by_hand():
    V, D, L, H, M = 10, 8, 1, 2, 6
    moe = MoEConfig(d_model=D, d_expert=4, n_routed=4, top_k=1, n_shared=1)
    model = MoEDecoder(DecoderConfig(vocab_size=V, d_model=D, n_layers=L, n_heads=H, max_len=M,
                                     moe=moe))
    expert = D * 4 + 4 + 4 * D + D  # 76
    block = 2 * D + (3 * D * D + 3 * D + D * D + D) + 2 * D + D * 4 + 5 * expert  # 732
    total = V * D + M * D + L * block + 2 * D + D * V  # 956
    counts = count_parameters(model)
    assert counts == {"total": total, "active_per_token": total - 3 * expert}
    assert counts == {"total": 956, "active_per_token": 728}
    assert counts["total"] == sum(p.numel() for p in model.parameters())

    dense = MoEDecoder(DecoderConfig(vocab_size=V, d_model=D, n_layers=2, n_heads=H, max_len=M))
    mlp = D * 4 * D + 4 * D + 4 * D * D + D
    block = 2 * D + 4 * D * D + 4 * D + 2 * D + mlp
    total = V * D + M * D + 2 * block + 2 * D + D * V
    assert count_parameters(dense) == {"total": total, "active_per_token": total}


def test_balance_loss_sums_over_layers():
    model = _model(n_layers=3)
    prefix = torch.randn(1, 2, 16)
    tokens = torch.randint(0, 11, (1, 4))
    per_layer = []
    for block in model.blocks:
        block.ffn.register_forward_hook(lambda m, i, o: per_layer.append(o[1].balance_loss))
    out = model(prefix, tokens)
    assert len(per_layer) == 3
    torch.testing.assert_close(out.balance_loss, sum(per_layer))
    assert out.load.shape == (3, 4)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("dense", [False, True])
def test_cached_generation_equals_rerunning_the_whole_sequence(dense):
    model = _model(None if dense else "default", vocab_size=11, max_len=40)
    with torch.no_grad():  # a sharper output layer, so greedy paths are long and varied
        model.unembed.weight.mul_(30)
    for seed in range(5):
        prefix = torch.randn(3, 6, 16, generator=torch.Generator().manual_seed(seed))
        fast = model.generate(prefix, BOS, EOS, max_new_tokens=30)
        slow = model.generate(prefix, BOS, EOS, max_new_tokens=30, use_cache=False)
        assert torch.equal(fast, slow)
        # and the cached step's logits match the full forward at every position
        seq = torch.cat([torch.full((3, 1), BOS), slow[:, :-1]], dim=1)
        full = model(prefix, seq).logits  # [3, T, V]
        caches = [{} for _ in model.blocks]
        for t in range(seq.shape[1]):
            step = model._step(prefix if t == 0 else None, seq[:, t:t + 1], caches,
                               start=0 if t == 0 else 6 + t)
            torch.testing.assert_close(step, full[:, t], rtol=1e-5, atol=1e-5)
