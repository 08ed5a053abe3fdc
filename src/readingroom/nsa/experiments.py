"""The chapter's retrieval experiment: one small Llama, three attentions, the same budget.

``full`` is the model's own softmax attention (PyTorch SDPA), ``nsa`` the same model after
:func:`~readingroom.nsa.hf.enable_nsa` with :data:`~readingroom.nsa.config.CPU_CONFIG`, and
``window`` the same again with only NSA's sliding-window branch switched on — an attention that
cannot see a needle more than ``w`` tokens back, the control.

Training for long enough to compare them takes longer than a chapter may run on a CPU, so
``python -m readingroom.nsa recall --seed S`` trains all three (:func:`run_recall`) and writes
their curves and held-out accuracies to ``book/data/nsa/recall_seed{S}.json``; for seed 0 it also
writes the weights (``recall_{kind}_seed0.safetensors``), which the chapter loads to look inside
(:func:`load_recall`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from readingroom.common.checks import check_choice, check_int
from readingroom.common.paths import book_data_path
from readingroom.common.seed import make_generator
from readingroom.common.weights import load_committed
from readingroom.nsa.analysis import needle_distance
from readingroom.nsa.config import CPU_CONFIG, NSAConfig
from readingroom.nsa.recall import RecallRun, RecallTask, recall_accuracy, recall_hits, train_recall

__all__ = [
    "KINDS", "QUICK_RECIPE", "RECALL_RECIPE", "RecallRecipe", "accuracy_by_distance",
    "heldout_set", "learned_at", "load_recall", "make_recall_model", "recall_job", "recall_path", "run_recall", "summarise",
    "write_summary",
]

#: The attentions compared.
KINDS = ("full", "nsa", "window")


@dataclass(frozen=True)
class RecallRecipe:
    """Everything that fixes a run of the retrieval experiment (recorded with its results)."""

    task: RecallTask = field(default_factory=lambda: RecallTask(seq_len=256, n_pairs=4, n_queries=1))
    nsa: NSAConfig = CPU_CONFIG
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    steps: int = 2000
    batch: int = 16
    lr: float = 3e-3
    eval_every: int = 200
    n_eval: int = 512

    def __post_init__(self) -> None:
        for name in ("hidden", "layers", "heads", "kv_heads", "steps", "batch", "eval_every", "n_eval"):
            check_int(getattr(self, name), name)


#: The committed runs: 2,000 steps of 64 sequences of 256 tokens, each with four key-value pairs
#: and two of their keys asked (chance 0.29). Chosen by ``benchmarks/nsa_recall_grid.py`` as the
#: recipe of 16 under which full attention got furthest above chance in 2,000 steps (not far:
#: ``book/data/nsa/recall_grid.json``).
RECALL_RECIPE = RecallRecipe(
    task=RecallTask(seq_len=256, n_pairs=4, n_queries=2), batch=64, lr=1e-3, steps=2000,
    eval_every=100,
)
#: A smoke test of the same shape (models, task and learning rate; fewer and smaller batches).
QUICK_RECIPE = replace(RECALL_RECIPE, steps=20, batch=8, eval_every=10, n_eval=32)


def make_recall_model(kind: str, recipe: RecallRecipe = RECALL_RECIPE) -> nn.Module:
    """A ``LlamaForCausalLM`` built from a config (no download) with the attention ``kind``."""
    check_choice(kind, "kind", KINDS)
    from transformers import LlamaConfig, LlamaForCausalLM

    from readingroom.nsa.hf import enable_nsa

    config = LlamaConfig(
        vocab_size=recipe.task.vocab_size, hidden_size=recipe.hidden,
        intermediate_size=2 * recipe.hidden, num_hidden_layers=recipe.layers,
        num_attention_heads=recipe.heads, num_key_value_heads=recipe.kv_heads,
        max_position_embeddings=recipe.task.seq_len, attn_implementation="sdpa",
    )
    model = LlamaForCausalLM(config)
    if kind == "nsa":
        enable_nsa(model, recipe.nsa)
    elif kind == "window":
        enable_nsa(model, recipe.nsa.replace(branches=("win",)))
    return model


def heldout_set(recipe: RecallRecipe = RECALL_RECIPE, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out sequences :func:`~readingroom.nsa.recall.train_recall` scores on."""
    return recipe.task.sample(recipe.n_eval, make_generator(seed + 10_000))


@torch.no_grad()
def accuracy_by_distance(model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor,
                         edges: tuple[int, ...]) -> list[tuple[int, int, float, int]]:
    """Recall accuracy binned by how far back the needle is: ``(lo, hi, accuracy, count)`` per
    bin ``[lo, hi)`` of ``edges``."""
    model.eval()
    right = recall_hits(model, tokens, targets).float()
    dist = needle_distance(tokens.cpu(), targets.cpu())
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (dist >= lo) & (dist < hi)
        n = int(sel.sum())
        rows.append((lo, hi, float(right[sel].mean()) if n else float("nan"), n))
    return rows


