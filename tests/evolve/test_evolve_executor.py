"""Parallel evaluation: a local process pool and a Dask cluster run sandboxed programs."""

from __future__ import annotations

import concurrent.futures as cf
import functools
import time

import pytest

from readingroom.evolve.executor import evaluate_many, make_executor
from readingroom.evolve.sandbox import run_sandboxed

PROGRAMS = [f"def main(x):\n    return x * {k}\n" for k in range(6)] + [
    "def main(x):\n    raise ValueError('nope')\n",
    "def main(x):\n    while True: pass\n",
]


def _square(x):
    time.sleep(0.01 * (5 - x % 5))  # finish out of order: results must still come in order
    return x * x


def _evaluate(code, x=7):
    return run_sandboxed(code, args=(x,), timeout_s=2.0, memory_mb=256).to_dict()


def _check_programs(results):
    assert [r["value"] for r in results[:6]] == [7 * k for k in range(6)]
    assert all(r["ok"] for r in results[:6])
    assert results[6]["reason"] == "exception: ValueError: nope"
    assert results[7]["reason"] == "timeout"


def test_local_pool_in_order_with_sandboxed_programs():
    with make_executor(workers=2) as ex:
        assert isinstance(ex, cf.ProcessPoolExecutor)
        assert evaluate_many(ex, _square, range(10)) == [x * x for x in range(10)]
        _check_programs(evaluate_many(ex, _evaluate, PROGRAMS, progress=False))
        assert evaluate_many(ex, _square, []) == []


def _fails(x):
    if x == 3:
        raise KeyError("bug in the evaluator")
    return x


def test_an_evaluator_bug_propagates():
    with make_executor(workers=2) as ex, pytest.raises(KeyError, match="bug"):
        evaluate_many(ex, _fails, range(6))


def test_progress_bar_respects_the_switch(monkeypatch, capsys):
    monkeypatch.setenv("READINGROOM_PROGRESS", "0")
    with cf.ThreadPoolExecutor(2) as ex:  # any concurrent.futures executor works
        assert evaluate_many(ex, abs, [-1, -2], desc="quiet") == [1, 2]
    assert "quiet" not in capsys.readouterr().err
    monkeypatch.setenv("READINGROOM_PROGRESS", "1")
    with cf.ThreadPoolExecutor(2) as ex:
        evaluate_many(ex, abs, [-1, -2], desc="loud")
    assert "loud" in capsys.readouterr().err


@pytest.mark.enable_socket
def test_unreachable_scheduler_is_a_clear_error():
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=r"tcp://127\.0\.0\.1:9 within 2"):
        make_executor("tcp://127.0.0.1:9", timeout_s=2)
    assert time.monotonic() - start < 15


@pytest.mark.enable_socket
def test_dask_local_cluster_runs_sandboxed_programs():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        client = make_executor(cluster.scheduler_address, workers=2, timeout_s=20)
        try:
            assert isinstance(client, distributed.Client)
            assert client.submit(_square, 4).result() == 16
            assert evaluate_many(client, _square, range(8)) == [x * x for x in range(8)]
            _check_programs(evaluate_many(client, functools.partial(_evaluate, x=7), PROGRAMS))
        finally:
            client.close()
