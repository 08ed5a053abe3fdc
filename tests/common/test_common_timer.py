"""Tests for readingroom.common.timer (the clock is replaced by a fake one)."""

import pytest
import torch

from readingroom.common import ChapterTimer, Preset, start_chapter
from readingroom.common import timer as timer_module


@pytest.fixture
def clock(monkeypatch):
    """A fake clock: set ``clock.now`` to move time."""

    class Clock:
        now = 100.0

    fake = Clock()
    monkeypatch.setattr(timer_module, "_clock", lambda: fake.now)
    return fake


def test_start_chapter_laps_and_elapsed(clock):
    timer = start_chapter("template", budget_s=60)
    assert isinstance(timer, ChapterTimer) and timer.budget_s == 60.0
    clock.now += 2.5
    assert timer.elapsed == 2.5
    assert timer.lap("train") == 2.5
    clock.now += 1.0
    assert timer.lap("plots") == 3.5
    assert timer.laps == [("train", 2.5), ("plots", 3.5)]
    assert "template" in repr(timer)


def test_report_within_budget(clock, capsys):
    timer = start_chapter("template")
    clock.now += 10.0
    timer.lap("train")
    clock.now += 2.3
    timer.lap("evaluate")
    preset = Preset("cpu", torch.device("cpu"), {"steps": 1})
    assert timer.report(preset) == pytest.approx(12.3)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("Chapter 'template' ran in 12.3 s on cpu preset on cpu with 1 CPU thread "
                        "(budget 120 s)")
    assert lines[1].split() == ["train", "10.0", "s", "(at", "10.0", "s)"]
    assert lines[2].split() == ["evaluate", "2.3", "s", "(at", "12.3", "s)"]
    assert len(lines) == 3 and "WARNING" not in "".join(lines)


def test_report_over_budget_warns_and_does_not_raise(clock, capsys):
    timer = start_chapter("slow", budget_s=5)
    clock.now += 7.0
    assert timer.report() == 7.0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Chapter 'slow' ran in 7.0 s with 1 CPU thread (budget 5 s)"
    assert "WARNING: chapter 'slow' took 7.0 s, over its 5 s budget by 2.0 s" in out


def test_real_clock_moves_forward():
    timer = start_chapter("real")
    first = timer.lap("a")
    assert 0 <= first <= timer.lap("b") <= timer.elapsed
