"""Evaluate many candidates in parallel: a local process pool, or a Dask cluster.

AlphaEvolve (Novikov et al., 2025) runs its evaluators asynchronously on a cluster while the
model proposes more programs. Here the same code path runs on a laptop and on a cluster:
:func:`make_executor` gives an object with the ``concurrent.futures.Executor`` interface
(``submit(fn, *args)`` returns a future with ``.result()``) -- a local
:class:`~concurrent.futures.ProcessPoolExecutor` by default, or a Dask ``distributed.Client``
connected to a scheduler address -- and :func:`evaluate_many` maps a function over items on it,
in input order, with a progress bar.

Each evaluation is usually :func:`~readingroom.evolve.sandbox.run_sandboxed`: the pool's workers
only start sandboxes, the candidate never runs in a worker itself.
"""

from __future__ import annotations

import concurrent.futures as cf
from typing import Any, Callable, Iterable

__all__ = ["evaluate_many", "make_executor"]


def make_executor(cluster: Any = None, *, workers: int | None = None,
                  timeout_s: float = 10.0):
    """An executor for candidate evaluations.

    ``cluster=None``: a local ``ProcessPoolExecutor(max_workers=workers)`` (default: one worker a
    core). ``cluster="tcp://host:port"`` (any Dask scheduler address, or an object with a
    ``scheduler_address`` such as ``distributed.LocalCluster``): a ``distributed.Client``
    connected within ``timeout_s`` seconds; with ``workers`` it also waits (as long again) until
    that many workers have joined. Use it as a context manager, or call ``shutdown()`` /
    ``close()`` when done.

    Raises ``ValueError`` for a malformed address or worker count and ``ConnectionError`` naming
    the address if no scheduler answers in time.
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ValueError(f"workers must be a positive int or None, got {workers!r}")
    if cluster is None:
        return cf.ProcessPoolExecutor(max_workers=workers)
    address = getattr(cluster, "scheduler_address", cluster)
    if not isinstance(address, str) or "://" not in address:
        raise ValueError(f"cluster must be None or a Dask scheduler address such as "
                         f"'tcp://host:8786', got {cluster!r}")
    import distributed

    try:
        client = distributed.Client(address, timeout=timeout_s)
    except (OSError, TimeoutError) as e:
        raise ConnectionError(f"no Dask scheduler answered at {address} within {timeout_s} s "
                              f"({type(e).__name__}: {e})") from e
    if workers is not None:
        try:
            client.wait_for_workers(workers, timeout=timeout_s)
        except (OSError, TimeoutError) as e:
            client.close()
            raise ConnectionError(f"the Dask cluster at {address} did not reach {workers} "
                                  f"workers within {timeout_s} s") from e
    return client


def evaluate_many(executor, fn: Callable[[Any], Any], items: Iterable[Any], *,
                  progress: bool = True, desc: str = "evaluate") -> list:
    """``[fn(item) for item in items]``, computed on ``executor``, in input order.

    The bar advances as evaluations finish (in whatever order they finish); it is off when
    ``progress`` is False or ``READINGROOM_PROGRESS=0`` (``readingroom.common.progress_enabled``).
    ``fn`` must be picklable (a module-level function or a ``functools.partial`` of one). If an
    evaluation raises, the remaining ones are cancelled and the exception propagates: wrap the
    candidate in :func:`~readingroom.evolve.sandbox.run_sandboxed` so that only a bug in ``fn``
    itself can raise.
    """
    from tqdm.auto import tqdm

    from readingroom.common import progress_enabled

    items = list(items)
    futures = [executor.submit(fn, item) for item in items]
    index = {id(f): i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(items)
    if hasattr(executor, "gather"):  # a Dask client: its futures are not concurrent.futures
        from distributed import as_completed
    else:
        as_completed = cf.as_completed
    try:
        with tqdm(total=len(items), desc=desc, disable=not progress_enabled(progress),
                  leave=False) as bar:
            for future in as_completed(futures):
                results[index[id(future)]] = future.result()
                bar.update(1)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return results
