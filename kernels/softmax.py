r"""Fused, numerically stable row-wise softmax in Triton (forward and backward).

The example kernel of the book, in the shape of Triton's fused-softmax tutorial: each row of the
input is read from memory once, reduced and normalised in registers, and written once, where an
unfused PyTorch expression (max, subtract, exp, sum, divide) makes several passes over memory.

Forward, for one row :math:`x \in \mathbb{R}^N` (subtracting the max changes nothing
mathematically, since softmax is shift-invariant, but keeps every ``exp`` argument <= 0 so it
cannot overflow)::

    softmax_i(x) = exp(x_i - max_k x_k) / sum_j exp(x_j - max_k x_k)          (1)

Backward, the Jacobian-vector product. With :math:`y = \mathrm{softmax}(x)` the Jacobian is
:math:`\partial y_i / \partial x_j = y_i (\delta_{ij} - y_j)`, so for an upstream gradient
:math:`dy`::

    dx_i = sum_j dy_j * y_j * (delta_ij - y_i) = y_i * (dy_i - sum_j dy_j * y_j)   (2)

Both kernels compute in fp32 whatever the storage dtype, like :func:`softmax_reference`. The
backward saves ``x`` and recomputes ``y`` in fp32 rather than saving the (possibly fp16) output
``y`` as Triton's tutorial and ``torch.softmax`` do: it reads the same number of bytes, and in
fp16 the cancellation in ``dy_i - sum_j dy_j y_j`` would otherwise amplify ``y``'s rounding.
(Measured: ``torch.softmax``'s own fp16 backward can differ from the fp32 result by more than
``torch.testing``'s default fp16 tolerance, e.g. 1.2e-4 absolute on a [5, 3] input.)

Pieces, in the tutorial order: :func:`_softmax_fwd_kernel`, :func:`_softmax_bwd_kernel`,
:class:`SoftmaxFunction`, :func:`softmax_reference`, and the public :func:`softmax`.
"""

from __future__ import annotations

import torch

import readingroom.kernels as _backend  # noqa: I001  (sets TRITON_INTERPRET before triton loads)
import triton
import triton.language as tl

__all__ = ["MAX_COLS", "SUPPORTED_DTYPES", "SoftmaxFunction", "softmax", "softmax_reference"]

#: Largest last dimension accepted. One program holds a whole row in registers (BLOCK =
#: next power of two >= n_cols); beyond this a row no longer fits usefully and a multi-pass
#: (online-softmax) kernel would be needed.
MAX_COLS: int = 65536

#: Storage dtypes accepted. bfloat16 is excluded on purpose: Triton's interpreter (how these
#: kernels run on CPU in CI) handles bf16 unreliably, so a bf16 path could not be tested here.
SUPPORTED_DTYPES: tuple[torch.dtype, ...] = (torch.float16, torch.float32)


# --------------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------------


@triton.jit
def _softmax_fwd_kernel(
    y_ptr,  # *T  [M, N] output
    x_ptr,  # *T  [M, N] input
    x_row_stride,  # elements between consecutive rows of x
    y_row_stride,  # elements between consecutive rows of y
    n_cols,  # N
    BLOCK: tl.constexpr,  # next power of two >= N
):
    """Equation (1) for one row per program: ``y[row] = softmax(x[row])``."""
    row = tl.program_id(0).to(tl.int64)  # int64: row * stride can exceed 2**31
    cols = tl.arange(0, BLOCK)  # [BLOCK]
    mask = cols < n_cols  # [BLOCK], False on the padding lanes
    # Padding lanes load -inf, so they neither win the max nor add to the sum (exp(-inf) = 0).
    x = tl.load(x_ptr + row * x_row_stride + cols, mask=mask, other=-float("inf"))
    x = x.to(tl.float32)  # [BLOCK]
    z = x - tl.max(x, axis=0)  # [BLOCK], every entry <= 0
    numerator = tl.exp(z)  # [BLOCK]
    denominator = tl.sum(numerator, axis=0)  # scalar, >= 1 (the max entry contributes exp(0))
    y = numerator / denominator  # [BLOCK]
    tl.store(y_ptr + row * y_row_stride + cols, y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _softmax_bwd_kernel(
    dx_ptr,  # *T  [M, N] gradient w.r.t. the input (output of this kernel)
    dy_ptr,  # *T  [M, N] upstream gradient
    x_ptr,  # *T  [M, N] input saved by the forward pass
    dx_row_stride,
    dy_row_stride,
    x_row_stride,
    n_cols,  # N
    BLOCK: tl.constexpr,  # next power of two >= N
):
    """Equation (2) for one row per program: ``dx = y * (dy - sum(dy * y))``.

    ``y`` is recomputed from ``x`` in fp32 (equation (1) again) instead of being read back from
    the forward output: the same number of bytes is read, and the gradient does not inherit the
    rounding of ``y`` to fp16, which the cancellation in ``dy - sum(dy * y)`` would amplify.
    """
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)  # [BLOCK]
    mask = cols < n_cols
    x = tl.load(x_ptr + row * x_row_stride + cols, mask=mask, other=-float("inf"))
    x = x.to(tl.float32)  # [BLOCK]
    numerator = tl.exp(x - tl.max(x, axis=0))  # [BLOCK], 0 on the padding lanes
    y = numerator / tl.sum(numerator, axis=0)  # [BLOCK], fp32 softmax of the row
    # Padding lanes load dy = 0 (and have y = 0), so they add nothing to the row dot product.
    dy = tl.load(dy_ptr + row * dy_row_stride + cols, mask=mask, other=0.0).to(tl.float32)
    dot = tl.sum(dy * y, axis=0)  # scalar: sum_j dy_j * y_j
    dx = y * (dy - dot)  # [BLOCK]
    tl.store(dx_ptr + row * dx_row_stride + cols, dx.to(dx_ptr.dtype.element_ty), mask=mask)


def _launch_config(n_cols: int) -> tuple[int, int]:
    """``(BLOCK, num_warps)`` for rows of ``n_cols`` elements (num_warps unused if interpreted)."""
    block = triton.next_power_of_2(n_cols)
    num_warps = 4 if block < 2048 else 8 if block < 8192 else 16
    return block, num_warps


# --------------------------------------------------------------------------------------------
# Autograd
# --------------------------------------------------------------------------------------------


class SoftmaxFunction(torch.autograd.Function):
    """Softmax over the last dimension with the Triton kernels above.

    Internal: call :func:`softmax`, which validates the input first. Expects a contiguous tensor
    of a supported dtype with at least one dimension.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape  # [..., N]
        n_cols = shape[-1]
        x2 = x.reshape(-1, n_cols).contiguous()  # [M, N], M = product of the leading dims
        y2 = torch.empty_like(x2)  # [M, N]
        n_rows = x2.shape[0]
        if n_rows > 0:  # a grid of zero programs is not a valid launch
            block, num_warps = _launch_config(n_cols)
            _softmax_fwd_kernel[(n_rows,)](
                y2, x2, x2.stride(0), y2.stride(0), n_cols, BLOCK=block, num_warps=num_warps
            )
        ctx.save_for_backward(x2)  # the backward kernel recomputes y from x in fp32
        return y2.view(shape)  # [..., N]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy: torch.Tensor) -> torch.Tensor:
        (x2,) = ctx.saved_tensors  # [M, N], contiguous
        shape = dy.shape  # [..., N]
        n_rows, n_cols = x2.shape
        dy2 = dy.reshape(-1, n_cols).contiguous()  # [M, N]; dy may be expanded, e.g. from .sum()
        dx2 = torch.empty_like(x2)  # [M, N]
        if n_rows > 0:
            block, num_warps = _launch_config(n_cols)
            _softmax_bwd_kernel[(n_rows,)](
                dx2, dy2, x2, dx2.stride(0), dy2.stride(0), x2.stride(0), n_cols,
                BLOCK=block, num_warps=num_warps,
            )
        return dx2.view(shape)  # [..., N]


# --------------------------------------------------------------------------------------------
# Reference and public API
# --------------------------------------------------------------------------------------------


def softmax_reference(x: torch.Tensor) -> torch.Tensor:
    """Equation (1) in plain PyTorch, spelled out: max-subtract, exp, sum, divide, in fp32.

    The slow, obviously correct version the kernel is tested against. Autograd through it gives
    equation (2). Returns a tensor of ``x``'s shape and dtype.
    """
    x32 = x.float()  # [..., N]
    # Shift-invariance makes the max a constant for the gradient; detaching it keeps autograd
    # from adding a term that is zero in exact arithmetic.
    row_max = x32.amax(dim=-1, keepdim=True).detach()  # [..., 1]
    numerator = torch.exp(x32 - row_max)  # [..., N]
    denominator = numerator.sum(dim=-1, keepdim=True)  # [..., 1]
    return (numerator / denominator).to(x.dtype)  # [..., N]


def _check_input(x: object) -> None:
    """Raise ``TypeError``/``ValueError`` naming ``x`` and what was expected."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"softmax: x must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in SUPPORTED_DTYPES:
        raise TypeError(
            f"softmax: x.dtype must be one of torch.float16, torch.float32, got {x.dtype}. "
            "bfloat16 is not supported because Triton's interpreter (used on CPU) handles bf16 "
            "unreliably; cast with x.float() or x.half()."
        )
    if x.dim() == 0:
        raise ValueError(
            "softmax: x must have at least 1 dimension (softmax runs over the last one), "
            "got a 0-dim tensor"
        )
    n_cols = x.shape[-1]
    if n_cols == 0:
        raise ValueError(
            f"softmax: x's last dimension must be at least 1, got shape {tuple(x.shape)}"
        )
    if n_cols > MAX_COLS:
        raise ValueError(
            f"softmax: x's last dimension is {n_cols}, above the limit MAX_COLS={MAX_COLS} "
            "(one program holds a whole row)"
        )
    if _backend.INTERPRETED:
        if x.device.type not in ("cpu", "cuda"):
            raise ValueError(
                f"softmax: x must be on a cpu or cuda device under Triton's interpreter, "
                f"got {x.device}"
            )
    elif x.device.type != "cuda":
        raise ValueError(
            f"softmax: x must be on a CUDA device for compiled Triton kernels, got {x.device}; "
            "move it with x.cuda(), or run under the interpreter (TRITON_INTERPRET=1)"
        )


def softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dimension of ``x``, with the fused Triton kernels.

    Implements equation (1) forward and equation (2) backward (see the module docstring).

    Args:
        x: ``[..., N]`` tensor, float16 or float32, at least 1-D, ``1 <= N <= MAX_COLS``.
            Leading dimensions are flattened into rows; a non-contiguous ``x`` is copied to a
            contiguous one first.

    Returns:
        ``[..., N]`` tensor of ``x``'s dtype and device whose rows are non-negative and sum to 1.
        Differentiable once with respect to ``x``.
    """
    _check_input(x)
    return SoftmaxFunction.apply(x.contiguous())
