"""Every error path of readingroom.common's entry points, in one table: a bad argument (or a bad
value in the environment variable that stands for one) is refused with an error whose message
names it. The first rows are the shared checks themselves (readingroom.common.checks), whose
wording every package's messages share.

Kept elsewhere, as behaviour: the network guard refusing a connection (test_common_offline), the
command line's exit status 2 (test_common_cli), a missing, malformed or tampered file and the
reproduce check of committed weights (test_common_weights), a book data file that is missing or
not a JSON object (test_common_paths), a non-finite loss stopping training and a read-only
Preset (test_common_train, test_common_device).

CUDA is hidden (or faked) and the environment variables cleared inside the rows that depend on
them, so the table runs the same on any machine. The objects the calls need are small: a
two-layer transformer of width 16, a linear model, one weights file saved once in a scratch
folder.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import os
from pathlib import Path
from unittest import mock

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from readingroom.common import (  # noqa: E402
    ChapterTimer, Preset, TinyTransformer, TrainHistory, TransformerConfig, book_data_path,
    check_int, choose_preset, cli, file_sha256, load_book_data, load_committed, load_weights,
    make_executor, make_generator, next_token_loss, pick_device, plot_history, read_record,
    run_provenance, save_weights, seed_everything, start_chapter, thread_count, train,
    use_threads,
)
from readingroom.common.checks import (  # noqa: E402
    check_bool, check_choice, check_device, check_dropout, check_float, check_seed, check_seeds,
    positive_int_arg, seed_arg,
)
from readingroom.common.device import DEVICE_ENV, PRESET_ENV  # noqa: E402
from readingroom.common.plotting import get_axes  # noqa: E402
from readingroom.common.sparse import SAEConfig, SparseAutoencoder, train_sae  # noqa: E402
from readingroom.common.threads import THREADS_ENV  # noqa: E402
from refusals import refusal_test  # noqa: E402

NAN, INF = float("nan"), float("inf")
V, N_CTX = 11, 8
CPU, GPU = {"steps": 100, "d_model": 32}, {"steps": 1000, "d_model": 256}
PROVENANCE = dict(
    command="python -m readingroom.demo.train --seed 0 --out book/data/demo.safetensors",
    seed=0,
    data="64 random sequences, T=8, V=16",
)
_ENV = (DEVICE_ENV, PRESET_ENV, THREADS_ENV, "OMP_NUM_THREADS")

# --- a scratch folder, and cheap objects built on first use ---------------------------------------

_SCRATCH: list[Path] = []
_OUT = itertools.count()


@pytest.fixture(scope="module", autouse=True)
def _scratch(tmp_path_factory):
    _SCRATCH.append(tmp_path_factory.mktemp("bad_input"))
    yield
    _SCRATCH.pop()


def scratch() -> Path:
    return _SCRATCH[-1]


def quiet(call, *, cuda: int | None = None, **env: str):
    """``call`` with the device and thread variables unset (but those in ``env``) and CUDA hidden
    (or, with ``cuda=N``, faked with N devices); figures it opens are closed."""
    def run():
        with mock.patch.dict(os.environ), \
                mock.patch.object(torch.cuda, "is_available", lambda: cuda is not None), \
                mock.patch.object(torch.cuda, "device_count", lambda: cuda or 0):
            for var in _ENV:
                os.environ.pop(var, None)
            os.environ.update(env)
            try:
                return call()
            finally:
                plt.close("all")
    return run


def sae() -> SparseAutoencoder:
    torch.manual_seed(0)
    return SparseAutoencoder(SAEConfig(d_in=4, n_features=6, k=2))


def small_config(**overrides) -> TransformerConfig:
    return TransformerConfig(**{**dict(vocab_size=V, n_ctx=N_CTX, d_model=16, n_layers=2,
                                       n_heads=2), **overrides})


@functools.cache
def small_model() -> TinyTransformer:
    seed_everything(0)
    return TinyTransformer(small_config()).eval()


def on_meta(call):
    """``call(model)`` on a copy of the small model moved to the meta device."""
    seed_everything(0)
    return lambda: call(TinyTransformer(small_config()).to("meta"))


def mutated_config() -> TinyTransformer:
    config = small_config()
    config.n_heads = 5  # the dataclass is mutable; the model re-validates it
    return TinyTransformer(config)


def tokens(B: int = 1, T: int = 2) -> torch.Tensor:
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(1))


def linear_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(2, 1)


def mse(model, x, y):
    return nn.functional.mse_loss(model(x), y)


def constant_batch(step):
    return torch.ones(4, 2), torch.zeros(4, 1)


def fit(**kwargs):
    """:func:`train` on the linear model for ten steps, ``kwargs`` replacing any argument."""
    args = {"model": linear_model(), "get_batch": constant_batch, "steps": 10, "loss_fn": mse,
            "progress": False, **kwargs}
    return train(args.pop("model"), args.pop("get_batch"), **args)


def history(n: int = 50) -> TrainHistory:
    return TrainHistory(losses=[1.0 / (i + 1) + 0.1 * (i % 3) for i in range(n)])


def tiny_weights_model(seed: int = 0) -> TinyTransformer:
    seed_everything(seed)
    return TinyTransformer(TransformerConfig(vocab_size=16, n_ctx=8, d_model=16, n_layers=1,
                                             n_heads=2)).eval()


def refused_save(**change):
    """:func:`save_weights` with ``change`` applied; a refused save writes nothing."""
    out = scratch() / f"out{next(_OUT)}"
    kwargs = dict(model=tiny_weights_model(), path=out / "w.safetensors", **PROVENANCE)
    kwargs.update(change)
    try:
        save_weights(kwargs.pop("model"), kwargs.pop("path"), **kwargs)
    finally:
        assert not out.exists(), "a refused save wrote something"


def saved() -> Path:
    """One weights file with its record, saved once per module run."""
    path = scratch() / "w.safetensors"
    if not path.is_file():
        save_weights(tiny_weights_model(), path, **PROVENANCE)
    return path


def committed(**kwargs):
    """:func:`load_committed` of :func:`saved`'s file, ``kwargs`` replacing any argument."""
    args = {"model": tiny_weights_model(1), "command": "make it", **kwargs}
    return load_committed(saved(), **args)


