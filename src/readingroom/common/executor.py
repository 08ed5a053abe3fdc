"""One way to get an executor for parallel work: a local process pool, or a Dask cluster.

:func:`make_executor` gives an object with the ``concurrent.futures.Executor`` interface
(``submit(fn, *args)`` returns a future with ``.result()``): a local
:class:`~concurrent.futures.ProcessPoolExecutor` by default, or a Dask ``distributed.Client``
connected to a scheduler address, so that a user who outgrows one machine passes
``--cluster tcp://host:8786`` and nothing else changes. AlphaEvolve's evaluations and the
geometry search's branches both run on it.
"""

from __future__ import annotations

import concurrent.futures as cf
from typing import Any

from readingroom.common.checks import check_int

__all__ = ["make_executor"]


def make_executor(cluster: Any = None, *, workers: int | None = None,
                  timeout_s: float = 10.0):
    """An executor for candidate evaluations.

    ``cluster=None``: a local ``ProcessPoolExecutor(max_workers=workers)`` (default: one worker a
    core). ``cluster="tcp://host:port"`` (any Dask scheduler address, or an object with a
    ``scheduler_address`` such as ``distributed.LocalCluster``): a ``distributed.Client``
    connected within ``timeout_s`` seconds; with ``workers`` it also waits (as long again) until
    that many workers have joined. Use it as a context manager, or call ``shutdown()`` /
    ``close()`` when done.

    Raises ``ConnectionError`` naming the address if no scheduler answers in time.
    """
    if workers is not None:
        check_int(workers, "workers")
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
