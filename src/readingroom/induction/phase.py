"""The phase change: when does a curve jump, and do two curves jump together?

Olsson et al. (2022), Argument 1: during training, small transformers go through a *phase change*
in which induction heads form and, at the same time, the in-context learning score drops. Here
both curves come from :meth:`InductionRun.phase_curves`; :func:`jump_step` puts one number on
"when" for each, and :func:`change_share` on "how sudden". :func:`phase_change_run` trains one
seed and returns both curves and their jumps as plain JSON-ready values; the command line
``python -m readingroom.induction phase`` runs it over several seeds and commits the record
``book/data/induction/phase.json`` that the chapter renders.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from readingroom.common.checks import check_float

__all__ = ["change_share", "jump_step", "phase_change_run"]


def _curve(steps: object, values: object) -> tuple[list[float], list[float]]:
    """Validate a sampled curve and return it as two lists of floats."""
    out = []
    for name, seq in (("steps", steps), ("values", values)):
        if hasattr(seq, "tolist"):  # a torch tensor or a numpy array
            seq = seq.tolist()
        if not isinstance(seq, (list, tuple)):
            raise TypeError(f"{name} must be a 1-D sequence of numbers, got {type(seq).__name__}")
        try:
            floats = [float(v) for v in seq]
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be a 1-D sequence of numbers: {err}") from err
        if not all(math.isfinite(v) for v in floats):
            raise ValueError(f"{name} must be finite (no NaN or inf)")
        out.append(floats)
    s, v = out
    if len(s) != len(v):
        raise ValueError(f"steps and values must have the same length, got {len(s)} and {len(v)}")
    if len(s) < 3:
        raise ValueError(f"steps must hold at least 3 points to locate a jump, got {len(s)}")
    if any(b <= a for a, b in zip(s, s[1:])):
        raise ValueError("steps must be strictly increasing")
    return s, v


def jump_step(steps: Sequence[float], values: Sequence[float]) -> float:
    """The training step at which a sampled curve changes fastest: the centre of its jump.

    The phase change of Olsson et al. (2022, Argument 1) is a window early in training in which
    the in-context learning score falls and induction heads form "simultaneously"; this function
    puts a number on "when" for one curve, so two curves can be compared. Between consecutive
    samples the slope is :math:`d_i = (v_{i+1} - v_i) / (s_{i+1} - s_i)`, placed at the midpoint
    :math:`m_i = (s_i + s_{i+1}) / 2`. The jump is the steepest stretch of the curve: the
    segment with the largest :math:`|d_i|` (rising and falling curves are treated alike) and its
    contiguous neighbours whose :math:`|d_i|` is at least half of that maximum (the full width at
    half maximum of the slope). The function returns the centre of that stretch, the
    :math:`|d_i|`-weighted mean of its midpoints. Averaging over the stretch, rather than taking
    the single steepest segment, keeps the answer stable when the jump lasts several samples
    with nearly equal slopes.

    Args:
        steps: strictly increasing sample positions (e.g. training steps), at least 3.
        values: the curve at those steps, same length; finite.
    """
    s, v = _curve(steps, values)
    mids = [(a + b) / 2 for a, b in zip(s, s[1:])]
    slopes = [abs((v1 - v0) / (s1 - s0)) for s0, s1, v0, v1 in zip(s, s[1:], v, v[1:])]
    top = max(range(len(slopes)), key=slopes.__getitem__)  # the first steepest segment
    if slopes[top] == 0.0:
        raise ValueError("values must change somewhere: a flat curve has no jump")
    lo = hi = top
    while lo > 0 and slopes[lo - 1] >= slopes[top] / 2:
        lo -= 1
    while hi < len(slopes) - 1 and slopes[hi + 1] >= slopes[top] / 2:
        hi += 1
    weights = slopes[lo:hi + 1]
    return sum(m * w for m, w in zip(mids[lo:hi + 1], weights)) / sum(weights)


def change_share(steps: Sequence[float], values: Sequence[float], start: float, stop: float
                 ) -> float:
    """Fraction of a curve's total change that happens between steps ``start`` and ``stop``.

    ``(v(stop) - v(start)) / (v_last - v_first)``, with ``v`` linearly interpolated between
    samples. A phase change (Olsson et al., 2022, Argument 1) is a large share in a short window;
    a steady trend gives a share close to the window's fraction of the run. The result can
    exceed 1 or be negative for a curve that overshoots or goes back.

    Args:
        steps, values: as for :func:`jump_step`.
        start, stop: the window, ``steps[0] <= start < stop <= steps[-1]``.
    """
    s, v = _curve(steps, values)
    check_float(start, "start")
    check_float(stop, "stop")
    if not s[0] <= start < stop <= s[-1]:
        raise ValueError(f"start and stop must satisfy steps[0]={s[0]:g} <= start < stop <= "
                         f"steps[-1]={s[-1]:g}, got start={start:g}, stop={stop:g}")
    total = v[-1] - v[0]
    if total == 0.0:
        raise ValueError("values must change between the first and the last step: the curve "
                         "has no total change to share")

    def at(x: float) -> float:
        j = next(k for k in range(1, len(s)) if s[k] >= x)
        w = (x - s[j - 1]) / (s[j] - s[j - 1])
        return v[j - 1] + w * (v[j] - v[j - 1])

    return (at(stop) - at(start)) / total


def phase_change_run(seed: int, recipe: Mapping[str, Any], *, n_layers: int = 2,
                     device: torch.device | str = "cpu", progress: bool = False
                     ) -> dict[str, Any]:
    """Train one model with ``recipe`` and return its phase-change curves and their jumps.

    ``recipe`` holds the keyword arguments of :func:`train_induction_model` (e.g.
    :data:`CPU_RECIPE`). The result is JSON-ready: ``{"seed", "n_layers", "step", "icl",
    "induction", "icl_jump", "induction_jump", "final_repeat", "final_induction"}``, where the
    curves are those of :meth:`InductionRun.phase_curves` and the jumps come from
    :func:`jump_step` (Olsson et al., 2022, Argument 1).
    """
    from readingroom.induction.experiment import train_induction_model

    if not isinstance(recipe, Mapping):
        raise TypeError(f"recipe must be a Mapping of train_induction_model's keyword arguments, "
                        f"got {type(recipe).__name__}")
    run = train_induction_model(n_layers, seed=seed, device=device, progress=progress,
                                **dict(recipe))
    curves = run.phase_curves()
    return {
        "seed": seed,
        "n_layers": n_layers,
        **curves,
        "icl_jump": jump_step(curves["step"], curves["icl"]),
        "induction_jump": jump_step(curves["step"], curves["induction"]),
        "final_repeat": run.final["repeat"],
        "final_induction": float(run.induction.max()),
    }
