import os

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


# the estimator on tiny networks, for tests of what it does rather than how well
SMALL_ESTIMATOR = dict(hidden=16, z_dim=4, classifier_hidden=16, device="cpu", precision="fp32", random_state=0)


def semi_labeled(n_labeled: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """tiny_arrays' training images with the first `n_labeled` labels kept and the rest marked -1."""
    a = tiny_arrays()
    y = a["y_train"].astype(int)
    y[n_labeled:] = -1
    return a["x_train"], y
