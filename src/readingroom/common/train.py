"""One training loop for the whole book: AdamW, warmup + cosine schedule, clipping, progress bar.

Chapters hand :func:`train` a model and a ``get_batch(step) -> (x, y)`` function and get back a
:class:`TrainHistory` (per-step losses and learning rates, periodic evaluations, wall time) to plot
with :func:`readingroom.common.plot_history`::

    history = train(model, get_batch, steps=preset.steps, lr=3e-3, warmup=20)
    print(history.final_loss())

The default objective is next-token cross-entropy, :func:`next_token_loss`. Any other objective is
passed as ``loss_fn(model, x, y) -> scalar tensor``.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from readingroom.common.checks import check_int as _check_int
from readingroom.common.checks import check_bool, check_choice, check_float

__all__ = ["PROGRESS_ENV", "TrainHistory", "eval_mode", "next_token_loss", "progress_enabled",
           "train"]

#: Set this environment variable to ``0`` to silence every progress bar (e.g. in CI logs).
PROGRESS_ENV = "READINGROOM_PROGRESS"

#: The cosine schedule decays from ``lr`` to ``MIN_LR_RATIO * lr`` (as in nanoGPT and Chinchilla).
MIN_LR_RATIO = 0.1

_SCHEDULES = ("cosine", "constant")


@dataclass
class TrainHistory:
    """What :func:`train` records.

    Attributes:
        losses: the training loss at every step (before that step's update).
        evals: ``(step, metrics)`` pairs, where ``step`` counts the updates done so far and
            ``metrics`` is what ``eval_fn`` returned.
        seconds: wall-clock time of the whole run.
        lrs: the learning rate used at every step.
    """

    losses: list[float] = field(default_factory=list)
    evals: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    seconds: float = 0.0
    lrs: list[float] = field(default_factory=list)

    def smoothed(self, window: int = 20) -> list[float]:
        """Trailing mean: entry ``i`` averages ``losses[max(0, i - window + 1) : i + 1]``."""
        window = _check_int(window, "window")
        out: list[float] = []
        total = 0.0
        for i, loss in enumerate(self.losses):
            total += loss
            if i >= window:
                total -= self.losses[i - window]
            out.append(total / min(i + 1, window))
        return out

    def final_loss(self, window: int = 20) -> float:
        """Mean of the last ``window`` losses (fewer if the run was shorter)."""
        window = _check_int(window, "window")
        if not self.losses:
            raise ValueError(
                "final_loss needs at least one recorded loss; this TrainHistory has none"
            )
        tail = self.losses[-window:]
        return sum(tail) / len(tail)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the block and restore its previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def next_token_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits`` ``[B, T, V]`` against ``targets`` ``[B, T]``.

    ``targets[b, t]`` is the id of the token that should follow position ``t`` (for language
    modelling, the input shifted left by one). Positions whose target is ``-100`` are ignored.
    """
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    if not logits.dtype.is_floating_point:
        raise TypeError(f"logits must be a floating-point tensor, got {logits.dtype}")
    if targets.dtype.is_floating_point or targets.dtype.is_complex or targets.dtype == torch.bool:
        raise TypeError(f"targets must have an integer dtype (torch.long), got {targets.dtype}")
    if logits.dim() != 3:
        raise ValueError(f"logits must be 3-D [B, T, V], got shape {tuple(logits.shape)}")
    if targets.shape != logits.shape[:2]:
        raise ValueError(
            f"targets must have shape [B, T] = {tuple(logits.shape[:2])} to match logits "
            f"{tuple(logits.shape)}, got {tuple(targets.shape)}"
        )
    if targets.device != logits.device:
        raise ValueError(f"targets is on {targets.device} but logits is on {logits.device}")
    V = logits.shape[-1]
    valid = targets != -100  # [B, T]
    if not bool(valid.any()):
        raise ValueError("targets must contain at least one position that is not -100 (ignored)")
    kept = targets[valid]
    if bool(((kept < 0) | (kept >= V)).any()):
        raise ValueError(
            f"targets must be in [0, V={V}) or -100, "
            f"got values in [{int(kept.min())}, {int(kept.max())}]"
        )
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1).long(), ignore_index=-100)


