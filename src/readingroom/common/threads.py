"""The thread policy: how many CPU threads one process of the book computes with.

The book's models are tiny: a matrix product of a few hundred rows gains little from a second
thread, and when other programs share the cores (a reader's laptop, a CI runner, the test suite
running two chapters at once) every extra thread of torch's or BLAS's pool becomes a spinning waiter
that the scheduler must preempt. Measured on the 2-core CI machine (``benchmarks/bench_threads.py``
and issue 19): the template chapter took 53 s quiet with torch's default two threads and 222 s with
two busy processes beside it, but 80 s with one thread under the same load.

So by default every process of the book computes with **one** thread. Set the environment variable
``READINGROOM_THREADS`` to an integer to choose another count, or to ``auto`` to keep the libraries'
own defaults (all cores)::

    READINGROOM_THREADS=4 make test      # four threads per chapter and per test worker

:func:`use_threads` applies the policy to torch's intra-op pool and to the BLAS/OpenMP pools of
NumPy and SciPy (through ``threadpoolctl`` when it is installed), and :func:`thread_env` gives the
variables that make a child process start with the same limits. Every chapter applies it through
:func:`~readingroom.common.start_chapter`; the CLIs and the test suite call :func:`use_threads`.
"""

from __future__ import annotations

import os

__all__ = ["THREADS_ENV", "thread_count", "thread_env", "use_threads"]

#: Environment variable that overrides the policy: a positive int, or ``auto``.
THREADS_ENV = "READINGROOM_THREADS"

#: The variables that size the OpenMP/BLAS pools of a process when it starts.
_POOL_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def thread_count(value: str | int | None = None) -> int | None:
    """The number of threads the policy asks for, or ``None`` for the libraries' own default.

    ``value`` is what the user asked for (an int, a string such as ``"2"`` or ``"auto"``); when it
    is ``None`` the environment variable ``READINGROOM_THREADS`` decides; when that is unset or
    empty, ``OMP_NUM_THREADS`` (a user who sized OpenMP already chose), and else the answer is 1.
    """
    source = "threads"
    if value is None:
        for var in (THREADS_ENV, "OMP_NUM_THREADS"):
            value = os.environ.get(var, "").strip()
            source = f"environment variable {var}"
            if value:
                break
        else:
            return 1
    if isinstance(value, str):
        if value.strip().lower() == "auto":
            return None
        try:
            value = int(value)
        except ValueError:
            raise ValueError(f"{source} must be a positive int or 'auto', got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{source} must be a positive int or 'auto', got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{source} must be a positive int or 'auto', got {value}")
    return value


def thread_env(value: str | int | None = None) -> dict[str, str]:
    """Environment variables that start a child process under the policy.

    The OpenMP/BLAS variables are sized to :func:`thread_count`; with ``auto`` they are absent
    (the child keeps its libraries' defaults). ``READINGROOM_THREADS`` is passed on too, so the
    child's own :func:`use_threads` agrees.
    """
    count = thread_count(value)
    env = {THREADS_ENV: "auto" if count is None else str(count)}
    if count is not None:
        env.update({var: str(count) for var in _POOL_VARS})
    return env


def use_threads(value: str | int | None = None) -> int:
    """Apply the thread policy to this process; return the number of torch threads now in use.

    Sets torch's intra-op pool (``torch.set_num_threads``) and, where ``threadpoolctl`` is
    installed, the BLAS/OpenMP pools NumPy and SciPy loaded. It also writes the variables of
    :func:`thread_env` into ``os.environ``, so child processes (a DataLoader worker, a chapter's
    kernel, a CLI run from a notebook) inherit the same limits. With ``auto`` nothing is changed.
    """
    count = thread_count(value)
    import torch

    if count is None:
        return torch.get_num_threads()
    os.environ.update(thread_env(count))
    torch.set_num_threads(count)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it only torch's pool is limited
        pass
    else:
        threadpool_limits(count)
    return torch.get_num_threads()
