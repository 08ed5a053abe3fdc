"""Tests for the NSA chapter's retrieval experiment: the task (readingroom.nsa.recall), the
experiment around it (readingroom.nsa.experiments) and its command line (python -m
readingroom.nsa)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import readingroom.nsa.recall as recall_module
from readingroom.common import read_record
from readingroom.common.paths import book_data_path
from readingroom.common.seed import make_generator
from readingroom.common.train import TrainHistory
from readingroom.common.weights import load_weights
from readingroom.nsa import CPU_CONFIG, NSAConfig
from readingroom.nsa.__main__ import build_parser, main
from readingroom.nsa.experiments import (
    KINDS,
    QUICK_RECIPE,
    RECALL_RECIPE,
    RecallRecipe,
    accuracy_by_distance,
    heldout_set,
    make_recall_model,
    recall_path,
    run_recall,
    summarise,
    write_summary,
)
from readingroom.nsa.recall import RecallRun, RecallTask, recall_accuracy, recall_hits, recall_loss, value_found

TASK = RecallTask(seq_len=64, n_pairs=4, n_queries=3, n_keys=8, n_values=5, n_filler=7)


class Solver(nn.Module):
    """Solves the task from the tokens alone: at each key it predicts the token that followed the
    key's first occurrence, if that occurrence is at most ``horizon`` tokens back (else a filler
    token, a wrong answer). Returns one-hot logits ``[B, T, V]``."""

    def __init__(self, task: RecallTask, horizon: int = 10**9):
        super().__init__()
        self.task, self.horizon = task, horizon
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, tokens):
        B, T = tokens.shape
        V = self.task.vocab_size
        guess = torch.full((B, T), V - 1, dtype=torch.long)
        for b in range(B):
            first: dict[int, int] = {}
            for t in range(T):
                tok = int(tokens[b, t])
                if tok < self.task.n_keys:
                    if tok in first and t - first[tok] <= self.horizon:
                        guess[b, t] = tokens[b, first[tok] + 1]
                    first.setdefault(tok, t)
        return F.one_hot(guess, V).float() + 0 * self.dummy


class ValueGuesser(nn.Module):
    """Finds the values in the sequence but ignores the keys: at each query it predicts a random
    value of the haystack among those the earlier queries have not shown yet (the best a
    key-blind model can do, the shortcut the distractor pairs rule out)."""

    def __init__(self, task: RecallTask, seed: int = 0):
        super().__init__()
        self.task, self.gen = task, make_generator(seed)
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, tokens):
        B, T = tokens.shape
        lo, hi = self.task.n_keys, self.task.n_keys + self.task.n_values
        body = T - 2 * self.task.n_queries
        guess = torch.zeros((B, T), dtype=torch.long)
        for b in range(B):
            hay = tokens[b, :body]
            left = set(hay[(hay >= lo) & (hay < hi)].tolist())
            for t in range(body, T, 2):  # each query key, then its value
                options = sorted(left)
                guess[b, t] = options[int(torch.randint(len(options), (), generator=self.gen))]
                left.discard(int(tokens[b, t + 1]))
        return F.one_hot(guess, self.task.vocab_size).float() + 0 * self.dummy


# --- RecallTask -----------------------------------------------------------------------------


@pytest.mark.parametrize("pairs,queries,expected", [(4, 1, 1 / 4), (4, 2, (1 / 4 + 1 / 3) / 2),
                                                    (8, 4, (1 / 8 + 1 / 7 + 1 / 6 + 1 / 5) / 4)])
def test_chance_is_what_a_model_blind_to_the_keys_scores(pairs, queries, expected):
    task = RecallTask(seq_len=64, n_pairs=pairs, n_queries=queries)
    assert task.chance == pytest.approx(expected)
    tokens, targets = task.sample(4000 // queries, make_generator(3))
    accuracy = recall_accuracy(ValueGuesser(task), tokens, targets)
    assert abs(accuracy - task.chance) < 0.03  # 4,000 queries: standard error <= 0.007
    assert recall_accuracy(Solver(task), tokens, targets) == 1.0


def test_vocab_size():
    assert TASK.vocab_size == 8 + 5 + 7
    assert RecallTask().vocab_size == 16 + 16 + 32


def _check_sample(task: RecallTask, tokens: torch.Tensor, targets: torch.Tensor) -> None:
    B = tokens.shape[0]
    T, P, Q = task.seq_len, task.n_pairs, task.n_queries
    body = T - 2 * Q
    assert tokens.shape == targets.shape == (B, T)
    assert tokens.dtype == targets.dtype == torch.long
    assert bool(((tokens >= 0) & (tokens < task.vocab_size)).all())
    where = [body + 2 * i for i in range(Q)]  # the query keys: seq_len - 2 Q + 2 i
    for b in range(B):
        asked = (targets[b] != -100).nonzero().flatten().tolist()
        assert asked == where  # exactly n_queries targets, at the query keys
        hay = tokens[b, :body].tolist()
        key_pos = [t for t, x in enumerate(hay) if x < task.n_keys]
        keys = [hay[t] for t in key_pos]
        assert len(keys) == P and len(set(keys)) == P  # P distinct keys in the haystack
        for t in key_pos:  # each followed by a value
            assert task.n_keys <= hay[t + 1] < task.n_keys + task.n_values
        assert len({hay[t + 1] for t in key_pos}) == P  # distinct values: the others are distractors
        # everything else in the haystack is filler
        assert sum(x < task.n_keys + task.n_values for x in hay) == 2 * P
        queried = [int(tokens[b, t]) for t in where]
        assert len(set(queried)) == Q and set(queried) <= set(keys)
        for t in where:
            key = int(tokens[b, t])
            first = hay.index(key)
            # the target is the token after the key's first occurrence
            assert int(targets[b, t]) == hay[first + 1]
            assert int(tokens[b, t + 1]) == int(targets[b, t])  # and the query shows it again


def test_sample_layout():
    tokens, targets = TASK.sample(16, make_generator(0))
    _check_sample(TASK, tokens, targets)


def test_sample_at_the_shortest_valid_length():
    task = RecallTask(seq_len=16, n_pairs=4, n_queries=4, n_keys=4, n_values=4, n_filler=2)
    tokens, targets = task.sample(5, make_generator(1))
    _check_sample(task, tokens, targets)


def test_sample_is_deterministic_for_a_seed():
    a = TASK.sample(4, make_generator(7))
    b = TASK.sample(4, make_generator(7))
    c = TASK.sample(4, make_generator(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


# --- recall_loss / recall_accuracy ----------------------------------------------------------


class Fixed(nn.Module):
    """Returns the logits it holds, optionally wrapped like a transformers output."""

    def __init__(self, logits: torch.Tensor, wrap: bool = False):
        super().__init__()
        self.logits, self.wrap = nn.Parameter(logits.clone()), wrap

    def forward(self, tokens):
        return SimpleNamespace(logits=self.logits) if self.wrap else self.logits


def test_recall_loss_reads_the_query_positions_only():
    tokens, targets = TASK.sample(3, make_generator(2))
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, TASK.seq_len, TASK.vocab_size, generator=g)
    model = Fixed(logits)
    loss = recall_loss(model, tokens, targets)
    asked = targets != -100
    ref = F.cross_entropy(logits[asked], targets[asked])
    torch.testing.assert_close(loss, ref, rtol=0, atol=1e-6)
    # changing the logits anywhere else changes nothing
    other = logits.clone()
    other[~asked] = torch.randn(int((~asked).sum()), TASK.vocab_size, generator=g) * 10
    torch.testing.assert_close(recall_loss(Fixed(other), tokens, targets), loss, rtol=0, atol=0)
    loss.backward()
    assert torch.equal(model.logits.grad[~asked], torch.zeros_like(model.logits.grad[~asked]))
    assert model.logits.grad[asked].abs().sum() > 0
    # a transformers-style output (.logits) gives the same loss
    torch.testing.assert_close(recall_loss(Fixed(logits, wrap=True), tokens, targets), loss,
                               rtol=0, atol=0)


def test_value_found_tells_finding_values_from_matching_keys():
    task = RecallTask(seq_len=64, n_pairs=4, n_queries=2)
    tokens, targets = task.sample(500, make_generator(4))
    for model in (Solver(task), ValueGuesser(task)):  # both always answer with a value of the sequence
        assert bool(value_found(model, tokens, targets, task).all())
    assert recall_hits(ValueGuesser(task), tokens, targets).float().mean() < 0.5  # ... one matches keys
    filler = Solver(task, horizon=0)  # answers with a filler token: never a value
    assert not bool(value_found(filler, tokens, targets, task).any())
    assert value_found(filler, tokens, targets, task).shape == (1000,)


class _Fixed(nn.Module):
    """Predicts the same token everywhere."""

    def __init__(self, vocab: int, token: int):
        super().__init__()
        self.vocab, self.token = vocab, token
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, tokens):
        return F.one_hot(torch.full(tokens.shape, self.token), self.vocab).float() + 0 * self.dummy


def test_value_found_needs_the_value_in_the_sequence():
    task = RecallTask(seq_len=16, n_pairs=1, n_queries=1, n_keys=2, n_values=3, n_filler=4)
    tokens = torch.tensor([[5, 0, 3, 5, 6, 7, 5, 6, 5, 6, 7, 8, 5, 6, 0, 3]])
    targets = torch.full_like(tokens, -100)
    targets[0, 14] = 3
    assert value_found(_Fixed(task.vocab_size, 3), tokens, targets, task).tolist() == [True]
    assert value_found(_Fixed(task.vocab_size, 4), tokens, targets, task).tolist() == [False]  # a value, not in it
    assert value_found(_Fixed(task.vocab_size, 5), tokens, targets, task).tolist() == [False]  # filler


def test_recall_accuracy_of_a_solver_is_one():
    tokens, targets = TASK.sample(8, make_generator(3))
    assert recall_accuracy(Solver(TASK), tokens, targets) == 1.0


def test_recall_accuracy_counts_the_right_answers():
    tokens, targets = TASK.sample(4, make_generator(4))  # 12 queries
    asked = targets != -100
    logits = F.one_hot(targets.clamp(min=0), TASK.vocab_size).float()
    # wrong at 3 of the 12 queries
    wrong = asked.nonzero()[:3]
    for b, t in wrong.tolist():
        logits[b, t] = F.one_hot((targets[b, t] + 1) % TASK.vocab_size, TASK.vocab_size).float()
    acc = recall_accuracy(Fixed(logits, wrap=True), tokens, targets)
    assert isinstance(acc, float) and acc == 9 / 12
    # only the query positions count: garbage elsewhere does not matter
    logits[~asked] = 0.0
    assert recall_accuracy(Fixed(logits), tokens, targets) == 9 / 12


# --- experiments ----------------------------------------------------------------------------

TINY = RecallRecipe(
    task=RecallTask(seq_len=48, n_pairs=2, n_queries=1, n_keys=4, n_values=4, n_filler=8),
    nsa=NSAConfig(block_len=4, stride=2, select_block=8, top_n=3, window=8),
    hidden=16, layers=1, heads=2, kv_heads=1, steps=4, batch=2, eval_every=2, n_eval=8,
)


@pytest.mark.parametrize("kind", KINDS)
def test_make_recall_model(kind):
    model = make_recall_model(kind, TINY)
    c = model.config
    assert type(model).__name__ == "LlamaForCausalLM"
    assert (c.vocab_size, c.hidden_size, c.num_hidden_layers) == (TINY.task.vocab_size, 16, 1)
    assert (c.num_attention_heads, c.num_key_value_heads) == (2, 1)
    assert c.max_position_embeddings == TINY.task.seq_len
    layers = [layer.self_attn for layer in model.model.layers]
    if kind == "full":
        assert c._attn_implementation == "sdpa"
        assert not any(hasattr(layer, "nsa") for layer in layers)
    else:
        assert c._attn_implementation == "nsa"
        want = TINY.nsa if kind == "nsa" else TINY.nsa.replace(branches=("win",))
        assert all(layer.nsa.cfg == want for layer in layers)
    if kind == "window":
        assert layers[0].nsa.cfg.branches == ("win",)
    tokens, _ = TINY.task.sample(2, make_generator(0))
    with torch.no_grad():
        assert model(tokens).logits.shape == (2, 48, TINY.task.vocab_size)


def test_make_recall_model_default_recipe_uses_the_cpu_config():
    model = make_recall_model("nsa")
    assert model.model.layers[0].self_attn.nsa.cfg == CPU_CONFIG
    assert model.config.vocab_size == RECALL_RECIPE.task.vocab_size


def test_quick_recipe_has_the_shape_of_the_real_one():
    for name in ("task", "nsa", "hidden", "layers", "heads", "kv_heads", "lr"):
        assert getattr(QUICK_RECIPE, name) == getattr(RECALL_RECIPE, name), name
    assert QUICK_RECIPE.steps < RECALL_RECIPE.steps and QUICK_RECIPE.batch <= RECALL_RECIPE.batch


def test_heldout_set_is_deterministic():
    a = heldout_set(TINY, 1)
    b = heldout_set(TINY, 1)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape == (TINY.n_eval, TINY.task.seq_len)
    ref = TINY.task.sample(TINY.n_eval, make_generator(1 + 10_000))
    assert torch.equal(a[0], ref[0]) and torch.equal(a[1], ref[1])
    assert not torch.equal(heldout_set(TINY, 2)[0], a[0])


def test_accuracy_by_distance():
    tokens, targets = TASK.sample(12, make_generator(5))  # 36 queries
    edges = (0, 20, 40, 64)
    solver = Solver(TASK, horizon=39).train()
    rows = accuracy_by_distance(solver, tokens, targets, edges)
    assert not solver.training  # put in eval mode
    assert [(lo, hi) for lo, hi, _, _ in rows] == [(0, 20), (20, 40), (40, 64)]
    assert sum(n for *_, n in rows) == 36
    # brute-force distances
    dist = []
    for b, t in (targets != -100).nonzero().tolist():
        dist.append(t - tokens[b, :t].tolist().index(int(tokens[b, t])))
    for lo, hi, acc, n in rows:
        assert n == sum(lo <= d < hi for d in dist)
        if n:  # the solver sees 39 tokens back: right in the first two bins, wrong in the last
            assert acc == (1.0 if hi <= 40 else 0.0)
        else:
            assert math.isnan(acc)
    # an empty bin gives nan and count 0
    rows = accuracy_by_distance(solver, tokens, targets, (100, 200))
    assert rows[0][:2] == (100, 200) and math.isnan(rows[0][2]) and rows[0][3] == 0


def test_recall_path():
    assert recall_path(3) == book_data_path("nsa/recall_seed3.json")
    assert recall_path(0, "nsa") == book_data_path("nsa/recall_nsa_seed0.safetensors")
    assert recall_path(0, "window").parent == recall_path(0).parent
    assert recall_path(0).parent.name == "nsa" and recall_path(0).parent.parent.name == "data"


@pytest.fixture(scope="module")
def tiny_runs():
    """run_recall on TINY, recording every batch each kind trained on."""
    seen: dict[str, list[torch.Tensor]] = {}
    original = recall_module.recall_loss
    current = {"kind": None}

    def recording_loss(model, tokens, targets):
        seen.setdefault(current["kind"], []).append(tokens.clone())
        return original(model, tokens, targets)

    mp = pytest.MonkeyPatch()
    mp.setattr(recall_module, "recall_loss", recording_loss)
    runs = {}
    try:
        for kind in KINDS:
            current["kind"] = kind
            runs.update(run_recall(TINY, 0, progress=False, kinds=(kind,)))
    finally:
        mp.undo()
    return runs, seen


def test_run_recall_trains_every_kind_on_the_same_batches(tiny_runs):
    runs, seen = tiny_runs
    assert list(runs) == list(KINDS)
    for kind, (run, model) in runs.items():
        assert isinstance(run, RecallRun) and run.name == kind
        assert len(run.history.losses) == TINY.steps
        assert all(math.isfinite(x) for x in run.history.losses)
        assert [step for step, _ in run.curve] == [2, 4]
        for _, acc in run.curve:  # a fraction of the n_eval held-out queries
            assert 0.0 <= acc <= 1.0 and acc * TINY.n_eval == round(acc * TINY.n_eval)
        assert run.accuracy == run.curve[-1][1]
        assert model.config._attn_implementation == ("sdpa" if kind == "full" else "nsa")
        # the returned model is the trained one: its held-out accuracy is the recorded one
        assert recall_accuracy(model.eval(), *heldout_set(TINY, 0)) == run.accuracy
    assert all(len(seen[k]) == TINY.steps for k in KINDS)
    for kind in KINDS[1:]:
        assert all(torch.equal(a, b) for a, b in zip(seen[kind], seen[KINDS[0]])), kind
    gen = make_generator(0)
    assert torch.equal(seen["nsa"][0], TINY.task.sample(TINY.batch, gen)[0])


def test_run_recall_is_deterministic(tiny_runs):
    runs, _ = tiny_runs
    again = run_recall(TINY, 0, progress=False, kinds=("window",), device="cpu")
    assert list(again) == ["window"]
    assert again["window"][0].history.losses == runs["window"][0].history.losses
    assert again["window"][0].curve == runs["window"][0].curve


def test_summarise_and_write_summary_round_trip(tiny_runs, tmp_path):
    runs, _ = tiny_runs
    summary = summarise(TINY, 0, runs)
    assert summary["seed"] == 0 and summary["recipe"] == repr(TINY)
    assert list(summary["runs"]) == list(KINDS)
    for kind, (run, _) in runs.items():
        rec = summary["runs"][kind]
        assert rec["accuracy"] == run.accuracy and rec["curve"] == run.curve
        assert rec["loss_every_10"] == [round(sum(run.history.losses) / 4, 4)]
        assert rec["seconds"] == round(run.history.seconds, 1)
    path = tmp_path / "deep" / "er" / "recall_seed0.json"
    write_summary(summary, path)
    text = path.read_text()
    assert text.endswith("\n")
    loaded = json.loads(text)
    assert loaded == json.loads(json.dumps(summary))
    assert loaded["runs"]["nsa"]["curve"] == [list(p) for p in runs["nsa"][0].curve]


def test_summarise_averages_the_loss_over_tens():
    history = TrainHistory(losses=[float(i) for i in range(25)], seconds=12.345)
    run = RecallRun("x", history, 0.5, [(25, 0.5)])
    rec = summarise(TINY, 7, {"x": (run, nn.Linear(1, 1))})["runs"]["x"]
    assert rec["loss_every_10"] == [4.5, 14.5, 22.0]
    assert rec["seconds"] == 12.3 and rec["accuracy"] == 0.5 and rec["curve"] == [(25, 0.5)]


# --- command line ---------------------------------------------------------------------------


def test_parser_defaults():
    args = build_parser().parse_args(["recall"])
    assert (args.command, args.seed, args.out, args.weights, args.quick, args.no_progress) == (
        "recall", [0], None, None, False, False)
    assert (args.device, args.jobs) == ("cpu", 1)
    assert build_parser().parse_args(["recall", "--seed", "3", "1"]).seed == [3, 1]


def test_quick_recall_command_writes_the_results_and_weights(tmp_path, capsys):
    book = recall_path(0)
    before = book.stat().st_mtime_ns if book.exists() else None
    argv = ["recall", "--quick", "--out", str(tmp_path), "--weights", "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"wrote {tmp_path / 'recall_seed0.json'}" in printed
    assert all(f"seed 0 {k:>7}: held-out accuracy" in printed for k in KINDS)
    names = {"recall_seed0.json"} | {
        f"recall_{k}_seed0.{ext}" for k in KINDS for ext in ("safetensors", "json")}
    assert {p.name for p in tmp_path.iterdir()} == names
    # the book's own results are untouched
    assert (book.stat().st_mtime_ns if book.exists() else None) == before

    summary = json.loads((tmp_path / "recall_seed0.json").read_text())
    command = "python -m readingroom.nsa recall --seed 0 --weights --quick"
    assert summary["command"] == summary["provenance"]["command"] == command
    assert summary["provenance"]["device"].startswith("cpu") and summary["provenance"]["threads"] == 1
    assert summary["seed"] == 0 and summary["recipe"] == repr(QUICK_RECIPE)
    assert list(summary["runs"]) == list(KINDS)
    heldout = heldout_set(QUICK_RECIPE, 0)
    for kind in KINDS:
        rec = summary["runs"][kind]
        assert [s for s, _ in rec["curve"]] == [10, 20]
        assert rec["accuracy"] == rec["curve"][-1][1]
        assert len(rec["loss_every_10"]) == 2
        weights = tmp_path / f"recall_{kind}_seed0.safetensors"
        record = read_record(weights)
        assert record["command"] == command and record["seed"] == 0
        assert record["data"] == repr(QUICK_RECIPE.task)
        assert record["metrics"] == {"accuracy": rec["accuracy"]}
        assert record["extra"] == {"kind": kind, "recipe": repr(QUICK_RECIPE), "device": "cpu"}
        # the weights reproduce the recorded held-out accuracy
        model = make_recall_model(kind, QUICK_RECIPE)
        load_weights(model, weights)
        assert recall_accuracy(model.eval(), *heldout) == rec["accuracy"]


@pytest.mark.parametrize(
    "argv,message",
    [
        (["recall", "--quick"], "--quick needs --out"),
        (["recall", "--quick", "--out-dir", "x"], "unrecognized arguments: --out-dir"),
        (["recall", "--seed", "-1"], "--seed"),
        (["recall", "--seed", "x"], "--seed"),
        (["recall", "--seed", str(2**32)], "--seed"),
        (["recall", "--unknown"], "unrecognized"),
        (["recall", "--seed", "1", "--weights", "0"], "--weights 0: not among --seed 1"),
        (["recall", "--jobs", "0"], "argument --jobs: must be a positive int"),
        (["recall", "--jobs", "x"], "argument --jobs"),
        (["recall", "--device", "tpu"], "argument --device: must be auto, cpu, cuda or cuda:N"),
        (["recall", "--device", "cuda:x"], "argument --device"),
        (["train"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_arguments_exit_with_status_2(argv, message, capsys):
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    assert message in capsys.readouterr().err


def test_weights_of_the_seeds_listed_only(tmp_path, capsys):
    argv = ["recall", "--quick", "--out", str(tmp_path), "--seed", "2", "5", "--weights", "5",
            "--jobs", "2", "--no-progress"]
    assert main(argv) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"recall_seed2.json", "recall_seed5.json"} | {
        f"recall_{k}_seed5.{ext}" for k in KINDS for ext in ("safetensors", "json")}
    two, five = (json.loads((tmp_path / f"recall_seed{s}.json").read_text()) for s in (2, 5))
    assert two["command"] == "python -m readingroom.nsa recall --seed 2 --quick"
    assert five["command"] == "python -m readingroom.nsa recall --seed 5 --weights --quick"
    # run in two worker processes, the seed-5 record equals a run of seed 5 alone, in this one
    alone = tmp_path / "alone"
    assert main(["recall", "--quick", "--out", str(alone), "--seed", "5", "--no-progress"]) == 0
    again = json.loads((alone / "recall_seed5.json").read_text())
    for kind in KINDS:
        for key in ("accuracy", "curve", "loss_every_10"):
            assert again["runs"][kind][key] == five["runs"][kind][key], (kind, key)


def test_recall_refuses_a_missing_gpu(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as err:
        main(["recall", "--quick", "--out", str(tmp_path), "--device", "cuda", "--no-progress"])
    assert err.value.code == 2
    assert "--device cuda: no CUDA device is available here" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # refused before any training


def test_module_entry_point_exits_2_without_a_command():
    proc = subprocess.run([sys.executable, "-m", "readingroom.nsa"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "usage: python -m readingroom.nsa" in proc.stderr