def recall_path(seed: int, kind: str | None = None) -> Path:
    """``book/data/nsa/recall_seed{seed}.json``, or the weights of one ``kind``."""
    name = f"nsa/recall_seed{seed}.json" if kind is None else f"nsa/recall_{kind}_seed{seed}.safetensors"
    return book_data_path(name)


def load_recall(kind: str, seed: int = 0, *, check: bool = False,
                device: torch.device | str | None = None) -> tuple[nn.Module, dict]:
    """The committed model of attention ``kind`` trained with ``seed``, and its record.

    ``python -m readingroom.nsa recall --seed S --weights`` wrote the weights
    (:func:`recall_path`; the book commits seed 0's). They are loaded with
    :func:`~readingroom.common.load_committed` into :func:`make_recall_model` ``(kind)``: the
    file's SHA-256 is checked against its record, a record made with another recipe than
    :data:`RECALL_RECIPE` is refused, and the model comes back in eval mode on ``device``
    (``None``: the CPU). With ``check=True`` the model's accuracy on :func:`heldout_set`
    ``(RECALL_RECIPE, seed)`` must also be within 0.01 of the recorded ``accuracy``.

    Raises:
        ValueError: an unknown ``kind``; a record of another recipe or kind; a file that does not
            match its record; with ``check``, an accuracy that no longer matches.
        FileNotFoundError: no weights for ``seed`` (the message gives the command that makes them).
    """
    check_choice(kind, "kind", KINDS)
    path = recall_path(seed, kind)

    def build(record: dict) -> nn.Module:
        extra = record.get("extra") or {}
        if extra.get("kind") != kind or extra.get("recipe") != repr(RECALL_RECIPE):
            raise ValueError(f"{path} was trained as {extra.get('kind')!r} with the recipe "
                             f"{extra.get('recipe')}, not as {kind!r} with {RECALL_RECIPE!r}")
        return make_recall_model(kind)

    def accuracy(model: nn.Module) -> dict[str, float]:
        return {"accuracy": recall_accuracy(model, *heldout_set(RECALL_RECIPE, seed))}

    return load_committed(path, build,
                          command=f"python -m readingroom.nsa recall --seed {seed} --weights",
                          check=accuracy if check else None, tolerance=0.01, device=device)


def run_recall(recipe: RecallRecipe, seed: int, *, progress: bool = True,
               kinds: tuple[str, ...] = KINDS,
               device: torch.device | str | None = None) -> dict[str, tuple[RecallRun, nn.Module]]:
    """Train each attention ``kind`` with the same seed, batches and budget (on ``device``,
    default the CPU)."""
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"kinds must be a subset of {KINDS}, got {kinds!r}")
    runs = {}
    for kind in kinds:
        holder: dict[str, nn.Module] = {}

        def build(kind: str = kind) -> nn.Module:
            holder["model"] = make_recall_model(kind, recipe)
            return holder["model"]

        run = train_recall(kind, build, recipe.task, steps=recipe.steps, batch=recipe.batch,
                           lr=recipe.lr, seed=seed, eval_every=recipe.eval_every,
                           n_eval=recipe.n_eval, progress=progress, device=device)
        runs[kind] = (run, holder["model"])
    return runs


def recall_job(recipe: RecallRecipe, seed: int, kind: str, device: str = "cpu",
               progress: bool = False, keep_weights: bool = False):
    """One (seed, attention) pair of :func:`run_recall` under the book's thread policy, as a job
    for a worker process (``python -m readingroom.nsa recall --jobs N``): returns the
    :class:`~readingroom.nsa.recall.RecallRun` and, if ``keep_weights``, the trained state dict
    on the CPU (else ``None``)."""
    from readingroom.common import use_threads

    use_threads()
    (run, model), = run_recall(recipe, seed, progress=progress, kinds=(kind,), device=device).values()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()} if keep_weights else None
    return run, state


def summarise(recipe: RecallRecipe, seed: int, runs: dict[str, tuple[RecallRun, nn.Module]]) -> dict:
    """The JSON record of one seed: recipe, curves (loss every 10 steps), accuracies."""
    out = {"seed": seed, "recipe": repr(recipe), "runs": {}}
    for kind, (run, _) in runs.items():
        losses = run.history.losses
        out["runs"][kind] = {
            "accuracy": run.accuracy,
            "curve": run.curve,
            "loss_every_10": [round(sum(losses[i:i + 10]) / len(losses[i:i + 10]), 4)
                              for i in range(0, len(losses), 10)],
            "seconds": round(run.history.seconds, 1),
        }
    return out


def write_summary(summary: dict, path: Path) -> None:
    """Write :func:`summarise`'s record as JSON (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1) + "\n")


def learned_at(curve, threshold: float = 0.5) -> int | None:
    """The first evaluated step at which held-out accuracy reached ``threshold``, or ``None``.

    ``curve`` is a run's ``[(step, accuracy), ...]`` (as in :func:`summarise`'s record)."""
    for step, accuracy in curve:
        if accuracy >= threshold:
            return int(step)
    return None
