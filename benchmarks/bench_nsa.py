"""Benchmark: NSA selected attention (Triton) vs its PyTorch reference vs dense causal attention.

Forward only. Three candidates run side by side in one process on the same inputs, for a few
sequence lengths T: ``select_attention`` (the group-centric Triton kernel of
``readingroom.kernels.nsa``), ``select_attention_reference`` (explicit [T, T] mask, masked
softmax) and dense causal attention (``torch.nn.functional.scaled_dot_product_attention`` with
``is_causal=True``, which selects FlashAttention on a GPU). The selected branch attends to
``n * block_size`` tokens per query whatever T is, so its cost grows like T while dense attention
grows like T^2.

The block indices imitate NSA's selection: every query takes block 0 and the block holding it,
plus random earlier blocks up to ``n`` (``-1`` where fewer than ``n`` blocks exist yet). The
kernel is timed with ``check_indices=False`` (the caller -- a top-n -- guarantees valid, distinct
indices), so the time is the kernel's, not the validation's.

On a CUDA GPU: fp16, B=1, H=64 query heads, Hkv=4 (GQA group 16, as in the paper's model),
D=64, n=16 blocks of 64, timed with triton.testing.do_bench (median). The reference builds
[T, T] score tensors, so it runs only up to T=4096. On CPU the kernel runs under Triton's
interpreter on tiny fp32 shapes (median of a time.perf_counter loop). Where the reference runs,
the kernel's output is checked against it before anything is timed.

Writes JSON (default book/data/bench_nsa.json; --out PATH overrides) with the same provenance
fields as bench_softmax.py. Interpreter times say nothing about GPU speed.

    python benchmarks/bench_nsa.py             # full set of lengths
    python benchmarks/bench_nsa.py --quick     # fewer, shorter lengths
    python benchmarks/bench_nsa.py --quick --out /tmp/bench_nsa.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import readingroom.kernels as rk  # noqa: I001  (first: decides TRITON_INTERPRET before triton)
from benchlib import kernel_main, kernel_provenance, median_ms_wall
import torch
import torch.nn.functional as F
import triton
import triton.testing

from readingroom.kernels.nsa import select_attention, select_attention_reference

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "book" / "data" / "bench_nsa.json"

# Model shape (B, H, Hkv, D, block_size, n) and the sequence lengths T swept.
GPU_CONFIG = {"B": 1, "H": 64, "Hkv": 4, "D": 64, "block_size": 64, "n": 16}
GPU_LENGTHS = [4096, 8192, 16384, 32768]
GPU_LENGTHS_QUICK = [4096, 16384]
GPU_REFERENCE_MAX_T = 4096  # the reference's [B, Hkv, G, T, T] fp32 scores: 4 GiB at T=4096
CPU_CONFIG = {"B": 1, "H": 4, "Hkv": 1, "D": 16, "block_size": 16, "n": 4}
CPU_LENGTHS = [64, 128, 256]
CPU_LENGTHS_QUICK = [32, 64]
CPU_REFERENCE_MAX_T = 4096

CPU_NOTE = (
    "Interpreted run: the Triton kernel executed under TRITON_INTERPRET=1 on the CPU (NumPy, one "
    "Python-level program per query and kv head). These times check that the benchmark runs; "
    "they say nothing about GPU speed and must not be quoted as kernel performance."
)


def _time_ms(fn, device: torch.device, on_gpu: bool, quick: bool) -> float:
    if on_gpu:
        # do_bench: warmup/rep are in ms; median over the timed runs (CUDA events, L2 flushed).
        return float(triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median"))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    return median_ms_wall(fn, warmup=1, reps=3 if quick else 5, sync=sync)


def nsa_like_block_indices(
    B: int, T: int, Hkv: int, n: int, block_size: int, gen: torch.Generator
) -> torch.Tensor:
    """``[B, T, Hkv, n]`` int64 block indices shaped like NSA's top-n selection.

    Each query takes block 0 and its own block, then random earlier blocks; ``-1`` pads rows
    that have fewer than ``n`` causal blocks. Indices in a row are distinct.
    """
    device = gen.device
    n_blocks = triton.cdiv(T, block_size)
    current = (torch.arange(T, device=device) // block_size).view(1, T, 1, 1)  # [1, T, 1, 1]
    blocks = torch.arange(n_blocks, device=device)  # [NB]
    scores = torch.rand(B, T, Hkv, n_blocks, generator=gen, device=device)  # in [0, 1)
    scores = torch.where(blocks <= current, scores, -1.0)  # future blocks lose
    scores = torch.where((blocks == 0) | (blocks == current), 2.0, scores)  # always taken
    top = scores.topk(min(n, n_blocks), dim=-1)
    idx = torch.where(top.values >= 0, top.indices, -1)  # [B, T, Hkv, min(n, NB)]
    if idx.shape[-1] < n:
        idx = F.pad(idx, (0, n - idx.shape[-1]), value=-1)
    return idx


def _candidates(T: int, config: dict, dtype: torch.dtype, gen: torch.Generator,
                with_reference: bool) -> dict:
    """Fresh inputs for one length T; returns the zero-argument calls to time, by name."""
    B, H, Hkv, D = config["B"], config["H"], config["Hkv"], config["D"]
    block_size, n = config["block_size"], config["n"]
    device = gen.device
    q = torch.randn(B, T, H, D, generator=gen, device=device, dtype=dtype)  # [B, T, H, D]
    k = torch.randn(B, T, Hkv, D, generator=gen, device=device, dtype=dtype)  # [B, T, Hkv, D]
    v = torch.randn(B, T, Hkv, D, generator=gen, device=device, dtype=dtype)
    idx = nsa_like_block_indices(B, T, Hkv, n, block_size, gen)  # [B, T, Hkv, n]
    # Dense attention gets [B, H, T, D] views with the kv heads repeated for the group,
    # prepared outside the timed call.
    qd = q.transpose(1, 2)
    kd = k.repeat_interleave(H // Hkv, dim=2).transpose(1, 2)
    vd = v.repeat_interleave(H // Hkv, dim=2).transpose(1, 2)
    candidates = {
        "triton": lambda: select_attention(q, k, v, idx, block_size, check_indices=False),
        "dense": lambda: F.scaled_dot_product_attention(qd, kd, vd, is_causal=True),
    }
    if with_reference:
        candidates["reference"] = lambda: select_attention_reference(
            q, k, v, idx, block_size, check_indices=False)
    return candidates


def run(quick: bool) -> dict:
    device = rk.kernel_device()
    on_gpu = device.type == "cuda" and not rk.INTERPRETED
    if on_gpu:
        config, ref_max = GPU_CONFIG, GPU_REFERENCE_MAX_T
        lengths = GPU_LENGTHS_QUICK if quick else GPU_LENGTHS
        dtype, tol = torch.float16, {"atol": 1e-2, "rtol": 1e-2}
    else:
        config, ref_max = CPU_CONFIG, CPU_REFERENCE_MAX_T
        lengths = CPU_LENGTHS_QUICK if quick else CPU_LENGTHS
        dtype, tol = torch.float32, {}
    gen = torch.Generator(device=device).manual_seed(0)

    results = []
    for T in lengths:
        checked = T <= ref_max
        candidates = _candidates(T, config, dtype, gen, with_reference=checked)
        if checked:  # never time a wrong kernel
            torch.testing.assert_close(
                candidates["triton"]().float(), candidates["reference"]().float(), **tol)
        times = {name: _time_ms(fn, device, on_gpu, quick) for name, fn in candidates.items()}
        del candidates  # free this length's inputs before the next one
        if device.type == "cuda":
            torch.cuda.empty_cache()
        ref_ms = times.get("reference")
        row = {
            "T": T,
            **config,
            "dtype": str(dtype).removeprefix("torch."),
            "tokens_per_query": min(config["n"] * config["block_size"], T),
            "triton_ms": round(times["triton"], 6),
            "reference_ms": None if ref_ms is None else round(ref_ms, 6),
            "dense_ms": round(times["dense"], 6),
            "triton_over_dense": round(times["triton"] / times["dense"], 4),
            "reference_over_dense": None if ref_ms is None else round(ref_ms / times["dense"], 4),
            "checked_against_reference": checked,
        }
        results.append(row)
        ref_text = "n/a" if ref_ms is None else f"{ref_ms:10.4f} ms"
        print(
            f"T={T:<6} triton {times['triton']:10.4f} ms   reference {ref_text}"
            f"   dense {times['dense']:10.4f} ms   triton/dense {row['triton_over_dense']:.3g}",
            flush=True,
        )

    return {
        "benchmark": "NSA selected attention forward (select_attention) vs reference vs dense "
                     "causal SDPA",
        **kernel_provenance(device, on_gpu=on_gpu, quick=quick),
        "config": {**config, "dtype": str(dtype).removeprefix("torch."),
                   "reference_max_T": ref_max, "check_indices": False},
        "note": CPU_NOTE if rk.INTERPRETED else "Compiled Triton kernel on the GPU.",
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    return kernel_main(argv, name="bench_nsa", doc=__doc__, run=run, default_out=DEFAULT_OUT,
                       repo=REPO, quick_help="fewer, shorter sequence lengths", cpu_note=CPU_NOTE)


if __name__ == "__main__":
    sys.exit(main())
