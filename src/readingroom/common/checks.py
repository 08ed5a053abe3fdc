"""Argument checks shared by the book's modules: one wording for every "must be" error.

The book's conventions ask that a public function given a parameter it cannot honour raises a ``TypeError`` or
``ValueError`` naming the parameter and what was expected. These helpers are that sentence, written
once.
"""

from __future__ import annotations

__all__ = ["check_dropout", "check_int"]


def check_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an int (not a bool) that is at least ``minimum``.

    Raises:
        TypeError: ``value`` is not an int, or is a bool: ``"{name} must be an int, got ..."``.
        ValueError: ``value < minimum``: ``"{name} must be a positive int, got ..."`` (for
            ``minimum=1``) or ``"{name} must be an int >= {minimum}, got ..."``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        what = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value}")
    return value


def check_dropout(value: object, name: str = "dropout") -> float:
    """Return ``value`` as a float if it is a number (not a bool) in ``[0, 1)``.

    Raises:
        TypeError: ``value`` is not an int or float: ``"{name} must be a float, got ..."``.
        ValueError: ``value`` is outside ``[0, 1)``: ``"{name} must be in [0, 1), got ..."``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)


def seed_arg(text: str) -> int:
    """``argparse`` type of a ``--seed``: an int in ``[0, 2**32 - 1]`` (what
    :func:`~readingroom.common.seed_everything` accepts), else a usage error (exit status 2)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative int, got {text!r}") from None
    if not 0 <= value <= 2**32 - 1:
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
