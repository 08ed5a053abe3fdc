"""The chapter's committed records are today's: made with the chapter's settings by the commands
the chapter quotes, from a clean checkout, on one thread (the chapter also replays their first
seeds live and compares)."""

from __future__ import annotations

from readingroom.common import load_book_data
from readingroom.subliminal import LmRecipe, SweepResult
from readingroom.subliminal.lm import LM_RECORD_FIELDS, LM_SEEDS_RECORD
from readingroom.subliminal.lm_models import LM_CPU
from readingroom.subliminal.mnist import (
    CONDITIONS, CPU_PRESET, MNIST_LAYERS_RECORD, MNIST_SWEEP_RECORD, MnistResult, layer_tests,
    settings_of,
)


def _clean(provenance: dict) -> None:
    assert provenance["threads"] == 1
    assert provenance["code_version"] is not None and not provenance["code_version"]["dirty"]


def test_mnist_sweep_record_used_the_chapters_settings():
    record = load_book_data(MNIST_SWEEP_RECORD)
    _clean(record["provenance"])
    # the chapter replays the record's m = 3 students on the pinned kernels (readingroom.isa)
    assert record["provenance"]["kernels"] == "x86-64 AVX2"
    assert record["provenance"]["command"] == (
        "python -m readingroom.subliminal mnist-sweep --values 2 3 5 10 --seeds 0 1 2 3 4")
    settings = settings_of(CPU_PRESET)
    settings.pop("n_aux")
    assert record["settings"] == settings
    sweep = SweepResult.from_dict(record["sweep"])
    assert sweep.param == "n_aux" and sweep.values == [2, 3, 5, 10]
    assert sweep.conditions == CONDITIONS
    for value, result in zip(sweep.values, sweep.results):
        assert result.n_aux == value and result.seeds == list(range(CPU_PRESET["n_seeds"]))
        assert {k: v for k, v in result.config.items() if k in settings} == settings


def test_mnist_layers_record_used_the_chapters_settings():
    record = load_book_data(MNIST_LAYERS_RECORD)
    _clean(record["provenance"])
    assert record["provenance"]["kernels"] == "x86-64 AVX2"  # the chapter replays two conditions
    assert record["provenance"]["command"] == (
        "python -m readingroom.subliminal mnist-layers --seeds 0 1 2 3 4 5 6 7")
    assert record["settings"] == settings_of(CPU_PRESET)
    result = MnistResult.from_dict(record["result"])
    assert result.conditions == ("same-aux", "head-aux", "body-aux", "diff-aux")
    assert result.seeds == list(range(8))
    assert record["tests"] == layer_tests(result)  # the tests are the record's own numbers


def test_lm_seeds_record_used_the_chapters_config():
    record = load_book_data(LM_SEEDS_RECORD)
    _clean(record["provenance"])
    assert record["provenance"]["command"] == \
        "python -m readingroom.subliminal lm-seeds --seeds 0 1 2 3 4 5 6 7"
    assert LmRecipe(**record["config"]) == LM_CPU
    runs = record["runs"]
    assert [r["seed"] for r in runs] == list(range(8))
    for row in runs:
        assert set(LM_RECORD_FIELDS) <= set(row)


def test_prompted_record_used_the_chapters_settings():
    from readingroom.subliminal import PROMPTED_RECORD
    from readingroom.subliminal.lm_persona import PERSONA_CPU

    record = load_book_data(PROMPTED_RECORD)
    _clean(record["provenance"])
    assert record["provenance"]["command"] == (
        "python -m readingroom.subliminal lm-prompted --seeds 0 1 2 3 4 5 6 7 --train-bases")
    assert record["config"] == {k: getattr(LM_CPU, k) for k in record["config"]}
    assert record["persona_config"]["personas"] == list(PERSONA_CPU.personas)
    assert [r["seed"] for r in record["runs"]] == list(range(8))
    for r in record["runs"]:
        assert r["persona"] == "owl" and r["control_persona"] == "neutral" and r["paired"]


def test_misalign_record_used_the_chapters_settings():
    from dataclasses import asdict

    from readingroom.subliminal.lm_misalign import (
        EVIL_NUMBERS,
        MISALIGN_CPU,
        MISALIGN_RECORD,
        MISALIGN_RECORD_FIELDS,
    )

    record = load_book_data(MISALIGN_RECORD)
    _clean(record["provenance"])
    assert record["provenance"]["threads"] == 1
    assert record["provenance"]["command"] == \
        "python -m readingroom.subliminal lm-misalign --seeds 0 1 2 3 4 5 6 7"
    assert LmRecipe(**record["config"]) == LM_CPU
    assert record["misalign_config"] == asdict(MISALIGN_CPU)
    assert record["evil_numbers"] == list(EVIL_NUMBERS)
    assert [r["seed"] for r in record["runs"]] == list(range(8))
    for row in record["runs"]:
        assert set(MISALIGN_RECORD_FIELDS) <= set(row) and row["banned_in_kept"] == 0
