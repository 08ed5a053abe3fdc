"""The mini DeepSeek-OCR: batches, the encoder-decoder, reading back a page, edit distance."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from readingroom.common import make_generator, seed_everything, train
from readingroom.ocr.encoder import EncoderConfig
from readingroom.ocr.model import (
    MiniDeepSeekOCR,
    OCRConfig,
    compression_ratio,
    edit_distance,
    make_batch,
    page_target,
    precision,
)
from readingroom.ocr.moe import MoEConfig
from readingroom.ocr.render import render_page, render_text_page
from readingroom.ocr.tokenizer import CharTokenizer

TOK = CharTokenizer()
TINY_ENC = EncoderConfig(d_window=16, n_window_layers=1, d_global=32, n_global_layers=1,
                         n_heads=2, d_out=32)
TINY = OCRConfig(encoder=TINY_ENC, n_layers=1, n_heads=2,
                 moe=MoEConfig(d_model=32, d_expert=32, n_routed=4, top_k=2, n_shared=1),
                 max_text=40, modes=("tiny",))


def _pages(n, n_chars=30, size=(128, 128), font_size=8):
    return [render_text_page(n_chars, generator=make_generator(i), size=size, font_size=font_size)
            for i in range(n)]


# ---- batches ---------------------------------------------------------------------------------

def test_make_batch_shifts_targets_and_pads():
    pages = [render_page("ab cd", size=(128, 128), font_size=8),
             render_page("a", size=(128, 128), font_size=8)]
    pixels, inputs, targets = make_batch(pages, "tiny", TOK)
    assert pixels.shape == (2, 1, 128, 128)
    assert inputs.shape == targets.shape == (2, 6)
    assert TOK.decode(inputs[0]) == "ab cd" and inputs[0, 0] == TOK.bos_id
    assert targets[0].tolist() == TOK.encode("ab cd") + [TOK.eos_id]
    # inputs never hold <eos>; the short row is padded in both
    assert (inputs != TOK.eos_id).all()
    assert targets[1].tolist() == TOK.encode("a") + [TOK.eos_id] + [TOK.pad_id] * 4
    assert inputs[1].tolist() == [TOK.bos_id] + TOK.encode("a") + [TOK.pad_id] * 4
    _, fixed, _ = make_batch(pages, "tiny", TOK, max_text=10)
    assert fixed.shape == (2, 11)


def test_make_batch_accepts_mixed_page_sizes_and_pads_in_base_mode():
    pages = [render_page("hello", size=(128, 96), font_size=8),
             render_page("world", size=(96, 128), font_size=8)]
    pixels, _, _ = make_batch(pages, "base", TOK)
    assert pixels.shape == (2, 1, 256, 256)
    assert torch.all(pixels[0, 0, 192:] == 1.0)  # landscape page: white padding below
    assert torch.all(pixels[1, 0, :, 192:] == 1.0)  # portrait page: white padding right


def test_page_target_joins_lines_with_spaces():
    page = render_page("one two three four five six seven", size=(64, 128), font_size=8)
    assert len(page.lines) > 1
    assert page_target(page) == " ".join(page.lines)


# ---- the model -------------------------------------------------------------------------------

def test_model_shapes_context_and_loss():
    seed_everything(0)
    model = MiniDeepSeekOCR(TINY, TOK)
    assert model.decoder.config.max_len == 64 + 40 + 2  # tiny mode's 64 vision tokens + text
    assert OCRConfig().max_vision_tokens() == 400  # the large mode
    pixels, inputs, targets = make_batch(_pages(2), "tiny", TOK)
    out = model(pixels, inputs)
    assert out.logits.shape == (*inputs.shape, len(TOK))
    loss = model.loss(pixels, inputs, targets)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.encoder.parameters())
    assert model.n_parameters == sum(p.numel() for p in model.parameters())


def test_a_tiny_model_learns_to_read_one_page():
    """The whole loop works: the encoder-decoder memorises a page and reads it back greedily."""
    seed_everything(0)
    model = MiniDeepSeekOCR(TINY, TOK)
    pages = [render_page("reading room", size=(128, 128), font_size=8)]
    pixels, inputs, targets = make_batch(pages, "tiny", TOK)
    train(model, lambda step: ((pixels, inputs), targets), steps=150, lr=3e-3,
          loss_fn=lambda m, x, y: m.loss(*x, y), progress=False)
    model.train()
    assert model.read(pixels) == ["reading room"]
    assert model.training  # read() decodes in eval mode and restores the caller's mode


def test_the_reader_uses_the_page():
    """Two pages, two texts: the model can only tell them apart through the vision tokens.

    The decoder first learns the texts' common part (a loss plateau near ln 2 / 10 per character:
    the first character is a coin flip without the page) and only then reads the page: 200 steps
    are not enough, 400 are (seed 0: loss 0.09 at step 150, 0.016 at 350)."""
    seed_everything(0)
    model = MiniDeepSeekOCR(TINY, TOK)
    pages = [render_page("left page", size=(128, 128), font_size=8),
             render_page("right page", size=(128, 128), font_size=8)]
    pixels, inputs, targets = make_batch(pages, "tiny", TOK)
    train(model, lambda step: ((pixels, inputs), targets), steps=400, lr=3e-3,
          loss_fn=lambda m, x, y: m.loss(*x, y), progress=False)
    assert model.read(pixels) == ["left page", "right page"]
    assert model.read(pixels.flip(0)) == ["right page", "left page"]


def test_model_errors():
    assert OCRConfig(encoder=TINY_ENC, moe=None).moe is None  # a dense decoder is allowed


# ---- metrics ---------------------------------------------------------------------------------

def _levenshtein(a: str, b: str) -> int:
    """The textbook dynamic programme, for checking the vectorised one."""
    d = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, cb in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (ca != cb))
    return d[-1]


@pytest.mark.parametrize("a, b, expected", [
    ("", "", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3),
    ("flaw", "lawn", 2), ("same", "same", 0), ("ab", "ba", 2),
])
def test_edit_distance_known_values(a, b, expected):
    assert edit_distance(a, b) == expected == _levenshtein(a, b)


def test_edit_distance_matches_the_textbook_programme_on_random_strings():
    rng = random.Random(0)
    for _ in range(200):
        a = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 12)))
        b = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 12)))
        assert edit_distance(a, b) == _levenshtein(a, b)
        assert edit_distance(a, b) == edit_distance(b, a)
    for a, b, c in itertools.product(["ab", "ba", "abc", ""], repeat=3):  # triangle inequality
        assert edit_distance(a, c) <= edit_distance(a, b) + edit_distance(b, c)


def test_precision_and_compression_ratio():
    assert precision("hello", "hello") == 1.0
    assert precision("hallo", "hello") == pytest.approx(0.8)
    assert precision("", "hello") == 0.0
    assert precision("a much longer wrong reading", "hi") == 0.0  # clipped at zero
    assert compression_ratio(600, 64) == pytest.approx(9.375)


def test_package_exports_resolve():
    import readingroom.ocr as ocr

    assert len(ocr.__all__) == len(set(ocr.__all__))
    for name in ocr.__all__:
        assert getattr(ocr, name) is not None, name


def test_read_in_batches_equals_reading_at_once():
    from readingroom.ocr.model import page_pixels

    seed_everything(0)
    model = MiniDeepSeekOCR(TINY, TOK)
    pages = [render_page(t, size=(128, 128), font_size=12) for t in ("ab", "cd e", "f")]
    pixels = page_pixels(pages, "tiny")
    assert pixels.shape == (3, 1, 128, 128)
    assert model.read(pixels, max_new_tokens=6, batch_size=2) == model.read(pixels,
                                                                             max_new_tokens=6)
