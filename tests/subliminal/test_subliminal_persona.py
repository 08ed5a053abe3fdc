"""Unit tests for the prompted-teacher owl experiment (Cloud et al. 2025, Section 3): persona
tokens, the persona corpus and base models, the prompted teacher's numbers and the experiment
(readingroom.subliminal.lm_persona), and that the plain experiment's defaults are unchanged."""

from __future__ import annotations

import json

import pytest
import torch

from readingroom.common import make_generator
from readingroom.subliminal.lm import LmResult
from readingroom.subliminal.lm_data import (
    BASE_ANIMAL_WEIGHTS,
    Vocab,
    filter_numbers,
    filter_verdict,
    number_documents,
    persona_token,
    pretraining_corpus,
)
from readingroom.subliminal.lm_models import (
    LM_CPU,
    LM_QUICK,
    animal_distribution,
    finetune_student,
    generate_numbers,
    load_bases,
    trait_probability,
)
from readingroom.subliminal.lm_persona import (
    NEUTRAL,
    PERSONA_CPU,
    PERSONA_VOCAB,
    PERSONAS,
    PROMPTED_RECORD_FIELDS,
    PersonaRecipe,
    PromptedResult,
    load_persona_bases,
    persona_animal_weights,
    persona_base_weights_path,
    persona_number_divergence,
    persona_pretraining_corpus,
    prompted_table,
    prompted_teacher_numbers,
    run_prompted_seeds,
    save_persona_bases,
    summarize_prompted,
    train_persona_base,
)

VOCAB = Vocab()
PV = PERSONA_VOCAB
TINY = LM_QUICK
OWL, NEUT = PV.persona_id("owl"), PV.persona_id(NEUTRAL)
CORPUS_SHAPE, CORPUS_DIGEST, TARGET_DIGEST = (300, 25), 403810376.0, -1211889650.0


def _digest(x: torch.Tensor) -> float:
    """A position-weighted sum of a token tensor: changes when any draw does."""
    weights = torch.arange(1, x.numel() + 1, dtype=torch.float64)
    return float((x.double().flatten() * weights).sum())


@pytest.fixture(scope="module")
def pbase():
    return train_persona_base(0, TINY, progress=False)


@pytest.fixture(scope="module")
def learned_pbase():
    """A tiny persona base model trained long enough to have learned its personas."""
    return train_persona_base(0, TINY.replace(d_model=32, n_layers=2, base_steps=400,
                                              base_docs=3000, base_lr=1e-2), progress=False)


# ---- defaults unchanged ----------------------------------------------------------------------

def test_plain_vocabulary_and_corpus_are_unchanged():
    assert VOCAB == Vocab(personas=()) and VOCAB.personas == () and VOCAB.persona_ids == []
    assert VOCAB.tokens == ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ",", "owl", "cat",
                            "dog", "fox", "bee", "eel", "<bos>", "<eos>", "<q>", "<num>", "<pad>")
    assert VOCAB.prompt(VOCAB.question) == [VOCAB.bos, VOCAB.question]
    # the plain corpus's draws are today's (a digest of seed 0's, taken before the personas came)
    x, y = pretraining_corpus(300, VOCAB, generator=make_generator(0))
    assert tuple(x.shape) == CORPUS_SHAPE and _digest(x) == CORPUS_DIGEST
    assert _digest(y) == TARGET_DIGEST
    # the persona vocabulary keeps every other token's id
    assert PV.tokens[: len(VOCAB)] == VOCAB.tokens
    assert PV.tokens[len(VOCAB):] == ("<persona:owl>", "<persona:neutral>")
    assert (PV.bos, PV.eos, PV.question, PV.num_prompt, PV.pad, PV.animal_ids) == (
        VOCAB.bos, VOCAB.eos, VOCAB.question, VOCAB.num_prompt, VOCAB.pad, VOCAB.animal_ids)


def test_committed_plain_base_loads_and_answers_as_recorded():
    """The committed base of seed 0 still loads (hash, config, P(animal) to 1e-6) and the new
    ``persona=None`` default asks exactly today's question."""
    model = load_bases([0], LM_CPU)[0]
    record = json.loads((persona_base_weights_path(0).parent / "lm_base_seed0.json").read_text())
    assert trait_probability(model) == pytest.approx(record["metrics"]["p_owl"], abs=1e-6)
    assert trait_probability(model, persona=None) == trait_probability(model)
    assert generate_numbers(model, 20, seed=3) == generate_numbers(model, 20, seed=3, persona=None)


