"""Reading Room: executable implementations of the frontier AI papers of 2025.

One subpackage per paper (named after the method) and a small shared core in
:mod:`readingroom.common`. Triton kernels live in :mod:`readingroom.kernels`.
"""

__version__ = "0.1.0"