def refused_load(model=None, path: str | int = "w.safetensors", strict=True):
    target = tiny_weights_model(1) if model is None else model
    real_path = saved().with_name(path) if isinstance(path, str) else path
    return load_weights(target, real_path, strict=strict)


def preset() -> Preset:
    return Preset("cpu", torch.device("cpu"), {"steps": 3, "lr": 0.1})


# --- the table ------------------------------------------------------------------------------

CHECKS = [
    # readingroom.common.checks: (call, exception, match); every message names the parameter
    (lambda: check_int(0, "n"), ValueError, "n must be a positive int, got 0"),
    (lambda: check_int(1, "n", minimum=2), ValueError, "n must be an int >= 2, got 1"),
    (lambda: check_int(2.0, "n"), TypeError, "n must be an int, got float 2.0"),
    (lambda: check_int(True, "n"), TypeError, "n must be an int, got bool True"),
    (lambda: check_int("3", "n"), TypeError, "n must be an int, got str '3'"),
    (lambda: check_dropout(1.0), ValueError, r"dropout must be in \[0, 1\), got 1.0"),
    (lambda: check_dropout(-0.1, "p"), ValueError, r"p must be in \[0, 1\), got -0.1"),
    (lambda: check_dropout(True), TypeError, "dropout must be a float, got bool True"),
    (lambda: check_float("1", "lr"), TypeError, "lr must be a float, got str '1'"),
    (lambda: check_float(None, "lr"), TypeError, "lr must be a float, got NoneType None"),
    (lambda: check_float(True, "lr"), TypeError, "lr must be a float, got bool True"),
    (lambda: check_float(NAN, "x"), ValueError, "x must be a finite float, got nan"),
    (lambda: check_float(INF, "x", low=0), ValueError,
     "x must be a non-negative finite float, got inf"),
    (lambda: check_float(0, "lr", low=0, low_open=True), ValueError,
     "lr must be a positive finite float, got 0.0"),
    (lambda: check_float(-1e-3, "wd", low=0), ValueError,
     "wd must be a non-negative finite float, got -0.001"),
    (lambda: check_float(0, "t", low=0.5), ValueError, "t must be a finite float >= 0.5, got 0.0"),
    (lambda: check_float(2, "t", low=2, low_open=True), ValueError,
     "t must be a finite float > 2, got 2.0"),
    (lambda: check_float(3, "t", high=2), ValueError, "t must be a finite float <= 2, got 3.0"),
    (lambda: check_float(2, "t", high=2, high_open=True), ValueError,
     "t must be a finite float < 2, got 2.0"),
    (lambda: check_float(0, "m", low=0, low_open=True, high=1), ValueError,
     r"m must be in \(0, 1\], got 0.0"),
    (lambda: check_float(1.5, "m", low=0, low_open=True, high=1), ValueError,
     r"m must be in \(0, 1\], got 1.5"),
    (lambda: check_bool(1, "flag"), TypeError, "flag must be a bool, got int 1"),
    (lambda: check_bool(None, "flag"), TypeError, "flag must be a bool, got NoneType None"),
    (lambda: check_choice("c", "mode", ("a", "b")), ValueError,
     "mode must be one of a, b, got 'c'"),
    (lambda: check_choice(1, "mode", ("a", "b")), ValueError, "mode must be one of a, b, got 1"),
    (lambda: check_seed(-1), ValueError, r"seed must be a non-negative int at most 2\*\*32 - 1"),
    (lambda: check_seed(2**32, "data_seed"), ValueError, "data_seed must be a non-negative int"),
    (lambda: check_seed(1.0), TypeError, "seed must be a non-negative int, got float 1.0"),
    (lambda: check_seed(True), TypeError, "seed must be a non-negative int, got bool True"),
    (lambda: check_seeds("01"), TypeError, "seeds must be a sequence of ints, got str '01'"),
    (lambda: check_seeds(3), TypeError, "seeds must be a sequence of ints, got int 3"),
    (lambda: check_seeds([]), ValueError, "seeds must hold at least one seed"),
    (lambda: check_seeds([0, 1.0]), TypeError, "seeds must hold ints, got float 1.0"),
    (lambda: check_seeds([0, True]), TypeError, "seeds must hold ints, got bool True"),
    (lambda: check_seeds([-1], "s"), ValueError, r"s must hold ints in \[0, 2\*\*32 - 1\], got -1"),
    (lambda: check_seeds([1, 1], distinct=True), ValueError,
     r"seeds must be distinct, got \[1, 1\]"),
    (lambda: check_device(0), TypeError, "device must be a str or torch.device, got int 0"),
    (lambda: check_device("gpu", "where"), ValueError,
     "where must be a valid torch device string, got 'gpu'"),
    (quiet(lambda: check_device("cuda")), ValueError,
     "device is 'cuda' but CUDA is not available"),
    (lambda: seed_arg("-1"), argparse.ArgumentTypeError, "must be an int in"),
    (lambda: seed_arg("x"), argparse.ArgumentTypeError, "must be a non-negative int, got 'x'"),
    (lambda: seed_arg(str(2**32)), argparse.ArgumentTypeError, "must be an int in"),
    (lambda: seed_arg("1.5"), argparse.ArgumentTypeError, "must be a non-negative int"),
    (lambda: positive_int_arg("0"), argparse.ArgumentTypeError, "must be a positive int, got 0"),
    (lambda: positive_int_arg("-2"), argparse.ArgumentTypeError, "must be a positive int"),
    (lambda: positive_int_arg("two"), argparse.ArgumentTypeError, "must be a positive int"),
]