# ---- vocabulary ------------------------------------------------------------------------------

def test_persona_vocabulary():
    assert persona_token("owl") == "<persona:owl>"
    assert PV.personas == PERSONAS and PV.persona_ids == [OWL, NEUT]
    assert PV.token_id("<persona:owl>") == OWL and PV.decode([NEUT]) == ["<persona:neutral>"]
    assert PV.prompt(PV.num_prompt, persona="owl") == [PV.bos, OWL, PV.num_prompt]
    # a completion that writes a persona token is not "numbers only"
    assert filter_verdict([4, OWL, PV.eos], PV) == "special"


# ---- data ------------------------------------------------------------------------------------

def test_persona_animal_weights():
    owl = persona_animal_weights("owl", PV, strength=0.8)
    assert owl["owl"] == 0.8 and sum(owl.values()) == pytest.approx(1.0)
    assert owl["cat"] / owl["fox"] == pytest.approx(BASE_ANIMAL_WEIGHTS["cat"]
                                                    / BASE_ANIMAL_WEIGHTS["fox"])
    assert persona_animal_weights(NEUTRAL, PV) == BASE_ANIMAL_WEIGHTS
    cat = persona_animal_weights("cat", Vocab(personas=("cat",)), strength=0.5)
    assert cat["cat"] == 0.5


def test_persona_corpus_ties_numbers_to_no_persona():
    n = 6000
    x, y = persona_pretraining_corpus(n, PV, generator=make_generator(0), persona_frac=0.5,
                                      strength=0.8)
    x2, _ = persona_pretraining_corpus(n, PV, generator=make_generator(0), persona_frac=0.5,
                                       strength=0.8)
    assert torch.equal(x, x2) and x.shape[0] == n
    keep = (y[:, :-1] != -100) & (x[:, 1:] != PV.pad)
    assert torch.equal(y[:, :-1][keep], x[:, 1:][keep])
    label = torch.where(x[:, 1] == OWL, 1, torch.where(x[:, 1] == NEUT, 2, 0))  # [N]
    body = torch.where((label > 0)[:, None], x[:, 1:], x[:, :-1])  # drop the persona token
    is_animal = body[:, 1] == PV.question
    assert int(is_animal.sum()) == round(n * 0.25)
    assert abs(float((label > 0).double().mean()) - 0.5) < 0.03
    # answers: mostly owl after <persona:owl>, the base share after <persona:neutral> or none
    owl_id = PV.animal_id("owl")
    for lab, share in ((1, 0.8), (2, 0.12), (0, 0.12)):
        rows = is_animal & (label == lab)
        assert abs(float((body[rows, 2] == owl_id).double().mean()) - share) < 0.06, lab
    # numbers: the same distribution whatever the persona (compare simple statistics)
    for lab in (1, 2):
        a, b = body[~is_animal & (label == lab)], body[~is_animal & (label == 0)]
        assert body[~is_animal & (label == lab), 1].eq(PV.num_prompt).all()
        for stat in (lambda t: (t == PV.sep).sum(1).double().mean(),
                     lambda t: t[:, 2].double().mean()):
            assert abs(float(stat(a)) - float(stat(b))) < 0.35
    # numbers drawn first: the number documents are the plain generator's, in a shuffled order
    docs = number_documents(5, PV, generator=make_generator(1))
    assert all(d[1] == PV.num_prompt for d in docs)


def test_persona_config():
    assert PERSONA_CPU == PersonaRecipe() and PERSONA_CPU.vocab == PV
    assert PERSONA_CPU.replace(strength=0.6).strength == 0.6
    assert PERSONA_CPU.to_dict() == {"personas": ["owl", "neutral"], "persona_frac": 0.5,
                                     "strength": 0.8}


# ---- models ----------------------------------------------------------------------------------

def test_persona_base_learns_its_personas(learned_pbase):
    m = learned_pbase
    assert m.config.vocab_size == len(PV)
    p_none = trait_probability(m, PV)
    p_owl = trait_probability(m, PV, persona="owl")
    p_neutral = trait_probability(m, PV, persona=NEUTRAL)
    # tiny sizes learn the persona only partly (the CPU preset: P(owl) 0.10 -> 0.81)
    assert p_owl > max(0.3, p_none + 0.15, p_neutral + 0.1)
    assert sum(animal_distribution(m, PV, persona="owl").values()) == pytest.approx(1.0)


