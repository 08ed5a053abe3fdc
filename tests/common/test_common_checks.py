"""readingroom.common.checks: the shared argument checks accept and return valid values (their
refusals are the first rows of test_common_bad_input)."""

from __future__ import annotations

import numpy as np
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
