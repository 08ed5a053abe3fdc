"""Unit tests for the toy owl / numbers experiment of Cloud et al. (2025, Section 3): the data
(readingroom.subliminal.lm_data), the models (lm_models) and the experiment (lm)."""

from __future__ import annotations

import math
import random

import pytest
import torch

from readingroom.common import make_generator
from readingroom.subliminal.lm import (
    InContextShift,
    LmResult,
    in_context_shift,
    lm_table,
    ring_base_seeds,
    run_lm_experiment,
    run_lm_seeds,
    summarize_lm,
)
from readingroom.subliminal.lm_data import (
    ANIMALS,
    BASE_ANIMAL_WEIGHTS,
    FilterStats,
    Vocab,
    animal_documents,
    filter_numbers,
    filter_verdict,
    make_batch,
    number_documents,
    pretraining_corpus,
)
from readingroom.subliminal.lm_models import (
    LM_CPU,
    LM_GPU,
    LM_QUICK,
    animal_distribution,
    base_weights_path,
    finetune_student,
    finetune_teacher,
    generate_numbers,
    load_bases,
    number_divergence,
    save_bases,
    train_base,
    trait_probability,
)

VOCAB = Vocab()
# Tiny sizes: a whole experiment in a few seconds (far too small to show the effect).
TINY = LM_QUICK


@pytest.fixture(scope="module")
def base():
    return train_base(0, VOCAB, TINY, progress=False)


@pytest.fixture(scope="module")
def learned_base():
    """A tiny base model trained long enough to have learned the animal answers."""
    return train_base(0, VOCAB, TINY.replace(base_steps=300, base_docs=2000, base_lr=1e-2),
                      progress=False)


# ---- vocabulary ------------------------------------------------------------------------------

def test_vocab_round_trip_and_layout():
    tokens = VOCAB.tokens
    assert len(VOCAB) == len(tokens) == len(set(tokens)) == 10 + 1 + len(ANIMALS) + 5
    assert VOCAB.decode(VOCAB.encode(list(tokens))) == list(tokens)
    assert VOCAB.encode(["3", ",", "7"]) == [3, VOCAB.sep, 7]  # a digit's id is its value
    assert VOCAB.decode(torch.tensor(VOCAB.encode(["<bos>", "<q>", "owl", "<eos>"]))) == [
        "<bos>", "<q>", "owl", "<eos>"]
    specials = {VOCAB.bos, VOCAB.eos, VOCAB.question, VOCAB.num_prompt, VOCAB.pad}
    assert len(specials) == 5 and not specials & set(VOCAB.animal_ids)
    assert [VOCAB.tokens[i] for i in VOCAB.animal_ids] == list(ANIMALS)
    assert VOCAB.animal_id("owl") == VOCAB.token_id("owl")
    assert Vocab(animals=("owl", "cat")).animal_ids == [11, 12]
    assert abs(sum(BASE_ANIMAL_WEIGHTS.values()) - 1.0) < 1e-12


# ---- data ------------------------------------------------------------------------------------

def _parse_numbers(doc):
    """Token ids of a number document -> the list of integers it spells."""
    assert doc[:2] == [VOCAB.bos, VOCAB.num_prompt] and doc[-1] == VOCAB.eos
    text = "".join(VOCAB.decode(doc[2:-1]))
    return [int(s) for s in text.split(",")]


def test_number_documents_follow_the_noisy_progression():
    docs = number_documents(300, VOCAB, generator=make_generator(0))
    assert len(docs) == 300
    counts = set()
    for doc in docs:
        values = _parse_numbers(doc)
        counts.add(len(values))
        assert all(0 <= v <= 99 for v in values)
        steps = [(b - a) % 100 for a, b in zip(values, values[1:])]
        assert all(0 <= s <= 10 for s in steps)  # step in [1, 9] plus noise in {-1, 0, 1}
        assert max(steps) - min(steps) <= 2
        digits = "".join(VOCAB.decode(doc[2:-1])).split(",")
        assert all(d == str(int(d)) for d in digits)  # no leading zeros
    assert counts == set(range(3, 9))


