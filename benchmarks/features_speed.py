"""What a feature stage costs and saves per training step: each model on 784 pixels against the same model on
M1's 50-d code (behind the frozen stage, `ssvae.core.features.Featurized`), and one M1 step, on this CPU.

    python benchmarks/features_speed.py [--steps 20] [--threads 1] [--precision bf16]

Fashion-MNIST's shapes (batches of 200 labeled + 200 unlabeled, 10 classes, 274 steps an epoch at 10 labels per
class); synthetic data: speed does not depend on pixel values. Median of 3 timings of `--steps` steps each.
"""

from __future__ import annotations

import argparse

import torch
from steps import CODE, STEPS_PER_EPOCH, model_step, stage_step
from timing import seconds_per_step

from ssvae.core.models import generative_models
from ssvae.machine.hardware import keep_freed_memory


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    keep_freed_memory()
    spec = CODE
    print(f"{a.precision}, {a.threads} thread(s), median of 3 x {a.steps} steps; s/epoch = {STEPS_PER_EPOCH} steps")
    print("| model | pixels ms/step | on M1's code ms/step | code / pixels | pixels s/epoch | code s/epoch |")
    print("|---|---|---|---|---|---|")
    for name in generative_models():
        px, code = (seconds_per_step(model_step(name, s, a.precision), a.steps) for s in (None, spec))
        print(
            f"| {name} | {1e3 * px:.1f} | {1e3 * code:.1f} | {code / px:.2f} | {STEPS_PER_EPOCH * px:.1f} | "
            f"{STEPS_PER_EPOCH * code:.1f} |"
        )
    m1 = seconds_per_step(stage_step(a.precision), a.steps)
    print(f"| m1 (stage 1, 200 inputs a step) | {1e3 * m1:.1f} | | | {STEPS_PER_EPOCH * m1:.1f} | |")


if __name__ == "__main__":
    main()
