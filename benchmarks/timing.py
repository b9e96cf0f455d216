"""The one way the benchmarks time a step, count its work and measure the machine's product rate.

    seconds_per_step(step, steps)  # median over 3 chunks of `steps` steps, after one warm-up step
    flops_of(step)                 # one step's FLOPs, counted by torch.utils.flop_counter
    matmul_rate(device, dtype)     # the FLOP/s of a (2000 x 784) @ (784 x 600) product, measured for a second

On a GPU the chunks are timed by CUDA events (what the GPU did), elsewhere by the wall clock around a synchronised
device. A benchmark script imports these and its steps (`steps.py`); no script imports another script.
"""

from __future__ import annotations

import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

CPU = torch.device("cpu")
DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16}
WARMUP, CHUNKS = 1, 3


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_step(step, steps: int, device: torch.device = CPU, warmup: int = WARMUP) -> float:
    """Median seconds per step over `CHUNKS` chunks of `steps` steps, after `warmup` steps."""
    for _ in range(warmup):
        step()
    sync(device)
    times = []
    for _ in range(CHUNKS):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(steps):
                step()
            end.record()
            torch.cuda.synchronize(device)
            times.append(start.elapsed_time(end) / 1000 / steps)
        else:
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            sync(device)
            times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def flops_of(step) -> int:
    """The FLOPs of one call of `step` (forward and backward, as torch counts them)."""
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops()


def matmul_rate(device: torch.device, dtype: torch.dtype, m: int = 2000, k: int = 784, n: int = 600) -> float:
    """Measured FLOP/s of an (m x k) @ (k x n) product."""
    a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 1.0:
        a @ b
        reps += 1
    sync(device)
    return 2 * m * k * n * reps / (time.perf_counter() - t0)