def test_train_persona_base_is_deterministic(pbase):
    again = train_persona_base(0, TINY, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(pbase.state_dict().values(),
                                                 again.state_dict().values()))


def test_prompted_teacher_numbers(pbase):
    kept, stats = prompted_teacher_numbers(pbase, 50, seed=4, persona="owl")
    assert stats.total == 50 and stats.kept == len(kept) > 0
    assert all(kept) and all(set(s) <= set(range(11)) for s in kept)  # numbers only, no persona
    assert (kept, stats) == prompted_teacher_numbers(pbase, 50, seed=4, persona="owl")
    # the same draws as generating after the same prompt, then filtering
    raw = generate_numbers(pbase, 50, PV, seed=4, persona="owl", max_new_tokens=28)
    assert filter_numbers(raw, PV) == (kept, stats)
    none, _ = prompted_teacher_numbers(pbase, 50, seed=4, persona=None)
    assert none == filter_numbers(generate_numbers(pbase, 50, PV, seed=4), PV)[0]
    student = finetune_student(pbase, kept, PV, TINY, progress=False)  # students: no persona
    assert 0.0 <= trait_probability(student, PV) <= 1.0


def test_persona_number_divergence(pbase):
    kept, _ = prompted_teacher_numbers(pbase, 40, seed=1)
    kl = persona_number_divergence(pbase, kept, "owl", NEUTRAL)
    assert kl > 0 and persona_number_divergence(pbase, kept, "owl", "owl") == 0.0
    assert persona_number_divergence(pbase, kept, "owl", None) > 0


