"""Benchmark: Triton fused softmax vs torch.softmax vs the naive PyTorch reference (forward).

All three run side by side in one process, on the same inputs, for a few [rows, cols] shapes:
large ones on a CUDA GPU (timed with triton.testing.do_bench), tiny ones on CPU (median of a
time.perf_counter loop), where the Triton kernel runs under Triton's interpreter. Each shape is
checked for correctness before it is timed.

Writes JSON (default book/data/bench_softmax.json; --out PATH overrides) with the device, the
torch/triton versions, whether the kernel was interpreted, the UTC date, the exact command line,
and per-shape times in ms with ratios to torch.softmax. Interpreter times say nothing about GPU
speed; the book quotes absolute times only from GPU runs.

    python benchmarks/bench_softmax.py             # full set of shapes
    python benchmarks/bench_softmax.py --quick     # fewer, smaller shapes
    python benchmarks/bench_softmax.py --quick --out /tmp/bench_softmax.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import readingroom.kernels as rk  # noqa: I001  (first: decides TRITON_INTERPRET before triton)
from benchlib import kernel_main, kernel_provenance, median_ms_wall
import torch
import triton
import triton.testing

from readingroom.kernels.softmax import softmax, softmax_reference

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "book" / "data" / "bench_softmax.json"

# [rows, cols]. GPU shapes follow the tutorial's sweep over row width; CPU shapes keep the
# interpreter (one Python-level program per row) to seconds.
GPU_SHAPES = [(4096, 256), (4096, 1024), (4096, 4096), (4096, 16384), (1024, 65536)]
GPU_SHAPES_QUICK = [(4096, 1024), (4096, 4096)]
CPU_SHAPES = [(16, 64), (32, 256), (64, 1000)]
CPU_SHAPES_QUICK = [(8, 32), (16, 100)]

CPU_NOTE = (
    "Interpreted run: the Triton kernel executed under TRITON_INTERPRET=1 on the CPU (NumPy, one "
    "Python-level program per row). These times check that the benchmark runs; they say nothing "
    "about GPU speed and must not be quoted as kernel performance."
)


def _time_ms(fn, device: torch.device, on_gpu: bool, quick: bool) -> float:
    if on_gpu:
        # do_bench: warmup/rep are in ms; median over the timed runs (CUDA events, L2 flushed).
        return float(triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median"))
    # Interpreter (tensors on CPU, or on a GPU when TRITON_INTERPRET=1 was set by hand).
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    return median_ms_wall(fn, warmup=1, reps=3 if quick else 7, sync=sync)


def run(quick: bool) -> dict:
    device = rk.kernel_device()
    on_gpu = device.type == "cuda" and not rk.INTERPRETED
    if on_gpu:
        shapes = GPU_SHAPES_QUICK if quick else GPU_SHAPES
    else:
        shapes = CPU_SHAPES_QUICK if quick else CPU_SHAPES
    dtype = torch.float32
    gen = torch.Generator().manual_seed(0)

    results = []
    for rows, cols in shapes:
        x = torch.randn(rows, cols, generator=gen, dtype=dtype).to(device)  # [rows, cols]
        candidates = {
            "triton": lambda: softmax(x),
            "torch": lambda: torch.softmax(x, dim=-1),
            "reference": lambda: softmax_reference(x),
        }
        # Never time a wrong kernel.
        torch.testing.assert_close(candidates["triton"](), candidates["torch"]())
        times = {name: _time_ms(fn, device, on_gpu, quick) for name, fn in candidates.items()}
        row = {
            "shape": [rows, cols],
            "dtype": str(dtype).removeprefix("torch."),
            **{f"{name}_ms": round(ms, 6) for name, ms in times.items()},
            "triton_over_torch": round(times["triton"] / times["torch"], 4),
            "reference_over_torch": round(times["reference"] / times["torch"], 4),
        }
        if on_gpu:  # one read and one write of the tensor: the tutorial's bandwidth measure
            nbytes = 2 * x.numel() * x.element_size()
            row.update({f"{n}_gbps": round(nbytes / (times[n] * 1e-3) / 1e9, 1) for n in times})
        results.append(row)
        print(
            f"{rows:>6} x {cols:<6} triton {times['triton']:10.4f} ms"
            f"   torch {times['torch']:10.4f} ms"
            f"   reference {times['reference']:10.4f} ms"
            f"   triton/torch {row['triton_over_torch']:.3g}",
            flush=True,
        )

    return {
        "benchmark": "softmax forward, last dimension",
        **kernel_provenance(device, on_gpu=on_gpu, quick=quick),
        "note": CPU_NOTE if rk.INTERPRETED else "Compiled Triton kernel on the GPU.",
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    return kernel_main(argv, name="bench_softmax", doc=__doc__, run=run, default_out=DEFAULT_OUT,
                       repo=REPO, quick_help="fewer, smaller shapes", cpu_note=CPU_NOTE)


if __name__ == "__main__":
    sys.exit(main())