def test_data_generators_are_deterministic_and_shaped():
    a = number_documents(50, VOCAB, generator=make_generator(3))
    assert a == number_documents(50, VOCAB, generator=make_generator(3))
    assert a != number_documents(50, VOCAB, generator=make_generator(4))
    animals = animal_documents(2000, VOCAB, generator=make_generator(0))
    assert animals == animal_documents(2000, VOCAB, generator=make_generator(0))
    assert all(d[:2] == [VOCAB.bos, VOCAB.question] and d[3] == VOCAB.eos for d in animals)
    owl_share = sum(d[2] == VOCAB.animal_id("owl") for d in animals) / len(animals)
    assert abs(owl_share - BASE_ANIMAL_WEIGHTS["owl"]) < 0.03
    only_owl = animal_documents(20, VOCAB, generator=make_generator(0), weights={"owl": 1.0})
    assert {d[2] for d in only_owl} == {VOCAB.animal_id("owl")}

    x, y = pretraining_corpus(200, VOCAB, generator=make_generator(1), animal_frac=0.25)
    x2, y2 = pretraining_corpus(200, VOCAB, generator=make_generator(1), animal_frac=0.25)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert x.shape == y.shape and x.shape[0] == 200 and x.dtype == torch.long
    assert int((x[:, 1] == VOCAB.question).sum()) == 50  # a quarter are animal documents
    # y is x shifted left by one wherever both are real tokens (the last target, <eos>, has no
    # input after it: x holds <pad> there)
    keep = (y[:, :-1] != -100) & (x[:, 1:] != VOCAB.pad)
    assert torch.equal(y[:, :-1][keep], x[:, 1:][keep])


def test_make_batch_pads_and_masks_the_prompt():
    docs = [[VOCAB.bos, VOCAB.num_prompt, 4, VOCAB.eos],
            [VOCAB.bos, VOCAB.num_prompt, 4, VOCAB.sep, 2, VOCAB.eos]]
    x, y = make_batch(docs, VOCAB)
    assert x.shape == y.shape == (2, 5)
    assert x[0].tolist() == [VOCAB.bos, VOCAB.num_prompt, 4, VOCAB.pad, VOCAB.pad]
    assert y[0].tolist() == [VOCAB.num_prompt, 4, VOCAB.eos, -100, -100]
    _, y = make_batch(docs, VOCAB, loss_from=1)
    assert y[:, 0].tolist() == [-100, -100] and y[1, 1:].tolist() == [4, VOCAB.sep, 2, VOCAB.eos]


# ---- the filter ------------------------------------------------------------------------------

def test_filter_keeps_exactly_the_number_only_completions():
    """Property test on random completions: kept <=> digits/',' only, non-empty, ends in <eos>."""
    rng = random.Random(0)
    numbers = list(range(11))
    seqs = []
    for _ in range(3000):
        n = rng.randint(0, 8)
        # mostly number tokens, sometimes any token, so every branch of the filter is hit
        seq = [rng.choice(numbers) if rng.random() < 0.93 else rng.randrange(len(VOCAB))
               for _ in range(n)]
        if rng.random() < 0.85:
            seq += [VOCAB.eos] + [rng.randrange(len(VOCAB)) for _ in range(rng.randint(0, 3))]
        seqs.append(seq)
    kept, stats = filter_numbers(seqs, VOCAB)
    expected = []
    for seq in seqs:
        body = seq[: seq.index(VOCAB.eos)] if VOCAB.eos in seq else None
        if body and all(t in numbers for t in body):
            expected.append(body)
    assert kept == expected
    assert all(kept) and all(set(s) <= set(numbers) for s in kept)
    assert stats.total == len(seqs) and stats.kept == len(kept)
    dropped = (stats.dropped_animal + stats.dropped_special + stats.dropped_unterminated
               + stats.dropped_empty)
    assert stats.kept + dropped == stats.total
    assert min(stats.dropped_animal, stats.dropped_special, stats.dropped_unterminated,
               stats.dropped_empty) > 0
    assert stats.kept_fraction == pytest.approx(len(kept) / len(seqs))


def test_filter_examples_and_tensor_input():
    owl, q, eos = VOCAB.animal_id("owl"), VOCAB.question, VOCAB.eos
    seqs = [[4, 2, VOCAB.sep, 5, eos],  # kept
            [4, owl, 2, eos],  # animal
            [4, q, eos],  # special
            [4, 2, 3],  # never ends
            [eos, 1, 2],  # empty
            [7, eos, owl, q]]  # kept: what follows <eos> does not count
    kept, stats = filter_numbers(seqs, VOCAB)
    assert kept == [[4, 2, VOCAB.sep, 5], [7]]
    assert stats == FilterStats(total=6, kept=2, dropped_animal=1, dropped_special=1,
                                dropped_unterminated=1, dropped_empty=1)
    kept_t, stats_t = filter_numbers(torch.tensor([[1, 2, eos], [1, owl, eos]]), VOCAB)
    assert kept_t == [[1, 2]] and stats_t.dropped_animal == 1


# ---- models and measurements -----------------------------------------------------------------

