"""A pytest plugin loaded into the child nbval run: it records what each cell printed.

nbval keeps the outputs of the cell it just executed in ``item.test_outputs``. After the session,
this plugin writes them, one list per code cell with its wall time, as JSON to the path in ``READINGROOM_OUTPUTS``, so
the parent can assemble the executed notebook and hand it to the Jupyter cache.
"""

from __future__ import annotations

import json
import os

_outputs: dict[int, list] = {}
_passed: dict[int, bool] = {}
_seconds: dict[int, float] = {}


def pytest_runtest_makereport(item, call):
    """Keep the outputs of every nbval cell item once its body has run."""
    if call.when != "call" or not hasattr(item, "cell_num"):
        return
    _outputs[item.cell_num] = [dict(o) for o in (getattr(item, "test_outputs", None) or [])]
    _passed[item.cell_num] = call.excinfo is None
    _seconds[item.cell_num] = round(call.duration, 2)


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("READINGROOM_OUTPUTS")
    if not path:
        return
    record = {
        "exitstatus": int(exitstatus),
        "cells": {str(k): {"outputs": v, "passed": _passed.get(k, False),
                     "seconds": _seconds.get(k)} for k, v in _outputs.items()},
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f)
