"""Whether one training step fits in memory, estimated before anything is written or trained (issue 32).

A step's memory is dominated by the activations autograd keeps: every row of the step passes through every
Linear layer, and each layer keeps its input and output, their gradients and a temporary or two. The rows are
the labeled batch plus the unlabeled batch once per class (the models enumerate y for unlabeled rows), all
repeated `mc_samples` times. The estimate is rough (within a small factor of what a step allocates), which is
enough for its one job: refusing in one line a setting that cannot fit at all (`--mc-samples 100000` asked for
terabytes and took the machine's memory down) instead of dying in the allocator half-way through a run.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

import torch
from torch import nn

from ..core.features import FEATURES, featurized
from ..core.interface import enumerated_count
from ..core.models import MODELS, model_config
from ..errors import SSVAEError
from .config import TrainConfig

FLOATS_PER_UNIT = 3  # each unit's activation, its gradient and one temporary, per row (float32)


def layer_units(module: nn.Module) -> int:
    """Inputs plus outputs of every Linear layer: the activations one row leaves behind in a step."""
    return sum(m.in_features + m.out_features for m in module.modules() if isinstance(m, nn.Linear))


def step_bytes(cfg: TrainConfig, input_dim: int, num_classes: int, n_labeled: int, n_unlabeled: int) -> tuple[int, int]:
    """(bytes, rows) of one training step's activations, from the model's layers built on the meta device."""
    entry = MODELS[cfg.model]
    with torch.device("meta"):
        width = input_dim
        units = 0
        if featurized(cfg.features):
            stage = FEATURES[cfg.features].cls(input_dim, FEATURES[cfg.features].config())
            width, units = stage.cfg.z_dim, layer_units(stage.enc)  # the frozen stage: its encoder, forward only
        units += layer_units(entry.cls(width, num_classes, model_config(cfg.model, **cfg.model_options)))
    per_class = 1 if entry.supervised_only else enumerated_count(num_classes, cfg.enumerate_top)
    rows = cfg.mc_samples * (min(cfg.labeled_batch_size, n_labeled) + min(cfg.batch_size, n_unlabeled) * per_class)
    return rows * units * FLOATS_PER_UNIT * 4, rows


def available_bytes(device: torch.device) -> int | None:
    """Memory this process may still take: the GPU's free memory, or on a CPU the least of the kernel's
    MemAvailable, the cgroup's limit less its use, and the address-space limit; None when nothing says."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            found.append(int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text()))
    except (OSError, ValueError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        found.append(soft - rss_bytes())
    return min(found) if found else None


def rss_bytes() -> int:
    """This process's resident memory in bytes (0 where /proc is not there)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def check_step_memory(
    cfg: TrainConfig, input_dim: int, num_classes: int, n_labeled: int, n_unlabeled: int, device: torch.device
) -> None:
    """Refuse, in one line naming the settings that decide it, a step that cannot fit in this device's memory."""
    need, rows = step_bytes(cfg, input_dim, num_classes, n_labeled, n_unlabeled)
    have = available_bytes(device)
    if have is None or need <= have:
        return
    raise SSVAEError(
        f"one training step would need about {need / 2**30:,.1f} GiB ({rows:,} rows: mc_samples {cfg.mc_samples} x "
        f"(a labeled batch + an unlabeled batch x {enumerated_count(num_classes, cfg.enumerate_top)} classes) through "
        f"{cfg.model}'s layers), but this "
        f"{device.type.upper()} has {have / 2**30:,.1f} GiB free; lower mc_samples or batch_size "
        "(--mc-samples, --batch-size)"
    )
