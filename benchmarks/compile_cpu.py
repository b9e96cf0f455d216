"""torch.compile of the training step on this CPU, side by side with the eager step (issue 31, item 2: a lever
measured, not a recipe): M2 and the Ladder VAE, on the pixels and on M1's code, at Fashion-MNIST's shapes (batches
of 200 labeled + 200 unlabeled, 10 classes), in `--precision` (default fp32; `auto` is what a run picks on this
CPU: bf16 where it has bf16 products), through `ssvae.machine.hardware.compiled_if_asked` (what `--compile on`
does). Median of 3 timings of 10 steps, after 3 warm-up steps (the compilation).

    python benchmarks/compile_cpu.py [--threads 1] [--models lvae m2] [--precision fp32]
"""

from __future__ import annotations

import argparse

import torch
from steps import CODE
from timing import seconds_per_step

from ssvae.core.features import build_network
from ssvae.core.models import model_config
from ssvae.core.objectives import ObjectiveConfig, loss_function, sum_weights
from ssvae.machine.hardware import PRECISIONS, adam, compiled_if_asked, cpu_name, keep_freed_memory, resolve_precision

D, K, B = 784, 10, 200

CPU = torch.device("cpu")


def make_step(name: str, spec, mode: str, precision: str):
    net = build_network(name, D, K, model_config(name), 0, spec)
    opt = adam(net.parameters(), 3e-4)
    obj = ObjectiveConfig(weights=sum_weights(100, 54900))
    loss_fn = compiled_if_asked(loss_function(net), mode, CPU)
    gen = torch.Generator().manual_seed(0)
    xl, xu = (torch.rand(B, D, generator=gen).round() for _ in range(2))
    yl = torch.randint(0, K, (B,), generator=gen)

    def step() -> None:
        with PRECISIONS[precision](CPU):
            loss, _ = loss_fn(net, xl, yl, xu, gen, obj, 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--models", nargs="+", default=["lvae", "m2"])
    p.add_argument("--precision", default="fp32", choices=["auto", "fp32", "bf16"])
    a = p.parse_args()
    precision = resolve_precision(a.precision, CPU)
    torch.set_num_threads(a.threads)
    keep_freed_memory()
    print(f"{cpu_name()}, torch {torch.__version__}, {a.threads} thread(s), {precision}")
    print("| step | eager ms | compiled ms | compiled / eager |\n|---|---|---|---|")
    for name in a.models:
        for spec, where in ((None, "pixels"), (CODE, "M1's code")):
            steps = [make_step(name, spec, mode, precision) for mode in ("off", "on")]
            eager, compiled = (seconds_per_step(step, 10, warmup=3) for step in steps)
            print(f"| {name} on {where} | {1e3 * eager:.1f} | {1e3 * compiled:.1f} | {compiled / eager:.2f} |")


if __name__ == "__main__":
    main()
