"""Tests for readingroom.kernels.softmax: forward and backward against two references.

On a machine without CUDA these run under Triton's interpreter, so shapes stay small.
Tolerances are torch.testing.assert_close's defaults for each dtype (fp32: rtol 1.3e-6,
atol 1e-5; fp16: rtol 1e-3, atol 1e-5).
"""

from __future__ import annotations

import os
import subprocess
import sys

import readingroom.kernels as rk  # noqa: I001  (first: decides TRITON_INTERPRET)
import pytest
import torch

from readingroom.kernels.softmax import softmax, softmax_reference

DEVICE = rk.kernel_device()
DTYPES = [torch.float32, torch.float16]
SHAPES = [
    (1, 1),  # one row, one column
    (1, 17),  # one row
    (5, 3),  # non-power-of-two widths ...
    (7, 17),
    (6, 100),
    (4, 128),  # ... and an exact power of two
    (2, 3, 17),  # 3-D: leading dims are flattened
    (3, 2, 100),
]


def _ids(shape):
    return "x".join(map(str, shape))


def _forward_backward(fn, x, dy):
    """Run ``fn`` on a fresh leaf copy of ``x``; return (y, dx) for upstream gradient ``dy``."""
    x = x.detach().clone().requires_grad_(True)
    y = fn(x)
    y.backward(dy)
    return y.detach(), x.grad


def _torch_softmax_fp32(t):
    """torch.softmax computed in fp32 and rounded once to ``t``'s dtype (fwd and bwd)."""
    return torch.softmax(t.float(), dim=-1).to(t.dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
def test_forward_backward_match_references(shape, dtype):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen).to(DEVICE, dtype)
    dy = torch.randn(shape, generator=gen).to(DEVICE, dtype)

    y, dx = _forward_backward(softmax, x, dy)
    assert y.dtype == dtype and y.shape == x.shape and y.device == x.device
    # The kernels compute in fp32 and round once to the storage dtype; so do both references.
    # (For fp32, _torch_softmax_fp32 is plain torch.softmax.)
    for reference in (softmax_reference, _torch_softmax_fp32):
        y_ref, dx_ref = _forward_backward(reference, x, dy)
        torch.testing.assert_close(y, y_ref)
        torch.testing.assert_close(dx, dx_ref)
    # Forward also matches torch.softmax run natively in the storage dtype.
    torch.testing.assert_close(y, torch.softmax(x, dim=-1))


def test_fp16_backward_at_least_as_accurate_as_native_torch():
    """torch.softmax's native fp16 backward uses its fp16-rounded output, and in
    ``dy - sum(dy * y)`` that rounding can exceed the default fp16 tolerance (seed 0, shape
    [5, 3]: 2 of 15 elements). The kernel recomputes y in fp32, so it is never worse."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, generator=gen).to(DEVICE, torch.float16)
    dy = torch.randn(5, 3, generator=gen).to(DEVICE, torch.float16)
    _, dx = _forward_backward(softmax, x, dy)
    _, dx_native = _forward_backward(lambda t: torch.softmax(t, dim=-1), x, dy)
    _, dx_exact = _forward_backward(lambda t: torch.softmax(t, dim=-1), x.double(), dy.double())
    err_kernel = (dx.double() - dx_exact).abs().max()
    err_native = (dx_native.double() - dx_exact).abs().max()
    assert err_kernel <= err_native
    torch.testing.assert_close(dx, dx_exact.half())  # default fp16 tolerance


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_rows_sum_to_one_and_are_nonnegative(dtype):
    x = 3 * torch.randn(4, 5, 33, generator=torch.Generator().manual_seed(1)).to(DEVICE, dtype)
    y = softmax(x)
    assert (y >= 0).all()
    row_sums = y.sum(dim=-1)
    torch.testing.assert_close(row_sums, torch.ones_like(row_sums))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_large_magnitude_inputs_stay_finite(dtype):
    # Without the max subtraction exp(1e4) overflows to inf and the row becomes nan.
    x = torch.tensor(
        [[1e4, -1e4, 0.0, 1e4 - 1.0], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4, -1e4, 5e3]],
        dtype=dtype, device=DEVICE,
    )
    dy = torch.randn(x.shape, generator=torch.Generator().manual_seed(2)).to(DEVICE, dtype)
    y, dx = _forward_backward(softmax, x, dy)
    assert torch.isfinite(y).all() and torch.isfinite(dx).all()
    y_ref, dx_ref = _forward_backward(lambda t: torch.softmax(t, dim=-1), x, dy)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(dx, dx_ref)


def test_non_contiguous_input_and_gradient():
    base = torch.randn(17, 6, generator=torch.Generator().manual_seed(3), device="cpu").to(DEVICE)
    x = base.t()  # [6, 17], non-contiguous
    assert not x.is_contiguous()
    torch.testing.assert_close(softmax(x), softmax_reference(x))
    # y.sum() sends back an expanded (stride-0) gradient.
    y, dx = _forward_backward(softmax, x, torch.ones(()).expand(6, 17).to(DEVICE))
    _, dx_ref = _forward_backward(softmax_reference, x, torch.ones(6, 17, device=DEVICE))
    torch.testing.assert_close(dx, dx_ref)


def test_one_dim_input_is_one_row_and_empty_leading_dim_is_empty():
    x = torch.randn(9, generator=torch.Generator().manual_seed(4)).to(DEVICE)
    torch.testing.assert_close(softmax(x), torch.softmax(x, dim=-1))
    empty = torch.empty(0, 5, device=DEVICE)
    assert softmax(empty).shape == (0, 5)


# --------------------------------------------------------------------------------------------
# Backend selection (readingroom.kernels.__init__)
# --------------------------------------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")
def test_interpreted_without_cuda():
    assert rk.INTERPRETED is True
    assert os.environ.get("TRITON_INTERPRET") == "1"
    assert rk.kernel_device() == torch.device("cpu")
    assert rk.describe_backend() == f"Triton {rk.TRITON_VERSION} interpreter on CPU"


def _fresh_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter with no TRITON_INTERPRET and no visible GPU."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["CUDA_VISIBLE_DEVICES"] = ""
    return subprocess.run(
        [sys.executable, "-W", "always::RuntimeWarning", "-c", code],
        env=env, capture_output=True, text=True, timeout=120,
    )


def test_fresh_import_selects_interpreter_and_torch_does_not_import_triton():
    code = (
        "import sys, torch\n"
        "assert 'triton' not in sys.modules, 'import torch imported triton'\n"
        "import readingroom.kernels as rk\n"
        "from readingroom.kernels.softmax import softmax\n"
        "assert rk.INTERPRETED\n"
        "y = softmax(torch.tensor([[0.0, 0.0]]))\n"
        "assert y.tolist() == [[0.5, 0.5]], y\n"
    )
    proc = _fresh_python(code)
    assert proc.returncode == 0, proc.stderr
    assert "RuntimeWarning" not in proc.stderr, proc.stderr


def test_warns_when_triton_was_imported_first():
    proc = _fresh_python("import triton\nimport readingroom.kernels\n")
    assert proc.returncode == 0, proc.stderr
    assert "RuntimeWarning" in proc.stderr
    assert "import readingroom.kernels` before anything that imports triton" in proc.stderr
    assert "TRITON_INTERPRET=1" in proc.stderr