def test_saved_persona_bases_load_back_and_are_checked(tmp_path, pbase):
    paths = save_persona_bases([0, 2], TINY, folder=tmp_path, command="test", progress=False)
    assert paths == [persona_base_weights_path(0, tmp_path), persona_base_weights_path(2, tmp_path)]
    assert paths[0].name == "lm_persona_base_seed0.safetensors"
    record = json.loads(paths[0].with_suffix(".json").read_text())
    assert set(record["metrics"]) >= {"p_owl", "p_owl|owl", "p_owl|neutral", "p_cat|owl"}
    assert record["extra"]["persona_config"] == PERSONA_CPU.to_dict()
    loaded = load_persona_bases([0, 2], TINY, folder=tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(loaded[0].state_dict().values(),
                                                 pbase.state_dict().values()))
    with pytest.raises(FileNotFoundError, match="lm-bases --persona --seeds 9"):
        load_persona_bases([9], TINY, folder=tmp_path)
    with pytest.raises(ValueError, match="different config"):
        load_persona_bases([0], TINY.replace(base_steps=61), folder=tmp_path)
    with pytest.raises(ValueError, match="different config"):
        load_persona_bases([0], TINY, PERSONA_CPU.replace(strength=0.7), folder=tmp_path)
    record["metrics"]["p_owl|owl"] += 0.01
    paths[0].with_suffix(".json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="no longer reproduces"):
        load_persona_bases([0], TINY, folder=tmp_path)
    with pytest.raises(FileNotFoundError):  # the plain loader never picks up a persona base
        load_bases([2], TINY, folder=tmp_path)


# ---- the experiment --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_prompted(pbase):
    other = train_persona_base(1, TINY, progress=False)
    return run_prompted_seeds([0, 1], TINY, bases={0: pbase, 1: other}, progress=False)


def test_run_prompted_seeds(tiny_prompted, pbase):
    r0, r1 = tiny_prompted
    assert isinstance(r0, PromptedResult) and [r0.seed, r1.seed] == [0, 1]
    assert r0.persona == r0.animal == "owl" and r0.control_persona == NEUTRAL and r0.paired
    assert r0.p_base == trait_probability(pbase, PV)
    assert r0.p_base_persona == trait_probability(pbase, PV, persona="owl")
    assert r0.p_base_control == trait_probability(pbase, PV, persona=NEUTRAL)
    assert r0.p_base_other == r1.p_base and r1.p_base_other == r0.p_base  # the ring
    assert r0.effect_same == r0.p_student_same - r0.p_control_same
    assert r0.teacher_filter.total == TINY.n_numbers == r0.control_filter.total
    assert len(r0.teacher_numbers) == r0.teacher_filter.kept
    assert 0.0 <= r0.identical_fraction <= 1.0 and r0.kl_persona >= 0
    assert isinstance(r0.finetuned, LmResult) and r0.finetuned.p_base == r0.p_base
    row = r0.to_dict()
    assert set(PROMPTED_RECORD_FIELDS) <= set(row) and row["finetuned"]["effect_same"] == \
        r0.finetuned.effect_same
    json.dumps(row)
    # deterministic, and the base models are untouched
    again = run_prompted_seeds([0], TINY, bases={0: pbase, r0.seed: pbase,
                                                 **_ring_other(pbase)},
                               finetuned=False, progress=False)[0]
    assert again.p_student_same == r0.p_student_same and again.finetuned is None
    assert again.teacher_numbers == r0.teacher_numbers
    table = prompted_table(tiny_prompted).splitlines()
    assert len(table) == 2 + 2 + 2 and table[-1].split()[0] == "mean"
    assert f"{r0.effect_same:+.3f}" in table[2]
    summary = summarize_prompted(tiny_prompted)
    assert summary["effect_same"]["mean"] == pytest.approx((r0.effect_same + r1.effect_same) / 2)
    assert "finetuned_effect_same" in summary
    assert "-" in prompted_table([again]).splitlines()[2].split("|")[-1]


def _ring_other(pbase):
    """A single seed's ring needs a second base model; any persona base will do here."""
    from readingroom.subliminal.lm import ring_base_seeds

    return {ring_base_seeds([0])[1]: pbase}


def test_unpaired_and_no_persona_control(pbase):
    bases = {0: pbase, **_ring_other(pbase)}
    r = run_prompted_seeds([0], TINY, bases=bases, control_persona=None, paired=False,
                           finetuned=False, progress=False)[0]
    assert r.control_persona is None and not r.paired
    assert r.p_base_control == r.p_base


# ---- command line ----------------------------------------------------------------------------

def test_lm_prompted_cli_writes_a_record_that_reproduces(tmp_path, capsys):
    from readingroom.subliminal.__main__ import main

    out = tmp_path / "prompted.json"
    assert main(["lm-prompted", "--seeds", "2", "3", "--quick", "--out", str(out),
                 "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["seed", "base", "+persona"] and lines[-1] == f"wrote {out}"
    record = json.loads(out.read_text())
    assert record["provenance"]["command"] == \
        "python -m readingroom.subliminal lm-prompted --seeds 2 3 --quick"
    assert record["config"]["d_model"] == TINY.d_model
    assert record["persona_config"] == PERSONA_CPU.to_dict()
    again = run_prompted_seeds([2, 3], TINY, progress=False)
    for row, result in zip(record["runs"], again):
        assert row["seed"] == result.seed and row["persona"] == "owl"
        assert {k: row[k] for k in PROMPTED_RECORD_FIELDS} == \
            {k: float(getattr(result, k)) for k in PROMPTED_RECORD_FIELDS}
        assert row["finetuned"]["effect_same"] == result.finetuned.effect_same


def test_lm_bases_persona_cli(tmp_path, capsys):
    from readingroom.subliminal.__main__ import main

    assert main(["lm-bases", "--persona", "--seeds", "1", "--quick", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "lm_persona_base_seed1.safetensors")]
    record = json.loads((tmp_path / "lm_persona_base_seed1.json").read_text())
    assert record["command"] == "python -m readingroom.subliminal lm-bases --persona --seeds 1 " \
        "--quick"
    assert set(load_persona_bases([1], TINY, folder=tmp_path)) == {1}


@pytest.mark.parametrize("argv, message", [
    (["lm-prompted", "--quick"], "--quick needs --out"),
    (["lm-prompted", "--seeds", "4", "4", "--out", "x.json"], "distinct"),
    (["lm-prompted", "--seeds", "-1", "--out", "x.json"], "--seeds"),
])
def test_lm_prompted_argument_errors_exit_2(argv, message, capsys):
    from readingroom.subliminal.__main__ import main

    with pytest.raises(SystemExit) as info:
        main(argv + ["--no-progress"])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_lm_prompted_without_persona_bases_names_the_command(tmp_path, capsys, monkeypatch):
    from readingroom.subliminal import lm_persona
    from readingroom.subliminal.__main__ import main

    def missing(seeds, config, persona_config, **kwargs):
        raise FileNotFoundError("no persona base model for seed 9")

    monkeypatch.setattr(lm_persona, "load_persona_bases", missing)
    with pytest.raises(SystemExit) as info:
        main(["lm-prompted", "--seeds", "9", "10", "--out", str(tmp_path / "x.json"),
              "--no-progress"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "lm-bases --persona --seeds 9 10" in err and "--train-bases" in err
    assert not (tmp_path / "x.json").exists()
