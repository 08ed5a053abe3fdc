"""Reading Room: executable implementations of the frontier AI papers of 2025.

One subpackage per paper (named after the method) and a small shared core in
:mod:`readingroom.common`. Triton kernels live in :mod:`readingroom.kernels`.
"""

__version__ = "0.1.0"

# Ask the CPU libraries for their AVX2 kernels before any of them computes, so a committed record
# replays bit for bit on any x86-64 machine (readingroom.isa explains why and how).
from .isa import pin_kernels as _pin_kernels

_pin_kernels()
