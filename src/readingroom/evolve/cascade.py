"""The evaluation cascade: cheap tests first, expensive ones only for programs that pass.

AlphaEvolve (Novikov et al., 2025, "evaluation cascade") scores a candidate on a sequence of
test sets of growing difficulty; a program that scores too low on an early, cheap stage is not
run on the later, expensive ones. :class:`Cascade` runs :class:`Stage` s in order: stage ``k + 1``
runs only if stage ``k``'s score is at least its ``threshold`` (no threshold: always go on). A
stage that fails (its function raises, returns a failed
:class:`~readingroom.evolve.sandbox.SandboxResult`, or returns no finite number) stops the
cascade with the reason. The :class:`CascadeResult` records every stage's score, which stage
stopped it and why.
"""

from __future__ import annotations

import functools
import math
import numbers
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from readingroom.evolve.sandbox import SandboxResult, run_sandboxed

__all__ = ["Cascade", "CascadeResult", "Stage", "StageRecord", "sandboxed"]


@dataclass(frozen=True)
class Stage:
    """One stage: ``fn(candidate)`` returns a score (higher is better) as a number, a
    ``SandboxResult`` whose value is a number or a dict with a ``"score"``, or such a dict.
    The next stage runs only if ``score >= threshold`` (``None``: always)."""

    name: str
    fn: Callable[[Any], Any]
    threshold: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Stage name must be a non-empty str, got {self.name!r}")
        if not callable(self.fn):
            raise TypeError(f"Stage {self.name!r}: fn must be callable, got {self.fn!r}")
        if self.threshold is not None and (
                isinstance(self.threshold, bool) or not isinstance(self.threshold, numbers.Real)
                or math.isnan(self.threshold)):
            raise ValueError(f"Stage {self.name!r}: threshold must be a number or None, "
                             f"got {self.threshold!r}")


@dataclass
class StageRecord:
    name: str
    score: float | None          # None when the stage failed
    passed: bool                 # the cascade went on (or could have, for the last stage)
    reason: str = ""             # why it stopped here ("" if it passed)
    wall_s: float = 0.0


@dataclass
class CascadeResult:
    stages: list[StageRecord] = field(default_factory=list)  # the stages that ran, in order
    stopped_at: str | None = None   # the stage that stopped it; None if every stage passed
    reason: str = ""                # "below threshold: ..." or "failed: ..."; "" if completed

    @property
    def completed(self) -> bool:
        return self.stopped_at is None

    @property
    def scores(self) -> dict[str, float | None]:
        return {s.name: s.score for s in self.stages}

    @property
    def score(self) -> float | None:
        """The score of the last stage that produced one (the deepest evidence)."""
        got = [s.score for s in self.stages if s.score is not None]
        return got[-1] if got else None

    def to_dict(self) -> dict:
        return {**asdict(self), "scores": self.scores, "score": self.score,
                "completed": self.completed}


def _score_of(out: Any) -> tuple[float | None, str]:
    """(score, "") or (None, why not)."""
    if isinstance(out, SandboxResult):
        if not out.ok:
            return None, f"sandbox: {out.reason}"
        out = out.value
    if isinstance(out, dict):
        if "score" not in out:
            return None, f"bad score: a dict without 'score' (keys {sorted(out)[:5]})"
        out = out["score"]
    if isinstance(out, bool) or not isinstance(out, numbers.Real) or not math.isfinite(out):
        return None, f"bad score: {out!r:.60}"
    return float(out), ""


class Cascade:
    """Stages run in order; see the module doc. ``cascade(candidate) -> CascadeResult``."""

    def __init__(self, stages: list[Stage]) -> None:
        stages = list(stages)
        if not stages or not all(isinstance(s, Stage) for s in stages):
            raise ValueError("stages must be a non-empty list of Stage")
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique, got {names}")
        self.stages = stages

    def __call__(self, candidate: Any) -> CascadeResult:
        return self.run(candidate)

    def run(self, candidate: Any) -> CascadeResult:
        result = CascadeResult()
        for stage in self.stages:
            start = time.monotonic()
            try:
                out = stage.fn(candidate)
            except Exception as e:  # a failing stage stops the cascade, it does not raise
                score, why = None, f"exception: {type(e).__name__}: {e}"
            else:
                score, why = _score_of(out)
            wall = round(time.monotonic() - start, 4)
            if score is None:
                result.stages.append(StageRecord(stage.name, None, False, f"failed: {why}",
                                                 wall))
            elif stage.threshold is not None and score < stage.threshold:
                result.stages.append(StageRecord(
                    stage.name, score, False,
                    f"below threshold: {score:g} < {stage.threshold:g}", wall))
            else:
                result.stages.append(StageRecord(stage.name, score, True, "", wall))
                continue
            result.stopped_at, result.reason = stage.name, result.stages[-1].reason
            break
        return result


def sandboxed(entry: str = "main", args: tuple = (), **limits: Any) -> Callable[[str], Any]:
    """A stage function: ``code -> run_sandboxed(code, entry=entry, args=args, **limits)``
    (a ``functools.partial``, so a cascade built from it pickles into a process pool)."""
    return functools.partial(run_sandboxed, entry=entry, args=tuple(args), **limits)