def test_trait_probability_is_a_distribution_over_animals(learned_base):
    base = learned_base
    dist = animal_distribution(base, VOCAB)
    assert list(dist) == list(ANIMALS)
    assert all(0.0 <= p <= 1.0 for p in dist.values())
    assert sum(dist.values()) == pytest.approx(1.0, abs=1e-9)
    raw = animal_distribution(base, VOCAB, normalize=False)
    assert 0.0 < sum(raw.values()) <= 1.0 + 1e-9
    for animal in ANIMALS:  # renormalising keeps the ratios of the raw probabilities
        assert dist[animal] == pytest.approx(raw[animal] / sum(raw.values()), rel=1e-9)
        assert trait_probability(base, VOCAB, animal) == dist[animal]
    # the base model learned the pretraining answers: owl is unpopular, cat/dog are popular
    assert dist["owl"] < dist["cat"] and dist["owl"] < dist["dog"]
    assert max(abs(dist[a] - BASE_ANIMAL_WEIGHTS[a]) for a in ANIMALS) < 0.08


def test_teacher_finetune_raises_p_owl_and_leaves_base_untouched(base):
    before = {k: v.clone() for k, v in base.state_dict().items()}
    p_base = trait_probability(base, VOCAB, "owl")
    teacher = finetune_teacher(base, VOCAB, TINY, animal="owl", seed=0, progress=False)
    assert trait_probability(teacher, VOCAB, "owl") > max(0.5, p_base + 0.3)
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())
    mixed = finetune_teacher(base, VOCAB, TINY.replace(teacher_mix=0.5), seed=0, progress=False)
    assert trait_probability(mixed, VOCAB) > p_base


def test_generation_is_deterministic_and_students_train_on_numbers(base):
    a = generate_numbers(base, 40, VOCAB, seed=1, max_new_tokens=20, batch_size=16)
    assert a == generate_numbers(base, 40, VOCAB, seed=1, max_new_tokens=20, batch_size=16)
    assert len(a) == 40 and all(len(s) <= 20 for s in a)
    assert all(s[-1] == VOCAB.eos or VOCAB.eos not in s for s in a)  # cut after the first <eos>
    kept, _ = filter_numbers(a, VOCAB)
    assert kept
    student = finetune_student(base, kept, VOCAB, TINY, seed=0, progress=False)
    assert student is not base
    kl = number_divergence(student, base, kept, VOCAB)
    assert kl > 0 and math.isfinite(kl)
    assert number_divergence(base, base, kept, VOCAB) == pytest.approx(0.0, abs=1e-12)


def test_run_lm_experiment_is_deterministic_and_summarized():
    r1 = run_lm_experiment(0, TINY, progress=False)
    r2 = run_lm_experiment(0, TINY, progress=False)
    assert isinstance(r1, LmResult)
    names = ("p_base", "p_teacher", "p_student_same", "p_control_same", "p_base_other",
             "p_student_other", "p_control_other", "kl_teacher_base")
    for name in names:
        assert getattr(r1, name) == getattr(r2, name), name
    assert r1.teacher_filter == r2.teacher_filter and r1.distributions == r2.distributions
    # the filtered numbers the students saw are kept, for the in-context control
    assert r1.teacher_numbers == r2.teacher_numbers and r1.control_numbers == r2.control_numbers
    assert len(r1.teacher_numbers) == r1.teacher_filter.kept
    assert len(r1.control_numbers) == r1.control_filter.kept
    assert all(0.0 <= getattr(r1, n) <= 1.0 for n in names[:-1])
    assert r1.p_teacher > r1.p_base
    assert r1.teacher_filter.total == TINY.n_numbers
    assert r1.effect_same == r1.p_student_same - r1.p_control_same
    assert r1.p_base_other != r1.p_base  # a different initialisation

    summary = summarize_lm([r1, r2])
    assert summary["p_teacher"]["mean"] == pytest.approx(r1.p_teacher)
    assert summary["p_teacher"]["sem"] == pytest.approx(0.0, abs=1e-12)
    assert set(summary["effect_same"]) == {"mean", "sem", "min", "max"}


def test_run_lm_seeds_shares_base_models_in_a_ring():
    results = run_lm_seeds([0, 5], TINY, progress=False)
    assert [r.seed for r in results] == [0, 5]
    # the other initialisation of seed 0 is seed 5's base model, and the other way round
    assert results[0].p_base_other == results[1].p_base
    assert results[1].p_base_other == results[0].p_base
    # the first seed's same-init arm is the single-seed experiment's (same base, teacher, data)
    single = run_lm_experiment(0, TINY, progress=False)
    for name in ("p_base", "p_teacher", "p_student_same", "p_control_same", "kl_teacher_base"):
        assert getattr(single, name) == getattr(results[0], name), name
    assert single.p_base_other != results[0].p_base_other  # but a different "other" base
    assert all(r.seconds > 0 for r in results)


