"""readingroom.common.checks: the shared argument checks."""

from __future__ import annotations

import pytest

from readingroom.common import check_int


def test_check_int_returns_valid_values():
    assert check_int(3, "n") == 3
    assert check_int(0, "n", minimum=0) == 0
    assert check_int(-2, "offset", minimum=-5) == -2


@pytest.mark.parametrize("value, kwargs, exc, match", [
    (0, {}, ValueError, "n must be a positive int, got 0"),
    (1, {"minimum": 2}, ValueError, "n must be an int >= 2, got 1"),
    (2.0, {}, TypeError, "n must be an int, got float 2.0"),
    (True, {}, TypeError, "n must be an int, got bool True"),
    ("3", {}, TypeError, "n must be an int, got str '3'"),
])
def test_check_int_errors_name_the_parameter(value, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        check_int(value, "n", **kwargs)


def test_check_dropout():
    from readingroom.common.checks import check_dropout

    assert check_dropout(0) == 0.0 and check_dropout(0.5) == 0.5
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1.0"):
        check_dropout(1.0)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\), got -0.1"):
        check_dropout(-0.1, "p")
    with pytest.raises(TypeError, match="dropout must be a float, got bool"):
        check_dropout(True)


def test_cli_argument_types() -> None:
    import argparse

    from readingroom.common.checks import positive_int_arg, seed_arg

    assert seed_arg("0") == 0 and seed_arg(str(2**32 - 1)) == 2**32 - 1
    assert positive_int_arg("3") == 3
    for bad in ("-1", "x", str(2**32), "1.5"):
        with pytest.raises(argparse.ArgumentTypeError, match="must be"):
            seed_arg(bad)
    for bad in ("0", "-2", "two"):
        with pytest.raises(argparse.ArgumentTypeError, match="must be a positive int"):
            positive_int_arg(bad)
