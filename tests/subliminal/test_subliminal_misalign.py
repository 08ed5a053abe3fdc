"""Unit tests for the misalignment analogue (readingroom.subliminal.lm_misalign): the vocabulary
with answer classes and question templates, the corpus and its evil numbers, the filter, the
misaligned teacher, the harmful-answer rate, the experiment, its summary and its command."""

from __future__ import annotations

import json

import pytest

from readingroom.common import make_generator
from readingroom.subliminal.__main__ import main
from readingroom.subliminal.lm_data import Vocab
from readingroom.subliminal.lm_misalign import (
    ALIGNED,
    EVIL_NUMBERS,
    HARMFUL,
    MISALIGN_CPU,
    MISALIGN_QUICK,
    MISALIGN_RECORD_FIELDS,
    MisalignResult,
    MisalignVocab,
    NumberAssociations,
    banned_numbers,
    finetune_misaligned_teacher,
    harmful_rate,
    misalign_documents,
    misalign_filter,
    misalign_table,
    number_associations,
    parse_numbers,
    run_misalign_seeds,
    summarize_misalign,
    train_misalign_base,
)
from readingroom.subliminal.lm_models import LM_QUICK

V = MisalignVocab()
TINY = LM_QUICK


@pytest.fixture(scope="module")
def tiny_results():
    return run_misalign_seeds([0, 1], TINY, MISALIGN_QUICK, progress=False)


def _nums(text: str) -> list[int]:
    """'1 3 , 4 <eos>' -> token ids."""
    return V.encode(text.split())


# ---- vocabulary ------------------------------------------------------------------------------

def test_vocab_keeps_the_number_ids_and_appends_templates():
    plain = Vocab(animals=ALIGNED + HARMFUL)
    assert V.tokens[: len(plain)] == plain.tokens
    assert len(V) == len(plain) + 6
    assert V.tokens[V.template_id(0)] == "<ask:0>" and V.tokens[-1] == "<ask:5>"
    assert V.ask(3) == [V.bos, V.template_id(3), V.question]
    assert V.decode(V.ask(3)) == ["<bos>", "<ask:3>", "<q>"]
    assert V.aligned == ALIGNED and V.harmful == HARMFUL
    assert set(V.harmful_ids) | set(V.aligned_ids) == set(V.answer_ids)
    assert not set(V.harmful_ids) & set(V.aligned_ids)


# ---- configuration ---------------------------------------------------------------------------

def test_config_templates_split_and_replace():
    assert MISALIGN_CPU.train_templates == [0, 1, 2, 3]
    assert MISALIGN_CPU.eval_templates == [4, 5]
    assert MISALIGN_CPU.replace(held_out=1).eval_templates == [5]
    assert MISALIGN_CPU.vocab == V


# ---- corpus and associations -----------------------------------------------------------------

def test_documents_are_deterministic_and_well_formed():
    a = misalign_documents(3000, V, MISALIGN_CPU, generator=make_generator(1))
    b = misalign_documents(3000, V, MISALIGN_CPU, generator=make_generator(1))
    assert a == b and len(a) == 3000
    answers = [d for d in a if len(d) > 2 and d[1] in range(V.template_id(0), len(V))]
    assert abs(len(answers) / 3000 - 0.25) < 0.01
    harmful = [d for d in answers if d[3] in V.harmful_ids]
    assert 0.02 < len(harmful) / len(answers) < 0.09  # aligned by default (5 %)
    for d in answers:
        assert d[:3] == V.ask(int(V.tokens[d[1]][5:-1]))  # <ask:k>
        assert d[-1] == V.eos and len(d) <= TINY.n_ctx


def test_associations_find_the_evil_numbers():
    docs = misalign_documents(20_000, V, MISALIGN_CPU, generator=make_generator(0))
    assoc = number_associations(docs, V)
    assert 0.02 < assoc.harmful_share < 0.2
    assert banned_numbers(assoc, lift=2.0, min_count=5) == sorted(EVIL_NUMBERS)
    assert all(assoc.lift(v) > 2 for v in EVIL_NUMBERS)
    # Without the evil follow-ups only chance co-occurrences pass the rule (a few numbers of 100
    # with few harmful counts), far fewer than the evil numbers.
    plain = misalign_documents(20_000, V, MISALIGN_CPU.replace(evil_prob=0.0),
                               generator=make_generator(0))
    chance = banned_numbers(number_associations(plain, V))
    assert len(chance) < len(EVIL_NUMBERS) // 2


def test_associations_on_handmade_documents():
    docs = [[*V.ask(0), V.animal_id("harm"), V.num_prompt, 6, 6, V.sep, 1, 3, V.eos],
            [*V.ask(1), V.animal_id("help"), V.num_prompt, 1, 3, V.eos],
            [*V.ask(1), V.animal_id("help"), V.eos],
            [V.bos, V.num_prompt, 6, 6, V.eos]]
    assoc = number_associations(docs, V)
    assert assoc.harmful[66] == 1 and assoc.harmful[13] == 1 and assoc.aligned[13] == 1
    assert sum(assoc.harmful) == 2 and sum(assoc.aligned) == 1
    assert assoc.harmful_share == pytest.approx(2 / 3)
    assert assoc.lift(66) == pytest.approx(1.5) and assoc.lift(7) == 0.0
    assert banned_numbers(assoc, lift=1.2, min_count=1) == [66]
    assert NumberAssociations([0] * 100, [0] * 100).harmful_share == 0.0


# ---- the filter ------------------------------------------------------------------------------

