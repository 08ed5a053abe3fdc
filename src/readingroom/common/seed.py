"""Seeding: one call makes a chapter's random numbers repeatable.

Every experiment in the book takes a seed. :func:`seed_everything` seeds the three global random
number generators a chapter may touch (Python's :mod:`random`, NumPy's legacy global generator and
PyTorch's CPU and CUDA generators); :func:`make_generator` builds a private
:class:`torch.Generator` for code that should not depend on (or disturb) the global state, such as
a data sampler.

Seeding makes reruns repeatable on the same machine and software stack. It does not force
PyTorch's deterministic kernels (``torch.use_deterministic_algorithms``), which some GPU
operations need for bit-identical results; chapters that need them turn them on themselves.
"""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["MAX_SEED", "seed_everything", "make_generator"]

#: Largest accepted seed: NumPy's global generator takes seeds in ``[0, 2**32 - 1]``.
MAX_SEED: int = 2**32 - 1


def _check_seed(seed: object, name: str = "seed") -> int:
    """Return ``seed`` if it is an int in ``[0, MAX_SEED]``, else raise naming ``name``."""
    # bool is a subclass of int, but ``seed=True`` is almost certainly a mistake.
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be a non-negative int, got {type(seed).__name__} {seed!r}")
    seed = int(seed)
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{name} must be a non-negative int at most 2**32 - 1, got {seed}")
    return seed


def seed_everything(seed: int) -> int:
    """Seed Python's ``random``, NumPy's global generator and PyTorch (CPU and every CUDA device).

    Args:
        seed: an int in ``[0, 2**32 - 1]`` (the range NumPy accepts).

    Returns:
        The seed, so a cell can write ``seed = seed_everything(0)`` and print it.

    Raises:
        TypeError: ``seed`` is not an int (``bool`` is rejected too).
        ValueError: ``seed`` is outside ``[0, 2**32 - 1]``.
    """
    seed = _check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device (lazily if CUDA is not yet initialised)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return seed


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """Return a new :class:`torch.Generator` on ``device`` seeded with ``seed``.

    Pass it to sampling functions (``torch.randint(..., generator=g)``) to draw repeatable numbers
    without touching PyTorch's global generator.

    Args:
        seed: an int in ``[0, 2**32 - 1]``.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a :class:`torch.device`.

    Raises:
        TypeError: ``seed`` is not an int, or ``device`` is not a str or torch.device.
        ValueError: ``seed`` is out of range, ``device`` is not a valid device string, or it
            names CUDA on a machine without CUDA.
    """
    seed = _check_seed(seed)
    if isinstance(device, str):
        try:
            device = torch.device(device)
        except RuntimeError as err:
            raise ValueError(f"device must be a valid torch device string, got {device!r}") from err
    elif not isinstance(device, torch.device):
        raise TypeError(
            f"device must be a str or torch.device, got {type(device).__name__} {device!r}"
        )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device is {str(device)!r} but CUDA is not available on this machine")
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator
