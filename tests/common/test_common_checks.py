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
