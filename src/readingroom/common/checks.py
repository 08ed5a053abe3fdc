"""Argument checks shared by the book's modules: one wording for every "must be" error.

The book's conventions ask that a public function given a parameter it cannot honour raises a ``TypeError`` or
``ValueError`` naming the parameter and what was expected. These helpers are that sentence, written
once; modules call them where input enters (configs' ``__post_init__``, CLIs, the public functions
the chapters call), not again in the internal code those entry points feed.

A wrong type is a ``TypeError``, a right type with a bad value a ``ValueError``; every message
starts with the parameter's name and ends with the value it got.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = [
    "MAX_SEED", "check_bool", "check_choice", "check_device", "check_dropout", "check_float",
    "check_int", "check_seed", "check_seeds", "positive_int_arg", "seed_arg",
]

#: Largest accepted seed: NumPy's global generator takes seeds in ``[0, 2**32 - 1]``.
MAX_SEED: int = 2**32 - 1


def _got(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


def check_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an int (not a bool) that is at least ``minimum``.

    Messages: ``"{name} must be an int, got ..."`` (a ``TypeError``), ``"{name} must be a positive
    int, got ..."`` (``minimum=1``) or ``"{name} must be an int >= {minimum}, got ..."``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {_got(value)}")
    if value < minimum:
        what = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value}")
    return value


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low == 0 and high is None:
        return f"a {'positive' if low_open else 'non-negative'} finite float"
    if low is not None:
        return f"a finite float {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"a finite float {'<' if high_open else '<='} {high:g}"
    return "a finite float"


def check_float(value: object, name: str, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a float if it is a finite int or float (not a bool) within the bounds.

    ``low``/``high`` are inclusive unless ``low_open``/``high_open``; ``None`` is unbounded.
    Messages: ``"{name} must be a float, got ..."`` (a ``TypeError``), and for a bad value
    ``"{name} must be in [low, high), got ..."``, ``"... a positive finite float ..."``
    (``low=0, low_open=True``), ``"... a non-negative finite float ..."`` (``low=0``),
    ``"... a finite float > low ..."`` and so on.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, got {_got(value)}")
    value = float(value)
    bad = (not math.isfinite(value)
           or (low is not None and (value <= low if low_open else value < low))
           or (high is not None and (value >= high if high_open else value > high)))
    if bad:
        raise ValueError(f"{name} must be {_range_text(low, high, low_open, high_open)}, "
                         f"got {value}")
    return value


def check_dropout(value: object, name: str = "dropout") -> float:
    """Return ``value`` as a float if it is a number (not a bool) in ``[0, 1)``."""
    return check_float(value, name, low=0.0, high=1.0, high_open=True)


def check_bool(value: object, name: str) -> bool:
    """Return ``value`` if it is a bool, else a ``TypeError`` ``"{name} must be a bool, got ..."``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {_got(value)}")
    return value


def check_choice(value: object, name: str, choices: Sequence[object]) -> object:
    """Return ``value`` if it is one of ``choices``, else a ``ValueError``
    ``"{name} must be one of a, b, got ..."`` (whatever its type)."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def check_seed(value: object, name: str = "seed") -> int:
    """Return ``value`` as an int if it is an int or NumPy integer (not a bool) in
    ``[0, MAX_SEED]`` (what :func:`~readingroom.common.seed_everything` accepts)."""
    import numpy as np

    # bool is a subclass of int, but ``seed=True`` is almost certainly a mistake.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a non-negative int, got {_got(value)}")
    value = int(value)
    if not 0 <= value <= MAX_SEED:
        raise ValueError(f"{name} must be a non-negative int at most 2**32 - 1, got {value}")
    return value


def check_seeds(seeds: object, name: str = "seeds", *, distinct: bool = False) -> list[int]:
    """Return ``seeds`` as a non-empty list of ints in ``[0, MAX_SEED]`` (distinct if asked).

    A str or a non-sequence is a ``TypeError``, as is an element that is not an int (or is a
    bool); an empty sequence, an element out of range or (``distinct=True``) a repeat is a
    ``ValueError``; every message names ``name``.
    """
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        raise TypeError(f"{name} must be a sequence of ints, got {_got(seeds)}")
    if len(seeds) == 0:
        raise ValueError(f"{name} must hold at least one seed, got an empty sequence")
    out = []
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"{name} must hold ints, got {_got(seed)}")
        if not 0 <= seed <= MAX_SEED:
            raise ValueError(f"{name} must hold ints in [0, 2**32 - 1], got {seed}")
        out.append(int(seed))
    if distinct and len(set(out)) != len(out):
        raise ValueError(f"{name} must be distinct, got {out}")
    return out


def seed_arg(text: str) -> int:
    """``argparse`` type of a ``--seed``: an int in ``[0, 2**32 - 1]`` (what
    :func:`~readingroom.common.seed_everything` accepts), else a usage error (exit status 2)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative int, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an int in [0, 2**32 - 1], got {value}")
    return value


def positive_int_arg(text: str) -> int:
    """``argparse`` type of a count: a positive int, else a usage error (exit status 2)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive int, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive int, got {value}")
    return value


def check_device(device: object, name: str = "device") -> torch.device:
    """Return ``device`` as a :class:`torch.device` if it is one, or a valid device string
    (``"cpu"``, ``"cuda"``, ``"cuda:N"``, ...) that this machine can use.

    A non-str, non-device is a ``TypeError``; an unparsable string, or CUDA on a machine without
    it, a ``ValueError``. (``"auto"`` is :func:`~readingroom.common.pick_device`'s business.)
    """
    import torch

    if isinstance(device, str):
        try:
            device = torch.device(device)
        except RuntimeError as err:
            raise ValueError(f"{name} must be a valid torch device string, got {device!r}") from err
    elif not isinstance(device, torch.device):
        raise TypeError(f"{name} must be a str or torch.device, got {_got(device)}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name} is {str(device)!r} but CUDA is not available on this machine")
    return device
