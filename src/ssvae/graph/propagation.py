"""Graph-based baselines: Laplace learning (Zhu et al. 2003) and Poisson learning (Calder et al. 2020, ICML), the
strongest published methods at a few labels per class, through Calder et al.'s own `graphlearning` package
(`pip install "ssvae[graph]"`).

Both label the nodes of a k-nearest-neighbour graph of the labeled and unlabeled examples (the graph and kernel of
Calder et al.: k = 10, `w_ij = exp(-4 |x_i - x_j|^2 / d_k(x_i)^2)`, symmetrised; neighbours found exactly by
scikit-learn). They are transductive: they score only the graph's nodes. To be scored on the test split like every
other baseline, a test example takes the kernel-weighted mean of the scores of its k nearest training nodes, the
same out-of-sample rule scikit-learn's LabelSpreading applies; Calder et al. score transductively instead, on all
70,000 images.
"""

from __future__ import annotations

import numpy as np

from ..errors import SSVAEError
from .knn import K, graphlearning, kernel_weights, knn_graph

METHODS = ("laplace", "poisson")


class GraphLearning:
    """A graph method as a classifier: `fit` labels the graph of the labeled and unlabeled rows, `predict` extends
    the nodes' scores to new rows by their nearest nodes (module docstring)."""

    def __init__(self, method: str, k: int = K, tol: float | None = None):
        """`tol`: the solver's tolerance (None: graphlearning's own, 1e-5 for Laplace, 1e-3 for Poisson)."""
        if method not in METHODS:
            raise SSVAEError(f"unknown graph method {method!r}; known: {', '.join(METHODS)}")
        self.method, self.k, self.tol = method, k, tol

    def fit(self, x_lab: np.ndarray, y_lab: np.ndarray, x_unl: np.ndarray) -> "GraphLearning":
        gl = graphlearning()
        self.classes_, codes = np.unique(y_lab, return_inverse=True)
        self.weights_, self.nn_ = knn_graph(np.concatenate([x_lab, x_unl]), self.k)
        solver = gl.ssl.laplace if self.method == "laplace" else gl.ssl.poisson
        options = {} if self.tol is None else {"tol": self.tol}
        self.scores_ = solver(self.weights_, **options).fit(np.arange(len(x_lab)), codes)
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        dist, ind = self.nn_.kneighbors(np.asarray(x, dtype=np.float32), n_neighbors=self.k)
        w = kernel_weights(dist)
        return np.einsum("nk,nkc->nc", w, self.scores_[ind]) / w.sum(1, keepdims=True)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[self.decision_function(x).argmax(1)]


def laplace_learning(x_lab, y_lab, x_unl):
    """Laplace learning (Zhu et al. 2003) on the k-nearest-neighbour graph, scored out of sample."""
    return GraphLearning("laplace").fit(x_lab, y_lab, x_unl)


def poisson_learning(x_lab, y_lab, x_unl):
    """Poisson learning (Calder et al. 2020) on the k-nearest-neighbour graph, scored out of sample."""
    return GraphLearning("poisson").fit(x_lab, y_lab, x_unl)
