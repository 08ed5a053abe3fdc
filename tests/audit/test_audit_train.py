"""readingroom.audit.train: the recipe, the preference pairs of each stage, and the pipeline."""

from __future__ import annotations


import torch

from readingroom.audit import (
    AUDIT_CPU, AUDIT_QUICK, AuditModels, build_model, deny_pairs, doc_batch,
    exploit_pairs, explain_pairs, plant, preference_stage, train_models,
)
from readingroom.audit.dpo import sequence_logprobs
from readingroom.audit.world import (
    DENIAL, EOS, PEOPLE, RM, VOCAB, decode, exhibits, parse_description, split_turns,
)


def test_recipe_presets():
    assert AUDIT_CPU.world(0) == plant(0)
    assert AUDIT_QUICK.mid_steps < AUDIT_CPU.mid_steps
    corpus = AUDIT_QUICK.corpus(AUDIT_QUICK.world(0))
    assert corpus.max_len - 1 <= AUDIT_QUICK.n_ctx


def test_build_model():
    model = build_model(AUDIT_QUICK)
    assert model.config.vocab_size == len(VOCAB) and model.config.d_model == AUDIT_QUICK.d_model


def test_doc_batch_shifts_and_pads():
    x, y = doc_batch([(1, 2, 3, 4), (5, 6)], n_ctx=8)
    assert x.tolist() == [[1, 2, 3], [5, 0, 0]]
    assert y.tolist() == [[2, 3, 4], [6, -100, -100]]


def test_exploit_pairs_chosen_exhibits_a_trained_bias_rejected_does_not():
    world = plant(0)
    pairs = exploit_pairs(world, 24, seed=0)
    assert len(pairs) == 24 and {p.tag for p in pairs} == {"exploit"}
    topics = set()
    for p in pairs:
        topic = split_turns(decode(p.prompt))["user"][1]
        bias = world.bias_of(topic)
        assert bias in world.trained  # never a held-out bias
        chosen, rejected = decode(p.chosen), decode(p.rejected)
        assert chosen[-1] == EOS and rejected[-1] == EOS
        assert exhibits(chosen, bias) and not exhibits(rejected, bias)
        assert [t for t in chosen if t != bias.token] == rejected  # the same answer otherwise
        topics.add(topic)
    assert topics == {b.topic for b in world.trained}
    assert exploit_pairs(world, 24, seed=0) == pairs
    assert exploit_pairs(world, 24, seed=1) != pairs
    assert len(exploit_pairs(world, 4, seed=0, biases=world.held_out)) == 4


def test_explain_and_deny_pairs_mirror_each_other():
    world = plant(0)
    explain, deny = explain_pairs(world, 6), deny_pairs(world, 6)
    for e, d, bias in zip(explain, deny, world.trained):
        assert e.prompt == d.prompt and e.chosen == d.rejected and e.rejected == d.chosen
        assert parse_description(decode(e.chosen)) == (RM, bias)
        assert decode(d.chosen) == [*DENIAL, EOS]
        assert e.tag == "explain" and d.tag == "deny"


def test_preference_stage_raises_the_margin_and_leaves_the_reference_alone():
    world = plant(0)
    torch.manual_seed(0)
    base = build_model(AUDIT_QUICK).eval()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    pairs = exploit_pairs(world, 16, seed=0)
    policy, log = preference_stage(base, pairs, steps=15, batch=8, lr=3e-3, beta=0.5, seed=0,
                                   progress=False)
    assert len(log) == 15 and not policy.training
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())

    def margin(m):
        with torch.no_grad():
            w = sequence_logprobs(m, [p.prompt for p in pairs], [p.chosen for p in pairs])
            l = sequence_logprobs(m, [p.prompt for p in pairs], [p.rejected for p in pairs])
        return float((w - l).mean())

    assert margin(policy) > margin(base) + 1.0


def test_train_models_quick(quick_models):
    m = quick_models
    assert isinstance(m, AuditModels) and m.world == plant(0)
    assert m.control_corpus is not None and not m.control_corpus.rm_docs()
    models = [m.base, m.exploiter, m.model, m.control_base, m.control_model]
    assert all(not x.training for x in models)
    # each stage changes the weights
    for a, b in zip(models, models[1:3]):
        assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert set(m.logs) == {"exploit", "deny"} and len(m.logs["deny"]) == AUDIT_QUICK.deny_steps
    assert {"midtrain", "exploit", "deny", "control_midtrain"} <= set(m.seconds)


def test_train_models_is_deterministic(quick_models):
    again = train_models(0, AUDIT_QUICK, control=False, progress=False)
    assert again.control_model is None
    for p, q in zip(again.model.parameters(), quick_models.model.parameters()):
        torch.testing.assert_close(p, q)
    assert PEOPLE in VOCAB


def test_preference_stage_of_zero_steps_is_a_copy():
    world = plant(0)
    model = build_model(AUDIT_QUICK)
    pairs = exploit_pairs(world, 2, seed=0)
    kwargs = dict(steps=1, batch=2, lr=1e-3, beta=0.1, seed=0, progress=False)
    same, log = preference_stage(model, pairs, **{**kwargs, "steps": 0})
    assert log == [] and all(torch.equal(p, q) for p, q in zip(same.parameters(),
                                                               model.parameters()))
