"""What the width of M2's generative half costs on M1's code (issue 31): q(z|x,y) and p(x|y,z) `--hidden` wide, the
classifier q(y|x) kept at 600. The 10 enumerated classes go through the generative half only, so its width sets
most of stage 2's FLOPs.

    python benchmarks/code_width.py [--widths 600 400 300] [--threads 2] [--steps 10]

Fashion-MNIST's shapes (batches of 200 labeled + 200 unlabeled, 10 classes); fp32; median of 3 timings of
`--steps` steps; FLOPs forward + backward (torch.utils.flop_counter). Run it on a quiet machine.
"""

from __future__ import annotations

import argparse

import torch
from steps import CODE, STEPS_PER_EPOCH, model_step
from timing import flops_of, seconds_per_step

from ssvae.machine.hardware import cpu_name, keep_freed_memory


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", type=int, nargs="+", default=[600, 400, 300])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    keep_freed_memory()
    print(f"{cpu_name()}, fp32, {a.threads} thread(s), median of 3 x {a.steps} steps")
    print("| generative width | ms/step | GFLOP/step | s/epoch (274 steps) | time / the first width's |")
    print("|---|---|---|---|---|")
    first = None
    for h in a.widths:
        step = model_step("m2", CODE, "fp32", hidden=h)
        t = seconds_per_step(step, a.steps)
        first = first or t
        print(f"| {h} | {1e3 * t:.1f} | {flops_of(step) / 1e9:.2f} | {STEPS_PER_EPOCH * t:.1f} | {t / first:.2f} |")


if __name__ == "__main__":
    main()
