"""What the hardware decides: matrix-product precision, the fused Adam, torch.compile, and glibc's malloc.

Keep freed memory for reuse on glibc, so that a CPU training step does not page-fault its tensors in anew.

glibc's malloc serves every block over 128 KiB (after warm-up, up to a few MiB) with its own mmap and hands it
back to the kernel on free, and trims the heap's free top. A training step allocates and frees the same
megabyte-sized activations hundreds of times a second, so every one of them comes back as fresh pages that the
kernel zeroes on first touch: on the 2-core EPYC, with two threads, that was 4 to 20% of a bf16 M2 step in
repeated measurements (benchmarks/RESULTS.md, 'Cutting the CPU step'). Raising the mmap and trim thresholds
keeps those blocks in the heap. This is what `MALLOC_MMAP_THRESHOLD_` / `MALLOC_TRIM_THRESHOLD_` in the environment
do, set from inside the process since a library cannot set its user's environment before start-up. The cost is
that memory freed by the process stays mapped (its resident size stays at its peak), which a training process
reaches anyway.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import platform
import sys
from typing import Any, Callable

import torch

from ..errors import SSVAEError, warn

# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit: blocks below it come from the heap
TRIM_THRESHOLD = 1 << 30  # free memory at the top of the heap is returned only beyond 1 GiB

OPT_OUT = "SSVAE_KEEP_FREED_MEMORY"  # set to 0 to leave malloc as it is


@functools.cache
def keep_freed_memory() -> bool:
    """Set the thresholds once per process; True if they were set (glibc on Linux, not opted out)."""
    if os.environ.get(OPT_OUT, "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version"):  # musl and others: mallopt is absent or does nothing
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


# Matrix-product precision of the training step. Evaluation always runs in float32. bf16 autocast keeps
# densities, KLs and the objective in float32 (the models cast their Gaussian heads and logits up).
@contextlib.contextmanager
def tf32_products(device: torch.device):
    """TensorFloat-32 matrix products (float32 storage, 10-bit mantissa products) inside, on CUDA only."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


PRECISIONS: dict[str, Callable[[torch.device], Any]] = {
    "fp32": lambda device: contextlib.nullcontext(),
    "bf16": lambda device: torch.autocast(device.type, dtype=torch.bfloat16),
    "tf32": tf32_products,  # CUDA only (resolve_precision refuses it elsewhere); not yet measured on a GPU
}

# What an explicit --precision bf16 costs where bf16 is emulated: M2 on Fashion-MNIST, 2-core AVX2 EPYC (issue 15).
EMULATED_BF16 = "1176 s per M2 epoch against 64.6 in fp32, 18x slower, on a 2-core AVX2 EPYC"


def cpu_capabilities() -> dict[str, Any]:
    """What PyTorch reports of this CPU's instruction sets (torch.cpu.get_capabilities), {} if it cannot say."""
    try:
        return dict(torch.cpu.get_capabilities())
    except Exception:  # older torch, or a platform it does not inspect
        return {}


# the instruction sets that decide how fast bf16 and fp32 products are, fastest first: what a speed claim must name
CPU_KINDS = ("amx_bf16", "avx512_bf16", "avx2")


def cpu_name() -> str:
    """The CPU as torch sees it, with the first of `CPU_KINDS` it has ("AMD EPYC (avx512_bf16)"): machines of one
    model name differ in these, and a timing means little without them."""
    caps = cpu_capabilities()
    kind = next((f for f in CPU_KINDS if caps.get(f)), platform.machine() or "unknown")
    return f"{caps.get('cpu_name') or platform.processor() or 'CPU'} ({kind})"


