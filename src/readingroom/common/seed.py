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

from .checks import MAX_SEED, check_device, check_seed

__all__ = ["MAX_SEED", "seed_everything", "make_generator"]


def seed_everything(seed: int) -> int:
    """Seed Python's ``random``, NumPy's global generator and PyTorch (CPU and every CUDA device).

    Args:
        seed: an int in ``[0, 2**32 - 1]`` (the range NumPy accepts).

    Returns:
        The seed, so a cell can write ``seed = seed_everything(0)`` and print it.
    """
    seed = check_seed(seed)
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
    """
    seed = check_seed(seed)
    device = check_device(device)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator
