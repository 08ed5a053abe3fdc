"""Matrix multiplication as tensor decomposition: AlphaEvolve's first result, made small.

Multiplying an ``n x m`` matrix ``A`` by an ``m x p`` matrix ``B`` is a bilinear map, and every
algorithm that computes ``C = AB`` with ``R`` scalar multiplications of a linear form in ``A`` by a
linear form in ``B`` is a **rank-R decomposition** of one fixed 3-way tensor, the matrix
multiplication tensor ``<n, m, p>`` (:func:`matmul_tensor`)::

    T = sum_{r < R} U[:, r] (x) V[:, r] (x) W[:, r]
      <=>   M_r = (U[:, r] . vec A) (V[:, r] . vec B)  for r < R,   vec C = sum_r M_r W[:, r]

The schoolbook algorithm has rank ``nmp``; Strassen (1969) found rank 7 for ``<2, 2, 2>``
(:func:`strassen`), and Winograd (1971, "On multiplication of 2 x 2 matrices") proved that 7 is
the least. AlphaEvolve (Novikov et al., 2025, §3.1) starts from "a standard gradient-based
algorithm (including an initializer, a reconstruction loss function, and an Adam optimizer)",
scores each evolved program by the lowest rank it reaches and the fraction of seeds that reach it,
and rounds every entry "to the nearest integer or the nearest half-integer" before checking;
its Table 2 lists 14 improved targets, among them ``<4, 4, 4>`` in rank 48 (previously 49, by
applying Strassen's algorithm twice), with complex coefficients, and ``<3, 3, 3>`` at the known
23 (Laderman, 1976). :data:`ALPHAEVOLVE` and :data:`PREVIOUS` hold those two rows.

What this module gives the chapter:

* :func:`matmul_tensor` -- the tensor, with its index convention spelled out.
* :func:`check_decomposition` -- the **exact verifier**: the entries are turned into
  :class:`~fractions.Fraction` s (ints, Fractions, finite floats at their exact binary value,
  ``"p/q"`` strings) and the reconstruction must equal ``T`` entry for entry, in integer
  arithmetic, with no tolerance; then, as a second and independent check, the algorithm the
  factors define (:func:`multiply`) must multiply random integer matrices exactly.
* :func:`strassen` -- the known rank-7 factors: a fixture for the verifier. It is **not** what the
  search finds, and the chapter must never present it as such.
* :data:`SEED_PROGRAM` -- the program evolution starts from, self-contained (numpy only): its
  helpers are pasted from this module's own source. ``main(n, m, p, rank, trial=0)`` makes
  ``RESTARTS`` random starts, each a numerical fit (Adam on the reconstruction loss, as in
  AlphaEvolve's initial program) followed by a *snap* to the integer lattice (alternating least
  squares with a growing pull of every entry towards its nearest lattice point), and returns the
  first start whose rounded factors are exact (else the closest). The construction is split into
  named regions (``init``, ``optimise``, ``snap``); :data:`FRAGMENTS` holds real alternatives
  (alternating least squares instead of Adam, a ternary pull that also presses entries to zero,
  plain rounding), so that region swaps change what the program does.
* :func:`evaluate` -- run a candidate in the sandbox for several trials, round its entries to the
  nearest half-integer, check them exactly; :func:`evaluate_matmul` adds what the loop stores.

Index convention (``i < n``, ``j < m``, ``k < p``; every matrix flattened row-major)::

    T[i*m + j, j*p + k, i*p + k] = 1,   all other entries 0;   shape [n*m, m*p, n*p]

so row ``i*m + j`` of ``U`` weighs ``A[i][j]``, row ``j*p + k`` of ``V`` weighs ``B[j][k]`` and row
``i*p + k`` of ``W`` says how much of each product goes into ``C[i][k]``. (DeepMind's published
AlphaTensor factorizations index the third axis by ``k*n + i``, i.e. ``C`` transposed: to check
one of those here, permute the rows of its ``W`` accordingly.)
"""

from __future__ import annotations

import inspect
import math
import numbers
import random
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

import numpy as np

from readingroom.common import check_int
from readingroom.evolve.sandbox import run_sandboxed

__all__ = [
    "ALPHAEVOLVE", "DecompositionCheck", "FRAGMENTS", "PREVIOUS", "REGIONS", "SEED_PROGRAM",
    "STATEMENT",
    "adam_fit", "als_fit", "attract", "check_decomposition", "evaluate", "evaluate_matmul",
    "matmul_tensor", "multiply", "reconstruct", "round_factors", "strassen",
]

#: Ranks reached by AlphaEvolve (Novikov et al., 2025, Table 2; ``<4, 4, 4>`` with complex
#: coefficients).
ALPHAEVOLVE = {(3, 3, 3): 23, (4, 4, 4): 48}
#: The best known before, as Table 2 quotes them (``<3, 3, 3>``: Laderman, 1976;
#: ``<4, 4, 4>``: Strassen's algorithm applied twice).
PREVIOUS = {(3, 3, 3): 23, (4, 4, 4): 49}

#: The problem as the prompt states it (``str.format`` with n, m, p, rank, nm, mp, np).
STATEMENT = (
    "Find a rank-{rank} decomposition of the <{n}, {m}, {p}> matrix multiplication tensor T "
    "(shape [{nm}, {mp}, {np}], T[i*m + j, j*p + k, i*p + k] = 1): factors U [{nm}, {rank}], "
    "V [{mp}, {rank}], W [{np}, {rank}] with sum_r U[:, r] (x) V[:, r] (x) W[:, r] = T exactly, "
    "that is, an algorithm that multiplies two matrices, {n} x {m} and {m} x {p}, with {rank} "
    "multiplications. main(n, m, p, rank, trial=0) returns "
    "{{\"U\": ..., \"V\": ..., \"W\": ...}} as nested lists; trial k must use its own random "
    "stream. The evaluator rounds every entry to the nearest half-integer, checks the "
    "decomposition exactly and scores 1.0 per exact trial, else 0.5 / (1 + squared error), "
    "averaged over the trials.")

#: The most entries (rows x columns, all three factors) the verifier accepts, and the most bits in
#: an entry's numerator or denominator: guards against a candidate that answers with a huge
#: object to stall the checker.
MAX_ENTRIES = 1_000_000
MAX_BITS = 64


# ============================================================================ the tensor


def matmul_tensor(n, m, p):
    """The matrix multiplication tensor ``<n, m, p>``: an int64 array of shape
    ``[n*m, m*p, n*p]`` with ``T[i*m + j, j*p + k, i*p + k] = 1`` for ``i < n``, ``j < m``,
    ``k < p`` and 0 elsewhere (``n*m*p`` ones).

    Axis 0 indexes the entries of ``A`` (``n x m``, row-major), axis 1 those of ``B``
    (``m x p``), axis 2 those of ``C = AB`` (``n x p``): ``C[i][k] = sum_j A[i][j] B[j][k]`` reads
    ``vec(C)[c] = sum_{a, b} T[a, b, c] vec(A)[a] vec(B)[b]``. Factors ``U [nm, R]``,
    ``V [mp, R]``, ``W [np, R]`` with ``sum_r U[:, r] (x) V[:, r] (x) W[:, r] = T`` are therefore
    an algorithm for ``C = AB`` with ``R`` multiplications (see :func:`multiply`).
    """
    for name, v in (("n", n), ("m", m), ("p", p)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(v).__name__} {v!r}")
        if v < 1:
            raise ValueError(f"{name} must be a positive int, got {v}")
    n, m, p = int(n), int(m), int(p)
    T = np.zeros((n * m, m * p, n * p), dtype=np.int64)
    for i in range(n):
        for j in range(m):
            for k in range(p):
                T[i * m + j, j * p + k, i * p + k] = 1
    return T


def strassen() -> dict[str, np.ndarray]:
    """Strassen's rank-7 factors of ``<2, 2, 2>`` (Strassen, 1969, "Gaussian elimination is not
    optimal"), in this module's convention: ``{"U", "V", "W"}``, int arrays of shape ``[4, 7]``.

    Column ``r`` is the product ``M_{r+1}``: ``M1 = (A11 + A22)(B11 + B22)``,
    ``M2 = (A21 + A22) B11``, ``M3 = A11 (B12 - B22)``, ``M4 = A22 (B21 - B11)``,
    ``M5 = (A11 + A12) B22``, ``M6 = (A21 - A11)(B11 + B12)``, ``M7 = (A12 - A22)(B21 + B22)``;
    then ``C11 = M1 + M4 - M5 + M7``, ``C12 = M3 + M5``, ``C21 = M2 + M4``,
    ``C22 = M1 - M2 + M3 + M6``. A fixture for the verifier, not a search result.
    """
    U = [[1, 0, 1, 0, 1, -1, 0],     # A11
         [0, 0, 0, 0, 1, 0, 1],      # A12
         [0, 1, 0, 0, 0, 1, 0],      # A21
         [1, 1, 0, 1, 0, 0, -1]]     # A22
    V = [[1, 1, 0, -1, 0, 1, 0],     # B11
         [0, 0, 1, 0, 0, 1, 0],      # B12
         [0, 0, 0, 1, 0, 0, 1],      # B21
         [1, 0, -1, 0, 1, 0, 1]]     # B22
    W = [[1, 0, 0, 1, -1, 0, 1],     # C11
         [0, 0, 1, 0, 1, 0, 0],      # C12
         [0, 1, 0, 1, 0, 0, 0],      # C21
         [1, -1, 1, 0, 0, 1, 0]]     # C22
    return {"U": np.array(U, dtype=np.int64), "V": np.array(V, dtype=np.int64),
            "W": np.array(W, dtype=np.int64)}


# ============================================================================ the exact verifier


@dataclass(frozen=True)
class DecompositionCheck:
    """``ok``: the factors are an exact decomposition of ``<n, m, p>``; ``rank``: the number of
    multiplications they use (columns whose ``u``, ``v`` and ``w`` are all non-zero; 0 when the
    input is malformed); ``reason``: why not ("" when ok); ``residual``: the squared Frobenius
    norm of ``T - reconstruction``, computed exactly and rounded once to a float (0.0 when ok,
    ``inf`` when the input is malformed); ``columns``: ``R``, the factors' column count."""

    ok: bool
    rank: int = 0
    reason: str = ""
    residual: float = math.inf
    columns: int = 0


_RATIONAL_TEXT = re.compile(r"^\s*[+-]?\d{1,30}(\s*/\s*\d{1,30})?\s*$")


class _Bad(Exception):
    """A malformed input; the message is the reason."""


def _entry(v: Any, where: str) -> Fraction:
    """One coefficient as an exact Fraction (see :func:`check_decomposition` for what is
    accepted)."""
    if isinstance(v, (bool, np.bool_)):
        raise _Bad(f"{where} must be a number, got bool")
    if isinstance(v, numbers.Rational):        # int, numpy integer, Fraction
        q = Fraction(int(v.numerator), int(v.denominator))
    elif isinstance(v, numbers.Real):          # float, numpy floating
        if not math.isfinite(float(v)):
            raise _Bad(f"{where} is not finite: {v!r}")
        q = Fraction(float(v))
    elif isinstance(v, str):
        if not _RATIONAL_TEXT.match(v):
            raise _Bad(f"{where} must be a number, got the string {v[:40]!r}")
        try:
            q = Fraction(v.replace(" ", ""))
        except ZeroDivisionError:
            raise _Bad(f"{where} has a zero denominator: {v!r}") from None
    else:
        raise _Bad(f"{where} must be a number, got {type(v).__name__}")
    if q.numerator.bit_length() > MAX_BITS or q.denominator.bit_length() > MAX_BITS:
        raise _Bad(f"{where} is too large (more than {MAX_BITS} bits): {float(q):.3g}")
    return q


def _factor(value: Any, name: str, rows: int, what: str) -> list[list[Fraction]]:
    if isinstance(value, np.ndarray):
        if value.ndim != 2:
            raise _Bad(f"{name} must be 2-D [{rows}, R], got an array of shape "
                       f"{list(value.shape)}")
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise _Bad(f"{name} must be a 2-D list [{rows}, R], got {type(value).__name__}")
    if len(value) != rows:
        raise _Bad(f"{name} must have {rows} rows (one per entry of {what}), got {len(value)}")
    out = []
    for a, row in enumerate(value):
        if isinstance(row, np.ndarray):
            row = row.tolist()
        if not isinstance(row, (list, tuple)):
            raise _Bad(f"{name}[{a}] must be a list, got {type(row).__name__}")
        out.append(row)
    widths = {len(row) for row in out}
    if len(widths) != 1:
        raise _Bad(f"the rows of {name} have different lengths: {sorted(widths)}")
    return out


def _parse(factors: Any, n: int, m: int, p: int) -> tuple[list[list[Fraction]], ...]:
    """``(U, V, W)`` as lists of rows of Fractions, or :class:`_Bad`."""
    if isinstance(factors, Mapping):
        missing = [k for k in ("U", "V", "W") if k not in factors]
        if missing:
            raise _Bad(f"factors is missing {missing[0]!r} (expected 'U', 'V', 'W')")
        triple = (factors["U"], factors["V"], factors["W"])
    elif isinstance(factors, (list, tuple)) and len(factors) == 3:
        triple = tuple(factors)
    else:
        raise _Bad(f"factors must be a dict with 'U', 'V', 'W' or a triple (U, V, W), got "
                   f"{type(factors).__name__}")
    shapes = (("U", n * m, f"A ({n} x {m})"), ("V", m * p, f"B ({m} x {p})"),
              ("W", n * p, f"C ({n} x {p})"))
    raw = [_factor(f, name, rows, what) for f, (name, rows, what) in zip(triple, shapes)]
    cols = [len(f[0]) for f in raw]
    if len(set(cols)) != 1:
        raise _Bad(f"U, V and W must have the same number of columns R, got {cols}")
    if cols[0] < 1:
        raise _Bad("the factors have no columns (R = 0)")
    if sum(len(f) for f in raw) * cols[0] > MAX_ENTRIES:
        raise _Bad(f"too many entries: {sum(len(f) for f in raw)} rows x {cols[0]} columns")
    return tuple([[_entry(v, f"{name}[{a}][{r}]") for r, v in enumerate(row)]
                  for a, row in enumerate(f)] for f, (name, _, _) in zip(raw, shapes))


def _scaled(F: list[list[Fraction]]) -> tuple[np.ndarray, int]:
    """``F`` as an object array of Python ints ``F * d`` and the common denominator ``d``."""
    d = math.lcm(*(q.denominator for row in F for q in row))
    return np.array([[q.numerator * (d // q.denominator) for q in row] for row in F],
                    dtype=object), d


def _rank(U, V, W) -> int:
    R = len(U[0])
    return sum(any(row[r] for row in U) and any(row[r] for row in V)
               and any(row[r] for row in W) for r in range(R))


def multiply(factors: Any, A: Any, B: Any) -> list[list[Fraction]]:
    """``C = AB`` computed by the algorithm the factors define, exactly, with ``R`` products:
    ``M_r = (sum_{i,j} U[i*m + j, r] A[i][j]) * (sum_{j,k} V[j*p + k, r] B[j][k])``, then
    ``C[i][k] = sum_r W[i*p + k, r] M_r`` -- written from the matrices' indices, not from
    :func:`matmul_tensor`, so it checks the convention independently.

    ``A`` (``n x m``) and ``B`` (``m x p``) are nested lists or arrays of exact numbers (the same
    kinds :func:`check_decomposition` accepts); returns ``C`` as lists of Fractions. Raises
    ``ValueError`` naming the argument for a malformed input.
    """
    def matrix(X, name):
        rows = X.tolist() if isinstance(X, np.ndarray) else X
        if not isinstance(rows, (list, tuple)) or not rows or not all(
                isinstance(row, (list, tuple)) and row for row in rows) or len(
                {len(row) for row in rows}) != 1:
            raise ValueError(f"{name} must be a non-empty rectangular 2-D list or array, got "
                             f"{X!r:.60}")
        try:
            return [[_entry(v, f"{name}[{i}][{j}]") for j, v in enumerate(row)]
                    for i, row in enumerate(rows)]
        except _Bad as err:
            raise ValueError(str(err)) from None

    a, b = matrix(A, "A"), matrix(B, "B")
    n, m, p = len(a), len(a[0]), len(b[0])
    if len(b) != m:
        raise ValueError(f"B must have {m} rows to multiply A ({n} x {m}), got {len(b)}")
    try:
        U, V, W = _parse(factors, n, m, p)
    except _Bad as err:
        raise ValueError(f"factors: {err}") from None
    out = [[Fraction(0)] * p for _ in range(n)]
    for r in range(len(U[0])):
        left = sum(U[i * m + j][r] * a[i][j] for i in range(n) for j in range(m))
        right = sum(V[j * p + k][r] * b[j][k] for j in range(m) for k in range(p))
        product = left * right
        for i in range(n):
            for k in range(p):
                out[i][k] += W[i * p + k][r] * product
    return out


def check_decomposition(factors: Any, n: int, m: int, p: int, *, rank: int | None = None,
                        products: int = 2, seed: int = 0) -> DecompositionCheck:
    """Decide exactly whether ``factors`` is a decomposition of the tensor ``<n, m, p>``.

    ``factors`` is ``{"U": U, "V": V, "W": W}`` or a triple ``(U, V, W)``, each a 2-D list or
    array: ``U [n*m, R]``, ``V [m*p, R]``, ``W [n*p, R]`` (:func:`matmul_tensor` gives the index
    convention). Every entry must be an exact number:

    * an int (numpy ints too) or a :class:`~fractions.Fraction`;
    * a finite float, taken at its **exact binary value**: ``0.5`` is 1/2 and ``-1.0`` is -1, but
      ``0.1`` is 3602879701896397/36028797018963968, so a decomposition that needs 1/10 or 1/3 must
      give it as a Fraction or as the string ``"1/3"``; NaN and infinities are rejected;
    * a string ``"p"`` or ``"p/q"`` of decimal integers;
    * never a bool, and nothing with more than ``MAX_BITS`` bits in numerator or denominator.

    Coefficients are rational: complex ones (AlphaEvolve's rank-48 ``<4, 4, 4>``) are rejected
    as non-numbers.

    No rounding is done here (:func:`round_factors` and :func:`evaluate` round first). Two
    checks, both in exact integer arithmetic: (1) ``sum_r U[:, r] (x) V[:, r] (x) W[:, r]`` equals
    ``T`` entry for entry; (2) the algorithm the factors define (:func:`multiply`) computes
    ``AB`` for ``products`` pairs of random integer matrices (entries in ``[-9, 9]``, drawn with
    ``random.Random(seed)``). ``rank``, if given, is the number of columns ``R`` required.

    Returns a :class:`DecompositionCheck`; never raises for a bad ``factors`` (the reason names
    the entry or the factor), raises ``TypeError``/``ValueError`` naming the parameter for bad
    ``n``, ``m``, ``p``, ``rank``, ``products`` or ``seed``.
    """
    n, m, p = check_int(n, "n"), check_int(m, "m"), check_int(p, "p")
    if rank is not None:
        rank = check_int(rank, "rank")
    products = check_int(products, "products", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    try:
        U, V, W = _parse(factors, n, m, p)
    except _Bad as err:
        return DecompositionCheck(False, 0, str(err))
    R = len(U[0])
    if rank is not None and R != rank:
        return DecompositionCheck(False, 0, f"expected R = {rank} columns, got {R}", columns=R)
    used = _rank(U, V, W)
    (Un, du), (Vn, dv), (Wn, dw) = _scaled(U), _scaled(V), _scaled(W)
    kr = (Vn[:, None, :] * Wn[None, :, :]).reshape(m * p * n * p, R)           # [J*K, R]
    recon = Un.dot(kr.T).reshape(n * m, m * p, n * p)                           # [I, J, K] * d
    scale = du * dv * dw
    diff = recon - matmul_tensor(n, m, p).astype(object) * scale
    residual = Fraction(int(sum(int(x) * int(x) for x in diff.ravel())), scale * scale)
    if residual:
        a, b, c = (int(x) for x in np.argwhere(diff != 0)[0])
        (i, j), (j2, k), (i2, k2) = divmod(a, m), divmod(b, p), divmod(c, p)
        want = int(i == i2 and j == j2 and k == k2)
        got = Fraction(int(recon[a, b, c]), scale)
        return DecompositionCheck(
            False, used, f"T[{a}, {b}, {c}] (A[{i}][{j}] B[{j2}][{k}] -> C[{i2}][{k2}]) is "
            f"{want}, the factors give {got} (squared error {float(residual):.6g} in all)",
            float(residual), R)
    rng = random.Random(seed)
    for t in range(products):
        A = [[rng.randint(-9, 9) for _ in range(m)] for _ in range(n)]
        B = [[rng.randint(-9, 9) for _ in range(p)] for _ in range(m)]
        C = multiply((U, V, W), A, B)
        AB = [[sum(A[i][j] * B[j][k] for j in range(m)) for k in range(p)] for i in range(n)]
        if C != AB:
            return DecompositionCheck(False, used, f"the algorithm computes AB wrongly for random "
                                      f"integer matrices (pair {t}); the tensor check passed, so "
                                      f"one of the two checks has a bug", 0.0, R)
    return DecompositionCheck(True, used, "", 0.0, R)


def round_factors(factors: Any, n: int, m: int, p: int, *,
                  denominator: int = 2) -> dict[str, list[list[Fraction]]]:
    """Every entry rounded to the nearest multiple of ``1 / denominator`` (2: half-integers, as
    AlphaEvolve rounds, §3.1; 1: integers), exactly (ties to even, Python's ``round``). Returns
    ``{"U", "V", "W"}`` as lists of Fractions; raises ``ValueError`` for malformed factors (the
    reason :func:`check_decomposition` would give)."""
    n, m, p = check_int(n, "n"), check_int(m, "m"), check_int(p, "p")
    denominator = check_int(denominator, "denominator")
    try:
        U, V, W = _parse(factors, n, m, p)
    except _Bad as err:
        raise ValueError(f"factors: {err}") from None
    return {name: [[Fraction(round(q * denominator), denominator) for q in row] for row in F]
            for name, F in (("U", U), ("V", V), ("W", W))}


def _jsonable(q: Fraction) -> int | float | str:
    if q.denominator == 1:
        return int(q)
    if q.denominator & (q.denominator - 1) == 0 and float(q) == q:
        return float(q)
    return f"{q.numerator}/{q.denominator}"


# ============================================================================ the helpers
# These functions are pasted into SEED_PROGRAM's text (inspect.getsource): they may use only
# numpy as np and each other.


def unfold(T):
    """The three unfoldings of a tensor ``T [I, J, K]``: ``[I, J*K]``, ``[J, I*K]``,
    ``[K, I*J]``; column ``b*K + c`` of the first holds ``T[:, b, c]``, and so on."""
    I, J, K = T.shape
    return (T.reshape(I, J * K), T.transpose(1, 0, 2).reshape(J, I * K),
            T.transpose(2, 0, 1).reshape(K, I * J))


def khatri_rao(A, B):
    """Column-wise Kronecker product ``[rows(A) * rows(B), R]``: row ``x*rows(B) + y`` is
    ``A[x] * B[y]``. With it, ``unfold(T)[0] = U @ khatri_rao(V, W).T`` for a decomposition."""
    return (A[:, None, :] * B[None, :, :]).reshape(-1, A.shape[1])


def reconstruct(U, V, W):
    """``sum_r U[:, r] (x) V[:, r] (x) W[:, r]`` as a float array ``[I, J, K]``."""
    return np.einsum("ar,br,cr->abc", U, V, W)


def to_grid(X, denominator):
    """``X`` rounded to the nearest multiple of ``1 / denominator`` (NaN and inf become 0)."""
    X = np.nan_to_num(np.asarray(X, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    return np.round(X * denominator) / denominator


def balance(U, V, W):
    """Rescale every rank-one term so that its three columns have equal norms (the term
    ``u (x) v (x) w = (a u) (x) (b v) (x) (w / (a b))`` does not change)."""
    nu, nv, nw = (np.linalg.norm(X, axis=0) + 1e-12 for X in (U, V, W))
    g = np.cbrt(nu * nv * nw)
    return U * (g / nu), V * (g / nv), W * (g / nw)


def als_fit(T, U, V, W, iters, lam, decay=0.9, lam_min=1e-9):
    """Alternating least squares: for ``iters`` sweeps, solve for ``U`` with ``V, W`` fixed,
    then ``V``, then ``W``, each a linear least-squares problem in closed form,
    ``U = X1 KR (KR^T KR + lam I)^-1`` with ``KR = khatri_rao(V, W)`` and
    ``KR^T KR = (V^T V) * (W^T W)``. The Tikhonov term ``lam`` (decaying by ``decay`` a sweep,
    down to ``lam_min``) keeps the solves well posed while the factors are far from a solution."""
    X1, X2, X3 = unfold(T)
    R = U.shape[1]
    eye = np.eye(R)
    for _ in range(int(iters)):
        U = np.linalg.solve((V.T @ V) * (W.T @ W) + lam * eye, (X1 @ khatri_rao(V, W)).T).T
        V = np.linalg.solve((U.T @ U) * (W.T @ W) + lam * eye, (X2 @ khatri_rao(U, W)).T).T
        W = np.linalg.solve((U.T @ U) * (V.T @ V) + lam * eye, (X3 @ khatri_rao(U, V)).T).T
        lam = max(lam * decay, lam_min)
    return U, V, W


def adam_fit(T, U, V, W, steps, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam (Kingma and Ba, 2015, Algorithm 1) on the reconstruction loss
    ``|| reconstruct(U, V, W) - T ||^2``, whose gradient in ``U`` is
    ``2 unfold(E)[0] @ khatri_rao(V, W)`` with ``E`` the error (and likewise for ``V``, ``W``)."""
    P = [U.copy(), V.copy(), W.copy()]
    M = [np.zeros_like(x) for x in P]
    S = [np.zeros_like(x) for x in P]
    for t in range(1, int(steps) + 1):
        E1, E2, E3 = unfold(reconstruct(*P) - T)
        G = [2.0 * E1 @ khatri_rao(P[1], P[2]), 2.0 * E2 @ khatri_rao(P[0], P[2]),
             2.0 * E3 @ khatri_rao(P[0], P[1])]
        for k in range(3):
            M[k] = beta1 * M[k] + (1.0 - beta1) * G[k]
            S[k] = beta2 * S[k] + (1.0 - beta2) * G[k] ** 2
            P[k] = P[k] - lr * (M[k] / (1.0 - beta1 ** t)) / (
                np.sqrt(S[k] / (1.0 - beta2 ** t)) + eps)
    return P[0], P[1], P[2]


def attract(T, U, V, W, iters, mu, growth, denominator, clip=None):
    """Snap a (near-)decomposition to the lattice of multiples of ``1 / denominator``: ALS in
    which each solve also pulls every entry towards its nearest lattice point ``Q(X)`` (clipped
    to ``[-clip, clip]`` when ``clip`` is given, which presses entries towards
    ``{-1, 0, 1}``), ``U = (X1 KR + mu Q(U)) (KR^T KR + mu I)^-1``, with the weight ``mu``
    multiplied by ``growth`` every sweep. The exact decompositions form a continuous family (the
    symmetries of the tensor and the rescaling of each term); the pull slides along it to a
    lattice point when one is near, and otherwise leaves a residual that the rounding exposes."""
    X1, X2, X3 = unfold(T)
    R = U.shape[1]
    eye = np.eye(R)

    def target(X):
        Q = to_grid(X, denominator)
        return Q if clip is None else np.clip(Q, -clip, clip)

    for _ in range(int(iters)):
        U = np.linalg.solve((V.T @ V) * (W.T @ W) + mu * eye,
                            (X1 @ khatri_rao(V, W) + mu * target(U)).T).T
        V = np.linalg.solve((U.T @ U) * (W.T @ W) + mu * eye,
                            (X2 @ khatri_rao(U, W) + mu * target(V)).T).T
        W = np.linalg.solve((U.T @ U) * (V.T @ V) + mu * eye,
                            (X3 @ khatri_rao(U, V) + mu * target(W)).T).T
        mu *= growth
    return U, V, W


# ============================================================================ the seed program

_REGION_START = re.compile(r"^(\s*)#\s*region:\s*([A-Za-z_]\w*)\s*$")

#: The named regions of :func:`search` in the seed program, in order.
REGIONS = ("init", "optimise", "snap")

# Every snippet reads the names the seed defines (T, R, rng, np, the knobs and the helpers) and
# leaves float arrays U [I, R], V [J, R], W [K, R] behind; the rounding to 1 / GRID_DIV follows
# the last region. The first of each list is the seed's own.
FRAGMENTS: dict[str, list[str]] = {
    "init": [
        # Gaussian entries
        """\
U, V, W = (rng.normal(0.0, INIT_SCALE, (d, R)) for d in T.shape)
""",
        # sparse ternary entries in {-1, 0, 1} (half of them 0), plus a little noise
        """\
U, V, W = (rng.choice([-1.0, 0.0, 1.0], size=(d, R), p=[0.25, 0.5, 0.25])
           + rng.normal(0.0, 0.2 * INIT_SCALE, (d, R)) for d in T.shape)
""",
        # uniform entries in [-INIT_SCALE, INIT_SCALE]
        """\
U, V, W = (rng.uniform(-INIT_SCALE, INIT_SCALE, (d, R)) for d in T.shape)
""",
    ],
    "optimise": [
        # Adam on the reconstruction loss (AlphaEvolve's initial program, §3.1)
        """\
U, V, W = adam_fit(T, U, V, W, STEPS, LR)
""",
        # alternating least squares with a decaying Tikhonov term
        """\
U, V, W = als_fit(T, U, V, W, ALS_ITERS, LAMBDA, LAMBDA_DECAY)
""",
        # a short Adam run, then an ALS polish
        """\
U, V, W = adam_fit(T, U, V, W, STEPS // 4, LR)
U, V, W = als_fit(T, U, V, W, ALS_ITERS // 2, LAMBDA, LAMBDA_DECAY)
""",
    ],
    "snap": [
        # balance the terms, then pull every entry towards its nearest lattice point
        """\
U, V, W = attract(T, *balance(U, V, W), SNAP_ITERS, MU, MU_GROWTH, GRID_DIV)
""",
        # sparsity pressure: pull towards the nearest point of {-1, 0, 1} only
        """\
U, V, W = attract(T, *balance(U, V, W), SNAP_ITERS, MU, MU_GROWTH, GRID_DIV, clip=1.0)
""",
        # no snap: round the optimiser's answer as it is
        """\
U, V, W = balance(U, V, W)
""",
    ],
}


def _indent(snippet: str, pad: str) -> str:
    return "".join(pad + ln if ln.strip() else ln for ln in snippet.splitlines(keepends=True))


def _helper_source(fn) -> str:
    return inspect.getsource(fn).rstrip() + "\n"


def _build_seed() -> str:
    pad = " " * 4
    body = "".join(f"{pad}# region: {name}\n{_indent(FRAGMENTS[name][0], pad)}{pad}# endregion\n"
                   for name in REGIONS)
    helpers = "\n\n".join(_helper_source(f) for f in (
        unfold, khatri_rao, reconstruct, to_grid, balance, als_fit, adam_fit, attract))
    return f'''\
"""Matrix multiplication as tensor decomposition: factors U [nm, R], V [mp, R], W [np, R] with
sum_r U[:, r] (x) V[:, r] (x) W[:, r] = T, the <n, m, p> tensor, exactly.

main(n, m, p, rank, trial=0) returns {{"U": ..., "V": ..., "W": ...}} (nested lists); the evaluator
rounds every entry to the nearest half-integer and checks the decomposition exactly.
"""

import numpy as np

# EVOLVE-BLOCK-START
SEED = 3            # random seed; trial k of an evaluation draws from the stream [SEED, k]
RESTARTS = 4        # random starts per call; the first exact one is returned
INIT_SCALE = 0.5    # spread of the random start
STEPS = 1500        # Adam steps per start
LR = 0.02           # Adam step size
ALS_ITERS = 300     # alternating-least-squares sweeps per start
LAMBDA = 0.1        # initial Tikhonov weight of ALS
LAMBDA_DECAY = 0.9  # its decay per sweep (down to 1e-9)
SNAP_ITERS = 300    # sweeps of the pull towards the lattice
MU = 0.001          # initial weight of the pull
MU_GROWTH = 1.03    # its growth per sweep
GRID_DIV = 1        # the lattice: multiples of 1 / GRID_DIV (1: integers, 2: half-integers)


{helpers}

def search(T, R, rng):
    """One random start: float factors of T with R columns, rounded to the lattice."""
{body}    return to_grid(U, GRID_DIV), to_grid(V, GRID_DIV), to_grid(W, GRID_DIV)
# EVOLVE-BLOCK-END


{_helper_source(matmul_tensor)}

def main(n=2, m=2, p=2, rank=7, trial=0):
    T = matmul_tensor(n, m, p).astype(float)
    rng = np.random.default_rng([SEED, int(trial)])
    best, best_err = None, np.inf
    for _ in range(max(1, int(RESTARTS))):
        U, V, W = search(T, int(rank), rng)
        err = float(np.sum((reconstruct(U, V, W) - T) ** 2))
        if best is None or err < best_err:
            best, best_err = (U, V, W), err
        if err == 0.0:
            break
    return {{name: to_grid(X, GRID_DIV).tolist() for name, X in zip("UVW", best)}}
'''


#: The program evolution starts from (self-contained: numpy and the standard library).
SEED_PROGRAM = _build_seed()


# ============================================================================ evaluation

_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_ENTRY = "_readingroom_matmul_trials"
# Appended to the candidate (it runs inside the same sandboxed module): one process per
# evaluation, however many trials.
_TRIALS = f'''


def {_ENTRY}(n, m, p, rank, trials):
    return [main(n, m, p, rank, trial=k) for k in range(trials)]
'''
_ROUNDING = {"half": 2, "integer": 1, None: None}


def _trial_score(check: DecompositionCheck) -> float:
    return 1.0 if check.ok else 0.5 / (1.0 + check.residual)


def evaluate(code: str, n: int = 2, m: int = 2, p: int = 2, rank: int = 7, *, trials: int = 1,
             rounding: str | None = "half", timeout_s: float = 60.0, memory_mb: int = 1024,
             layer: str = "auto") -> dict:
    """Run the candidate's ``main(n, m, p, rank, trial=k)`` for ``k < trials`` in the sandbox
    (one process) and check every answer.

    Each answer must be factors with exactly ``rank`` columns (:func:`check_decomposition`'s
    format). They are rounded to the nearest half-integer (``rounding="half"``, as AlphaEvolve
    does, §3.1), to the nearest integer (``"integer"``) or not at all (``None``), then checked
    exactly. A trial scores **1.0 if the rounded factors are an exact decomposition**, otherwise
    ``0.5 / (1 + residual)`` with ``residual`` the exact squared error of the rounded factors
    (always below 0.5: the exact check decides success, the graded part only guides the search).
    The program's score is the mean over the trials.

    Returns ``{"ok", "score", "reason", "wall_s", "layer", "exact", "success_rate", "trials",
    "value"}``: ``ok`` is False (``score`` ``None``) when the sandbox or any answer fails
    (exception, timeout, wrong shape, NaN, non-numbers: ``reason`` says which); ``exact`` is
    True when some trial is exact; ``trials`` lists ``{"exact", "rank", "residual", "nonzeros",
    "max_abs"}`` per trial; ``value`` is the best trial's rounded factors (JSON-able: ints, floats
    that are exact, or ``"p/q"`` strings). Never raises for anything the candidate does.
    """
    n, m, p, rank = (check_int(v, name) for name, v in (("n", n), ("m", m), ("p", p),
                                                         ("rank", rank)))
    trials = check_int(trials, "trials")
    if rounding not in _ROUNDING:
        raise ValueError(f"rounding must be 'half', 'integer' or None, got {rounding!r}")
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, got {type(code).__name__}")
    res = run_sandboxed(code + _TRIALS, entry=_ENTRY, args=(n, m, p, rank, trials),
                        timeout_s=timeout_s, memory_mb=memory_mb, layer=layer, extra_env=_ENV)
    out = {"ok": False, "score": None, "reason": "", "wall_s": res.wall_s, "layer": res.layer,
           "exact": False, "success_rate": 0.0, "trials": [], "value": None}
    if not res.ok:
        out["reason"] = f"sandbox: {res.reason}"
        return out
    answers = res.value
    if not isinstance(answers, list) or len(answers) != trials:
        out["reason"] = f"sandbox: expected {trials} answers, got {type(answers).__name__}"
        return out
    best, best_score = None, -1.0
    scores = []
    for k, answer in enumerate(answers):
        try:
            U, V, W = _parse(answer, n, m, p)
        except _Bad as err:
            out["reason"] = f"check: trial {k}: {err}"
            return out
        if len(U[0]) != rank:
            out["reason"] = f"check: trial {k}: expected R = {rank} columns, got {len(U[0])}"
            return out
        if _ROUNDING[rounding] is not None:
            d = _ROUNDING[rounding]
            U, V, W = ([[Fraction(round(q * d), d) for q in row] for row in F] for F in (U, V, W))
        check = check_decomposition((U, V, W), n, m, p, rank=rank)
        entries = [q for F in (U, V, W) for row in F for q in row]
        out["trials"].append({"exact": check.ok, "rank": check.rank, "residual": check.residual,
                              "nonzeros": sum(q != 0 for q in entries),
                              "max_abs": float(max(abs(q) for q in entries))})
        scores.append(_trial_score(check))
        if scores[-1] > best_score:
            best_score = scores[-1]
            best = {name: [[_jsonable(q) for q in row] for row in F]
                    for name, F in (("U", U), ("V", V), ("W", W))}
    exact = sum(t["exact"] for t in out["trials"])
    out.update(ok=True, score=sum(scores) / trials, exact=exact > 0,
               success_rate=exact / trials, value=best)
    return out


def evaluate_matmul(code: str, n: int = 2, m: int = 2, p: int = 2, rank: int = 7, *,
                    trials: int = 3, timeout_s: float = 60.0) -> dict:
    """:func:`evaluate` plus what the loop stores: ``metrics`` (score, success rate, exact trials,
    best residual, wall time) and the MAP-Elites ``features`` of the best trial's rounded factors:
    the fraction of non-zero coefficients and the largest ``|coefficient|``."""
    out = evaluate(code, n, m, p, rank, trials=trials, timeout_s=timeout_s)
    out.pop("layer", None)
    out.pop("value", None)
    per_trial = out.pop("trials", [])
    if out["ok"]:
        best = max(per_trial, key=lambda t: (t["exact"], -t["residual"]))
        entries = (n * m + m * p + n * p) * rank
        out["metrics"] = {"score": round(out["score"], 6), "success_rate": out["success_rate"],
                          "exact_trials": sum(t["exact"] for t in per_trial),
                          "best_residual": best["residual"], "nonzeros": best["nonzeros"],
                          "max_abs": best["max_abs"], "wall_s": round(out["wall_s"], 2)}
        out["features"] = {"nonzero_fraction": best["nonzeros"] / entries,
                           "max_coefficient": best["max_abs"]}
    return out