CASES = [
    # (id, call, exception, match)
    *[(f"checks {i}: {match}", call, exc, match) for i, (call, exc, match) in enumerate(CHECKS)],
    # seeding
    *[(f"seed_everything: {bad!r}", lambda bad=bad: seed_everything(bad), TypeError,
       "seed must be a non-negative int") for bad in (True, 1.0, "1", None)],
    *[(f"seed_everything: {bad}", lambda bad=bad: seed_everything(bad), ValueError,
       f"seed must be .*got {bad}") for bad in (-1, 2**32)],
    ("make_generator: seed False", lambda: make_generator(False), TypeError, "seed"),
    ("make_generator: seed -3", lambda: make_generator(-3), ValueError, "seed"),
    ("make_generator: device nope", lambda: make_generator(0, device="nope"), ValueError,
     "device must be a valid torch device string"),
    ("make_generator: device an int", lambda: make_generator(0, device=3), TypeError,
     "device must be a str or torch.device"),
    ("make_generator: cuda without CUDA", quiet(lambda: make_generator(0, device="cuda")),
     ValueError, "device is 'cuda' but CUDA is not available"),
    # devices and presets
    ("pick_device: cuda without CUDA", quiet(lambda: pick_device("cuda")), ValueError,
     "prefer is 'cuda' but CUDA is not available"),
    ("pick_device: tpu", quiet(lambda: pick_device("tpu")), ValueError,
     "prefer must be one of auto, cpu, cuda"),
    ("pick_device: an int", quiet(lambda: pick_device(0)), TypeError,
     "prefer must be None or a str"),
    ("pick_device: the variable asks for CUDA", quiet(pick_device, **{DEVICE_ENV: "cuda"}),
     ValueError, f"{DEVICE_ENV} is 'cuda' but CUDA is not available"),
    ("pick_device: the variable names no device", quiet(pick_device, **{DEVICE_ENV: "gpu0"}),
     ValueError, f"{DEVICE_ENV} must be one of"),
    ("Preset: name tpu", lambda: Preset("tpu", torch.device("cpu"), {}), ValueError,
     "name must be one of cpu, gpu, got 'tpu'"),
    ("Preset: device an int", lambda: Preset("cpu", 0, {}), TypeError,
     "device must be a torch.device"),
    ("Preset: device nope", lambda: Preset("cpu", "nope", {}), ValueError,
     "device must be a valid torch device string"),
    ("Preset: params a list", lambda: Preset("cpu", torch.device("cpu"), [("steps", 1)]),
     TypeError, "params must be a Mapping"),
    ("Preset: an int key", lambda: Preset("cpu", torch.device("cpu"), {1: 2}), TypeError,
     "params keys must be str"),
    ("Preset: key device", lambda: Preset("cpu", torch.device("cpu"), {"device": "cuda"}),
     ValueError, "params key 'device' clashes"),
    ("Preset: a misspelt attribute", lambda: preset().stpes, AttributeError,
     "no parameter 'stpes'; known keys: lr, steps"),
    ("Preset: a misspelt key", lambda: preset()["stpes"], KeyError, "known keys: lr, steps"),
    ("choose_preset: the variable names no preset",
     quiet(lambda: choose_preset(CPU, GPU, verbose=False), **{PRESET_ENV: "huge"}), ValueError,
     f"{PRESET_ENV} must be 'cpu' or 'gpu'"),
    ("choose_preset: other keys",
     quiet(lambda: choose_preset({"steps": 1, "lr": 0.1}, {"steps": 2, "batch": 8},
                                 verbose=False)),
     ValueError, r"only in cpu: \['lr'\], only in gpu: \['batch'\]"),
    ("choose_preset: cpu a list", quiet(lambda: choose_preset([("steps", 1)], GPU)), TypeError,
     "cpu must be a Mapping"),
    ("choose_preset: gpu None", quiet(lambda: choose_preset(CPU, None)), TypeError,
     "gpu must be a Mapping"),
    ("choose_preset: verbose yes", quiet(lambda: choose_preset(CPU, GPU, verbose="yes")),
     TypeError, "verbose must be a bool"),
    ("choose_preset: device an int", quiet(lambda: choose_preset(CPU, GPU, device=0)), TypeError,
     "device must be None, a str or a torch.device"),
    *[(f"choose_preset: device {device} without CUDA",
       quiet(lambda device=device: choose_preset(CPU, GPU, device=device, verbose=False)),
       ValueError, f"device is '{device}' but CUDA is not available")
      for device in ("cuda", "cuda:1")],
    ("choose_preset: device torch.device('cuda') without CUDA",
     quiet(lambda: choose_preset(CPU, GPU, device=torch.device("cuda"), verbose=False)),
     ValueError, "device is 'cuda' but CUDA is not available"),
    ("choose_preset: device warp-drive",
     quiet(lambda: choose_preset(CPU, GPU, device="warp-drive", verbose=False)), ValueError,
     "device must be a valid torch device string"),
    # the command line's --device
    ("resolve_device: tpu", quiet(lambda: cli.resolve_device("tpu")), ValueError,
     "--device must be auto, cpu, cuda or cuda:N"),
    *[(f"resolve_device: {value} without CUDA", quiet(lambda v=value: cli.resolve_device(v)),
       ValueError, f"--device {value}: no CUDA device") for value in ("cuda", "cuda:0")],
    ("resolve_device: cuda:2 of 2", quiet(lambda: cli.resolve_device("cuda:2"), cuda=2),
     ValueError, "--device cuda:2: this machine has 2 CUDA device"),
    # threads
    *[(f"thread_count: {value!r}", quiet(lambda v=value: thread_count(v)), exc, match)
      for value, exc, match in [
          (0, ValueError, "threads must be a positive int or 'auto', got 0"),
          (-2, ValueError, "got -2"), ("two", ValueError, "got 'two'"),
          (1.5, TypeError, "got float"), (True, TypeError, "got bool")]],
    ("use_threads: the variable says 0", quiet(use_threads, **{THREADS_ENV: "0"}), ValueError,
     f"environment variable {THREADS_ENV}"),
    # chapter timing
    *[(f"{make.__name__}: {name!r}, {budget!r}", lambda m=make, n=name, b=budget: m(n, b), exc,
       match)
      for make in (start_chapter, ChapterTimer)
      for name, budget, exc, match in [
          ("", 10, ValueError, "name must be a non-empty str"),
          ("  ", 10, ValueError, "name must be a non-empty str"),
          (3, 10, TypeError, "name must be a non-empty str"),
          ("x", 0, ValueError, "budget_s must be a positive finite float, got 0"),
          ("x", INF, ValueError, "budget_s must be a positive finite float"),
          ("x", "60", TypeError, "budget_s must be a float"),
          ("x", True, TypeError, "budget_s must be a float")]],
    ("ChapterTimer.lap: an empty label", lambda: ChapterTimer("x").lap(""), ValueError,
     "label must be a non-empty str"),
    ("ChapterTimer.lap: an int label", lambda: ChapterTimer("x").lap(1), TypeError,
     "label must be a non-empty str"),
    ("ChapterTimer.report: preset a str", lambda: ChapterTimer("x").report("cpu"), TypeError,
     "preset must be a Preset or None"),
    # plotting
    *[(f"plot_history: {kwargs}", quiet(lambda kw=kwargs: plot_history(
        **{"history": history(), **kw})), exc, match)
      for kwargs, exc, match in [
          ({"history": [1.0, 2.0]}, TypeError, "history must be a TrainHistory"),
          ({"history": TrainHistory()}, ValueError, "history must hold at least one loss"),
          ({"ax": "axes"}, TypeError, "ax must be a matplotlib Axes"),
          ({"smooth": 0}, ValueError, "smooth must be a positive int, got 0"),
          ({"smooth": 2.5}, TypeError, "smooth must be an int, got float 2.5"),
          ({"label": 3}, TypeError, "label must be a str"),
          ({"log_y": "yes"}, TypeError, "log_y must be a bool")]],
    ("get_axes: a str", quiet(lambda: get_axes("axes")), TypeError,
     "ax must be a matplotlib Axes or None"),
    # book data paths (checked before the checkout is looked for)
    *[(f"book_data_path: {name!r}", lambda n=name: book_data_path(n), exc, match)
      for name, exc, match in [
          (3, TypeError, "name must be a str"),
          ("", ValueError, "name must be a non-empty relative file name"),
          ("/etc/passwd", ValueError, "got absolute path"),
          ("C:\\data.json", ValueError, "got absolute path"),
          ("../secrets.json", ValueError, r"name must not contain '\.\.'"),
          ("a/../../b.json", ValueError, r"name must not contain '\.\.'")]],
    ("load_book_data: '..'", lambda: load_book_data("../x.json"), ValueError, "must not contain"),
    # executors
    ("make_executor: workers 0", lambda: make_executor(workers=0), ValueError,
     "workers must be a positive int"),
    ("make_executor: workers a str", lambda: make_executor(workers="2"), TypeError,
     "workers must be an int"),
    ("make_executor: an address without a scheme", lambda: make_executor("localhost:8786"),
     ValueError, "cluster must be None or a Dask scheduler address"),
    # training
    ("TrainHistory.final_loss: no losses", lambda: TrainHistory().final_loss(), ValueError,
     "final_loss needs at least one recorded loss"),
    *[(f"TrainHistory.{method}: window {window!r}",
       lambda m=method, w=window: getattr(TrainHistory(losses=[1.0]), m)(w), exc, match)
      for method in ("smoothed", "final_loss")
      for window, exc, match in [(0, ValueError, "window must be a positive int, got 0"),
                                 (-2, ValueError, "window must be a positive int, got -2"),
                                 (2.0, TypeError, "window must be an int, got float 2.0"),
                                 (True, TypeError, "window must be an int, got bool True")]],
    *[(f"next_token_loss: {match}", lambda lg=logits, tg=targets: next_token_loss(lg, tg), exc,
       match)
      for logits, targets, exc, match in [
          ([[0.0]], torch.zeros(1, 1, dtype=torch.long), TypeError,
           "logits must be a torch.Tensor"),
          (torch.zeros(1, 1, 3), [[0]], TypeError, "targets must be a torch.Tensor"),
          (torch.zeros(1, 1, 3, dtype=torch.long), torch.zeros(1, 1, dtype=torch.long),
           TypeError, "logits must be a floating-point"),
          (torch.zeros(1, 1, 3), torch.zeros(1, 1), TypeError,
           "targets must have an integer dtype"),
          (torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), ValueError,
           r"logits must be 3-D \[B, T, V\]"),
          (torch.zeros(2, 4, 3), torch.zeros(2, 5, dtype=torch.long), ValueError,
           r"targets must have shape \[B, T\] = \(2, 4\)"),
          (torch.zeros(1, 2, 3), torch.tensor([[0, 3]]), ValueError,
           r"targets must be in \[0, V=3\) or -100"),
          (torch.zeros(1, 2, 3), torch.tensor([[-1, 0]]), ValueError,
           r"targets must be in \[0, V=3\)"),
          (torch.zeros(1, 2, 3), torch.full((1, 2), -100), ValueError,
           "at least one position that is not -100"),
          (torch.zeros(1, 2, 3), torch.zeros(1, 2, dtype=torch.long, device="meta"), ValueError,
           "targets is on meta but logits is on cpu")]],
    *[(f"train: {kwargs}", lambda kw=kwargs: fit(**kw), exc, match)
      for kwargs, exc, match in [
          ({"model": "net"}, TypeError, "model must be a torch.nn.Module"),
          ({"model": nn.ReLU()}, ValueError, "model must have at least one parameter"),
          ({"get_batch": [1, 2]}, TypeError, "get_batch must be callable"),
          ({"steps": 0}, ValueError, "steps must be a positive int, got 0"),
          ({"steps": 10.0}, TypeError, "steps must be an int"),
          ({"lr": 0.0}, ValueError, "lr must be a positive finite float"),
          ({"lr": NAN}, ValueError, "lr must be a positive finite float"),
          ({"lr": "1e-3"}, TypeError, "lr must be a float"),
          ({"weight_decay": -0.1}, ValueError, "weight_decay must be a non-negative finite float"),
          ({"warmup": 10}, ValueError, r"warmup must be in \[0, steps=10\), got 10"),
          ({"warmup": -1}, ValueError, "warmup must be an int >= 0"),
          ({"schedule": "linear"}, ValueError, "schedule must be one of cosine, constant"),
          ({"grad_clip": 0.0}, ValueError, "grad_clip must be a positive finite float"),
          ({"loss_fn": "mse"}, TypeError, "loss_fn must be None or callable"),
          ({"eval_every": -1}, ValueError, "eval_every must be an int >= 0"),
          ({"eval_every": 2}, ValueError, "eval_fn must be given when eval_every=2"),
          ({"eval_fn": "acc"}, TypeError, "eval_fn must be None or callable"),
          ({"progress": 1}, TypeError, "progress must be a bool"),
          ({"desc": None}, TypeError, "desc must be a str"),
      ]],
    # what train's callables return
    ("train: eval_fn returns a float", lambda: fit(steps=1, eval_fn=lambda m: 1.0), TypeError,
     "eval_fn must return a dict"),
    ("train: eval_fn returns a str value", lambda: fit(steps=1, eval_fn=lambda m: {"a": "b"}),
     TypeError, "eval_fn must return a dict"),
    ("train: loss_fn returns a [4, 1] tensor", lambda: fit(steps=1, loss_fn=lambda m, x, y: m(x)),
     TypeError, r"loss_fn must return a scalar tensor, got shape \(4, 1\)"),
    ("train: loss_fn returns a float", lambda: fit(steps=1, loss_fn=lambda m, x, y: 1.0),
     TypeError, "loss_fn must return a scalar tensor, got float"),
    ("train: get_batch returns a tensor", lambda: fit(steps=1, get_batch=lambda s: torch.ones(2)),
     TypeError, "get_batch must return a pair"),
    # the transformer
    *[(f"TransformerConfig: {field}={value!r}", lambda f=field, v=value: small_config(**{f: v}),
       exc, match)
      for field, value, exc, match in [
          ("vocab_size", 0, ValueError, "vocab_size must be a positive int, got 0"),
          ("n_ctx", -1, ValueError, "n_ctx must be a positive int"),
          ("d_model", 16.0, TypeError, "d_model must be an int"),
          ("n_layers", True, TypeError, "n_layers must be an int"),
          ("n_heads", 0, ValueError, "n_heads must be a positive int"),
          ("n_heads", 3, ValueError, "d_model must be divisible by n_heads"),
          ("d_mlp", -1, ValueError, "d_mlp must be an int >= 0"),
          ("d_mlp", 2.5, TypeError, "d_mlp must be an int"),
          ("dropout", 1.0, ValueError, r"dropout must be in \[0, 1\)"),
          ("dropout", -0.1, ValueError, "dropout must be in"),
          ("dropout", "0.1", TypeError, "dropout must be a float"),
          ("layer_norm", 1, TypeError, "layer_norm must be a bool"),
          ("tie_embeddings", "no", TypeError, "tie_embeddings must be a bool")]],
    ("TinyTransformer: a dict", lambda: TinyTransformer({"vocab_size": V}), TypeError,
     "config must be a TransformerConfig"),
    ("TinyTransformer: a config changed after it was made", mutated_config, ValueError,
     "d_model must be divisible by n_heads"),
    *[(f"TinyTransformer.forward: {match} ({getattr(idx, 'dtype', type(idx).__name__)})",
       lambda x=idx: small_model()(x), exc, match)
      for idx, exc, match in [
          ([[1, 2]], TypeError, "idx must be a torch.Tensor"),
          (torch.zeros(2, 3), TypeError, "idx must have an integer dtype"),
          (torch.zeros(2, 3, dtype=torch.bool), TypeError, "idx must have an integer dtype"),
          (torch.zeros(3, dtype=torch.long), ValueError, r"idx must be 2-D \[B, T\]"),
          (torch.zeros(2, N_CTX + 1, dtype=torch.long), ValueError,
           f"T={N_CTX + 1}.*n_ctx={N_CTX}"),
          (torch.zeros(2, 0, dtype=torch.long), ValueError, "T=0"),
          (torch.full((2, 3), V), ValueError, f"vocab_size={V}"),
          (torch.full((2, 3), -1), ValueError, r"token ids in \[-1, -1\]")]],
    ("TinyTransformer.forward: idx on another device", on_meta(lambda m: m(tokens(1, 3))),
     ValueError, "idx is on cpu but the model is on meta"),
    *[(f"TinyTransformer.generate: {kwargs}",
       lambda kw=kwargs: small_model().generate(tokens(), **{"max_new_tokens": 2, **kw}), exc,
       match)
      for kwargs, exc, match in [
          ({"max_new_tokens": -1}, ValueError, "max_new_tokens must be an int >= 0"),
          ({"max_new_tokens": 2.0}, TypeError, "max_new_tokens must be an int"),
          ({"greedy": "yes"}, TypeError, "greedy must be a bool"),
          ({"temperature": 0.0}, ValueError, "temperature must be a positive finite float"),
          ({"temperature": INF}, ValueError, "temperature must be a positive finite float"),
          ({"temperature": "hot"}, TypeError, "temperature must be a float"),
          ({"generator": 0}, TypeError, "generator must be a torch.Generator"),
          ({"cache": 1}, TypeError, "cache must be a bool")]],
    ("TinyTransformer.generate: idx 1-D",
     lambda: small_model().generate(torch.zeros(3, dtype=torch.long), 1), ValueError,
     "idx must be 2-D"),
    ("TinyTransformer.generate: a token id out of the vocabulary",
     lambda: small_model().generate(torch.full((1, 2), V), 1), ValueError, "vocab_size"),
    # the sparse autoencoder (its other refusals are rows of tests/audit/test_audit_bad_input)
    *[(f"SAEConfig: {kwargs}", lambda kw=kwargs: SAEConfig(**{"d_in": 4, **kw}), exc, match)
      for kwargs, exc, match in [
          ({"activation": "jump"}, ValueError, "activation must be one of topk, relu, got 'jump'"),
          ({"l1": -1.0}, ValueError, "l1 must be a non-negative finite float, got -1.0"),
          ({"l1": NAN}, ValueError, "l1 must be a non-negative finite float"),
          ({"l1": "0.1"}, TypeError, "l1 must be a float, got str '0.1'")]],
    *[(f"SparseAutoencoder.loss: {match}", lambda x=x: sae().loss(x), exc, match)
      for x, exc, match in [(torch.zeros(3, 5), ValueError, r"x must have shape \[\.\.\., D=4\]"),
                            ([[0.0] * 4], TypeError, "x must be a torch.Tensor"),
                            (torch.zeros(3, 4, dtype=torch.long), TypeError,
                             "x must be a floating-point tensor")]],
    *[(f"train_sae: lr {lr!r}", lambda lr=lr: train_sae(torch.randn(10, 4), SAEConfig(d_in=4),
                                                        steps=1, lr=lr), exc, match)
      for lr, exc, match in [(0, ValueError, "lr must be a positive finite float"),
                             (INF, ValueError, "lr must be a positive finite float"),
                             ("1e-3", TypeError, "lr must be a float")]],
    # committed weights: the arguments (the files' own errors are behaviour)
    *[(f"save_weights: {change}", lambda c=change: refused_save(**c), exc, match)
      for change, exc, match in [
          (dict(model="not a model"), TypeError, "model must be a torch.nn.Module"),
          (dict(path=3), TypeError, "path must be a str or os.PathLike"),
          (dict(path="weights.pt"), ValueError, r"must name a '\.safetensors' file.*weights\.pt"),
          (dict(path="w.safetensors.bak"), ValueError, r"w\.safetensors\.bak"),
          (dict(path=""), ValueError, "path must be a non-empty"),
          (dict(command=""), ValueError, "command must be a non-empty str"),
          (dict(command="   "), ValueError, "command must be a non-empty str"),
          (dict(command=None), TypeError, "command must be a non-empty str"),
          (dict(data=""), ValueError, "data must be a non-empty str"),
          (dict(data=["recipe"]), TypeError, "data must be a non-empty str"),
          (dict(seed=-1), ValueError, "seed must be a non-negative int"),
          (dict(seed=True), TypeError, "seed must be a non-negative int"),
          (dict(seed=1.0), TypeError, "seed must be a non-negative int"),
          (dict(seed="0"), TypeError, "seed must be a non-negative int"),
          (dict(metrics={"loss": math.nan}), ValueError, r"metrics\['loss'\] must be a finite"),
          (dict(metrics={"loss": math.inf}), ValueError, r"metrics\['loss'\] must be a finite"),
          (dict(metrics={"loss": "0.1"}), TypeError, r"metrics\['loss'\] must be a real number"),
          (dict(metrics={"ok": True}), TypeError, r"metrics\['ok'\] must be a real number"),
          (dict(metrics={"loss": torch.tensor(0.1)}), TypeError, "must be a real number"),
          (dict(metrics={1: 0.1}), TypeError, "metrics keys must be non-empty str"),
          (dict(metrics=[0.1]), TypeError, "metrics must be a mapping"),
          (dict(extra=3), TypeError, "extra must be a mapping"),
          (dict(extra={1: "a"}), TypeError, "extra keys must be str"),
          (dict(extra={"f": object()}), ValueError, "extra must hold only JSON values"),
          (dict(extra={"x": math.nan}), ValueError, "extra must hold only JSON values"),
          (dict(model=nn.Module()), ValueError, r"state_dict\(\) is empty"),
          (dict(run_outputs="x.json"), TypeError, "run_outputs"),
          (dict(run_outputs=[3]), TypeError, "run_outputs")]],
    *[(f"load_weights: {model!r}, {path!r}, strict={strict!r}",
       lambda m=model, p=path, s=strict: refused_load(m, p, s), exc, match)
      for model, path, strict, exc, match in [
          ("nope", "w.safetensors", True, TypeError, "model must be a torch.nn.Module"),
          (None, "w.pt", True, ValueError, r"path must name a '\.safetensors' file.*w\.pt"),
          (None, 7, True, TypeError, "path must be a str or os.PathLike"),
          (None, "w.safetensors", "yes", TypeError, "strict must be a bool")]],
    ("read_record: a .pt path", lambda: read_record(scratch() / "w.pt"), ValueError,
     r"'\.safetensors' file or its '\.json' record"),
    ("read_record: None", lambda: read_record(None), TypeError, "path must be a str"),
    ("file_sha256: a float", lambda: file_sha256(1.5), TypeError, "path must be a str"),
    ("run_provenance: a blank command", lambda: run_provenance("  "), ValueError, "command"),
    ("run_provenance: an int output", lambda: run_provenance("x", outputs=(3,)), TypeError,
     "outputs"),
    *[(f"load_committed: {kwargs}", lambda kw=kwargs: committed(**kw), exc, match)
      for kwargs, exc, match in [
          (dict(model=3), TypeError, "model must be a torch.nn.Module or a factory"),
          (dict(model=lambda record: "no"), TypeError, "factory must return a torch.nn.Module"),
          (dict(command=" "), ValueError, "command"),
          (dict(check=3), TypeError, "check must be None or callable"),
          (dict(tolerance=-1.0), ValueError, "tolerance"),
          (dict(tolerance=True), TypeError, "tolerance"),
          (dict(check=lambda m: [1.0]), TypeError, "check must return a dict")]],
    ("load_committed: a .pt path",
     lambda: load_committed(scratch() / "demo.pt", tiny_weights_model(), command="make it"),
     ValueError, "safetensors"),
]


test_bad_input_is_refused_with_a_clear_error = refusal_test(CASES)


def test_the_shared_helpers_accept_valid_arguments():
    """Without the bad argument, each helper the rows share succeeds: a row fails for its bad
    argument alone."""
    assert np.isfinite(fit(steps=2).final_loss())
    model, record = committed()
    assert isinstance(model, TinyTransformer) and record["command"] == PROVENANCE["command"]
    assert isinstance(refused_load(), dict)
    assert quiet(lambda: pick_device(None))() == torch.device("cpu")
    assert quiet(lambda: cli.resolve_device("cuda:1"), cuda=2)() == torch.device("cuda:1")
    assert preset().steps == 3 and small_config().d_head == 8