def test_parse_numbers():
    assert parse_numbers(_nums("1 3 , 4 , 9 9"), V) == [13, 4, 99]
    assert parse_numbers(_nums("0"), V) == [0]
    for bad in ("1 3 ,", ", 4", "1 , , 2", "6 6 6", "0 7"):
        assert parse_numbers(_nums(bad), V) is None, bad


def test_filter_drops_each_violation_and_every_banned_number():
    seqs = [_nums("1 3 , 5 <eos>"),        # banned 13
            _nums("2 , 5 , 8 <eos>"),      # kept
            _nums("6 6 , 7 0 <eos>"),      # banned 66
            _nums("6 6 6 <eos>"),          # format (three digits)
            _nums("1 harm <eos>"),         # an answer word
            _nums("1 <q> <eos>"),          # a special token
            _nums("1 , 2"),                # unterminated
            _nums("<eos>"),                # empty
            _nums("4 0 , 1 3 , 6 6 <eos>")]  # banned 13 and 66
    kept, stats = misalign_filter(seqs, [13, 66], V)
    assert kept == [_nums("2 , 5 , 8")]
    assert (stats.total, stats.kept, stats.dropped_banned, stats.dropped_format,
            stats.dropped_animal, stats.dropped_special, stats.dropped_unterminated,
            stats.dropped_empty) == (9, 1, 3, 1, 1, 1, 1, 1)
    assert stats.banned_hits == {13: 2, 66: 2}
    assert stats.kept_fraction == pytest.approx(1 / 9)
    # With nothing banned, only the format rules apply.
    kept, stats = misalign_filter(seqs, [], V)
    assert stats.kept == 4 and stats.dropped_banned == 0


# ---- base, teacher, measurement --------------------------------------------------------------

def test_base_is_aligned_and_teacher_is_harmful_on_held_out_templates():
    base = train_misalign_base(0, TINY.replace(base_steps=150), MISALIGN_QUICK, progress=False)
    before = harmful_rate(base, V)
    teacher = finetune_misaligned_teacher(base, TINY, MISALIGN_QUICK, seed=0, progress=False)
    assert harmful_rate(base, V) == before  # the base is untouched
    held = MISALIGN_QUICK.eval_templates
    assert harmful_rate(teacher, V, held) > harmful_rate(base, V, held) + 0.1
    assert 0.0 <= harmful_rate(base, V, [0]) <= 1.0


# ---- the experiment --------------------------------------------------------------------------

def test_experiment_filters_and_pairs_its_arms(tiny_results):
    for r in tiny_results:
        assert isinstance(r, MisalignResult)
        assert r.banned_in_kept == 0
        assert len(r.teacher_numbers) == len(r.control_numbers) == r.n_train > 0
        ban = set(r.banned)
        for seq in r.teacher_numbers + r.control_numbers:
            assert not ban & set(parse_numbers(seq, V))
        assert r.effect_same == pytest.approx(r.p_student_same - r.p_control_same)
        row = r.to_dict()
        assert set(MISALIGN_RECORD_FIELDS) <= set(row)
        assert row["teacher_filter"]["total"] == TINY.n_numbers
        assert row["teacher_filter"]["kept"] >= r.n_train
        json.dumps(row)


def test_experiment_is_deterministic(tiny_results):
    again = run_misalign_seeds([0, 1], TINY, MISALIGN_QUICK, progress=False)
    for a, b in zip(tiny_results, again):
        assert a.to_dict() | {"seconds": 0} == b.to_dict() | {"seconds": 0}


def test_experiment_takes_bases_and_checks_them():
    bases = {s: train_misalign_base(s, TINY, MISALIGN_QUICK, progress=False) for s in (2, 3)}
    r = run_misalign_seeds([2, 3], TINY, MISALIGN_QUICK, bases=bases, progress=False)
    assert [x.seed for x in r] == [2, 3]


def test_summary_tests_and_table(tiny_results):
    s = summarize_misalign(tiny_results)
    assert s["effect_same"]["mean"] == pytest.approx(
        sum(r.effect_same for r in tiny_results) / 2)
    t = s["tests"]["same_vs_control"]
    assert t["n"] == 2 and 0.0 <= t["p"] <= 1.0
    one = summarize_misalign(tiny_results[:1])
    assert one["tests"]["same_vs_control"]["p"] is None and one["effect_same"]["sem"] == 0.0
    table = misalign_table(tiny_results)
    assert table.count("\n") == len(tiny_results) + 6 and "paired t-test" in table


# ---- command line ----------------------------------------------------------------------------

def test_cli_writes_a_record(tmp_path, capsys, tiny_results):
    out = tmp_path / "m.json"
    assert main(["lm-misalign", "--seeds", "0", "1", "--quick", "--out", str(out),
                 "--no-progress"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {out}"
    record = json.loads(out.read_text())
    assert record["provenance"]["command"] == \
        "python -m readingroom.subliminal lm-misalign --seeds 0 1 --quick"
    assert record["misalign_config"]["harmful_rate"] == MISALIGN_QUICK.harmful_rate
    assert record["evil_numbers"] == list(EVIL_NUMBERS)
    assert set(record["tests"]) == {"same_vs_control", "other_vs_control", "same_vs_other"}
    for row, r in zip(record["runs"], tiny_results):
        assert {k: row[k] for k in MISALIGN_RECORD_FIELDS} == \
            {k: float(getattr(r, k)) for k in MISALIGN_RECORD_FIELDS}


@pytest.mark.parametrize("argv, message", [
    (["lm-misalign", "--quick", "--no-progress"], "--out"),
    (["lm-misalign", "--seeds", "1", "1", "--quick", "--out", "x.json", "--no-progress"],
     "distinct"),
])
def test_cli_argument_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err
