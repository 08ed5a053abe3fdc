"""Test-wide settings: offline, headless, deterministic; and a runtime table for the chapters."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"

# Nothing in the test suite may download anything; unit tests also run with sockets disabled
# (pytest-socket, see pyproject.toml), chapters with the network blocked in their kernel.
for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[_var] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")

CHAPTER_SECONDS: dict[str, float] = {}
CHAPTER_BUDGET_S = 120.0


@pytest.fixture(scope="session")
def chapter_seconds() -> dict[str, float]:
    """Chapter name -> wall seconds; tests/test_chapters.py fills it, the summary prints it."""
    return CHAPTER_SECONDS


def pytest_terminal_summary(terminalreporter):
    """Print each chapter's wall time against its budget and save them to _build/."""
    if not CHAPTER_SECONDS:
        return
    tr = terminalreporter
    tr.section("chapter runtimes (budget: %.0f s each on the 2-core CPU)" % CHAPTER_BUDGET_S)
    for name, sec in CHAPTER_SECONDS.items():
        flag = "" if sec <= CHAPTER_BUDGET_S else "   <-- over budget"
        tr.write_line(f"{name:<32} {sec:7.1f} s{flag}")
    BUILD.mkdir(exist_ok=True)
    out = BUILD / "chapter-runtimes.json"
    old = json.loads(out.read_text()) if out.is_file() else {}
    old.update({k: round(v, 1) for k, v in CHAPTER_SECONDS.items()})
    out.write_text(json.dumps(old, indent=2, sort_keys=True) + "\n")
    tr.write_line(f"(saved to {out.relative_to(ROOT)})")
