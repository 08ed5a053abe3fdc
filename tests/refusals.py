"""The one runner of the packages' bad-input tables (issue 21: validation at the boundary).

Each package keeps its error paths in ``tests/<package>/test_<package>_bad_input.py`` as one list
of rows ``(id, call, exception, match)``: ``call()`` must raise ``exception`` with a message that
matches ``match`` (the parameter's name, and what was expected). A module turns its table into a
test with::

    test_bad_input_is_refused_with_a_clear_error = refusal_test(CASES)

A repeated id is an error when the module is collected (pytest would otherwise rename it quietly).
Ids are made the same in every process: an object's address (``<object object at 0x7f...>``, which
an id built from a repr may hold) is dropped, or pytest-xdist's workers would collect different
tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pytest


def refusal_test(cases: Sequence[tuple[str, Callable[[], object], type[BaseException], str]]):
    """The parametrised test of a table of ``(id, call, exception, match)`` rows."""
    ids = [re.sub(r" at 0x[0-9a-fA-F]+", "", case[0]) for case in cases]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"bad-input table: repeated ids {repeated}")

    @pytest.mark.parametrize("call,exc,match", [case[1:] for case in cases], ids=ids)
    def test_bad_input_is_refused_with_a_clear_error(call, exc, match):
        with pytest.raises(exc, match=match):
            call()

    return test_bad_input_is_refused_with_a_clear_error
