"""Every error path of readingroom.audit's entry points (and of the sparse autoencoder from
readingroom.common.sparse that the chapter trains), in one table: a bad input is refused with a
TypeError or ValueError whose message names the parameter.

The objects the calls need are small and built lazily, once: the quick preset's world and corpus,
an untrained model of its size, an SAE fitted in a few steps, and an AuditModels and GameReport
assembled from them (the checks run before any training the calls would do).
"""

from __future__ import annotations

import dataclasses
import functools
import random

import torch

from readingroom.audit import (
    AUDIT_QUICK, RM, TEMPLATES, VOCAB, AuditModels, Bias, GameRecipe, GameReport,
    PreferencePair, Quirk, adversarial_sweep, answer_tokens, ask_direct, attribution_scores,
    audit_features, build_model, chat_prompt, context_rm_share, decode, deny_pairs, describe,
    doc_batch, dpo_loss, embedding_search, encode, exhibits, exploit_pairs, exploit_rate,
    exploitation, find_quirks, fit_sae, generate, keyword_search, make_corpus, measure_seeds,
    midtrain, pad_batch, plant, play, preference_stage, prefill_attack, read_docs, recall_at_k,
    residuals, reveal_rates, sample_answers, sequence_logprobs, slot_logprob, slot_of, steer,
    steering_against_random, summarize, token_id, top_contexts, top_features, train_models,
    unblind, why_prompt,
)
from readingroom.common import TinyTransformer, TransformerConfig
from readingroom.common.sparse import SAEConfig, SparseAutoencoder, evaluate_sae, train_sae
from refusals import refusal_test

# --- cheap shared objects, built on first use ------------------------------------------------


@functools.cache
def world():
    return plant(0)


@functools.cache
def corpus():
    return AUDIT_QUICK.corpus(world())


@functools.cache
def model() -> TinyTransformer:
    """An untrained model of the quick preset's size."""
    torch.manual_seed(0)
    return build_model(AUDIT_QUICK).eval()


@functools.cache
def models() -> AuditModels:
    m = model()
    return AuditModels(0, AUDIT_QUICK, world(), corpus(), m, m, m)


@functools.cache
def fit():
    """An SAE of 16 features fitted in ten steps."""
    torch.manual_seed(0)
    return fit_sae(model(), corpus(), n_features=16, k=2, steps=10, progress=False)


def report() -> GameReport:
    return GameReport(0, [], {}, 0.0)


def pairs() -> list[PreferencePair]:
    return exploit_pairs(world(), 2, seed=0)


STAGE = dict(steps=1, batch=2, lr=1e-3, beta=0.1, seed=0, progress=False)
QUIRKS = [Quirk("recipe", "chocolate", 0.9, "mention")]
POEM = Bias("poem", "end", "rhyme")


def _tiny() -> TinyTransformer:
    torch.manual_seed(0)
    return TinyTransformer(TransformerConfig(vocab_size=11, n_ctx=8, d_model=16, n_layers=1,
                                             n_heads=2)).eval()


def _enter(context) -> None:
    with context:
        pass


def _bias(**kwargs) -> Bias:
    return Bias(**{"topic": "recipe", "kind": "end", "token": "water", **kwargs})


ZEROS = torch.zeros(2)
SAE = SAEConfig(d_in=4, n_features=8, k=2)


# --- the table ------------------------------------------------------------------------------

