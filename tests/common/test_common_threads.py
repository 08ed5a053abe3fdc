"""Tests for readingroom.common.threads: the one-thread-per-process policy."""

import os
import subprocess
import sys

import pytest
import threadpoolctl
import torch

from readingroom.common import start_chapter, thread_count, thread_env, use_threads
from readingroom.common.threads import THREADS_ENV


@pytest.fixture
def clean_env(monkeypatch):
    """No thread variable set; torch's pool restored afterwards."""
    for var in (THREADS_ENV, "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    before = torch.get_num_threads()
    yield monkeypatch
    torch.set_num_threads(before)


def test_default_is_one_thread(clean_env):
    assert thread_count() == 1


def test_environment_overrides_and_omp_is_honoured(clean_env):
    clean_env.setenv("OMP_NUM_THREADS", "3")
    assert thread_count() == 3
    clean_env.setenv(THREADS_ENV, "2")  # the book's own variable wins over OpenMP's
    assert thread_count() == 2
    clean_env.setenv(THREADS_ENV, " AUTO ")
    assert thread_count() is None
    assert thread_count(4) == 4 and thread_count("5") == 5  # an explicit value wins over both


def test_thread_env_sizes_every_pool(clean_env):
    env = thread_env(2)
    assert env == {THREADS_ENV: "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
                   "OPENBLAS_NUM_THREADS": "2"}
    assert thread_env("auto") == {THREADS_ENV: "auto"}


def test_use_threads_sets_torch_and_the_environment(clean_env):
    torch.set_num_threads(2)
    assert use_threads() == 1
    assert torch.get_num_threads() == 1
    assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ[THREADS_ENV] == "1"
    torch.set_num_threads(2)
    assert use_threads("auto") == 2  # auto changes nothing
    assert torch.get_num_threads() == 2


def test_use_threads_limits_numpy_blas(clean_env):
    # threadpoolctl is a dependency (pyproject.toml), so the BLAS pools are always limited
    use_threads(1)
    blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas)


def test_a_child_process_inherits_the_policy(clean_env):
    clean_env.setenv(THREADS_ENV, "auto")
    code = ("import torch, os; from readingroom.common import use_threads; "
            "print(torch.get_num_threads(), os.environ.get('OMP_NUM_THREADS'))")
    env = {**os.environ, **thread_env(1)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["1", "1"]


def test_start_chapter_applies_the_policy_and_reports_it(clean_env, capsys):
    torch.set_num_threads(2)
    timer = start_chapter("threads")
    assert timer.threads == 1 and torch.get_num_threads() == 1
    timer.report()
    assert "with 1 CPU thread (budget" in capsys.readouterr().out
