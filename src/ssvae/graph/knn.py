"""The k-nearest-neighbour graph of a set of rows, as Calder et al. build it for graph-based learning: each row's
k nearest others (exact search, scikit-learn), weights `exp(-4 |x_i - x_j|^2 / d_k(x_i)^2)` with d_k the distance to
the k-th, symmetrised. The matrix is sparse (about 2nk entries), never dense: 60,000 rows make about 1.2 million
entries, where a dense one would hold 3.6 billion (scikit-learn's label spreading builds that, issue 6555).
"""

from __future__ import annotations

import numpy as np

from ..errors import SSVAEError

K = 10  # neighbours, as Calder et al. on MNIST and Fashion-MNIST


def graphlearning():
    """The `graphlearning` module, or one line saying how to install it."""
    try:
        import graphlearning as gl
    except ImportError:
        raise SSVAEError('the graph methods need graphlearning: pip install "ssvae[graph]"') from None
    return gl


def graph_installed() -> bool:
    """Whether graphlearning is importable (the estimator's teacher="auto" uses the graph only then)."""
    import importlib.util

    return importlib.util.find_spec("graphlearning") is not None


def kernel_weights(dist: np.ndarray) -> np.ndarray:
    """Calder et al.'s Gaussian kernel on a row's k nearest distances: exp(-4 d^2 / d_k^2), d_k the k-th one."""
    scale = np.maximum(dist[:, -1:], 1e-12)
    return np.exp(-4.0 * (dist / scale) ** 2)


def knn_graph(x: np.ndarray, k: int = K):
    """The graph's sparse weight matrix over the rows of `x`, and the fitted neighbour search (to place new rows
    among the nodes, `propagation.GraphLearning.decision_function`)."""
    from sklearn.neighbors import NearestNeighbors

    x = np.ascontiguousarray(x, dtype=np.float32)
    if len(x) <= k:
        raise SSVAEError(f"a {k}-nearest-neighbour graph needs more than {k} rows, got {len(x)}")
    search = NearestNeighbors(n_neighbors=k + 1, n_jobs=-1).fit(x)
    dist, ind = search.kneighbors(x)  # each row's first neighbour is itself, as graphlearning expects
    return graphlearning().weightmatrix.knn(x, k, kernel="gaussian", knn_data=(ind, dist)), search