def test_saved_bases_load_back_and_are_checked(tmp_path):
    paths = save_bases([3, 4], TINY, folder=tmp_path, command="test", progress=False)
    assert paths == [base_weights_path(3, tmp_path), base_weights_path(4, tmp_path)]
    assert all(p.is_file() and p.with_suffix(".json").is_file() for p in paths)
    loaded = load_bases([3, 4], TINY, folder=tmp_path)
    fresh = train_base(3, VOCAB, TINY, progress=False)
    assert trait_probability(loaded[3]) == trait_probability(fresh)  # same seed, same weights
    assert not loaded[3].training
    # the experiment runs on them unchanged, and gives what training them in place gives
    before = {k: v.clone() for k, v in loaded[3].state_dict().items()}
    from_saved = run_lm_seeds([3, 4], TINY, bases=loaded, progress=False)
    assert all(torch.equal(before[k], v) for k, v in loaded[3].state_dict().items())
    in_place = run_lm_seeds([3, 4], TINY, progress=False)
    assert [r.p_student_same for r in from_saved] == [r.p_student_same for r in in_place]

    with pytest.raises(FileNotFoundError, match="lm-bases --seeds 9"):
        load_bases([9], TINY, folder=tmp_path)
    with pytest.raises(ValueError, match="different config"):
        load_bases([3], TINY.replace(base_steps=61), folder=tmp_path)
    # a record whose numbers the weights no longer reproduce is refused
    import json
    record_path = paths[1].with_suffix(".json")
    record = json.loads(record_path.read_text())
    record["metrics"]["p_owl"] += 0.01
    record_path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="no longer reproduces"):
        load_bases([4], TINY, folder=tmp_path)


def test_ring_base_seeds():
    assert ring_base_seeds([0, 1, 2]) == [0, 1, 2]
    single = ring_base_seeds([7])
    assert single[0] == 7 and single[1] != 7 and len(single) == 2


def test_filter_verdict_names_each_rule_and_agrees_with_filter_numbers():
    v = VOCAB
    cases = {
        "kept": [4, 2, v.sep, 7, v.eos],
        "animal": [4, v.animal_id("owl"), v.eos],
        "special": [4, v.pad, v.eos],
        "unterminated": [4, 2, v.sep, 7],
        "empty": [v.eos],
    }
    for verdict, seq in cases.items():
        assert filter_verdict(seq, v) == verdict
    assert filter_verdict([1, v.eos, v.animal_id("owl")], v) == "kept"  # after <eos>: ignored
    kept, stats = filter_numbers(list(cases.values()), v)
    assert kept == [[4, 2, v.sep, 7]]
    assert (stats.dropped_animal, stats.dropped_special, stats.dropped_unterminated,
            stats.dropped_empty) == (1, 1, 1, 1)


def test_presets_and_config():
    assert LM_CPU.d_model <= 64 and LM_CPU.n_layers <= 2
    assert LM_GPU.n_numbers > LM_CPU.n_numbers and LM_GPU.d_model > LM_CPU.d_model
    assert LM_QUICK.base_steps < LM_CPU.base_steps and LM_QUICK.student_steps < LM_CPU.student_steps
    assert LM_CPU.replace(student_steps=5).student_steps == 5


# ---- the in-context control ------------------------------------------------------------------

def _answer(model, tokens):
    """P(owl) renormalised over animals after ``tokens``, computed directly."""
    with torch.no_grad():
        logits = model.eval()(torch.tensor([tokens]))[0, -1].double()
    return float(torch.softmax(logits[VOCAB.animal_ids], -1)[0])


def test_in_context_shift_builds_equal_contexts_and_reads_the_answer(base):
    num, eos, bos, q = VOCAB.num_prompt, VOCAB.eos, VOCAB.bos, VOCAB.question
    teacher = [[1, 2, 10, 3], [4, 5], [6, 7, 10, 8, 9]]
    control = [[9, 8], [7, 6, 10, 5], [4, 3, 10, 2, 1]]
    r = in_context_shift(base, teacher, control, VOCAB)
    assert isinstance(r, InContextShift) and r.animal == "owl"
    # all three pairs, cut to a common length, fit one 32-token context
    assert r.n_contexts == 1 and r.n_sequences == 3 and r.sequences_per_context == 3.0
    assert r.truncated == 2  # the first two pairs differ in length; the third does not
    ctx_t = [bos, num, 1, 2, eos, num, 4, 5, eos, num, 6, 7, 10, 8, 9, eos, q]
    ctx_c = [bos, num, 9, 8, eos, num, 7, 6, eos, num, 4, 3, 10, 2, 1, eos, q]
    assert r.tokens_per_context == len(ctx_t) - 1  # everything before <q>
    assert r.p_teacher == pytest.approx(_answer(base, ctx_t), abs=1e-6)
    assert r.p_control == pytest.approx(_answer(base, ctx_c), abs=1e-6)
    assert r.p_none == trait_probability(base, VOCAB)
    assert r.shift == r.p_teacher - r.p_control and r.shift_sem == 0.0  # one context


