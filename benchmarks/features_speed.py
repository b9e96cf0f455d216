"""What a feature stage costs and saves per training step: each model on 784 pixels against the same model on
M1's 50-d code (behind the frozen stage, `ssvae.core.features.Featurized`), and one M1 step, on this CPU.

    python benchmarks/features_speed.py [--steps 20] [--threads 1] [--precision bf16]

Fashion-MNIST's shapes (batches of 200 labeled + 200 unlabeled, 10 classes, 274 steps an epoch at 10 labels per
class); synthetic data: speed does not depend on pixel values. Median of 3 timings of `--steps` steps each.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ssvae.core.features import build_network
from ssvae.core.models import generative_models, model_config
from ssvae.core.objectives import ObjectiveConfig, sum_weights
from ssvae.machine.hardware import keep_freed_memory
from ssvae.training import time_estimate as estimate

STEPS_PER_EPOCH, D, K, B = 274, 784, 10, 200


def timed(step, steps: int) -> float:
    step()  # warm-up
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        runs.append((time.perf_counter() - t0) / steps)
    return statistics.median(runs)


CPU = torch.device("cpu")


def model_step(name: str, spec, precision: str, **options):
    """The model's step (`ssvae.training.time_estimate.model_step`, what a verbose fit times) at Fashion-MNIST's shapes;
    `options`: the model's own (e.g. hidden=300)."""
    net = build_network(name, D, K, model_config(name, **options), 0, spec)
    obj = ObjectiveConfig(weights=sum_weights(100, 54900))
    return estimate.model_step(net, D, obj, (B, B), 3e-4, precision, CPU, torch.Generator().manual_seed(0))


def stage_step(precision: str, batch: int = B):
    return estimate.stage_step("m1", D, batch, 3e-4, precision, CPU, torch.Generator().manual_seed(0))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    keep_freed_memory()
    spec = {"name": "m1", "code": "mean", "likelihood": "bernoulli"}
    print(f"{a.precision}, {a.threads} thread(s), median of 3 x {a.steps} steps; s/epoch = {STEPS_PER_EPOCH} steps")
    print("| model | pixels ms/step | on M1's code ms/step | code / pixels | pixels s/epoch | code s/epoch |")
    print("|---|---|---|---|---|---|")
    for name in generative_models():
        px, code = (timed(model_step(name, s, a.precision), a.steps) for s in (None, spec))
        print(
            f"| {name} | {1e3 * px:.1f} | {1e3 * code:.1f} | {code / px:.2f} | {STEPS_PER_EPOCH * px:.1f} | "
            f"{STEPS_PER_EPOCH * code:.1f} |"
        )
    m1 = timed(stage_step(a.precision), a.steps)
    print(f"| m1 (stage 1, 200 inputs a step) | {1e3 * m1:.1f} | | | {STEPS_PER_EPOCH * m1:.1f} | |")


if __name__ == "__main__":
    main()
