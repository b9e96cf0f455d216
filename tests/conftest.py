import os
from pathlib import Path

import numpy as np
import pytest

# The device the suite trains on: SSVAE_TEST_DEVICE=cuda python -m pytest runs it on a GPU. Tests of CPU-only
# promises (bit-identical resume after kill -9, saved models loading on the CPU) keep "cpu" on purpose.
DEVICE = os.environ.get("SSVAE_TEST_DEVICE", "cpu")


@pytest.fixture
def device() -> str:
    return DEVICE


def tiny_arrays(n_train=300, n_test=60, k=3, side=4, seed=0):
    """Separable toy images: class k lights up its own pixel block, plus noise; uint8 0..255."""
    rng = np.random.default_rng(seed)

    def make(n):
        y = np.arange(n) % k
        x = rng.integers(0, 60, size=(n, side, side))
        for i, c in enumerate(y):
            x[i].flat[c * 4 : c * 4 + 4] = 230
        return x.astype(np.uint8), y.astype(np.uint8)

    xtr, ytr = make(n_train)
    xte, yte = make(n_test)
    return dict(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)


@pytest.fixture
def tiny_npz(tmp_path):
    path = tmp_path / "tiny.npz"
    np.savez(path, **tiny_arrays())
    return path


# a run on digits that trains in seconds: `TrainConfig(**DIGITS_RUN, ...)`
DIGITS_RUN = dict(
    dataset="digits",
    labels_per_class=10,
    batch_size=100,
    labeled_batch_size=100,
    warmup_epochs=1,
    device=DEVICE,
    precision="fp32",  # pinned: "auto" would pick bf16 on some CI machines and fp32 on others
)

# the estimator on tiny networks, for tests of what it does rather than how well
SMALL_ESTIMATOR = dict(hidden=16, z_dim=4, classifier_hidden=16, device="cpu", precision="fp32", random_state=0)


def semi_labeled(n_labeled: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """tiny_arrays' training images with the first `n_labeled` labels kept and the rest marked -1."""
    a = tiny_arrays()
    y = a["y_train"].astype(int)
    y[n_labeled:] = -1
    return a["x_train"], y


def metrics_of(out: Path, points) -> dict[str, dict]:
    """A sweep's results without their timings: what two engines (or two runs of one) must agree on."""
    from ssvae.records import rundir as ck

    res = {}
    for p in points:
        m = ck.read_json(p.run(out) / ck.METRICS)
        untimed = {c: {k: v for k, v in m[c].items() if not k.endswith("seconds")} for c in ("best", "last")}
        res[p.path] = {**untimed, "best_epoch": m["best_epoch"]}
        res[p.path]["losses"] = [r["train"]["loss"] for r in ck.read_history(p.run(out) / ck.HISTORY)]
    return res


def local_reference(points, out: Path) -> dict[str, dict]:
    """The local engine's results with one thread, as each Ray trial (--cpus-per-group 1): the same bits."""
    import torch

    from ssvae.experiments.engines import run_points

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_points(points, out, "local", jobs=1)
    finally:
        torch.set_num_threads(threads)
    return metrics_of(out, points)
