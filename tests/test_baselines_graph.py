"""The graph baselines (Laplace and Poisson learning, through graphlearning) against closed forms computed here
from the graph's definition: the harmonic extension, the Poisson equation with its degree-weighted zero mean, and
the out-of-sample rule."""

import numpy as np
import pytest

from ssvae.errors import SSVAEError
from ssvae.evaluation import baselines
from ssvae.graph.knn import kernel_weights
from ssvae.graph.propagation import GraphLearning

pytest.importorskip("graphlearning")

K = 3


def two_clusters(seed=0):
    """24 points along a noisy line from (0, 0) to (3, 3) (a connected graph), the first 12 of class 5, the rest of
    class 9 (labels that are not 0..k-1); two labeled at each end."""
    rng = np.random.default_rng(seed)
    x = (np.linspace(0, 3, 24)[:, None] + rng.normal(0, 0.05, (24, 2))).astype(np.float32)
    y = np.repeat([5, 9], 12)
    lab = np.array([0, 1, 22, 23])
    unl = np.setdiff1d(np.arange(24), lab)
    return x[lab], y[lab], x[unl], y[unl]


def weight_matrix(x: np.ndarray, k: int) -> np.ndarray:
    """Calder et al.'s knn graph by hand: each row's k nearest others, exp(-4 d^2 / d_k^2), then (W + W^T) / 2."""
    x = x.astype(np.float64)
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    w = np.zeros_like(d)
    for i in range(len(x)):
        nearest = np.argsort(d[i])[1 : k + 1]  # not itself
        w[i, nearest] = np.exp(-4 * d[i, nearest] ** 2 / d[i, nearest[-1]] ** 2)
    return (w + w.T) / 2


def test_laplace_learning_is_the_harmonic_extension_of_the_labels():
    x_lab, y_lab, x_unl, _ = two_clusters()
    g = GraphLearning("laplace", k=K, tol=1e-10).fit(x_lab, y_lab, x_unl)
    w = weight_matrix(np.concatenate([x_lab, x_unl]), K)
    lap = np.diag(w.sum(1)) - w
    f = np.eye(2)[[0, 0, 1, 1]]  # one-hot over the classes in sorted order (5, 9)
    n = len(x_lab)
    u_unl = np.linalg.solve(lap[n:, n:], w[n:, :n] @ f)  # L_UU u_U = W_UL F
    np.testing.assert_allclose(g.scores_[:n], f, atol=1e-12)
    np.testing.assert_allclose(g.scores_[n:], u_unl, atol=1e-5)  # float32 distances
    assert list(g.classes_) == [5, 9]


def test_poisson_learning_solves_the_poisson_equation_with_zero_weighted_mean():
    x_lab, y_lab, x_unl, _ = two_clusters()
    g = GraphLearning("poisson", k=K, tol=1e-10).fit(x_lab, y_lab, x_unl)
    w = weight_matrix(np.concatenate([x_lab, x_unl]), K)
    deg = w.sum(1)
    lap = np.diag(deg) - w
    f = np.eye(2)[[0, 0, 1, 1]]
    source = np.zeros((len(w), 2))
    source[: len(f)] = f - f.mean(0)  # sum_j (y_j - mean y) delta_j
    u = np.linalg.lstsq(lap, source, rcond=None)[0]  # a solution (L is singular: constants)
    u -= (deg @ u) / deg.sum()  # the solution whose degree-weighted mean is 0 (what the CG solver converges to)
    np.testing.assert_allclose(g.scores_, u, atol=1e-4 * np.abs(u).max())  # float32 distances
    np.testing.assert_allclose(deg @ g.scores_, 0, atol=1e-6 * deg.sum())


@pytest.mark.parametrize("method", ["laplace", "poisson"])
def test_a_new_row_takes_the_kernel_weighted_mean_of_its_nearest_nodes(method):
    x_lab, y_lab, x_unl, y_unl = two_clusters()
    g = GraphLearning(method, k=K).fit(x_lab, y_lab, x_unl)
    nodes = np.concatenate([x_lab, x_unl])
    new = np.array([[0.1, -0.2], [2.8, 3.1], [1.4, 1.6]], dtype=np.float32)
    d = np.linalg.norm(new[:, None] - nodes[None], axis=-1)
    nearest = np.argsort(d, axis=1)[:, :K]
    dist = np.take_along_axis(d, nearest, 1)
    wts = np.exp(-4 * dist**2 / dist[:, -1:] ** 2)
    expected = np.einsum("nk,nkc->nc", wts, g.scores_[nearest]) / wts.sum(1, keepdims=True)
    np.testing.assert_allclose(g.decision_function(new), expected, rtol=1e-5, atol=1e-6)
    assert list(g.predict(new[:2])) == [5, 9]
    assert (g.predict(x_unl[:4]) == 5).all() and (g.predict(x_unl[-4:]) == 9).all()  # the nodes near each end
    np.testing.assert_allclose(kernel_weights(np.array([[0.0, 1.0, 2.0]])), [[1.0, np.exp(-1.0), np.exp(-4.0)]])


def test_graph_baselines_are_registered_and_left_out_in_one_line_without_the_package(monkeypatch, capsys):
    assert {"graph-laplace", "graph-poisson"} <= set(baselines.BASELINES)
    assert baselines.installed("graph-poisson") and baselines.installed("m1-graph-laplace")
    real = baselines.importlib.util.find_spec
    monkeypatch.setattr(
        baselines.importlib.util, "find_spec", lambda name: None if name == "graphlearning" else real(name)
    )
    kept = baselines.usable(list(baselines.ALL_BASELINES))
    assert "graph-laplace" not in kept and "m1-graph-poisson" not in kept and "sklearn-labelspreading" in kept
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "ssvae[graph]"' in err[0]
    assert baselines.usable(["graph-laplace"]) == [] and capsys.readouterr().err == ""  # said once a process
    with pytest.raises(SSVAEError, match="unknown graph method"):
        GraphLearning("pagerank")