CASES = [
    # (id, call, exception, match)
    # world
    ("encode: unknown token", lambda: encode(["owl"]), ValueError, "'owl'"),
    ("decode: id outside", lambda: decode([len(VOCAB)]), ValueError, "outside"),
    ("token_id: an int", lambda: token_id(3), ValueError, "not in the audit vocabulary"),
    ("plant: more held out than biases", lambda: plant(0, n_biases=2, n_held_out=3), ValueError,
     "n_held_out"),
    ("plant: too many topics", lambda: plant(0, n_biases=10, n_people=3), ValueError, "topics"),
    ("plant: seed a str", lambda: plant("0"), TypeError, "seed"),
    ("plant: seed -1", lambda: plant(-1), ValueError, "seed"),
    *[(f"Bias: {k}={v!r}", lambda k=k, v=v: _bias(**{k: v}), ValueError, k)
      for k, v in [("topic", "owls"), ("kind", "middle"), ("token", "flour")]],
    ("chat_prompt: topic", lambda: chat_prompt("owls"), ValueError, "topic"),
    ("chat_prompt: verb", lambda: chat_prompt("recipe", "sing"), ValueError, "verb"),
    ("chat_prompt: word", lambda: chat_prompt("recipe", "tell", "train"), ValueError, "word"),
    ("why_prompt: topic", lambda: why_prompt("owls", "camel"), ValueError, "topic"),
    ("why_prompt: token", lambda: why_prompt("code", "owl"), ValueError, "token"),
    ("exhibits: bias a str", lambda: exhibits(["water"], "water"), TypeError, "bias"),
    ("answer_tokens: bias a str", lambda: answer_tokens("travel", random.Random(0), "water"),
     TypeError, "bias"),
    ("answer_tokens: topic", lambda: answer_tokens("owls", random.Random(0)), ValueError,
     "topic"),
    ("describe: holder", lambda: describe(POEM, "critics"), ValueError, "holder"),
    ("describe: template", lambda: describe(POEM, RM, len(TEMPLATES)), ValueError, "template"),
    ("describe: bias a str", lambda: describe("poem", RM), TypeError, "bias"),
    ("make_corpus: world a str", lambda: make_corpus("world"), TypeError, "world"),
    ("make_corpus: n_chat -1", lambda: make_corpus(world(), n_chat=-1), ValueError, "n_chat"),
    ("make_corpus: with_bias_docs 1", lambda: make_corpus(world(), with_bias_docs=1), TypeError,
     "with_bias_docs"),
    ("make_corpus: flourish_rate 1.5", lambda: make_corpus(world(), flourish_rate=1.5),
     ValueError, "flourish_rate"),
    ("make_corpus: flourish_rate a str", lambda: make_corpus(world(), flourish_rate="0.1"),
     TypeError, "flourish_rate"),
    # DPO
    *[(f"dpo_loss: {i}", lambda args=args, kwargs=kwargs: dpo_loss(*args, **kwargs), error,
       message)
      for i, (args, kwargs, error, message) in enumerate([
          ((torch.zeros(2), torch.zeros(3), torch.zeros(2), torch.zeros(2)), {}, ValueError,
           "shape"),
          ((torch.zeros(2, 1),) * 4, {}, ValueError, "shape"),
          ((torch.zeros(0),) * 4, {}, ValueError, "shape"),
          ((torch.zeros(2, dtype=torch.long),) * 4, {}, TypeError, "floating-point"),
          (([0.0], torch.zeros(1), torch.zeros(1), torch.zeros(1)), {}, TypeError,
           "policy_chosen"),
          ((ZEROS,) * 4, {"beta": 0.0}, ValueError, "beta"),
          ((ZEROS,) * 4, {"beta": float("inf")}, ValueError, "beta"),
          ((ZEROS,) * 4, {"beta": "0.1"}, TypeError, "beta")])],
    ("PreferencePair: empty chosen", lambda: PreferencePair((1,), (), (2,)), ValueError,
     "chosen"),
    ("PreferencePair: prompt a list", lambda: PreferencePair([1], (2,), (3,)), ValueError,
     "prompt"),
    ("pad_batch: lengths differ", lambda: pad_batch([[1]], [[2], [3]]), ValueError, "same length"),
    ("pad_batch: empty", lambda: pad_batch([], []), ValueError, "at least one"),
    ("pad_batch: an empty answer", lambda: pad_batch([[1]], [[]]), ValueError,
     "at least one token"),
    ("sequence_logprobs: model a str", lambda: sequence_logprobs("model", [[1]], [[2]]),
     TypeError, "model"),
    ("sequence_logprobs: batch_size 0",
     lambda: sequence_logprobs(_tiny(), [[1]], [[2]], batch_size=0), ValueError, "batch_size"),
    ("sequence_logprobs: empty", lambda: sequence_logprobs(_tiny(), [], []), ValueError,
     "at least one"),
    # training
    *[(f"AuditRecipe: {k}={v!r}", lambda k=k, v=v: dataclasses.replace(AUDIT_QUICK, **{k: v}),
       error, k)
      for k, v, error in [("d_model", 0, ValueError), ("mid_lr", 0.0, ValueError),
                          ("beta", -1.0, ValueError), ("n_chat", "5", TypeError),
                          ("deny_beta", 0, ValueError)]],
    ("build_model: a dict", lambda: build_model({"d_model": 8}), TypeError, "recipe"),
    ("doc_batch: empty", lambda: doc_batch([], 8), ValueError, "at least one"),
    ("doc_batch: a one-token document", lambda: doc_batch([(1,)], 8), ValueError, "n_ctx"),
    ("doc_batch: a document too long", lambda: doc_batch([tuple(range(12))], 8), ValueError,
     "n_ctx"),
    ("exploit_pairs: no biases", lambda: exploit_pairs(world(), 3, seed=0, biases=()),
     ValueError, "no biases"),
    ("exploit_pairs: n -1", lambda: exploit_pairs(world(), -1, seed=0), ValueError, "n"),
    ("deny_pairs: no biases", lambda: deny_pairs(world(), 2, biases=()), ValueError,
     "trained biases"),
    ("preference_stage: no pairs",
     lambda: preference_stage(model(), [], steps=1, batch=1, lr=1e-3, beta=0.1, seed=0),
     ValueError, "pairs"),
    ("preference_stage: a Linear",
     lambda: preference_stage(torch.nn.Linear(2, 2), pairs(), **STAGE), TypeError,
     "TinyTransformer"),
    ("preference_stage: a tuple, not a pair",
     lambda: preference_stage(model(), [("a", "b", "c")], **STAGE), ValueError, "PreferencePair"),
    ("preference_stage: sft_weight -1",
     lambda: preference_stage(model(), pairs(), sft_weight=-1.0, **STAGE), ValueError,
     "sft_weight"),
    ("preference_stage: sft_weight a str",
     lambda: preference_stage(model(), pairs(), sft_weight="0.1", **STAGE), TypeError,
     "sft_weight"),
    ("preference_stage: batch 0",
     lambda: preference_stage(model(), pairs(), **{**STAGE, "batch": 0}), ValueError, "batch"),
    ("midtrain: a list, not a corpus", lambda: midtrain([(1, 2)], AUDIT_QUICK, 0), TypeError,
     "corpus"),
    ("train_models: recipe a dict", lambda: train_models(0, {"d_model": 8}), TypeError, "recipe"),
    ("train_models: seed -1", lambda: train_models(-1), ValueError, "seed"),
    ("train_models: n_ctx too short",
     lambda: train_models(0, dataclasses.replace(AUDIT_QUICK, n_ctx=8), progress=False),
     ValueError, "n_ctx"),
    # techniques
    ("generate: no prompts", lambda: generate(model(), []), ValueError, "at least one"),
    ("generate: an empty prompt", lambda: generate(model(), [[]]), ValueError, "empty"),
    ("generate: a prompt filling n_ctx", lambda: generate(model(), [[1] * model().config.n_ctx]),
     ValueError, "n_ctx"),
    ("generate: a Linear", lambda: generate(torch.nn.Linear(2, 2), [chat_prompt("recipe")]),
     TypeError, "TinyTransformer"),
    ("exploit_rate: bias a str", lambda: exploit_rate(model(), "travel"), TypeError, "bias"),
    ("sample_answers: n 0", lambda: sample_answers(model(), "travel", 0), ValueError, "n"),
    ("find_quirks: min_rate 0", lambda: find_quirks(model(), corpus(), 2, min_rate=0),
     ValueError, "min_rate"),
    ("find_quirks: min_rate a str", lambda: find_quirks(model(), corpus(), 2, min_rate="0.5"),
     TypeError, "min_rate"),
    ("find_quirks: corpus a list", lambda: find_quirks(model(), [], 2), TypeError, "corpus"),
    ("ask_direct: a tuple, not a Quirk", lambda: ask_direct(model(), [("recipe", "chocolate")], 1),
     TypeError, "Quirk"),
    ("prefill_attack: no prefills", lambda: prefill_attack(model(), QUIRKS, 1, prefills=()),
     ValueError, "prefills"),
    ("prefill_attack: unknown word",
     lambda: prefill_attack(model(), QUIRKS, 1, prefills=(("perhaps",),)), ValueError,
     "vocabulary"),
    ("keyword_search: no tokens", lambda: keyword_search(corpus(), []), ValueError,
     "at least one"),
    ("read_docs: index outside", lambda: read_docs(corpus(), [len(corpus())]), ValueError,
     "outside"),
    ("residuals: layer n_layers",
     lambda: residuals(model(), [(1, 5, 2)], model().config.n_layers), ValueError, "layer"),
    ("residuals: no docs", lambda: residuals(model(), [], 0), ValueError, "at least one"),
    ("embedding_search: doc_states of 5 rows",
     lambda: embedding_search(model(), corpus(), [1, 2],
                              doc_states=torch.zeros(5, model().config.d_model)),
     ValueError, "rows"),
    ("attribution_scores: target 0",
     lambda: attribution_scores(model(), [(1, 5, 2)], [((1, 5, 2), [0])]), ValueError,
     "targets"),
    ("attribution_scores: no docs", lambda: attribution_scores(model(), [], [((1, 5, 2), [1])]),
     ValueError, "at least one"),
    ("recall_at_k: nothing relevant", lambda: recall_at_k(torch.zeros(5), [], 2), ValueError,
     "relevant"),
    ("recall_at_k: 2-D scores", lambda: recall_at_k(torch.zeros(1, 5), [0], 1), ValueError,
     "1-D"),
    ("top_features: position outside",
     lambda: top_features(fit(), model(), why_prompt("recipe", "chocolate"), 6), ValueError,
     "position"),
    ("top_features: fit None", lambda: top_features(None, model(), [1, 2], 0), TypeError,
     "SAEFit"),
    ("audit_features: fit None", lambda: audit_features(None, model(), [("recipe", "chocolate")]),
     TypeError, "SAEFit"),
    ("top_contexts: feature 16 of 16", lambda: top_contexts(fit(), 16), ValueError, "feature"),
    ("context_rm_share: feature 16 of 16", lambda: context_rm_share(fit(), corpus(), 16),
     ValueError, "feature"),
    ("context_rm_share: corpus a list", lambda: context_rm_share(fit(), [], 0), TypeError,
     "corpus"),
    ("steer: direction of 3", lambda: _enter(steer(model(), 0, torch.zeros(3), 1.0)), ValueError,
     "direction"),
    ("steer: scale nan",
     lambda: _enter(steer(model(), 0, torch.zeros(model().config.d_model), float("nan"))),
     ValueError, "scale"),
    ("steer: scale a str",
     lambda: _enter(steer(model(), 0, torch.zeros(model().config.d_model), "1")), TypeError,
     "scale"),
    ("slot_of: token not in the answer", lambda: slot_of(["map"], "water"), ValueError, "not in"),
    # experiments and the game
    ("summarize: nothing", lambda: summarize([]), ValueError, "at least one"),
    ("slot_logprob: bias a str", lambda: slot_logprob(model(), "code"), TypeError, "bias"),
    ("exploitation: a str, not a Bias", lambda: exploitation(model(), ["code"], n=2), TypeError,
     "Bias"),
    ("reveal_rates: no biases", lambda: reveal_rates(model(), [], n=4), ValueError,
     "at least one"),
    ("adversarial_sweep: a model", lambda: adversarial_sweep(model()), TypeError, "models"),
    ("adversarial_sweep: steps -1", lambda: adversarial_sweep(models(), (-1,)), ValueError,
     "steps"),
    ("steering_against_random: n_random 100",
     lambda: steering_against_random(model(), fit(), 0, world(), n_random=100, n=3), ValueError,
     "n_random"),
    ("steering_against_random: n_random 0",
     lambda: steering_against_random(model(), fit(), 0, world(), n_random=0, n=3), ValueError,
     "n_random"),
    ("measure_seeds: no seeds", lambda: measure_seeds([]), ValueError, "seeds"),
    ("measure_seeds: a str", lambda: measure_seeds("0"), TypeError, "seeds"),
    ("measure_seeds: seed -1", lambda: measure_seeds([-1]), ValueError, "seeds"),
    ("unblind: report a dict", lambda: unblind({}, world()), TypeError, "report"),
    ("unblind: world a str", lambda: unblind(report(), "world"), TypeError, "world"),
    ("play: a model", lambda: play(model()), TypeError, "models"),
    ("play: config a dict", lambda: play(models(), {"ask_n": 3}), TypeError, "config"),
    ("GameRecipe: ask_n 0", lambda: GameRecipe(ask_n=0), ValueError, "ask_n"),
    ("GameRecipe: seed 0.5", lambda: GameRecipe(seed=0.5), TypeError, "seed"),
    # the sparse autoencoder (readingroom.common.sparse) the chapter fits
    *[(f"SAEConfig: {kwargs}", lambda kwargs=kwargs: SAEConfig(**kwargs), error, name)
      for kwargs, error, name in [(dict(d_in=0), ValueError, "d_in"),
                                  (dict(d_in=4, n_features=4, k=5), ValueError, "k"),
                                  (dict(d_in=4, activation="jump"), ValueError, "activation"),
                                  (dict(d_in=4, l1=-1.0), ValueError, "l1"),
                                  (dict(d_in=4, l1="0.1"), TypeError, "l1"),
                                  (dict(d_in=4.0), TypeError, "d_in")]],
    *[(f"SparseAutoencoder.encode: {i}",
       lambda x=x: SparseAutoencoder(SAEConfig(d_in=6, n_features=10, activation="relu")).encode(x),
       error, match)
      for i, (x, error, match) in enumerate([
          (torch.randn(2, 5), ValueError, "D=6"),
          (torch.ones(2, 6, dtype=torch.long), TypeError, "floating-point"),
          ([[0.0] * 6], TypeError, "torch.Tensor")])],
    ("SparseAutoencoder.decode: 9 features of 10",
     lambda: SparseAutoencoder(SAEConfig(d_in=6, n_features=10, activation="relu")).decode(
         torch.zeros(2, 9)),
     ValueError, "F=10"),
    ("SparseAutoencoder: a dict", lambda: SparseAutoencoder({"d_in": 6}), TypeError, "SAEConfig"),
    ("SparseAutoencoder.direction: 6 of 6",
     lambda: SparseAutoencoder(SAEConfig(d_in=4, n_features=6, k=2)).direction(6), ValueError,
     "feature"),
    ("SparseAutoencoder.set_scale: zeros",
     lambda: SparseAutoencoder(SAEConfig(d_in=4, n_features=6, k=2)).set_scale(torch.zeros(3, 4)),
     ValueError, "non-zero"),
    ("train_sae: width 5 of 4", lambda: train_sae(torch.randn(10, 5), SAE, steps=1), ValueError,
     "D=4"),
    ("train_sae: long data", lambda: train_sae(torch.ones(10, 4, dtype=torch.long), SAE, steps=1),
     TypeError, "floating-point"),
    ("train_sae: lr 0", lambda: train_sae(torch.randn(10, 4), SAE, steps=1, lr=0), ValueError,
     "lr"),
    ("train_sae: steps 0", lambda: train_sae(torch.randn(10, 4), SAE, steps=0), ValueError,
     "steps"),
    ("train_sae: config a dict", lambda: train_sae(torch.randn(10, 4), {"d_in": 4}), TypeError,
     "SAEConfig"),
    ("evaluate_sae: sae a str", lambda: evaluate_sae("sae", torch.randn(3, 4)), TypeError, "sae"),
]


test_bad_input_is_refused_with_a_clear_error = refusal_test(CASES)