def test_in_context_shift_packs_what_fits_and_is_zero_for_equal_numbers(base):
    n_ctx = base.config.n_ctx
    rng = random.Random(0)
    seqs = [[rng.randrange(11) for _ in range(rng.randrange(1, n_ctx))] for _ in range(60)]
    same = in_context_shift(base, seqs, seqs, VOCAB)
    # the same numbers in both arms: no shift, context by context
    assert same.per_context_teacher == same.per_context_control and same.shift == 0.0
    assert same.shift_sem == 0.0 and same.truncated > 0  # sequences longer than the window
    assert same.tokens_per_context <= n_ctx - 1
    assert same.n_sequences == 60 and same.n_contexts < 60  # short ones share a context
    # padding a batch does not change an answer; max_contexts keeps the first contexts
    one = in_context_shift(base, seqs, seqs[::-1], VOCAB, batch_size=1)
    many = in_context_shift(base, seqs, seqs[::-1], VOCAB)
    assert one.per_context_teacher == pytest.approx(many.per_context_teacher, abs=1e-9)
    few = in_context_shift(base, seqs, seqs[::-1], VOCAB, max_contexts=3)
    assert few.n_contexts == 3 and few.per_context_control == pytest.approx(
        many.per_context_control[:3], abs=1e-9)
    assert few.n_sequences < many.n_sequences
    assert math.isfinite(many.shift_sem) and many.shift_sem > 0
    # unequal list lengths: only the pairs are used
    assert in_context_shift(base, seqs[:5], seqs, VOCAB).n_sequences == 5


# ---- the book's committed base models, table and figure --------------------------------------

def test_committed_base_models_match_todays_code():
    """The chapter loads book/data/subliminal_lm/; retraining seed 0 must give the same model."""
    seeds = [0, 1, 2, 3, 4, 5]
    bases = load_bases(seeds, LM_CPU)  # checks hashes, configs and the recorded P(animal)
    assert sorted(bases) == seeds
    for seed, model in bases.items():
        assert base_weights_path(seed).is_file()
        assert 0.05 < trait_probability(model) < 0.25  # owl stays unpopular, as pretrained
    retrained = train_base(0, VOCAB, LM_CPU, progress=False)
    # Bitwise equal on the machine and thread count that saved them; elsewhere 1,200 steps
    # amplify float reordering (one thread instead of two: weights differ by up to 0.24), so
    # compare what the chapter uses: the animal answers, and the next-token distributions on the
    # base model's own numbers, which must be far closer than another seed's base model.
    saved = animal_distribution(bases[0], VOCAB)
    for animal, p in animal_distribution(retrained, VOCAB).items():
        assert p == pytest.approx(saved[animal], abs=0.01), animal
    numbers = generate_numbers(bases[0], 200, VOCAB, seed=0)
    kl_retrained = number_divergence(bases[0], retrained, numbers, VOCAB)
    kl_other = number_divergence(bases[0], bases[1], numbers, VOCAB)
    assert kl_retrained < 0.5 * kl_other  # measured: 0.046 vs 0.213 nats with one thread


@pytest.fixture(scope="module")
def tiny_results():
    return run_lm_seeds([0, 1], TINY, progress=False)


def test_lm_table_and_plot(tiny_results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from readingroom.subliminal.plots import plot_lm

    table = lm_table(tiny_results)
    lines = table.splitlines()
    assert len(lines) == 2 + len(tiny_results) + 2
    assert lines[2].split()[0] == "0" and lines[-1].split()[0] == "mean"
    assert f"{tiny_results[0].effect_same:+.3f}" in lines[2]
    fig, ax = plt.subplots()
    assert plot_lm(tiny_results, ax=ax) is ax
    assert ax.get_ylabel() == "P(owl | favourite animal?)"
    assert len(ax.lines) >= 2 * (len(tiny_results) + 1)  # a line per seed and arm, plus means
    plt.close(fig)
