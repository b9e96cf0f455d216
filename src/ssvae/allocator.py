"""Keep freed memory for reuse on glibc, so that a CPU training step does not page-fault its tensors in anew.

glibc's malloc serves every block over 128 KiB (after warm-up, up to a few MiB) with its own mmap and hands it
back to the kernel on free, and trims the heap's free top. A training step allocates and frees the same
megabyte-sized activations hundreds of times a second, so every one of them comes back as fresh pages that the
kernel zeroes on first touch: on the 2-core EPYC, with two threads, that was 4 to 20% of a bf16 M2 step in
repeated measurements (benchmarks/RESULTS.md, 'Cutting the CPU step'). Raising the mmap and trim thresholds
keeps those blocks in the heap. This is what MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ in the environment
do, set from inside the process since a library cannot set its user's environment before start-up. The cost is
that memory freed by the process stays mapped (its resident size stays at its peak), which a training process
reaches anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

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
