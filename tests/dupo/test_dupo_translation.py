from __future__ import annotations

import pytest
import torch

from readingroom.dupo.translation import (
    EOS, OUT, PROMPT, Sentence, TranslationRecipe, all_sentences, back_translation_reward, chrf,
    corpus_chrf, generate, oracle_chrf_reward, run_translation_arm, split_sentences,
    translate_reference, translation_probes, _prompt, _words, _ID,
)

S = Sentence("big", "cat", "sees", "small", "dog", "quickly")


def test_language_by_hand():
    assert S.words() == ["big", "cat", "sees", "small", "dog", "quickly"]
    # adverb first, each noun then its adjective, verb last
    assert translate_reference(S) == ["sulo", "kesa", "vuro", "nari", "pemo", "tila"]
    bare = Sentence(None, "owl", "hears", None, "bee", None)
    assert translate_reference(bare) == ["hoka", "zefi", "okun"]
    world = all_sentences()
    assert len(world) == 7 * 8 * 6 * 7 * 8 * 5 == len(set(world))


def test_layout_and_words():
    p = _prompt(S.words(), "<s2t>")
    assert len(p) == PROMPT and p[-1] == _ID["<sep>"]
    assert _words([_ID["kesa"], _ID["nari"], EOS, _ID["tila"]]) == ["kesa", "nari"]


def test_chrf_scores():
    assert chrf(["kesa", "nari"], ["kesa", "nari"]) == pytest.approx(1.0)
    assert chrf([], ["kesa"]) == 0.0
    assert 0 < chrf(["kesa"], ["kesa", "nari"]) < 1
    assert corpus_chrf([["a"], ["b"]], [["a"], ["b"]]) == pytest.approx(1.0)


def test_generate_masks_after_the_first_eos(exact_back_translator):
    prompts = torch.tensor([_prompt(translate_reference(S), "<t2s>"),
                            _prompt(S.words(), "<s2t>")])  # the stub cannot do s2t: <eos> at once
    out, mask = generate(exact_back_translator, prompts, greedy=True)
    assert out.shape == (2, OUT)
    assert _words(out[0].tolist()) == S.words()
    assert mask[0].tolist() == [1.0] * 7  # six words and <eos>
    assert mask[1].tolist() == [1.0] + [0.0] * 6  # only the <eos>


def test_rewards_with_an_exact_back_translator(exact_back_translator):
    src, ref = S.words(), translate_reference(S)
    r = back_translation_reward(exact_back_translator, [ref, ref[::-1], src], [src] * 3)
    assert r[0].item() == pytest.approx(1.0) and r[1].item() < 0.5 and r[2].item() == 0.0
    assert oracle_chrf_reward([ref, []], [ref, ref]).tolist() == pytest.approx([1.0, 0.0])
    probes = translation_probes(exact_back_translator, split_sentences(0, TranslationRecipe())[2][:20])
    assert probes["reference translation"]["dupo"] == pytest.approx(1.0)
    assert max(v["dupo"] for k, v in probes.items() if k != "reference translation") < 0.5


def test_splits_do_not_overlap():
    a, b, c = split_sentences(3, TranslationRecipe(labelled=10, unlabelled=20, n_test=30))
    assert (len(a), len(b), len(c)) == (10, 20, 30)
    assert not (set(a) & set(b) or set(a) & set(c) or set(b) & set(c))


def test_a_tiny_run_repeats_with_its_seed():
    recipe = TranslationRecipe(d_model=32, sft_steps=20, rl_steps=2, questions=4, group=2,
                               unlabelled=20, n_test=20, eval_every=1)
    a = run_translation_arm("dupo", 0, recipe, progress=False)
    b = run_translation_arm("dupo", 0, recipe, progress=False)
    assert a.test_chrf == b.test_chrf and a.steps == [0, 1, 2]


def test_translate_back_to_the_source(exact_back_translator):
    from readingroom.dupo import translate

    assert translate(exact_back_translator, [translate_reference(S)], direction="<t2s>") == [
        S.words()]


def test_back_translation_of_the_exact_verifier_and_a_tiny_seed(exact_back_translator):
    from readingroom.dupo import run_translation_seed
    from readingroom.dupo.translation import evaluate_back_translation

    test = split_sentences(0, TranslationRecipe())[2][:30]
    assert evaluate_back_translation(exact_back_translator, test) == {"chrf": 1.0, "exact": 1.0}
    recipe = TranslationRecipe(d_model=32, sft_steps=10, n_test=20, unlabelled=20)
    out = run_translation_seed(0, recipe, arms=("sft",), progress=False)
    assert set(out) == {"seed", "back_translation", "probes", "arms"}
    assert out["arms"]["sft"]["steps"] == [0]