def native_bf16(device: torch.device) -> bool:
    """bf16 matrix products in hardware: a CUDA GPU that supports them, or a CPU with AMX or AVX-512 BF16."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    caps = cpu_capabilities()
    return bool(caps.get("amx_bf16") or caps.get("avx512_bf16"))


# What --precision auto picks, per device kind, by measurement (benchmarks/RESULTS.md): on one H200 bf16 was slower
# than fp32 in 5 of 6 measurements (M2 2.84 against 2.39 s/epoch, eager: launch-bound, and the casts add kernels);
# on the 2-core AVX-512 BF16 EPYC bf16 was 1.8x faster than fp32 for M2. tf32 has not been measured on a GPU yet.
AUTO_PRECISION: dict[str, Callable[[torch.device], str]] = {
    "cuda": lambda device: "fp32",
    "cpu": lambda device: "bf16" if native_bf16(device) else "fp32",
}


def resolve_precision(name: str, device: torch.device) -> str:
    """'auto': what was measured fastest on this kind of device (`AUTO_PRECISION`). An explicit bf16 on hardware
    that emulates it is kept (the user asked), with one warning line."""
    if name == "auto":
        return AUTO_PRECISION.get(device.type, lambda d: "fp32")(device)
    if name == "tf32" and device.type != "cuda":
        raise SSVAEError(
            f"--precision tf32 is a CUDA GPU's matrix-product mode; on a {device.type.upper()} use fp32 or auto"
        )
    if name == "bf16" and not native_bf16(device):
        warn(
            f"--precision bf16 is emulated on this {device.type.upper()} (no AVX-512 BF16 or AMX): measured "
            f"{EMULATED_BF16}; use --precision auto or fp32"
        )
    return name


def adam(params, lr: float, betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Adam:
    """Adam with torch's fused kernel where the parameters' device has one (CPU and CUDA), else the default.

    On a CPU torch's default is a Python loop over the parameter tensors: 7.5 ms per M2 step on the 2-core EPYC,
    against 0.9 ms fused (benchmarks/RESULTS.md, 'Cutting the CPU step'); on a GPU the fused kernel replaces per-
    tensor launches (not measured here). The two agree to float rounding, not bit for bit, so a run resumed from a
    checkpoint keeps the kind it began with: load_state_dict restores the saved group's `fused` flag (absent, i.e.
    unfused, in runs saved before this existed)."""
    params = list(params)
    try:
        opt = torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except RuntimeError:  # a device or dtype without the fused kernel
        return torch.optim.Adam(params, lr=float(lr), betas=betas)
    tensor_lr(opt)
    return opt


def tensor_lr(opt: torch.optim.Optimizer) -> None:
    """The learning rate of a fused Adam as a float64 tensor on the parameters' device, which the lr schedule
    changes in place (torch's schedulers fill a tensor lr), so that a step reads it from the device and a
    captured step would see every change. float64, because fused Adam then steps bit-identically to a float lr
    (tested); after `load_state_dict` (which puts back the saved value) call this again. Unfused Adam (runs begun
    before fused Adam existed) keeps a float: its foreach kernels take no tensor lr, and it is never captured."""
    for group in opt.param_groups:
        if group.get("fused"):
            device = group["params"][0].device
            group["lr"] = torch.tensor(float(group["lr"]), dtype=torch.float64, device=device)
            # a CUDA graph may record its step (`cuda_graphs`); the fused kernel computes the same either way
            group["capturable"] = device.type == "cuda"


def follow_lr(opt: torch.optim.Optimizer, leader: torch.optim.Optimizer) -> None:
    """Give `opt` the learning rate `leader`'s schedule has set: in place where it is a tensor (the object a step
    reads stays the same), else by value."""
    lr = leader.param_groups[0]["lr"]
    for group in opt.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].copy_(lr)
        else:
            group["lr"] = float(lr)


COMPILE_MODES = ("auto", "on", "off")


class CompiledStep:
    """A loss function compiled by torch.compile (forward and backward); should compilation or a compiled call
    fail, one warning line, and training goes on with the eager function: never a crash."""

    def __init__(self, fn: Callable):
        self.eager, self.compiled, self.failed = fn, torch.compile(fn), False

    def __call__(self, *args):
        if not self.failed:
            try:
                return self.compiled(*args)
            except Exception as e:  # inductor and dynamo raise many kinds
                self.failed = True
                first = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
                warn(f"torch.compile failed ({type(e).__name__}: {first}); training goes on without --compile")
        return self.eager(*args)


def compiled_if_asked(fn: Callable, mode: str, device: torch.device) -> Callable:
    """The function under torch.compile where `--compile` and the device say so, else itself."""
    return CompiledStep(fn) if mode == "on" or (mode == "auto" and device.type == "cuda") else fn
