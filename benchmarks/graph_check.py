"""The captured training step on this device (issue 22, items 2 and 5): equality rows, then speed rows.

Equality (digits, 3 epochs of 12 steps: the KL warm-up ends after epoch 1, the lr halves after epochs 1 and 2):
eager vs eager (what this device repeats bit for bit), graphed vs eager for 1 run and for 6 stacked runs, a
graphed run saved after 2 epochs, loaded, recaptured and continued vs the same run uninterrupted, and a
deliberately broken capture (it must warn once and train on eagerly, equal to eager). Speed (synthetic data of
Fashion-MNIST's shapes, 270 steps an epoch): seconds per epoch from CUDA events (median of 3 chunks of steps),
run-epochs per second, kernel launches per step and the host's seconds per epoch (validation and bookkeeping),
eager and graphed, for each model x stacked runs x precision.

    python benchmarks/graph_check.py --out DIR                      # CUDA: the real capture
    python benchmarks/graph_check.py --out DIR --models m2 --stack 1 --precisions fp32 --chunk 1 --stacked-runs 2

Without CUDA the capture is emulated (a replay re-runs the recorded function), so the rows check the plumbing,
not a graph; `summary` says which. Writes DIR/graph_check.json and DIR/graph_check.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from timing import seconds_per_step

from ssvae.data import Dataset, make_split
from ssvae.machine import cuda_graphs as graphs
from ssvae.machine.cuda_graphs import GraphedStep
from ssvae.training.config import TrainConfig
from ssvae.training.loop import open_run, run_epochs, train_stacked
from ssvae.training.stacked import StackedStep, _stacked_parts, _unstack_into
from ssvae.training.step import DeviceStep

EQUAL = dict(dataset="digits", labels_per_class=5, batch_size=100, labeled_batch_size=100, warmup_epochs=1)
EQUAL.update(epochs=3, lr_decay_every=1, precision="fp32", mier=True, compile="off")


def emulate_on_cpu() -> None:
    """No CUDA: graph the CPU step with a replay that re-runs the recorded function."""
    graphs.cuda_capture = lambda fn, generators: fn
    graphs.graphs_wanted = lambda mode, device: mode != "off"


# ------------------------------------------------------------------------------------------------ equality rows
def trained(tmp: Path, name: str, runs: int, graphs_mode: str, device: str, epochs: int = 3) -> list[Path]:
    cfgs = [
        TrainConfig(seed=s, cuda_graphs=graphs_mode, device=device, **{**EQUAL, "epochs": epochs}) for s in range(runs)
    ]
    outs = [tmp / name / f"seed{s}" for s in range(runs)]
    return train_stacked(cfgs, outs, False) if runs > 1 else [run_and_close(cfgs[0], outs[0])]


def run_and_close(cfg: TrainConfig, out: Path) -> Path:
    run = open_run(cfg, out)
    try:
        run_epochs(run, progress=False)
    finally:
        run.close()
    return out


def fingerprint(outs: list[Path]) -> tuple[list, list[dict]]:
    rows = [
        [
            {k: v for k, v in json.loads(x).items() if k != "train_seconds"}
            for x in (o / "metrics.jsonl").read_text().splitlines()
        ]
        for o in outs
    ]
    params = [torch.load(o / "last.pt", map_location="cpu", weights_only=False)["model"] for o in outs]
    return rows, params


def gap(a: list[Path], b: list[Path]) -> dict:
    (ra, pa), (rb, pb) = fingerprint(a), fingerprint(b)
    diff = max(float((x[k].double() - y[k].double()).abs().max()) for x, y in zip(pa, pb) for k in x)
    return {"equal": ra == rb and diff == 0.0, "max_abs_param_diff": diff, "epochs": len(ra[0])}


def equality_rows(device: str, tmp: Path, stacked: int) -> list[dict]:
    rows = []
    for runs in (1, stacked):
        eager, again = (
            trained(tmp, f"eager{runs}", runs, "off", device),
            trained(tmp, f"again{runs}", runs, "off", device),
        )
        rows.append({"check": f"eager vs eager, {runs} run(s)", **gap(eager, again)})
        rows.append(
            {
                "check": f"graphed vs eager, {runs} run(s)",
                **gap(trained(tmp, f"graph{runs}", runs, "auto", device), eager),
            }
        )
    whole = trained(tmp, "whole", 1, "auto", device)
    part = trained(tmp, "part", 1, "auto", device, epochs=2)
    cont = [run_and_close(TrainConfig(seed=0, cuda_graphs="auto", device=device, **EQUAL), part[0])]
    rows.append({"check": "graphed: saved at 2, loaded, recaptured, continued vs uninterrupted", **gap(cont, whole)})
    capture, warned = graphs.cuda_capture, []
    graphs.cuda_capture = lambda fn, gens: (_ for _ in ()).throw(RuntimeError("deliberately broken capture"))
    warn = graphs.warn
    graphs.warn = lambda msg: (warned.append(msg), warn(msg))
    try:
        broken = trained(tmp, "broken", 1, "auto", device)
    finally:
        graphs.cuda_capture, graphs.warn = capture, warn
    rows.append(
        {
            "check": "broken capture: one warning, then eager",
            **gap(broken, trained(tmp, "eager1", 1, "off", device)),
            "warnings": len(warned),
        }
    )
    rows[-1]["equal"] = rows[-1]["equal"] and len(warned) == 1
    return rows


# --------------------------------------------------------------------------------------------------- speed rows
def fashion_shaped(seed: int = 0) -> tuple[Dataset, object]:
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 256, (60000, 784), dtype=np.uint8), rng.integers(0, 10, 60000)
    ds = Dataset("synthetic-fashion-mnist", x, y, x[:1000], y[:1000], (28, 28), 10)
    return ds, make_split(y, 100, 5000, seed)


def launches(step, device: torch.device) -> int | None:
    """Kernel and graph launches the host makes in one step (the CUDA runtime calls the profiler records)."""
    if device.type != "cuda":
        return None
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    return sum(1 for e in prof.events() if "LaunchKernel" in e.name or "GraphLaunch" in e.name)


def speed_row(model: str, runs_n: int, precision: str, graphed: bool, device: str, chunk: int) -> dict:
    data = fashion_shaped()
    cfg = TrainConfig(model=model, precision=precision, device=device, compile="off", cuda_graphs="off", epochs=2)
    runs = [open_run(dataclasses.replace(cfg, seed=s), None, data=data) for s in range(runs_n)]
    r0 = runs[0]
    inner = DeviceStep(r0) if runs_n == 1 else StackedStep(runs, _stacked_parts(runs))
    step = GraphedStep(inner, device=r0.device) if graphed else inner
    if runs_n == 1:
        step.begin_epoch(*r0.epoch_indices())
    else:
        step.begin_epoch([r.epoch_indices() for r in runs])
    for _ in range(graphs.EAGER_STEPS + 2):  # eager warm-up, capture and check, one replay
        step()
    per_step = seconds_per_step(step, chunk, r0.device, warmup=0)
    kernels = launches(step, r0.device)
    t0 = time.perf_counter()
    if runs_n > 1:
        _unstack_into(inner.stacked.params, inner.opt, runs, inner.stacked.names)
    for r in runs:
        r.end_epoch(0.0)
    host = time.perf_counter() - t0
    epoch = per_step * r0.sched.steps_per_epoch
    ok = not graphed or (step.captures == 1 and not step.failed)
    return {
        "model": model,
        "runs": runs_n,
        "precision": precision,
        "graphed": graphed,
        "captured": ok,
        "s_per_epoch": epoch,
        "run_epochs_per_s": runs_n / epoch,
        "launches_per_step": kernels,
        "host_s_per_epoch": host,
        "steps_per_epoch": r0.sched.steps_per_epoch,
    }


def markdown(summary: dict) -> str:
    lines = [f"# Graph check ({summary['capture']})", "", f"- {summary['device']}; torch {summary['torch']}", ""]
    lines += ["| equality check | equal | max abs param diff | epochs |", "|---|---|---|---|"]
    lines += [
        f"| {r['check']} | {r['equal']} | {r['max_abs_param_diff']:.3g} | {r['epochs']} |" for r in summary["equality"]
    ]
    lines += [
        "",
        "| model | runs | precision | step | s/epoch | run-epochs/s | launches/step | host s/epoch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in summary["speed"]:
        kind = ("graphed" if r["captured"] else "graph FAILED, eager") if r["graphed"] else "eager"
        n = "–" if r["launches_per_step"] is None else r["launches_per_step"]
        lines.append(
            f"| {r['model']} | {r['runs']} | {r['precision']} | {kind} | {r['s_per_epoch']:.3f} "
            f"| {r['run_epochs_per_s']:.2f} | {n} | {r['host_s_per_epoch']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def write(out: Path, summary: dict) -> None:
    """Both files after every row, each replaced whole (write to a temporary name, then rename)."""
    for name, text in (("graph_check.json", json.dumps(summary, indent=1)), ("graph_check.md", markdown(summary))):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text)
        tmp.replace(out / name)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--models", nargs="+", default=["m2", "adgm", "lvae"])
    p.add_argument("--stack", type=int, nargs="+", default=[1, 6, 18, 30])
    p.add_argument("--precisions", nargs="+", default=["fp32", "tf32", "bf16"])
    p.add_argument("--chunk", type=int, default=30, help="steps per timed chunk (3 chunks, the median)")
    p.add_argument("--stacked-runs", type=int, default=6, help="runs stacked in the equality rows")
    p.add_argument("--no-equality", action="store_true")
    a = p.parse_args()
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    if not cuda:
        emulate_on_cpu()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "capture": "torch.cuda.CUDAGraph" if cuda else "emulated on the CPU (a replay re-runs the step)",
        "device": torch.cuda.get_device_name() if cuda else "CPU",
        "torch": torch.__version__,
        "equality": [],
        "speed": [],
    }
    if not a.no_equality:
        with tempfile.TemporaryDirectory() as tmp:
            summary["equality"] = equality_rows(device, Path(tmp), a.stacked_runs)
    write(out, summary)
    for precision in a.precisions:  # the first precision's rows first: a part cut short by its time limit keeps them
        for model in a.models:
            for runs_n in a.stack:
                for graphed in (False, True):
                    summary["speed"].append(speed_row(model, runs_n, precision, graphed, device, a.chunk))
                    write(out, summary)
    print(markdown(summary))
    bad = [r["check"] for r in summary["equality"] if not r["equal"] and not r["check"].startswith("eager vs eager")]
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