def _lr_at(step: int, *, steps: int, lr: float, warmup: int, schedule: str) -> float:
    """Learning rate for 0-based ``step``: linear warmup over ``warmup`` steps, then the schedule.

    Warmup rises linearly to ``lr`` (``lr * (step + 1) / warmup``). After it, ``"constant"`` keeps
    ``lr`` and ``"cosine"`` follows half a cosine from ``lr`` down towards ``MIN_LR_RATIO * lr``.
    """
    if step < warmup:
        return lr * (step + 1) / warmup
    if schedule == "constant":
        return lr
    progress = (step - warmup) / max(1, steps - warmup)  # in [0, 1)
    min_lr = MIN_LR_RATIO * lr
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def progress_enabled(progress: bool) -> bool:
    """``progress``, unless the environment variable ``READINGROOM_PROGRESS`` is ``0``."""
    return progress and os.environ.get(PROGRESS_ENV, "").strip() != "0"


def _to_device(batch: Any, device: torch.device) -> Any:
    return batch.to(device, non_blocking=True) if isinstance(batch, torch.Tensor) else batch


def _run_eval(
    model: nn.Module, eval_fn: Callable[[nn.Module], Mapping[str, float]]
) -> dict[str, float]:
    """Call ``eval_fn(model)`` in eval mode without gradients; restore training mode after."""
    with eval_mode(model), torch.no_grad():
        metrics = eval_fn(model)
    if not isinstance(metrics, Mapping):
        raise TypeError(f"eval_fn must return a dict of str -> float, got {type(metrics).__name__}")
    try:
        return {str(k): float(v) for k, v in metrics.items()}
    except (TypeError, ValueError) as err:
        raise TypeError(f"eval_fn must return a dict of str -> float, got {metrics!r}") from err


def _batch_loss(
    model: nn.Module,
    batch: Any,
    loss_fn: Callable[[nn.Module, Any, Any], torch.Tensor] | None,
    device: torch.device,
) -> torch.Tensor:
    """Check what ``get_batch`` returned, move it to ``device`` and compute the scalar loss."""
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(f"get_batch must return a pair (x, y), got {type(batch).__name__}")
    x, y = (_to_device(b, device) for b in batch)
    if loss_fn is None:
        return next_token_loss(model(x), y)
    loss = loss_fn(model, x, y)
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"loss_fn must return a scalar tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise TypeError(f"loss_fn must return a scalar tensor, got shape {tuple(loss.shape)}")
    return loss


