"""Triton kernels for the Reading Room book, imported as ``readingroom.kernels``.

Each kernel module follows the shape of Triton's tutorials: the ``@triton.jit`` kernel(s), a
``torch.autograd.Function`` that launches them, a plain-PyTorch reference beside it, a public
function that validates its inputs, a test in ``tests/kernels/`` that compares forward and backward
against the reference, and a benchmark in ``benchmarks/``.

Modules:

* :mod:`readingroom.kernels.softmax` -- row-wise fused softmax (forward and backward).
* :mod:`readingroom.kernels.nsa` -- NSA's sliding-window, compressed and selected attention.

Execution mode
--------------
Triton compiles kernels for a GPU. With no GPU, Triton's *interpreter* runs the same kernel code
on CPU tensors with NumPy (slowly, but exactly enough for tests). The interpreter is switched on
by the environment variable ``TRITON_INTERPRET=1``, and it must be set **before Triton is first
imported**: Triton decides interpreted-or-compiled when each ``@triton.jit`` function is
decorated, and ``triton.language`` decorates its own helpers (``tl.max``, ``tl.sum``, ...) at
import time. A process that imported Triton without the variable cannot use the interpreter
afterwards; kernel launches then fail with "Cannot call @triton.jit'd outside of the scope of a
kernel" (or "0 active drivers").

Importing this package decides the mode once:

* a CUDA device is available -> compiled kernels on the GPU (unless the user set
  ``TRITON_INTERPRET`` themselves);
* no CUDA device and ``TRITON_INTERPRET`` unset -> it sets ``TRITON_INTERPRET=1`` and then
  imports Triton. Import ``readingroom.kernels`` before anything that imports ``triton``.
  (``import torch`` alone does not import Triton -- checked with torch 2.13 -- but
  ``torch._dynamo`` / ``torch.compile`` do.)
* if Triton was already imported without the variable and there is no GPU, a ``RuntimeWarning``
  explains that the kernels will fail and how to fix it.

Public names: :data:`INTERPRETED`, :func:`kernel_device`, :func:`describe_backend`.
"""

from __future__ import annotations

import os
import sys
import warnings

import torch

__all__ = ["INTERPRETED", "TRITON_VERSION", "kernel_device", "describe_backend"]

_ENV = "TRITON_INTERPRET"
_TRUE = {"1", "true", "yes", "on", "y"}

_HAS_CUDA: bool = torch.cuda.is_available()
_TRITON_PREIMPORTED: bool = "triton" in sys.modules  # imported before us, possibly without _ENV

if not _HAS_CUDA and _ENV not in os.environ:
    if _TRITON_PREIMPORTED:
        warnings.warn(
            "readingroom.kernels: Triton was imported before readingroom.kernels, without "
            f"{_ENV}=1, and no CUDA GPU is available. Triton's own helpers (tl.max, tl.sum, ...) "
            "were therefore built for a GPU, and launching any kernel in this process will fail "
            "(\"Cannot call @triton.jit'd outside of the scope of a kernel\" or \"0 active "
            "drivers\"). Fix: `import readingroom.kernels` before anything that imports triton "
            "(torch._dynamo / torch.compile do), or set TRITON_INTERPRET=1 in the environment "
            "before starting Python, then restart the kernel/process.",
            RuntimeWarning,
            stacklevel=2,
        )
    # Set it even in the warned case: child processes (e.g. benchmarks/run_all.py) inherit it.
    os.environ[_ENV] = "1"

try:
    import triton  # noqa: E402  (must come after the environment variable is decided)
except ImportError:  # pragma: no cover - triton is a required dependency of the book
    triton = None  # type: ignore[assignment]

TRITON_VERSION: str | None = getattr(triton, "__version__", None)


def _interpret_flag() -> bool:
    """Whether ``@triton.jit`` decorates functions as interpreted functions right now."""
    knobs = getattr(triton, "knobs", None)
    if knobs is not None:  # Triton >= 3.4 reads the variable through its knobs
        return bool(knobs.runtime.interpret)
    return os.environ.get(_ENV, "0").strip().lower() in _TRUE


#: True when this package's kernels run under Triton's interpreter (NumPy on the host) rather
#: than as compiled GPU code. Decided once, at import.
INTERPRETED: bool = triton is not None and _interpret_flag()


def kernel_device() -> torch.device:
    """The device to put kernel inputs on: ``cuda`` when a CUDA GPU is available, else ``cpu``."""
    return torch.device("cuda" if _HAS_CUDA else "cpu")


def describe_backend() -> str:
    """One line naming the Triton version, the mode, and the hardware.

    Examples: ``"Triton 3.7.1 interpreter on CPU"``, ``"Triton 3.7.1 on NVIDIA H200"``.
    """
    if triton is None:
        return "Triton not installed"
    gpu = torch.cuda.get_device_name() if _HAS_CUDA else None
    if INTERPRETED:  # the interpreter always executes on the host, whatever the tensors' device
        extra = f" (tensors on {gpu})" if gpu else ""
        return f"Triton {TRITON_VERSION} interpreter on CPU{extra}"
    return f"Triton {TRITON_VERSION} on {gpu or 'CPU'}"
