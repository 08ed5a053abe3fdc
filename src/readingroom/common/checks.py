"""Argument checks shared by the book's modules: one wording for every "must be" error.

BOOK.md asks that a public function given a parameter it cannot honour raises a ``TypeError`` or
``ValueError`` naming the parameter and what was expected. These helpers are that sentence, written
once.
"""

from __future__ import annotations

__all__ = ["check_int"]


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
