"""The kernel pin: which instruction set the CPU libraries compute with, so a run replays exactly.

torch, MKL, oneDNN, OpenBLAS and NumPy each pick their kernels for the CPU they find. On a
machine with AVX-512 they choose wider vectors than on one with only AVX2, and wider vectors sum
in another order: a matrix product differs in its last bits. One step is harmless. A training
run of a few thousand steps that samples from its own outputs can turn those bits into a
different answer now and then, and the run drifts away. Measured in this book: the DuPO
chapter's seed-0 GRPO run reached 0.38-0.41 held-out accuracy on an AVX2-only machine against
0.46-0.54 in the record written on another CPU, with the same code and seed.

So every process of the book asks each library for its **AVX2** kernels (:data:`KERNEL_VARS`),
which any x86-64 CPU from the last ten years has, and a record written under the pin replays on
such a machine with the same arithmetic (bit for bit on the machine that wrote it; verified
only on AVX2-only machines so far, and oneDNN may still block differently on another cache
size). On an AVX2-only machine the pin costs nothing measurable (the template chapter: 148 s
pinned, 150 s unpinned); on an AVX-512 machine it gives up the wider vectors (not measured).

The pin must be in the environment before a library picks its kernels. torch's ATen picks at
its first operation and MKL at its first call, so :func:`pin_kernels` (run when
:mod:`readingroom` is imported) is in time even after ``import torch``. This module sits beside
:mod:`readingroom.common`, not in it, because importing ``common`` imports NumPy, and the
package must pin before that. NumPy and OpenBLAS pick when they are imported, so for them the
variables must be set before the process starts: the test suite's conftest imports
:mod:`readingroom` before anything else, the chapter harness passes :func:`kernel_env` to each
chapter's kernel, and any child process inherits the environment :func:`pin_kernels` wrote.

``READINGROOM_KERNELS=native`` turns the pin off (each library's own choice). On a machine where
AVX2 kernels are not available (ARM, an old x86) nothing is pinned and :func:`kernel_path` says
so; the chapters then do not expect a record to replay exactly and say why.
"""

from __future__ import annotations

import os
import platform
import sys

__all__ = ["KERNELS_ENV", "KERNEL_VARS", "kernel_env", "kernel_path", "pin_kernels",
           "same_kernels"]

#: Environment variable that turns the pin off: ``native`` (or ``off``).
KERNELS_ENV = "READINGROOM_KERNELS"

#: What each library is asked for. ATen's dispatch (``ATEN_CPU_CAPABILITY``), MKL's conditional
#: numerical reproducibility (``MKL_CBWR``), oneDNN's highest instruction set (both of its
#: names), OpenBLAS's kernels (``Haswell`` is its AVX2 family) and NumPy's dispatched loops
#: (``NPY_DISABLE_CPU_FEATURES``, the AVX-512 groups; set by :func:`kernel_env`, whose names
#: depend on NumPy's version).
KERNEL_VARS = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2",
    "DNNL_MAX_CPU_ISA": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",
}

#: The pin's name, as :func:`kernel_path` reports it.
_PINNED = "x86-64 AVX2"


def _has_avx2() -> bool:
    """Whether this is an x86-64 CPU with AVX2 (from ``/proc/cpuinfo`` where there is one)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return "avx2" in line.split()
    except OSError:
        pass
    # No /proc/cpuinfo (macOS, Windows): ask torch once it is there; assume not before.
    torch = sys.modules.get("torch")
    if torch is not None:
        return torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")
    return False


def _numpy_avx512_features() -> str:
    """NumPy's names for its AVX-512 dispatch groups, by version (2.3 regrouped them)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = (int(p) for p in version("numpy").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return ""
    if (major, minor) >= (2, 3):
        return "X86_V4 AVX512_ICL AVX512_SPR"
    return "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL"


def _wanted() -> bool:
    """Whether the policy asks for the pin here (not turned off, and AVX2 is available)."""
    choice = os.environ.get(KERNELS_ENV, "").strip().lower()
    if choice in ("native", "off"):
        return False
    if choice not in ("", "avx2"):
        raise ValueError(f"environment variable {KERNELS_ENV} must be 'avx2' or 'native', "
                         f"got {choice!r}")
    return _has_avx2()


def kernel_env() -> dict[str, str]:
    """The environment variables that start a process under the pin (empty where it is off).

    Variables the user set already are kept: the returned dict holds this process's values for
    them, so a child agrees with its parent.
    """
    if not _wanted():
        return {}
    wanted = dict(KERNEL_VARS)
    features = _numpy_avx512_features()
    if features:
        wanted["NPY_DISABLE_CPU_FEATURES"] = features
    return {var: os.environ.get(var, value) for var, value in wanted.items()}


def pin_kernels() -> dict[str, str]:
    """Put the pin into this process's environment (keeping what the user set); return it.

    In time for torch, MKL and oneDNN as long as no tensor operation has run yet; NumPy and
    OpenBLAS read theirs when imported, so for them the variables must come from the parent.
    """
    env = kernel_env()
    for var, value in env.items():
        os.environ.setdefault(var, value)
    return env


def kernel_path() -> str:
    """The kernels this process computes with, as records store it and replays compare it.

    ``"x86-64 AVX2"`` when the pin is in effect: torch dispatches to its AVX2 kernels and MKL
    runs in its AVX2 reproducibility mode. Otherwise a description of the unpinned path, such as
    ``"native: AVX512 (x86_64)"`` or ``"native: DEFAULT (arm64)"``, which replays exactly only on
    the same CPU.
    """
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    if capability == "AVX2" and os.environ.get("MKL_CBWR", "").upper() == "AVX2":
        return _PINNED
    return f"native: {capability} ({platform.machine()})"


def same_kernels(provenance: dict) -> bool:
    """Whether this process computes with the kernels a CPU record was made with.

    True when the record's ``"kernels"`` (see :func:`readingroom.common.run_provenance`) is the
    pinned AVX2 path and this process computes on it too: the same code and seed then replay the
    record (bit for bit on the machine that wrote it, and on another CPU up to what its cache-sized
    blocking may reorder). A record without the field, or made or replayed off the pin, promises
    nothing: a chapter then shows live and recorded side by side and says why they may differ,
    instead of asserting that they agree.
    """
    if not isinstance(provenance, dict):
        raise TypeError(f"provenance must be a dict (a record's provenance), got "
                        f"{type(provenance).__name__}")
    return provenance.get("kernels") == _PINNED and kernel_path() == _PINNED
