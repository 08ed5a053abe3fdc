"""Training and scoring a reader on pages rendered on the fly."""

from __future__ import annotations

import torch

from readingroom.common import make_generator, seed_everything
from readingroom.ocr.encoder import EncoderConfig
from readingroom.ocr.model import MiniDeepSeekOCR, OCRConfig, page_target
from readingroom.ocr.moe import MoEConfig
from readingroom.ocr.render import page_capacity, render_page
from readingroom.ocr.tokenizer import CharTokenizer
from readingroom.ocr.train import (
    PageRecipe,
    evaluate,
    glyph_targets,
    pretrain_encoder,
    sample_pages,
    train_reader,
)

ENC = EncoderConfig(d_window=16, n_window_layers=1, d_global=32, n_global_layers=1, n_heads=2,
                    d_out=32)
CFG = OCRConfig(encoder=ENC, n_layers=1, n_heads=2,
                moe=MoEConfig(d_model=32, d_expert=32, n_routed=4, top_k=2, n_shared=1),
                max_text=40, modes=("tiny", "small"))
RECIPE = PageRecipe(size=(128, 128), font_size=8, min_chars=5, max_chars=20)


def test_sample_pages_follow_the_recipe_and_the_generator():
    pages = sample_pages(12, RECIPE, generator=make_generator(0))
    again = sample_pages(12, RECIPE, generator=make_generator(0))
    assert [page_target(p) for p in pages] == [page_target(p) for p in again]
    assert all(5 <= len(page_target(p)) <= 20 for p in pages)  # one line each: text unchanged
    assert all(p.size == (128, 128) and p.font_size == 8 for p in pages)
    assert len({page_target(p) for p in pages}) == 12


def test_a_recipe_with_several_fonts_caps_each_page_at_its_fonts_room():
    recipe = PageRecipe(size=(128, 128), font_size=(8, 16), min_chars=20, max_chars=200)
    assert recipe.font_sizes == (8, 16)
    assert recipe.room(16) == int(0.8 * page_capacity((128, 128), 16, 4)) == 57
    pages = sample_pages(40, recipe, generator=make_generator(0))
    assert {p.font_size for p in pages} == {8, 16}
    for p in pages:  # wrapping may add a space where a long word is split
        assert 20 <= len(page_target(p)) <= recipe.room(p.font_size) + len(p.lines)
    assert max(len(page_target(p)) for p in pages if p.font_size == 8) > 57


def test_train_reader_is_repeatable_and_records_precision():
    eval_pages = [render_page("abc", size=(128, 128), font_size=8)]
    histories = []
    for _ in range(2):
        seed_everything(0)
        model = MiniDeepSeekOCR(CFG)
        histories.append(train_reader(model, RECIPE, steps=4, modes=("tiny", "small"),
                                      batch_size=2, warmup=1, seed=3, progress=False,
                                      eval_pages=eval_pages, eval_every=2))
    assert histories[0].losses == histories[1].losses
    steps, scores = zip(*histories[0].evals)
    assert list(steps) == [2, 4]
    assert set(scores[-1]) == {"precision_tiny", "precision_small"}
    assert all(0.0 <= v <= 1.0 for s in scores for v in s.values())


def test_evaluate_reads_every_page():
    seed_everything(0)
    model = MiniDeepSeekOCR(CFG)
    pages = sample_pages(5, RECIPE, generator=make_generator(1))
    readings, scores = evaluate(model, pages, "tiny", batch_size=2)
    assert len(readings) == len(scores) == 5
    assert all(isinstance(r, str) for r in readings) and all(0.0 <= s <= 1.0 for s in scores)


def test_glyph_targets_put_each_character_under_its_vision_token():
    tok = CharTokenizer()
    # font 16 on a 128 x 128 page, margin 4: "ab" sits in the top-left vision tokens (16 px each)
    page = render_page("ab", size=(128, 128), font_size=16, margin=4)
    y = glyph_targets([page], "tiny", tok)[..., 0]
    assert y.shape == (1, 64)
    labelled = {int(i): tok.decode([int(y[0, i])]) for i in torch.nonzero(y[0] != tok.pad_id)}
    assert labelled == {0: "a", 1: "b"}  # centres at x ~ 9 and ~ 19 px, both in row 0
    # A 256 x 128 page resized to the tiny square: x shrinks by two, so the centres of "a", "b",
    # "c" (x ~ 9, 18, 28 px -> 4, 9, 14) share token 0, which keeps the first; "d" (~ 38 -> 19)
    # is in token 1.
    wide = render_page("abcd", size=(256, 128), font_size=16, margin=4)
    labels = glyph_targets([wide], "tiny", tok)[0, :, 0]
    assert {int(i): tok.decode([int(labels[i])]) for i in torch.nonzero(labels != tok.pad_id)} \
        == {0: "a", 1: "d"}
    # in a padded mode the page keeps its aspect ratio
    assert glyph_targets([wide], "base", tok).shape == (1, 256, 1)
    # with slots, a token lists its characters in reading order, then <eos>
    slots = glyph_targets([wide], "tiny", tok, slots=4)[0]
    assert tok.decode(slots[0].tolist(), skip_special=False) == "abc<eos>"
    assert tok.decode(slots[1].tolist(), skip_special=False) == "d<eos><pad><pad>"
    assert (slots[2] == tok.pad_id).all()  # no character: <pad> everywhere (ignored)
    assert tok.decode(glyph_targets([wide], "tiny", tok, slots=2)[0, 0].tolist()) == "ab"


def test_pretrain_encoder_lowers_its_loss_and_leaves_the_decoder_alone():
    seed_everything(0)
    model = MiniDeepSeekOCR(CFG)
    decoder_before = {k: v.clone() for k, v in model.decoder.state_dict().items()}
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    recipe = PageRecipe(size=(128, 128), font_size=16, min_chars=1, max_chars=4)
    history = pretrain_encoder(model, recipe, steps=40, batch_size=8, lr=3e-3, slots=2,
                               progress=False)
    assert history.losses[-1] < history.losses[0]
    assert all(torch.equal(v, model.decoder.state_dict()[k]) for k, v in decoder_before.items())
    assert any(not torch.equal(v, model.encoder.state_dict()[k])
               for k, v in encoder_before.items())


def test_train_curriculum_runs_every_stage():
    from readingroom.ocr.train import QUICK_CURRICULUM, train_curriculum

    seed_everything(0)
    histories = train_curriculum(MiniDeepSeekOCR(CFG), QUICK_CURRICULUM, seed=1, progress=False)
    assert list(histories) == ["encoder", "one line", "short"]
    assert [len(h.losses) for h in histories.values()] == [3, 3, 2]
    assert QUICK_CURRICULUM.modes == ("tiny", "small")
