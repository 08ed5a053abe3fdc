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

from readingroom.common.executor import make_executor

__all__ = ["evaluate_many", "make_executor"]


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
