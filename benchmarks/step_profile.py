"""Where a CPU training step's time goes, on this CPU (issue 31, item 1): every model on the pixels, every model on
M1's 50-d code, and M1's own step (stage 1), each at Fashion-MNIST's shapes at 10 labels per class (batches of 200
labeled + 200 unlabeled, 10 classes).

    python benchmarks/step_profile.py [--precision auto] [--threads 2] [--steps 10] [--top 4] [--stage-batches 200]

For each step: ms per step (median of 3 timings of `--steps` steps), its FLOPs (forward + backward, counted by
torch.utils.flop_counter), the achieved FLOP rate as a fraction of the matrix-product rate measured just before
and after the step's timing, in the same precision (2000 x 784 x 600: the shape of one enumerated batch), the share
of self CPU time spent in matrix products, the rate of the products alone (the step's FLOPs over the step's time
in them: the ceiling the step would reach if nothing else took time, set by how far its own product shapes run
from the measured rate), and the operators that take the most of it (torch.profiler). `auto` is the precision a
run picks here (`ssvae.machine.hardware.resolve_precision`). Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
from steps import CODE, model_step, stage_step
from timing import DTYPES, flops_of, matmul_rate, seconds_per_step
from torch.profiler import ProfilerActivity, profile

from ssvae.core.models import generative_models
from ssvae.machine.hardware import cpu_name, keep_freed_memory, resolve_precision

PRODUCTS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear")


def rate_beside(timing, precision: str) -> tuple[float, float]:
    """The matrix-product rate measured just before and just after `timing()` (their mean), and what it returned:
    a shared or throttled machine's speed drifts by half within minutes, and a rate taken once at the start would
    turn that drift into the steps' fractions."""
    cpu, dtype = torch.device("cpu"), DTYPES[precision]
    before = matmul_rate(cpu, dtype)
    result = timing()
    return (before + matmul_rate(cpu, dtype)) / 2, result


def operators(step, top: int) -> tuple[float, str]:
    """The share of self CPU time in matrix products, and the `top` operators by self CPU time with their shares."""
    with profile(activities=[ProfilerActivity.CPU]) as p:
        for _ in range(3):
            step()
    rows = [(e.key, e.self_cpu_time_total) for e in p.key_averages() if e.self_cpu_time_total > 0]
    total = sum(t for _, t in rows)
    rows.sort(key=lambda r: -r[1])
    products = sum(t for k, t in rows if k in PRODUCTS) / total
    ops = [(k, t) for k, t in rows if k.startswith("aten::")][:top]
    return products, ", ".join(f"{k.removeprefix('aten::')} {100 * t / total:.0f}%" for k, t in ops)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--top", type=int, default=4)
    p.add_argument(
        "--stage-batches", type=int, nargs="+", default=[200], help="M1's batch sizes, a row each (the fit's: 200)"
    )
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    keep_freed_memory()
    cpu = torch.device("cpu")
    precision = resolve_precision(a.precision, cpu)
    print(f"{cpu_name()}, torch {torch.__version__}, {a.threads} thread(s), {precision}\n")
    print(
        "| step | ms/step | GFLOP/step | TFLOP/s | matmul TFLOP/s | of matmul rate | in matrix products "
        "| products alone, of matmul rate | top operators (self CPU) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    steps = [(f"{m} on pixels", lambda m=m: model_step(m, None, precision)) for m in generative_models()]
    steps += [(f"{m} on M1's code", lambda m=m: model_step(m, CODE, precision)) for m in generative_models()]
    steps += [(f"m1 (stage 1, {b} inputs)", lambda b=b: stage_step(precision, b)) for b in a.stage_batches]
    for name, make in steps:
        step = make()
        (rate, seconds), flops = rate_beside(partial(seconds_per_step, step, a.steps), precision), flops_of(step)
        products, top = operators(step, a.top)
        achieved = flops / seconds
        print(
            f"| {name} | {1e3 * seconds:.1f} | {flops / 1e9:.2f} | {achieved / 1e12:.3f} | {rate / 1e12:.3f} | "
            f"{achieved / rate:.0%} | {products:.0%} | {achieved / products / rate:.0%} | {top} |"
        )


if __name__ == "__main__":
    main()
