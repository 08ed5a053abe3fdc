"""readingroom.common.checks: the shared argument checks."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from readingroom.common import check_int
from readingroom.common.checks import (
    check_bool, check_choice, check_device, check_dropout, check_float, check_seed, check_seeds,
    positive_int_arg, seed_arg,
)


def test_checks_return_valid_values():
    assert check_int(3, "n") == 3
    assert check_int(0, "n", minimum=0) == 0
    assert check_int(-2, "offset", minimum=-5) == -2
    assert check_dropout(0) == 0.0 and check_dropout(0.5) == 0.5
    assert check_float(2, "x") == 2.0 and isinstance(check_float(2, "x"), float)
    assert check_float(1.0, "p", low=0, low_open=True, high=1) == 1.0
    assert check_float(0, "wd", low=0) == 0.0
    assert check_bool(False, "flag") is False
    assert check_choice("b", "mode", ("a", "b")) == "b"
    assert check_seed(np.int64(7)) == 7 and check_seed(2**32 - 1) == 2**32 - 1
    assert check_seeds((0, 1, 1)) == [0, 1, 1]
    assert check_seeds([3, 1], distinct=True) == [3, 1]
    assert check_device("cpu") == torch.device("cpu")
    assert check_device(torch.device("cpu")) == torch.device("cpu")
    assert seed_arg("0") == 0 and seed_arg(str(2**32 - 1)) == 2**32 - 1
    assert positive_int_arg("3") == 3


NAN, INF = float("nan"), float("inf")


# (call, error type, message fragment): every message names the parameter and the bad value.
@pytest.mark.parametrize("call, exc, match", [
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
    (lambda: check_choice("c", "mode", ("a", "b")), ValueError, "mode must be one of a, b, got 'c'"),
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
    (lambda: check_seeds([1, 1], distinct=True), ValueError, r"seeds must be distinct, got \[1, 1\]"),
    (lambda: check_device(0), TypeError, "device must be a str or torch.device, got int 0"),
    (lambda: check_device("gpu", "where"), ValueError,
     "where must be a valid torch device string, got 'gpu'"),
    (lambda: seed_arg("-1"), argparse.ArgumentTypeError, "must be an int in"),
    (lambda: seed_arg("x"), argparse.ArgumentTypeError, "must be a non-negative int, got 'x'"),
    (lambda: seed_arg(str(2**32)), argparse.ArgumentTypeError, "must be an int in"),
    (lambda: seed_arg("1.5"), argparse.ArgumentTypeError, "must be a non-negative int"),
    (lambda: positive_int_arg("0"), argparse.ArgumentTypeError, "must be a positive int, got 0"),
    (lambda: positive_int_arg("-2"), argparse.ArgumentTypeError, "must be a positive int"),
    (lambda: positive_int_arg("two"), argparse.ArgumentTypeError, "must be a positive int"),
])
def test_check_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_check_device_refuses_missing_cuda():
    with pytest.raises(ValueError, match="device is 'cuda' but CUDA is not available"):
        check_device("cuda")
