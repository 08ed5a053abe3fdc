"""Unit tests for the phase change: metrics logged in training, jump detection, plot, CLI, record."""

from __future__ import annotations

import json
import math

import matplotlib
import numpy as np
import pytest
import torch

from readingroom.common import TinyTransformer, TransformerConfig, load_book_data
from readingroom.induction import (
    CPU_RECIPE,
    GPU_RECIPE,
    change_share,
    induction_scores,
    jump_step,
    phase_change_metrics,
    phase_change_run,
    plot_phase_change,
    repeated_sequences,
    split_loss,
    train_induction_model,
)
from readingroom.induction.__main__ import PHASE_RECORD, build_parser, main

matplotlib.use("Agg")

SMALL = dict(vocab_size=16, seq_len=12, d_model=16, n_heads=2, min_period=2, max_period=6,
             batch=8, steps=6, lr=1e-3, eval_every=3)


def _logistic(steps, centre, width=8.0, low=0.1, high=0.8):
    return [low + (high - low) / (1.0 + math.exp(-(s - centre) / width)) for s in steps]


# ---- phase_change_metrics ---------------------------------------------------------------------

def test_phase_change_metrics_agrees_with_split_loss_and_head_scores():
    torch.manual_seed(0)
    model = TinyTransformer(TransformerConfig(vocab_size=16, n_ctx=12, d_model=16, n_layers=2,
                                              n_heads=2, d_mlp=0)).train()
    tokens, periods = repeated_sequences(6, 13, 16, min_period=2, max_period=6,
                                         generator=torch.Generator().manual_seed(1))
    out = phase_change_metrics(model, tokens, periods)
    assert model.training  # the mode is restored
    assert set(out) == {"fresh", "repeat", "icl", "induction"}
    split = split_loss(model, tokens, periods)
    assert out["fresh"] == pytest.approx(split["fresh"], rel=1e-6)
    assert out["repeat"] == pytest.approx(split["repeat"], rel=1e-6)
    assert out["icl"] == pytest.approx(out["repeat"] - out["fresh"])
    with torch.no_grad():
        _, attn = model.eval()(tokens[:, :-1], return_attention=True)
    assert out["induction"] == pytest.approx(float(induction_scores(attn, periods).max()))
    assert all(isinstance(v, float) for v in out.values())


# ---- jump_step and change_share -------------------------------------------------------------

@pytest.mark.parametrize("centre", [113.0, 117.5, 402.0])
def test_jump_step_finds_the_centre_of_a_logistic_rise(centre):
    steps = list(range(0, 801, 10))
    assert jump_step(steps, _logistic(steps, centre)) == pytest.approx(centre, abs=2.0)


def test_jump_step_is_blind_to_direction_scale_and_offset():
    steps = np.arange(0, 801, 10)
    rise = _logistic(steps, 250.0)
    expected = jump_step(steps, rise)
    assert jump_step(steps, [-3.0 * v + 7.0 for v in rise]) == pytest.approx(expected)
    assert jump_step(torch.tensor(steps), torch.tensor(rise, dtype=torch.float64)) == \
        pytest.approx(expected)


def test_jump_step_handles_uneven_sampling_and_flat_tops():
    steps = [0, 5, 10, 40, 50, 60, 70, 100]
    values = _logistic(steps, 55.0, width=4.0)
    assert jump_step(steps, values) == pytest.approx(55.0, abs=5.0)
    # two equally steep segments: the centre lies between them, not on the first
    assert jump_step([0, 10, 20, 30, 40], [0.0, 0.0, 1.0, 2.0, 2.0]) == pytest.approx(20.0)
    # a gentle trend before the jump does not pull it: the stretch is above half the top slope
    assert jump_step([0, 10, 20, 30, 40, 50], [0.0, 0.3, 0.6, 2.6, 2.6, 2.6]) == \
        pytest.approx(25.0)
    # a jump at the very start or end is located in the first or last segment
    assert jump_step([0, 1, 2, 3], [0.0, 5.0, 5.0, 5.0]) == pytest.approx(0.5)
    assert jump_step([0, 1, 2, 3], [0.0, 0.0, 0.0, 5.0]) == pytest.approx(2.5)


def test_jump_step_tells_two_different_jumps_apart():
    steps = list(range(0, 401, 10))
    early, late = _logistic(steps, 100.0), _logistic(steps, 160.0)
    assert jump_step(steps, late) - jump_step(steps, early) == pytest.approx(60.0, abs=3.0)


def test_change_share_of_a_line_and_of_a_step():
    steps = [0, 10, 20, 30, 40]
    line = [0.0, 1.0, 2.0, 3.0, 4.0]
    assert change_share(steps, line, 10, 30) == pytest.approx(0.5)
    assert change_share(steps, line, 5, 15) == pytest.approx(0.25)  # interpolated
    assert change_share(steps, line, 0, 40) == pytest.approx(1.0)
    jump = [1.0, 1.0, 0.0, 0.0, 0.0]  # a falling step: its whole change lies in [10, 20]
    assert change_share(steps, jump, 10, 20) == pytest.approx(1.0)
    assert change_share(steps, jump, 20, 40) == pytest.approx(0.0)


# ---- training: phase curves and one seed's run --------------------------------------------------

def test_phase_curves_line_up_with_the_loss_curve():
    run = train_induction_model(2, seed=1, progress=False, **SMALL)
    curves = run.phase_curves()
    assert curves["step"] == [0.0, 3.0, 6.0]
    assert [s for s, _ in run.induction_curve] == [0, 3, 6]
    for (_, fresh, repeat), icl in zip(run.curve, curves["icl"]):
        assert icl == pytest.approx(repeat - fresh)
    assert all(0.0 <= v <= 1.0 for v in curves["induction"])
    assert curves["induction"][-1] == pytest.approx(float(run.induction.max()), rel=1e-5)


def test_phase_change_run_is_json_ready_and_deterministic():
    a = phase_change_run(2, SMALL)
    b = phase_change_run(2, SMALL)
    assert a == b
    assert json.loads(json.dumps(a)) == a
    assert a["seed"] == 2 and a["n_layers"] == 2
    assert len(a["step"]) == len(a["icl"]) == len(a["induction"]) == 3
    assert a["icl_jump"] == jump_step(a["step"], a["icl"])
    assert a["induction_jump"] == jump_step(a["step"], a["induction"])


def test_recipes_share_their_keys_and_are_read_only():
    assert set(CPU_RECIPE) == set(GPU_RECIPE)
    with pytest.raises(TypeError):
        CPU_RECIPE["steps"] = 1


# ---- plot -----------------------------------------------------------------------------------

def test_plot_phase_change_draws_both_curves_on_one_step_axis():
    import matplotlib.pyplot as plt

    curves = {"step": [0, 10, 20], "icl": [0.0, -1.0, -3.0], "induction": [0.1, 0.2, 0.8]}
    left, right = plot_phase_change(curves, jumps={"icl": 12.0, "induction": 14.0})
    assert len(left.lines) == 3 and len(right.lines) == 1  # icl + two jump lines; induction
    assert left.yaxis_inverted()
    assert right.get_ylim() == (0, 1)
    assert list(left.lines[0].get_xdata()) == list(right.lines[0].get_xdata())
    plt.close("all")


# ---- command line and the committed record ---------------------------------------------------

def test_cli_quick_run_writes_a_record(tmp_path, capsys):
    out = tmp_path / "phase.json"
    assert main(["phase", "--seeds", "3", "--quick", "--out", str(out), "--no-progress"]) == 0
    data = json.loads(out.read_text())
    prov = data["provenance"]
    assert prov["command"] == "python -m readingroom.induction phase --seeds 3 --quick"
    assert {"argv", "date_utc", "threads", "torch", "device"} <= set(prov)
    (row,) = data["runs"]
    assert row["seed"] == 3 and row["icl_jump"] == jump_step(row["step"], row["icl"])
    assert "seed 3: ICL jump at step" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["phase", "--seeds", "-1"], ["phase", "--seeds", "x"],
                                  ["phase", "--seeds", str(2**32)], ["phase", "--seeds"],
                                  ["phase", "--quick"], ["phase", "--device", "cpu"],
                                  ["nope"], []])
def test_cli_bad_arguments_exit_with_status_2(argv, capsys):
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_cli_parser_defaults():
    args = build_parser().parse_args(["phase"])
    assert args.seeds == [0, 1, 2, 3, 4] and args.out is None and not args.quick
    assert not args.no_progress


def test_committed_phase_record_used_todays_recipe():
    """The chapter's phase change over seeds comes from this record: it must be today's recipe,
    today's jump definition, and the command the chapter quotes."""
    data = load_book_data(PHASE_RECORD)
    assert data["recipe"] == dict(CPU_RECIPE)
    assert data["provenance"]["command"] == \
        "python -m readingroom.induction phase --seeds 0 1 2 3 4"
    assert data["provenance"]["threads"] == 1
    runs = data["runs"]
    assert [r["seed"] for r in runs] == [0, 1, 2, 3, 4]
    expected_steps = [float(s) for s in range(0, CPU_RECIPE["steps"] + 1,
                                              CPU_RECIPE["eval_every"])]
    for row in runs:
        assert row["n_layers"] == 2
        assert row["step"] == expected_steps
        assert row["icl_jump"] == pytest.approx(jump_step(row["step"], row["icl"]))
        assert row["induction_jump"] == pytest.approx(jump_step(row["step"], row["induction"]))
        assert row["induction"][-1] == pytest.approx(row["final_induction"], rel=1e-4)
