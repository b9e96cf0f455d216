"""Training-step speed of every model on the paper's Fashion-MNIST shapes, per precision, on this device.

Prints one table: model, mode (one eager run, or R runs stacked into one vmapped step), wall seconds per
epoch (270 steps of 200 unlabeled + 200 labeled, as Fashion-MNIST with 100 labels per class), run-epochs per
second, achieved TFLOP/s (forward + backward, counted by torch.utils.flop_counter) and that as a fraction of
the matrix-product rate measured here, in the same run, at the shape of one run's enumerated batch
(2000 x 784 x 600) and the same dtype.

    python benchmarks/speed.py                   # CPU, all models, fp32 and bf16
    python benchmarks/speed.py --device cuda --steps 50 --stack 8 24
Synthetic data of the right shapes: speed does not depend on pixel values.
"""

from __future__ import annotations

import argparse

import torch
from timing import DTYPES, flops_of, matmul_rate, seconds_per_step

from ssvae.core.models import build_model, generative_models, model_config
from ssvae.core.objectives import ObjectiveConfig, loss_function, sum_weights
from ssvae.machine.hardware import PRECISIONS, adam, keep_freed_memory
from ssvae.training.stacked import StackedLoss, noise_shapes

# Fashion-MNIST with 100 labels per class: 1000 labeled, 54000 unlabeled examples
FASHION_MNIST_WEIGHTS = sum_weights(1000, 54000)

STEPS_PER_EPOCH = 270  # Fashion-MNIST, 100 labels per class: 54000 unlabeled / 200


def set_tf32(on: bool) -> None:
    """tf32: float32 tensors, matrix products in TensorFloat-32 (CUDA); fp32 and bf16 keep full fp32 products."""
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def autocast_for(precision: str):
    return PRECISIONS["fp32" if precision == "tf32" else precision]


def maybe_compile(fn, compile_: bool):
    """torch.compile of the loss (forward and backward); the optimizer step stays eager."""
    return torch.compile(fn) if compile_ else fn


def bench(name: str, precision: str, device: torch.device, steps: int, compile_: bool = False) -> dict:
    k, d, b = 10, 784, 200
    model = build_model(name, d, k, model_config(name), seed=0).to(device)
    opt = adam(model.parameters(), 3e-4)
    gen = torch.Generator(device=device).manual_seed(0)
    x_l, y_l = torch.rand(b, d, device=device), torch.randint(0, k, (b,), device=device)
    x_u = torch.rand(b, d, device=device)
    loss_fn, cfg = loss_function(model), ObjectiveConfig(mier=True, weights=FASHION_MNIST_WEIGHTS)
    autocast = autocast_for(precision)
    set_tf32(precision == "tf32")
    fn = maybe_compile(loss_fn, compile_)

    def step():
        with autocast(device):
            loss, _ = fn(model, x_l, y_l, x_u, gen, cfg, 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return {"per_step": seconds_per_step(step, steps, device), "flops": flops_of(step)}


def bench_stacked(
    name: str, precision: str, device: torch.device, steps: int, runs: int, compile_: bool = False
) -> dict:
    """R runs through one vmapped step (ssvae.training.stacked.StackedLoss), with one Adam over stacked parameters."""
    k, d, b = 10, 784, 200
    models = [build_model(name, d, k, model_config(name), seed=s).to(device) for s in range(runs)]
    loss_fn, cfg = loss_function(models[0]), ObjectiveConfig(mier=True, weights=FASHION_MNIST_WEIGHTS)
    stacked = StackedLoss(models, loss_fn, [cfg] * runs)
    opt = adam(stacked.params.values(), 3e-4)
    gen = torch.Generator(device=device).manual_seed(0)
    x_l, y_l = torch.rand(runs, b, d, device=device), torch.randint(0, k, (runs, b), device=device)
    x_u = torch.rand(runs, b, d, device=device)
    shapes = noise_shapes(models[0], loss_fn, cfg, x_l[0], y_l[0], x_u[0])
    autocast = autocast_for(precision)
    set_tf32(precision == "tf32")
    call = maybe_compile(stacked.__call__, compile_)

    def step():
        noise = [torch.randn((runs, *s), generator=gen, device=device) for s in shapes]
        with autocast(device):
            losses, _ = call(x_l, y_l, x_u, noise, 1.0)
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        opt.step()

    return {"per_step": seconds_per_step(step, steps, device), "flops": flops_of(step)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--models", nargs="+", default=generative_models())
    p.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=list(DTYPES))
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--stack", type=int, nargs="*", default=[], help="also time R stacked runs, for each R given")
    p.add_argument("--compile", nargs="+", default=["off"], choices=["off", "on"], help="time eager, compiled or both")
    a = p.parse_args()
    device = torch.device(a.device)
    if device.type == "cpu":
        keep_freed_memory()  # as a CPU training run does (ssvae.training.run.Run)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}\n")
    rates = {pr: matmul_rate(device, DTYPES[pr]) for pr in a.precisions}
    for pr, r in rates.items():
        print(f"measured {pr} matmul 2000x784x600: {r / 1e12:.3f} TFLOP/s")
    print("\n| model | mode | s/epoch | run-epochs/s | TFLOP/s | of matmul rate |\n|---|---|---|---|---|---|")
    for m in a.models:
        for pr in a.precisions:
            for runs in [1, *a.stack]:
                for comp in a.compile:
                    mode = (
                        f"{'eager' if runs == 1 else f'{runs} stacked runs'} {pr}{' compiled' if comp == 'on' else ''}"
                    )
                    try:
                        c = comp == "on"
                        r = (
                            bench(m, pr, device, a.steps, c)
                            if runs == 1
                            else bench_stacked(m, pr, device, a.steps, runs, c)
                        )
                    except Exception as e:  # a mode that fails (e.g. compilation) is a row that says so
                        print(f"| {m} | {mode} | failed: {type(e).__name__}: {str(e).splitlines()[0][:80]} | | | |")
                        continue
                    sec = r["per_step"] * STEPS_PER_EPOCH  # wall seconds for one epoch of all `runs` runs
                    tflops = r["flops"] / r["per_step"] / 1e12
                    share = tflops * 1e12 / rates[pr]
                    print(f"| {m} | {mode} | {sec:.2f} | {runs / sec:.3f} | {tflops:.3f} | {share:.0%} |", flush=True)


if __name__ == "__main__":
    main()
