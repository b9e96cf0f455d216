"""The speed benchmark runs (a smoke test: one timed step per mode, no numbers asserted beyond sanity)."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import speed  # noqa: E402


def test_speed_benchmark_modes_run():
    cpu = torch.device("cpu")
    one = speed.bench("lvae", "fp32", cpu, steps=1)
    stacked = speed.bench_stacked("lvae", "fp32", cpu, steps=1, runs=2)
    assert one["per_step"] > 0 and stacked["per_step"] > 0
    assert stacked["flops"] > 1.5 * one["flops"]  # two runs' worth of work in the stacked step
    assert speed.matmul_rate(cpu, torch.float32, 64, 64, 64) > 0