def train(
    model: nn.Module,
    get_batch: Callable[[int], tuple[Any, Any]],
    *,
    steps: int,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    warmup: int = 0,
    schedule: str = "cosine",
    grad_clip: float | None = 1.0,
    loss_fn: Callable[[nn.Module, Any, Any], torch.Tensor] | None = None,
    eval_every: int = 0,
    eval_fn: Callable[[nn.Module], Mapping[str, float]] | None = None,
    progress: bool = True,
    desc: str = "training",
) -> TrainHistory:
    """Train ``model`` for ``steps`` AdamW updates and return the :class:`TrainHistory`.

    At step ``s`` (0-based) the loop calls ``x, y = get_batch(s)``, moves tensors to the model's
    device, computes the loss, back-propagates, clips the gradient norm and takes an AdamW step
    with the scheduled learning rate.

    Args:
        model: the module to train (put in training mode; its mode is restored at the end).
        get_batch: ``get_batch(step) -> (x, y)``. Make it depend only on ``step`` (e.g. a
            generator seeded once) for repeatable runs.
        steps: number of updates, a positive int.
        lr: peak learning rate, > 0.
        weight_decay: AdamW decoupled weight decay, applied to matrices and embeddings only
            (parameters with 2 or more dimensions), not to biases or LayerNorm gains.
        warmup: steps of linear warmup from ``lr / warmup`` to ``lr``, in ``[0, steps)``.
        schedule: after warmup, ``"cosine"`` (decay to ``0.1 * lr``) or ``"constant"``.
        grad_clip: clip the global gradient norm to this value; ``None`` disables clipping.
        loss_fn: ``None`` for ``next_token_loss(model(x), y)``; otherwise called as
            ``loss_fn(model, x, y)`` and must return a scalar tensor to minimise.
        eval_every: call ``eval_fn`` every this many steps (``0``: only at the end).
        eval_fn: ``eval_fn(model) -> dict[str, float]``, run in eval mode under ``torch.no_grad()``
            every ``eval_every`` steps and after the last step; results go to ``history.evals``.
        progress: show a tqdm progress bar with the smoothed loss (also off when the environment
            variable ``READINGROOM_PROGRESS`` is ``0``).
        desc: the progress bar's label.

    Raises:
        FloatingPointError: the loss became NaN or infinite (the message names the step).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(get_batch):
        raise TypeError(
            "get_batch must be callable as get_batch(step) -> (x, y), "
            f"got {type(get_batch).__name__}"
        )
    steps = _check_int(steps, "steps", minimum=1)
    lr = check_float(lr, "lr", low=0, low_open=True)
    weight_decay = check_float(weight_decay, "weight_decay", low=0)
    warmup = _check_int(warmup, "warmup", minimum=0)
    if warmup >= steps:
        raise ValueError(f"warmup must be in [0, steps={steps}), got {warmup}")
    check_choice(schedule, "schedule", _SCHEDULES)
    if grad_clip is not None:
        grad_clip = check_float(grad_clip, "grad_clip", low=0, low_open=True)
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(
            "loss_fn must be None or callable as loss_fn(model, x, y), "
            f"got {type(loss_fn).__name__}"
        )
    eval_every = _check_int(eval_every, "eval_every", minimum=0)
    if eval_fn is not None and not callable(eval_fn):
        raise TypeError(
            f"eval_fn must be None or callable as eval_fn(model), got {type(eval_fn).__name__}"
        )
    if eval_every > 0 and eval_fn is None:
        raise ValueError(f"eval_fn must be given when eval_every={eval_every} > 0")
    check_bool(progress, "progress")
    if not isinstance(desc, str):
        raise TypeError(f"desc must be a str, got {type(desc).__name__}")

    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model must have at least one parameter with requires_grad=True")
    device = params[0].device
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=lr)

    history = TrainHistory()
    recent: deque[float] = deque(maxlen=20)  # window of the smoothed loss in the progress bar
    was_training = model.training
    model.train()
    bar = tqdm(range(steps), desc=desc, mininterval=0.5, disable=not progress_enabled(progress))
    start = time.perf_counter()
    try:
        for step in bar:
            step_lr = _lr_at(step, steps=steps, lr=lr, warmup=warmup, schedule=schedule)
            for group in optimizer.param_groups:
                group["lr"] = step_lr

            loss = _batch_loss(model, get_batch(step), loss_fn, device)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"loss is {value} at step {step} (0-based; lr={step_lr:.3g}): training diverged"
                )

            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(params, grad_clip)
            optimizer.step()

            history.losses.append(value)
            history.lrs.append(step_lr)
            recent.append(value)
            bar.set_postfix(
                loss=f"{sum(recent) / len(recent):.4f}", lr=f"{step_lr:.2e}", refresh=False
            )

            done = step + 1
            if eval_fn is not None and (
                done == steps or (eval_every > 0 and done % eval_every == 0)
            ):
                history.evals.append((done, _run_eval(model, eval_fn)))
    finally:
        bar.close()
        history.seconds = time.perf_counter() - start
        model.train(was_training)
    return history
