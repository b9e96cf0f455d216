"""Before/after of the CPU step's speed-ups (issue 15 part 3), measured side by side in one run.

'before' is the library at an earlier commit (checked out into a temporary git worktree), 'after' the working
tree; three more variants of 'after' take one change back each, to show what each buys: glibc's own malloc
thresholds (SSVAE_KEEP_FREED_MEMORY=0, see ssvae.machine.hardware), the Bernoulli log-likelihood through
torch.distributions instead of the fused ssvae.core.fused.BernoulliLogLik, and torch's default (unfused) Adam
instead of ssvae.machine.hardware.adam (the bf16 activations of JointInput are not taken back on their own).
The allocator
is process-wide, so every variant is its own process; rounds alternate the order of the variants, and each
ratio is taken against 'before' of the same round, so a host whose speed drifts between rounds still compares
like with like.

    python benchmarks/cpu_step.py                         # M2 and ADGM, fp32 and bf16, 3 rounds, before = 7fbcd5a
    python benchmarks/cpu_step.py --models m2 --rounds 5 --steps 20 --before HEAD~3
    python benchmarks/cpu_step.py --run-step --before main   # the training run's own step (Run + DeviceStep)

`--run-step` times what `ssvae train` steps (ssvae.training.step.DeviceStep on a Run over synthetic data of
Fashion-MNIST's shapes, --cuda-graphs auto, i.e. eager on the CPU) in 'before' and 'after' only (issue 22: the
CPU step no slower than before).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BEFORE = "7fbcd5a"  # the last commit before the CPU step's speed-ups

# label -> (tree: "before" or "after", extra environment, what the worker takes back)
VARIANTS = {
    "before": ("before", {}, "nothing"),
    "after": ("after", {}, "nothing"),
    "after, glibc's malloc thresholds": ("after", {"SSVAE_KEEP_FREED_MEMORY": "0"}, "nothing"),
    "after, likelihood by torch.distributions": ("after", {}, "likelihood"),
    "after, Adam unfused": ("after", {}, "adam"),
}


def worker(models: list[str], precisions: list[str], steps: int, take_back: str, threads: int) -> None:
    """One process, on whichever ssvae PYTHONPATH gives: time every (model, precision); JSON lines out.

    Uses only what both trees have (benchmarks/speed.py's bench and matmul_rate), and does what a training run
    of that tree does before its first step (ssvae.training.run.Run calls keep_freed_memory on the CPU)."""
    sys.path.insert(0, os.environ["SSVAE_BENCH_DIR"])
    import speed

    torch.set_num_threads(threads)
    try:
        from ssvae.machine.hardware import keep_freed_memory
    except ImportError:  # a tree before the layered package (issue 21), or before it existed
        try:
            from ssvae.allocator import keep_freed_memory
        except ImportError:
            keep_freed_memory = None
    if keep_freed_memory is not None:
        keep_freed_memory()
    if take_back == "likelihood":
        try:
            from ssvae.core.likelihoods import BernoulliLikelihood, Likelihood
        except ImportError:  # a tree before the layered package
            from ssvae.models.base import BernoulliLikelihood, Likelihood

        BernoulliLikelihood.log_prob = Likelihood.log_prob
    if take_back == "adam":
        speed.adam = lambda params, lr: torch.optim.Adam(params, lr=lr)
    device = torch.device("cpu")
    for pr in precisions:
        print(json.dumps({"matmul": pr, "rate": speed.matmul_rate(device, speed.DTYPES[pr])}), flush=True)
    bench = run_step_bench if take_back == "run-step" else lambda m, pr, n: speed.bench(m, pr, device, n)
    for m in models:
        for pr in precisions:
            print(json.dumps({"model": m, "precision": pr, **bench(m, pr, steps)}), flush=True)


def run_step_bench(model: str, precision: str, steps: int) -> dict:
    """The training run's own step, as `ssvae train` takes it on the CPU (both trees have DeviceStep; a run is made
    by `open_run` since the stages share one loop, by `Run` itself before)."""
    import numpy as np

    from ssvae.data import Dataset, make_split
    from ssvae.training.config import TrainConfig
    from ssvae.training.step import DeviceStep

    try:
        from ssvae.training.loop import open_run
    except ImportError:  # a tree from before open_run
        from ssvae.training.run import Run as open_run

    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (60000, 784), dtype=np.uint8), rng.integers(0, 10, 60000)
    data = (Dataset("synthetic", x, y, x[:100], y[:100], (28, 28), 10), make_split(y, 100, 5000, 0))
    cfg = TrainConfig(model=model, precision=precision, device="cpu", compile="off", epochs=1, mier=True)
    run = open_run(cfg, None, data=data)
    step = DeviceStep(run)
    step.begin_epoch(*run.epoch_indices())
    from timing import flops_of, seconds_per_step  # this tree's timer, for both trees' steps

    return {"per_step": seconds_per_step(step, steps), "flops": flops_of(step)}


def run_variant(tree: Path, env: dict[str, str], take_back: str, a: argparse.Namespace) -> list[dict]:
    cmd = [sys.executable, __file__, "--worker", take_back, "--steps", str(a.steps), "--threads", str(a.threads)]
    cmd += ["--models", *a.models]
    full_env = {**os.environ, **env, "PYTHONPATH": str(tree / "src"), "SSVAE_BENCH_DIR": str(tree / "benchmarks")}
    out = subprocess.run([*cmd, "--precisions", *a.precisions], capture_output=True, text=True, env=full_env)
    if out.returncode:
        raise SystemExit(f"variant failed:\n{out.stderr[-2000:]}")
    return [json.loads(line) for line in out.stdout.splitlines()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["m2", "adgm"])
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=torch.get_num_threads(), help="threads per process")
    p.add_argument("--before", default=BEFORE, help=f"the commit to compare against (default {BEFORE})")
    p.add_argument("--run-step", action="store_true", help="time the training run's own step, before and after only")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a.models, a.precisions, a.steps, a.worker, a.threads)
    rows, rates = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), a.before], check=True, capture_output=True
        )
        try:
            trees = {"before": old, "after": ROOT}
            labels = ["before", "after"] if a.run_step else list(VARIANTS)
            for rnd in range(a.rounds):
                for label in labels if rnd % 2 == 0 else labels[::-1]:
                    tree, env, take_back = VARIANTS[label]
                    take_back = "run-step" if a.run_step else take_back
                    for r in run_variant(trees[tree], env, take_back, a):
                        if "matmul" in r:
                            rates.setdefault(r["matmul"], []).append(r["rate"])
                        else:
                            rows.append({**r, "variant": label, "round": rnd})
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], capture_output=True)
    print(
        f"CPU, {a.threads} threads, torch {torch.__version__}; before = {a.before}; "
        f"{a.rounds} rounds of {a.steps} steps; median over rounds"
    )
    for pr, rs in rates.items():
        print(f"measured {pr} matmul 2000x784x600: {statistics.median(rs) / 1e12:.3f} TFLOP/s (median of {len(rs)})")
    print("\n| model | precision | variant | s/epoch | of matmul rate | time vs before (range over rounds) |")
    print("|---|---|---|---|---|---|")
    for m in a.models:
        for pr in a.precisions:
            mine = [r for r in rows if r["model"] == m and r["precision"] == pr]
            before = {r["round"]: r["per_step"] for r in mine if r["variant"] == "before"}
            for label in labels_seen(mine):
                these = [r for r in mine if r["variant"] == label]
                step = statistics.median(r["per_step"] for r in these)
                ratios = [r["per_step"] / before[r["round"]] for r in these]
                share = these[0]["flops"] / step / statistics.median(rates[pr])
                spread = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
                print(f"| {m} | {pr} | {label} | {step * 270:.2f} | {share:.0%} | {spread} |")


def labels_seen(rows: list[dict]) -> list[str]:
    return [label for label in VARIANTS if any(r["variant"] == label for r in rows)]


if __name__ == "__main__":
    main()
