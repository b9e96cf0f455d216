"""A step's time alone and beside a busy neighbour, per OpenMP wait policy and thread count (issue 31, item 6).

    python benchmarks/shared_machine.py [--rounds 3] [--steps 30]

Each variant runs in its own process (OpenMP reads its wait policy once, when torch loads it): spinning threads
(OMP_WAIT_POLICY=ACTIVE), sleeping ones (PASSIVE, what `import ssvae` sets by default) and one thread. Each is
timed alone, then beside a neighbour this script starts (a single-threaded busy loop, as a second training
process is). Prints ms per M1 step (200 inputs, Fashion-MNIST's 784 pixels), median and range over the rounds;
the variants alternate within each round so that drifts of the machine hit them alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

STEP = """
import sys, time, torch
from ssvae.core.features import build_stage
from ssvae.machine.hardware import adam, keep_freed_memory
keep_freed_memory()
torch.set_num_threads({threads})
stage = build_stage("m1", 784, "bernoulli", 0)
opt = adam(stage.parameters(), 3e-4)
g = torch.Generator().manual_seed(0)
x = torch.rand(200, 784, generator=g).round()
def step():
    log_px, kl = stage.elbo_terms(x, g)
    opt.zero_grad()
    (kl - log_px).mean().backward()
    opt.step()
for _ in range(3):
    step()
t = time.perf_counter()
for _ in range({steps}):
    step()
print(1e3 * (time.perf_counter() - t) / {steps})
"""

VARIANTS = {"2 threads, spinning": ("ACTIVE", 2), "2 threads, sleeping": ("PASSIVE", 2), "1 thread": ("PASSIVE", 1)}


def timed(policy: str, threads: int, steps: int) -> float:
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    code = STEP.format(threads=threads, steps=steps)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=30)
    a = p.parse_args()
    results: dict[tuple[str, str], list[float]] = {}
    for where in ("alone", "beside a busy process"):
        neighbour = None
        if where != "alone":
            neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            for _ in range(a.rounds):
                for name, (policy, threads) in VARIANTS.items():
                    results.setdefault((name, where), []).append(timed(policy, threads, a.steps))
        finally:
            if neighbour is not None:
                neighbour.kill()
    print(f"ms per M1 step (200 inputs), median (range) of {a.rounds} rounds of {a.steps} steps")
    print("| variant | alone | beside a busy process |\n|---|---|---|")
    for name in VARIANTS:
        cells = []
        for where in ("alone", "beside a busy process"):
            v = results[(name, where)]
            cells.append(f"{statistics.median(v):.1f} ({min(v):.1f}-{max(v):.1f})")
        print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
